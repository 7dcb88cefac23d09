//! GPU inventory and an allocator that hands GPUs to agents without ever over-committing one.
//!
//! Two halves:
//!
//! - **Inventory** ([`inventory`]): what GPUs exist. [`GpuDevice`] is keyed by [`GpuUuid`] and is
//!   either an [`NvidiaGpu`] or a [`MetalGpu`]; [`GpuDevice::view`] gives the vendor-neutral
//!   [`GpuView`] the allocator uses. Backends implement [`InventoryBackend`]: [`NvmlBackend`]
//!   (NVML, loaded at run time: without a driver it reports "NVML not available"), `MetalBackend`
//!   (Apple targets only) and [`DeclaredInventory`] (GPUs written in a deployment graph, so
//!   other machines can be planned).
//! - **Allocator** ([`allocator`]): [`GpuPool`] is a cqrs-es aggregate. Requests
//!   ([`AllocationRequest`]) name memory (whole GPU or bytes), requirements (minimum VRAM and
//!   compute capability, tensor cores, model allow/deny lists, a pinned UUID) and a priority;
//!   the pool places them by binpack or spread, preempts lower priorities when full, and records
//!   every outcome, including rejections with the [`Requirement`] that failed, as a
//!   [`PoolEvent`]. [`GpuAllocator`] runs it on any cqrs-es event store.
//!
//! ```
//! use cim_gpu::{
//!     AllocationId, AllocationRequest, DeclaredInventory, GpuPool, GpuRequirements,
//!     InventoryBackend, MemoryRequest, PoolCommand, PoolConfig, PoolEvent, Priority,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let declared = DeclaredInventory::parse(
//!     "host: node-a\ngpus:\n  - model: NVIDIA L4\n    memory_mb: 23034\n    compute_capability: '8.9'\n    count: 2\n",
//!     "node-a.yaml",
//! )?;
//! let mut pool = GpuPool::default();
//! pool.execute(PoolCommand::CreatePool { config: PoolConfig::default() })?;
//! for device in declared.devices()? {
//!     pool.execute(PoolCommand::RegisterDevice { device: device.view() })?;
//! }
//!
//! let request = AllocationRequest {
//!     allocation_id: AllocationId::new(),
//!     agent: "summariser".to_owned(),
//!     memory: MemoryRequest::Bytes { bytes: 8 << 30 },
//!     requirements: GpuRequirements { tensor_cores: true, ..GpuRequirements::default() },
//!     priority: Priority(10),
//! };
//! let events = pool.execute(PoolCommand::Allocate { request })?;
//! assert!(matches!(&events[..], [PoolEvent::GpuAllocated { allocation }] if allocation.bytes == 8 << 30));
//! # Ok(())
//! # }
//! ```

pub mod allocator;
pub mod device;
pub mod error;
pub mod inventory;

pub use allocator::{
    Allocation, AllocationId, AllocationOutcome, AllocationRequest, AllocatorError, BlockedCount,
    Decision, DeviceUsage, GpuAllocator, GpuPool, GpuRequirements, MemoryRequest, PlacementPolicy,
    PoolCommand, PoolConfig, PoolError, PoolEvent, Priority, RejectionReason, Requirement,
};
pub use device::{
    ComputeCapability, GpuDevice, GpuHealth, GpuUuid, GpuVendor, GpuView, MetalGpu, MigMode,
    NvidiaGpu,
};
pub use error::{DeviceError, InventoryError};
#[cfg(target_vendor = "apple")]
pub use inventory::MetalBackend;
pub use inventory::{
    DeclaredGpu, DeclaredInventory, DeclaredVendor, InventoryBackend, LocalInventory,
    MAX_DECLARED_GPUS, NvmlBackend,
};
