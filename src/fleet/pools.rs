//! Recording a fleet's GPU grants in persistent pools, so the pools hold exactly what the graph
//! grants: stale grants (an agent removed, a device changed) are released and missing ones made.

use std::collections::BTreeSet;

use cim_domain_graph::DeploymentNodeType;
use cim_gpu::{
    AllocationId, AllocationOutcome, AllocationRequest, AllocatorError, GpuAllocator, GpuPool,
    GpuRequirements, GpuUuid, InventoryBackend as _, InventoryError, MemoryRequest, PoolCommand,
    PoolConfig, RejectionReason,
};
use cqrs_es::EventStore;

use super::Fleet;
use super::gpus::AGENT_PRIORITY;

/// Why a fleet's grants could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordGrantsError {
    /// The pool's event store failed.
    #[error("GPU pool of host {host}: {source}")]
    Allocator {
        /// The host.
        host: String,
        /// The allocator's error.
        source: AllocatorError,
    },
    /// The host's GPU declaration is unusable (load refuses such fleets).
    #[error("GPU declaration of host {host}: {source}")]
    Inventory {
        /// The host.
        host: String,
        /// Why.
        source: InventoryError,
    },
    /// The pool refused a grant the fleet made (a GPU marked unhealthy in the pool, say).
    #[error("GPU pool of host {host} refused GPU {uuid} for agent {agent}: {reason}")]
    Refused {
        /// The host.
        host: String,
        /// The agent.
        agent: String,
        /// The GPU.
        uuid: GpuUuid,
        /// Why.
        reason: RejectionReason,
    },
}

/// The aggregate id of the pool of `host`'s GPUs.
pub fn pool_id(host: &str) -> String {
    format!("gpu-pool-{host}")
}

impl Fleet {
    /// Brings each GPU host's pool (aggregate [`pool_id`] in `store()`) to exactly this
    /// fleet's grants: the host's declared GPUs are registered (their ids are stable, so a
    /// rerun finds them), allocations the fleet does not grant are released, and missing grants
    /// are allocated pinned to the GPU the fleet chose, so the pool and the containers' device
    /// nodes agree. Running it again with the same fleet records nothing.
    ///
    /// # Errors
    /// [`RecordGrantsError`] naming the host.
    pub async fn record_gpu_grants<ES: EventStore<GpuPool>>(
        &self,
        store: impl Fn() -> ES,
    ) -> Result<(), RecordGrantsError> {
        for host in self.graph.nodes() {
            let DeploymentNodeType::Host(spec) = &host.node_type else {
                continue;
            };
            if spec.gpus.is_empty() {
                continue;
            }
            let name = host.name.as_str();
            let fail = |source| RecordGrantsError::Allocator {
                host: name.to_owned(),
                source,
            };
            let allocator = GpuAllocator::new(store(), pool_id(name));
            let existing = allocator.pool().await.map_err(fail)?;
            if existing.config().is_none() {
                let config = PoolConfig::default();
                let create = PoolCommand::CreatePool { config };
                allocator.execute(create).await.map_err(fail)?;
            }
            let devices = spec.gpu_inventory(name).devices().map_err(|source| {
                RecordGrantsError::Inventory {
                    host: name.to_owned(),
                    source,
                }
            })?;
            for device in devices {
                let device = device.view();
                if existing.device_usage(&device.uuid).is_none() {
                    let register = PoolCommand::RegisterDevice { device };
                    allocator.execute(register).await.map_err(fail)?;
                }
            }
            let wanted: BTreeSet<(String, GpuUuid, Option<u64>)> = self
                .grants
                .iter()
                .flat_map(|(agent, grants)| grants.iter().map(move |grant| (agent, grant)))
                .filter(|(_, grant)| grant.host == name)
                .map(|(agent, grant)| (agent.clone(), grant.uuid.clone(), grant.memory_mb))
                .collect();
            let mut held = BTreeSet::new();
            let pool = allocator.pool().await.map_err(fail)?;
            for allocation in pool.allocations() {
                // A share is held as its bytes; a whole GPU as such.
                let share = (!allocation.whole_gpu).then_some(allocation.bytes / (1024 * 1024));
                let key = (allocation.agent.clone(), allocation.device.clone(), share);
                if wanted.contains(&key) && !held.contains(&key) {
                    held.insert(key);
                    continue;
                }
                let release = PoolCommand::Release {
                    allocation_id: allocation.id,
                };
                allocator.execute(release).await.map_err(fail)?;
            }
            for (agent, uuid, share) in wanted.difference(&held) {
                let memory = match share {
                    Some(mb) => MemoryRequest::Bytes {
                        bytes: mb.saturating_mul(1024 * 1024),
                    },
                    None => MemoryRequest::WholeGpu,
                };
                let request = AllocationRequest {
                    allocation_id: AllocationId::new(),
                    agent: agent.clone(),
                    memory,
                    requirements: GpuRequirements {
                        pinned_uuid: Some(uuid.clone()),
                        ..GpuRequirements::default()
                    },
                    priority: AGENT_PRIORITY,
                };
                if let AllocationOutcome::Rejected(reason) =
                    allocator.allocate(request).await.map_err(fail)?
                {
                    return Err(RecordGrantsError::Refused {
                        host: name.to_owned(),
                        agent: agent.clone(),
                        uuid: uuid.clone(),
                        reason,
                    });
                }
            }
        }
        Ok(())
    }
}
