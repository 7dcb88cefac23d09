//! Commands a pool refuses outright (as opposed to requests it rejects with a recorded reason).

use crate::allocator::request::AllocationId;
use crate::device::GpuUuid;

/// A command that cannot apply to the pool's current state. Nothing is recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// A configuration field outside its range.
    #[error("invalid pool config: {field} = {value} ({expected})")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The accepted range.
        expected: &'static str,
    },
    /// `CreatePool` on a pool that exists.
    #[error("the GPU pool is already created")]
    AlreadyCreated,
    /// Anything but `CreatePool` before the pool exists.
    #[error("the GPU pool is not created yet")]
    NotCreated,
    /// A GPU registered twice.
    #[error("GPU {uuid} is already registered")]
    DuplicateDevice {
        /// The GPU.
        uuid: GpuUuid,
    },
    /// A GPU the pool does not hold.
    #[error("GPU {uuid} is not in the pool")]
    UnknownDevice {
        /// The GPU.
        uuid: GpuUuid,
    },
    /// An allocation id that is already live.
    #[error("allocation {id} already exists")]
    DuplicateAllocation {
        /// The id.
        id: AllocationId,
    },
    /// An allocation id that is not live.
    #[error("allocation {id} does not exist (never granted, or already released)")]
    UnknownAllocation {
        /// The id.
        id: AllocationId,
    },
    /// A fractional request for zero bytes.
    #[error("allocation {id} asks for 0 bytes")]
    ZeroBytes {
        /// The id.
        id: AllocationId,
    },
}
