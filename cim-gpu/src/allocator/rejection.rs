//! Why a request was refused.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One condition a GPU must meet, in the order they are checked: static requirements first,
/// then capacity. A GPU "fails at" the first one it does not meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Requirement {
    /// The pool must hold at least one GPU.
    AnyDevice,
    /// The GPU must be the pinned one.
    PinnedUuid,
    /// The GPU must be healthy.
    Healthy,
    /// The model must match the allow list.
    AllowedModel,
    /// The model must not match the deny list.
    DeniedModel,
    /// The GPU must have the minimum total memory.
    MinVram,
    /// The GPU must have the minimum compute capability.
    ComputeCapability,
    /// The GPU must have tensor cores.
    TensorCores,
    /// The GPU must hold fewer allocations than the pool's per-GPU maximum.
    AgentLimit,
    /// A whole-GPU request needs a GPU nobody else uses.
    ExclusiveAccess,
    /// The GPU must have enough unallocated memory.
    FreeMemory,
}

impl Requirement {
    /// Every requirement, in checking order.
    pub const ALL: [Self; 11] = [
        Self::AnyDevice,
        Self::PinnedUuid,
        Self::Healthy,
        Self::AllowedModel,
        Self::DeniedModel,
        Self::MinVram,
        Self::ComputeCapability,
        Self::TensorCores,
        Self::AgentLimit,
        Self::ExclusiveAccess,
        Self::FreeMemory,
    ];
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AnyDevice => "the pool has a GPU",
            Self::PinnedUuid => "pinned GPU UUID",
            Self::Healthy => "GPU healthy",
            Self::AllowedModel => "model on the allow list",
            Self::DeniedModel => "model not on the deny list",
            Self::MinVram => "minimum VRAM",
            Self::ComputeCapability => "minimum compute capability",
            Self::TensorCores => "tensor cores",
            Self::AgentLimit => "agents per GPU below the limit",
            Self::ExclusiveAccess => "GPU unused (whole-GPU request)",
            Self::FreeMemory => "enough free memory",
        })
    }
}

/// How many GPUs stopped at one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedCount {
    /// The requirement.
    pub requirement: Requirement,
    /// GPUs whose first unmet requirement this is.
    pub devices: u32,
}

/// Which requirement failed. `failed` is the furthest any GPU got: the GPUs that met every
/// earlier requirement all miss this one, so it is the one to relax (or wait for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionReason {
    /// The requirement that stopped the most promising GPUs.
    pub failed: Requirement,
    /// GPUs considered (all of the pool's, or the pinned one).
    pub devices_considered: u32,
    /// Per requirement, how many GPUs stopped there, in checking order; counts sum to
    /// `devices_considered`.
    pub blocked: Vec<BlockedCount>,
}

impl fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no GPU meets requirement '{}' ({} GPUs considered",
            self.failed, self.devices_considered
        )?;
        for blocked in &self.blocked {
            write!(f, "; {} failed '{}'", blocked.devices, blocked.requirement)?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::Requirement;

    #[test]
    fn all_lists_every_requirement_at_its_discriminant() {
        for (index, requirement) in Requirement::ALL.into_iter().enumerate() {
            assert_eq!(requirement as usize, index, "{requirement:?}");
        }
        assert!(Requirement::ALL.is_sorted());
    }
}
