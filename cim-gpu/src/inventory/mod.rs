//! Where GPUs are found: one [`InventoryBackend`] per source.
//!
//! - [`NvmlBackend`]: NVIDIA GPUs through NVML, loaded at run time so a binary without the
//!   driver still starts and reports [`InventoryError::NvmlUnavailable`].
//! - `MetalBackend` (Apple targets only): Apple-silicon GPUs through Metal.
//! - [`DeclaredInventory`]: GPUs written in configuration, for planning other machines.

mod declared;
#[cfg(target_vendor = "apple")]
mod metal;
mod nvml;

pub use declared::{DeclaredGpu, DeclaredInventory, DeclaredVendor, MAX_DECLARED_GPUS};
#[cfg(target_vendor = "apple")]
pub use metal::MetalBackend;
pub use nvml::NvmlBackend;

use crate::device::GpuDevice;
use crate::error::InventoryError;

/// A source of GPU descriptions.
pub trait InventoryBackend {
    /// Short name for reports (`nvml`, `metal`, `declared`).
    fn name(&self) -> &'static str;

    /// Every GPU this source knows, in the source's own order.
    fn devices(&self) -> Result<Vec<GpuDevice>, InventoryError>;
}

/// What probing this machine found: the devices, and why each backend that found nothing
/// found nothing.
#[derive(Debug, Default)]
pub struct LocalInventory {
    /// Devices from every backend that answered, NVML first.
    pub devices: Vec<GpuDevice>,
    /// `(backend name, reason)` for every backend that could not be used.
    pub unavailable: Vec<(&'static str, InventoryError)>,
}

impl LocalInventory {
    /// Asks every backend compiled for this target about this machine.
    pub fn probe() -> Self {
        let mut report = Self::default();
        match NvmlBackend::init() {
            Ok(backend) => report.collect(&backend),
            Err(error) => report.unavailable.push(("nvml", error)),
        }
        #[cfg(target_vendor = "apple")]
        report.collect(&MetalBackend);
        report
    }

    fn collect(&mut self, backend: &dyn InventoryBackend) {
        match backend.devices() {
            Ok(devices) => self.devices.extend(devices),
            Err(error) => self.unavailable.push((backend.name(), error)),
        }
    }
}
