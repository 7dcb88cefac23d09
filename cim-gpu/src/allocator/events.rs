//! Commands a pool accepts and the events it records.

use serde::{Deserialize, Serialize};

use crate::allocator::config::PoolConfig;
use crate::allocator::rejection::RejectionReason;
use crate::allocator::request::{AllocationId, AllocationRequest, Priority};
use crate::device::{GpuUuid, GpuView};

/// A granted share of one GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// Identity from the request.
    pub id: AllocationId,
    /// Holder from the request.
    pub agent: String,
    /// The GPU.
    pub device: GpuUuid,
    /// Bytes reserved on it (all of its allocatable memory for a whole-GPU allocation).
    pub bytes: u64,
    /// The GPU is held exclusively.
    pub whole_gpu: bool,
    /// Priority from the request.
    pub priority: Priority,
}

/// What can be asked of a [`GpuPool`](crate::GpuPool).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PoolCommand {
    /// Start the pool with its rules (once).
    CreatePool {
        /// The rules.
        config: PoolConfig,
    },
    /// Add a GPU.
    RegisterDevice {
        /// Its description.
        device: GpuView,
    },
    /// Ask for GPU capacity; ends in an allocation or a recorded rejection.
    Allocate {
        /// The request.
        request: AllocationRequest,
    },
    /// Give an allocation back.
    Release {
        /// Which one.
        allocation_id: AllocationId,
    },
    /// Stop placing work on a GPU (existing allocations stay until released).
    MarkUnhealthy {
        /// The GPU.
        uuid: GpuUuid,
        /// What was observed.
        reason: String,
    },
    /// Allow placements on a GPU again.
    MarkRecovered {
        /// The GPU.
        uuid: GpuUuid,
    },
}

/// What happened to a pool; its state is these applied in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PoolEvent {
    /// The pool started with these rules.
    PoolCreated {
        /// The rules.
        config: PoolConfig,
    },
    /// A GPU joined the pool.
    DeviceRegistered {
        /// Its description.
        device: GpuView,
    },
    /// Capacity was granted.
    GpuAllocated {
        /// The grant.
        allocation: Allocation,
    },
    /// An allocation was given back.
    AllocationReleased {
        /// Which one.
        allocation_id: AllocationId,
        /// Its GPU.
        device: GpuUuid,
        /// Bytes freed.
        bytes: u64,
    },
    /// An allocation was taken away for a higher-priority request.
    AllocationPreempted {
        /// Which one.
        allocation_id: AllocationId,
        /// Its GPU.
        device: GpuUuid,
        /// Bytes freed.
        bytes: u64,
        /// The request that displaced it.
        by: AllocationId,
    },
    /// A request could not be placed.
    AllocationRejected {
        /// The request's allocation id.
        allocation_id: AllocationId,
        /// The requesting agent.
        agent: String,
        /// The requirement that failed.
        reason: RejectionReason,
    },
    /// A GPU stopped taking new work.
    DeviceMarkedUnhealthy {
        /// The GPU.
        uuid: GpuUuid,
        /// What was observed.
        reason: String,
    },
    /// A GPU takes new work again.
    DeviceRecovered {
        /// The GPU.
        uuid: GpuUuid,
    },
}

impl cqrs_es::DomainEvent for PoolEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PoolCreated { .. } => "PoolCreated",
            Self::DeviceRegistered { .. } => "DeviceRegistered",
            Self::GpuAllocated { .. } => "GpuAllocated",
            Self::AllocationReleased { .. } => "AllocationReleased",
            Self::AllocationPreempted { .. } => "AllocationPreempted",
            Self::AllocationRejected { .. } => "AllocationRejected",
            Self::DeviceMarkedUnhealthy { .. } => "DeviceMarkedUnhealthy",
            Self::DeviceRecovered { .. } => "DeviceRecovered",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
