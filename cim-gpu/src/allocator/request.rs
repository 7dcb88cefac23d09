//! What an agent asks for.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::device::{ComputeCapability, GpuUuid};

/// Identity of one allocation, chosen by the caller (a v7 UUID from [`AllocationId::new`]) so a
/// retried command refers to the same allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AllocationId(pub uuid::Uuid);

impl AllocationId {
    /// A fresh time-ordered id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl Default for AllocationId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for AllocationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Higher wins: a request may preempt allocations of strictly lower priority.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Priority(pub u8);

/// How much of a GPU is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MemoryRequest {
    /// The whole GPU, alone: all of its allocatable memory and no other tenant.
    WholeGpu,
    /// A share of the GPU's memory; other agents may use the rest.
    Bytes {
        /// Bytes of GPU memory; must be greater than zero.
        bytes: u64,
    },
}

/// Conditions a GPU must meet, independent of how busy it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuRequirements {
    /// The GPU's total memory must be at least this many bytes.
    #[serde(default)]
    pub min_vram_bytes: u64,
    /// The GPU must be NVIDIA with at least this compute capability.
    #[serde(default)]
    pub min_compute_capability: Option<ComputeCapability>,
    /// The GPU must have NVIDIA tensor cores.
    #[serde(default)]
    pub tensor_cores: bool,
    /// When not empty, the model name must contain one of these (ASCII case ignored).
    #[serde(default)]
    pub allow_models: Vec<String>,
    /// The model name must contain none of these (ASCII case ignored).
    #[serde(default)]
    pub deny_models: Vec<String>,
    /// Only this GPU will do.
    #[serde(default)]
    pub pinned_uuid: Option<GpuUuid>,
}

/// One agent's request for GPU capacity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationRequest {
    /// Identity of the allocation to create.
    pub allocation_id: AllocationId,
    /// The agent that will hold it (name or id; recorded, not interpreted).
    pub agent: String,
    /// How much of a GPU.
    pub memory: MemoryRequest,
    /// Which GPUs qualify.
    pub requirements: GpuRequirements,
    /// Rank against other allocations when capacity runs out.
    pub priority: Priority,
}
