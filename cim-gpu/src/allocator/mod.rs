//! The GPU allocator: an event-sourced pool that never over-commits a GPU.

mod aggregate;
mod config;
mod decide;
mod error;
mod events;
mod pool;
mod rejection;
mod request;
mod service;
mod tenants;

pub use config::{PlacementPolicy, PoolConfig};
pub use decide::Decision;
pub use error::PoolError;
pub use events::{Allocation, PoolCommand, PoolEvent};
pub use pool::{DeviceUsage, GpuPool};
pub use rejection::{BlockedCount, RejectionReason, Requirement};
pub use request::{AllocationId, AllocationRequest, GpuRequirements, MemoryRequest, Priority};
pub use service::{AllocationOutcome, AllocatorError, GpuAllocator};
