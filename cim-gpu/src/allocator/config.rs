//! How a pool hands out its GPUs.

use serde::{Deserialize, Serialize};

/// Where a request goes when several GPUs qualify.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementPolicy {
    /// Fill GPUs up: the qualifying GPU with the least free memory that still fits (ties go to
    /// the GPU registered first), keeping large GPUs whole for large requests.
    #[default]
    Binpack,
    /// Balance load: the qualifying GPU with the most free memory (ties go to the GPU
    /// registered last).
    Spread,
}

/// A pool's fixed rules, set when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolConfig {
    /// Percent (1 to 100) of each GPU's memory that may be allocated; the rest is a reserve for
    /// the driver and fragmentation.
    pub allocatable_percent: u8,
    /// Most allocations one GPU may hold at once (at least 1).
    pub max_agents_per_gpu: u32,
    /// Placement among qualifying GPUs.
    pub policy: PlacementPolicy,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            allocatable_percent: 90,
            max_agents_per_gpu: 8,
            policy: PlacementPolicy::Binpack,
        }
    }
}

impl PoolConfig {
    /// Bytes of a GPU with `memory_bytes` that may be allocated (rounded down).
    pub fn allocatable_bytes(&self, memory_bytes: u64) -> u64 {
        let share = u128::from(memory_bytes) * u128::from(self.allocatable_percent) / 100;
        u64::try_from(share).unwrap_or(u64::MAX)
    }
}
