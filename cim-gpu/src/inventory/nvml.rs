//! NVIDIA GPUs through NVML.

use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::{
    EccCounter, MemoryError, TemperatureSensor, TemperatureThreshold,
};

use crate::device::{ComputeCapability, GpuDevice, GpuHealth, GpuUuid, MigMode, NvidiaGpu};
use crate::error::InventoryError;
use crate::inventory::InventoryBackend;

/// Reads NVIDIA GPUs from the driver's management library.
///
/// `libnvidia-ml` is opened when [`NvmlBackend::init`] runs, not when the program starts, so
/// machines without the driver get [`InventoryError::NvmlUnavailable`] instead of a loader error.
pub struct NvmlBackend {
    nvml: Nvml,
}

impl std::fmt::Debug for NvmlBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvmlBackend").finish_non_exhaustive()
    }
}

impl NvmlBackend {
    /// Loads and initialises NVML.
    pub fn init() -> Result<Self, InventoryError> {
        Nvml::init()
            .map(|nvml| Self { nvml })
            .map_err(|error| InventoryError::NvmlUnavailable {
                reason: error.to_string(),
            })
    }

    /// The driver version NVML reports, e.g. `550.54.15`.
    pub fn driver_version(&self) -> Option<String> {
        self.nvml.sys_driver_version().ok()
    }

    fn device(&self, index: u32) -> Result<NvidiaGpu, InventoryError> {
        let query = |query: &'static str| {
            move |source| InventoryError::NvmlQuery {
                query,
                index,
                source,
            }
        };
        let device = self
            .nvml
            .device_by_index(index)
            .map_err(query("device_by_index"))?;
        let raw_uuid = device.uuid().map_err(query("uuid"))?;
        let uuid =
            GpuUuid::new(raw_uuid).map_err(|reason| InventoryError::NvmlUuid { index, reason })?;
        let memory = device.memory_info().map_err(query("memory_info"))?;
        let cc = device
            .cuda_compute_capability()
            .map_err(query("cuda_compute_capability"))?;
        let mig_mode = match device.mig_mode() {
            Ok(mode) if mode.current == 1 => MigMode::Enabled,
            Ok(_) => MigMode::Disabled,
            Err(_) => MigMode::Unsupported,
        };
        let temperature_celsius = device.temperature(TemperatureSensor::Gpu).ok();
        let mut reasons = Vec::new();
        if let (Some(now), Ok(limit)) = (
            temperature_celsius,
            device.temperature_threshold(TemperatureThreshold::Shutdown),
        ) && now >= limit
        {
            reasons.push(format!(
                "temperature {now} °C at or above shutdown threshold {limit} °C"
            ));
        }
        // Uncorrectable ECC errors since the driver loaded mean data on this GPU can be wrong.
        if let Ok(count) = device.total_ecc_errors(MemoryError::Uncorrected, EccCounter::Volatile)
            && count > 0
        {
            reasons.push(format!(
                "{count} uncorrectable ECC errors since driver load"
            ));
        }
        if let Ok(true) = device.are_pages_pending_retired() {
            reasons.push("memory pages pending retirement (reset needed)".to_owned());
        }
        Ok(NvidiaGpu {
            index,
            uuid,
            name: device.name().map_err(query("name"))?,
            memory_total_bytes: memory.total,
            memory_free_bytes: memory.free,
            compute_capability: ComputeCapability::new(
                u32::try_from(cc.major).unwrap_or(0),
                u32::try_from(cc.minor).unwrap_or(0),
            ),
            mig_mode,
            temperature_celsius,
            power_milliwatts: device.power_usage().ok(),
            health: if reasons.is_empty() {
                GpuHealth::Healthy
            } else {
                GpuHealth::Unhealthy { reasons }
            },
        })
    }
}

impl InventoryBackend for NvmlBackend {
    fn name(&self) -> &'static str {
        "nvml"
    }

    fn devices(&self) -> Result<Vec<GpuDevice>, InventoryError> {
        let count = self
            .nvml
            .device_count()
            .map_err(|source| InventoryError::NvmlCount { source })?;
        (0..count)
            .map(|index| self.device(index).map(GpuDevice::Nvidia))
            .collect()
    }
}
