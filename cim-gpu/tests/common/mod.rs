//! Builders shared by the allocator tests.
#![allow(dead_code)]

use cim_gpu::{
    AllocationId, AllocationRequest, ComputeCapability, GpuPool, GpuRequirements, GpuUuid,
    GpuVendor, GpuView, MemoryRequest, PlacementPolicy, PoolCommand, PoolConfig, PoolError,
    PoolEvent, Priority,
};

pub const GIB: u64 = 1 << 30;

/// An NVIDIA GPU view.
pub fn nvidia(
    uuid: &str,
    model: &str,
    gib: u64,
    cc: (u32, u32),
) -> Result<GpuView, cim_gpu::DeviceError> {
    Ok(GpuView {
        uuid: GpuUuid::new(uuid)?,
        vendor: GpuVendor::Nvidia,
        model: model.to_owned(),
        memory_bytes: gib * GIB,
        compute_capability: Some(ComputeCapability::new(cc.0, cc.1)),
        tensor_cores: cc.0 >= 7 && !model.contains("GTX 16"),
        healthy: true,
    })
}

/// A pool with `config` and `devices`.
pub fn pool(config: PoolConfig, devices: Vec<GpuView>) -> Result<GpuPool, PoolError> {
    let mut pool = GpuPool::default();
    pool.execute(PoolCommand::CreatePool { config })?;
    for device in devices {
        pool.execute(PoolCommand::RegisterDevice { device })?;
    }
    Ok(pool)
}

/// Config with everything allocatable and a policy.
pub fn config(policy: PlacementPolicy, max_agents_per_gpu: u32) -> PoolConfig {
    PoolConfig {
        allocatable_percent: 100,
        max_agents_per_gpu,
        policy,
    }
}

/// A fractional request with no requirements.
pub fn bytes(gib: u64) -> AllocationRequest {
    AllocationRequest {
        allocation_id: AllocationId::new(),
        agent: "agent".to_owned(),
        memory: MemoryRequest::Bytes { bytes: gib * GIB },
        requirements: GpuRequirements::default(),
        priority: Priority(0),
    }
}

/// A whole-GPU request with no requirements.
pub fn whole() -> AllocationRequest {
    AllocationRequest {
        memory: MemoryRequest::WholeGpu,
        ..bytes(1)
    }
}

/// Outcome of one allocate command, for assertions.
#[derive(Debug)]
pub enum Outcome {
    Placed {
        device: String,
        bytes: u64,
        preempted: Vec<AllocationId>,
    },
    Rejected(cim_gpu::RejectionReason),
}

/// Runs an allocate command and summarises its events.
pub fn allocate(
    pool: &mut GpuPool,
    request: AllocationRequest,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let events = pool.execute(PoolCommand::Allocate { request })?;
    let mut preempted = Vec::new();
    for event in events {
        match event {
            PoolEvent::AllocationPreempted { allocation_id, .. } => preempted.push(allocation_id),
            PoolEvent::GpuAllocated { allocation } => {
                return Ok(Outcome::Placed {
                    device: allocation.device.to_string(),
                    bytes: allocation.bytes,
                    preempted,
                });
            }
            PoolEvent::AllocationRejected { reason, .. } => return Ok(Outcome::Rejected(reason)),
            other => return Err(format!("unexpected event {other:?}").into()),
        }
    }
    Err("allocate produced no outcome".into())
}

/// The device an outcome placed on, or an error naming the rejection.
pub fn placed_on(outcome: Outcome) -> Result<String, Box<dyn std::error::Error>> {
    match outcome {
        Outcome::Placed { device, .. } => Ok(device),
        Outcome::Rejected(reason) => {
            Err(format!("expected a placement, got rejection: {reason}").into())
        }
    }
}

/// The failed requirement of a rejection, or an error if it was placed.
pub fn rejected_for(outcome: Outcome) -> Result<cim_gpu::Requirement, Box<dyn std::error::Error>> {
    match outcome {
        Outcome::Rejected(reason) => Ok(reason.failed),
        Outcome::Placed { device, .. } => {
            Err(format!("expected a rejection, got placed on {device}").into())
        }
    }
}
