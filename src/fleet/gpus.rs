//! GPU grants of a fleet: every agent's GPUs granted by the allocator from its host's declared
//! GPUs, once, when the fleet is loaded.

use std::collections::BTreeMap;

use cim_domain_agent::deploy::AgentSource;
use cim_domain_graph::{DeploymentGraph, DeploymentNodeType, ValidationError};
use cim_gpu::{
    AllocationId, AllocationRequest, GpuDevice, GpuPool, GpuRequirements, GpuUuid,
    InventoryBackend as _, MemoryRequest, PoolCommand, PoolConfig, PoolEvent, Priority,
};

/// Priority of fleet agents' GPU requests.
pub(super) const AGENT_PRIORITY: Priority = Priority(10);

/// One GPU granted to an agent: whole, or a share of its memory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GpuGrant {
    /// The host the GPU is in.
    pub host: String,
    /// The GPU's stable identifier (declared, or derived from host and position).
    pub uuid: GpuUuid,
    /// Its model.
    pub model: String,
    /// The NVIDIA device number on its host (`/dev/nvidia<n>`); `None` for GPUs without device
    /// nodes (Apple).
    pub device: Option<u32>,
    /// MiB of the GPU's memory granted as a share (the node's `gpu_memory_mb`); `None` for a
    /// whole GPU, held alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
}

/// The grants and the requests that cannot be met.
pub(super) struct GpuPlan {
    /// By agent node name; agents without GPUs are absent.
    pub grants: BTreeMap<String, Vec<GpuGrant>>,
    /// Hosts asked for more GPUs than they declare.
    pub problems: Vec<ValidationError>,
}

/// An agent asking for GPUs on a host.
struct Request<'a> {
    agent: &'a str,
    /// Whole GPUs: `max(node gpus, definition's deployment.resources.gpus)`; 0 for a share.
    gpus: u64,
    /// The node's own `gpus`, which graph validation already counts.
    node_gpus: u64,
    /// A share of one GPU, in MiB (the node's `gpu_memory_mb`, which wins over the
    /// definition's whole GPUs).
    share_mb: Option<u64>,
}

/// Grants every agent the GPUs it needs, host by host and agent by agent in name order, so the
/// same graph always gives the same devices: whole GPUs first, in declaration order, then
/// memory shares where the allocator places them (binpacking the GPUs left). A host asked for
/// more whole GPUs than it declares is a problem naming the host and the agents; a share that
/// fits on no GPU is a problem naming the agent, with the allocator's reason.
pub(super) fn plan(graph: &DeploymentGraph, sources: &BTreeMap<String, AgentSource>) -> GpuPlan {
    let mut plan = GpuPlan {
        grants: BTreeMap::new(),
        problems: Vec::new(),
    };
    let mut by_host: BTreeMap<&str, Vec<Request<'_>>> = BTreeMap::new();
    for node in graph.nodes() {
        let DeploymentNodeType::Agent(spec) = &node.node_type else {
            continue;
        };
        let from_definition = sources
            .get(&node.name)
            .and_then(|source| source.definition.deployment.resources.gpus)
            .unwrap_or(0);
        let share_mb = spec.gpu_memory_mb;
        let gpus = match share_mb {
            Some(_) => 0,
            None => u64::from(spec.gpus.max(from_definition)),
        };
        if let (true, Some(host)) = (gpus > 0 || share_mb.is_some(), graph.host_of(&node.name)) {
            by_host.entry(&host.name).or_default().push(Request {
                agent: &node.name,
                gpus,
                node_gpus: u64::from(spec.gpus),
                share_mb,
            });
        }
    }
    for (host, mut requests) in by_host {
        // Whole GPUs first, so shares take what is left; by name within each.
        requests.sort_by_key(|request| (request.share_mb.is_some(), request.agent));
        let Some(DeploymentNodeType::Host(spec)) = graph.node(host).map(|n| &n.node_type) else {
            continue;
        };
        // A bad declaration is reported by graph validation.
        let Ok(devices) = spec.gpu_inventory(host).devices() else {
            continue;
        };
        let capacity = devices.len() as u64;
        let requested: u64 = requests.iter().map(|r| r.gpus).sum();
        if requested > capacity {
            let graph_counted: u64 = requests.iter().map(|r| r.node_gpus).sum();
            if graph_counted <= capacity {
                plan.problems.push(ValidationError::Overcommit {
                    host: host.to_owned(),
                    resource: "gpus".to_owned(),
                    capacity,
                    requested,
                    nodes: requests.iter().map(|r| r.agent.to_owned()).collect(),
                });
            }
            continue;
        }
        grant_on_host(host, &devices, &requests, &mut plan);
    }
    plan
}

/// Runs the host's pool in memory: each GPU asked for whole and pinned in declaration order, so
/// the allocator confirms every grant (a GPU is never handed out twice).
fn grant_on_host(host: &str, devices: &[GpuDevice], requests: &[Request<'_>], plan: &mut GpuPlan) {
    let mut pool = GpuPool::default();
    let mut commands = vec![PoolCommand::CreatePool {
        config: PoolConfig::default(),
    }];
    commands.extend(devices.iter().map(|device| PoolCommand::RegisterDevice {
        device: device.view(),
    }));
    for command in commands {
        if let Err(error) = pool.execute(command) {
            plan.problems.push(host_problem(host, error.to_string()));
            return;
        }
    }
    let mut next = devices.iter();
    for request in requests {
        if let Some(mb) = request.share_mb {
            grant_share(host, devices, &mut pool, request.agent, mb, plan);
            continue;
        }
        for _ in 0..request.gpus {
            let Some(device) = next.next() else {
                return;
            };
            let allocate = PoolCommand::Allocate {
                request: AllocationRequest {
                    allocation_id: AllocationId::new(),
                    agent: request.agent.to_owned(),
                    memory: MemoryRequest::WholeGpu,
                    requirements: GpuRequirements {
                        pinned_uuid: Some(device.uuid().clone()),
                        ..GpuRequirements::default()
                    },
                    priority: AGENT_PRIORITY,
                },
            };
            match pool.execute(allocate).as_deref() {
                Ok([PoolEvent::GpuAllocated { .. }, ..]) => {
                    plan.grants
                        .entry(request.agent.to_owned())
                        .or_default()
                        .push(grant(host, device, None));
                }
                Ok(events) => {
                    let why = rejection(events);
                    plan.problems.push(ValidationError::InvalidField {
                        node: request.agent.to_owned(),
                        field: "gpus".to_owned(),
                        reason: format!("the allocator refused GPU {}: {why}", device.uuid()),
                    });
                }
                Err(error) => plan.problems.push(host_problem(host, error.to_string())),
            }
        }
    }
}

/// The grant of `device` on `host`: whole (`memory_mb` `None`) or a share of `memory_mb` MiB.
/// NVIDIA GPUs carry their device number (`/dev/nvidia<n>`); Apple GPUs have no device node.
fn grant(host: &str, device: &GpuDevice, memory_mb: Option<u64>) -> GpuGrant {
    GpuGrant {
        host: host.to_owned(),
        uuid: device.uuid().clone(),
        model: device.view().model,
        device: match device {
            GpuDevice::Nvidia(gpu) => Some(gpu.index),
            GpuDevice::AppleSilicon(_) => None,
        },
        memory_mb,
    }
}

/// Why the pool granted nothing: the reason it recorded, if any.
fn rejection(events: &[PoolEvent]) -> String {
    events
        .iter()
        .find_map(|event| match event {
            PoolEvent::AllocationRejected { reason, .. } => Some(reason.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "no grant was recorded".to_owned())
}

/// Asks the host's pool for `mb` MiB of one GPU for `agent`, unpinned: the allocator chooses the
/// GPU (its placement policy over the GPUs not held whole) or says why none can take it.
fn grant_share(
    host: &str,
    devices: &[GpuDevice],
    pool: &mut GpuPool,
    agent: &str,
    mb: u64,
    plan: &mut GpuPlan,
) {
    let allocate = PoolCommand::Allocate {
        request: AllocationRequest {
            allocation_id: AllocationId::new(),
            agent: agent.to_owned(),
            memory: MemoryRequest::Bytes {
                bytes: mb.saturating_mul(1024 * 1024),
            },
            requirements: GpuRequirements::default(),
            priority: AGENT_PRIORITY,
        },
    };
    let refused = |why: String| ValidationError::InvalidField {
        node: agent.to_owned(),
        field: "gpu_memory_mb".to_owned(),
        reason: format!("no GPU of host `{host}` can give {mb} MiB: {why}"),
    };
    match pool.execute(allocate).as_deref() {
        Ok([PoolEvent::GpuAllocated { allocation }, ..]) => {
            let Some(device) = devices.iter().find(|d| *d.uuid() == allocation.device) else {
                plan.problems
                    .push(refused("the granted GPU is not declared".to_owned()));
                return;
            };
            plan.grants
                .entry(agent.to_owned())
                .or_default()
                .push(grant(host, device, Some(mb)));
        }
        Ok(events) => plan.problems.push(refused(rejection(events))),
        Err(error) => plan.problems.push(host_problem(host, error.to_string())),
    }
}

fn host_problem(host: &str, reason: String) -> ValidationError {
    ValidationError::InvalidField {
        node: host.to_owned(),
        field: "gpus".to_owned(),
        reason,
    }
}
