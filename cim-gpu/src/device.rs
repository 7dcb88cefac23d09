//! The device model: what a GPU is, whichever backend found it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DeviceError;

/// A GPU's stable identity: NVML's `GPU-…` UUID, `METAL-<registry id>` for Apple GPUs, or the
/// UUID a declared inventory gives or derives.
///
/// Validated once so it can become a NATS subject token or a Nix attribute value unescaped:
/// 1 to 128 characters from `A-Z a-z 0-9 . _ : -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GpuUuid(String);

impl GpuUuid {
    /// Checks `value` and wraps it.
    pub fn new(value: impl Into<String>) -> Result<Self, DeviceError> {
        let value = value.into();
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if value.is_empty() || value.len() > 128 || !value.chars().all(valid_char) {
            return Err(DeviceError::InvalidUuid { value });
        }
        Ok(Self(value))
    }

    /// The UUID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for GpuUuid {
    type Error = DeviceError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<GpuUuid> for String {
    fn from(uuid: GpuUuid) -> Self {
        uuid.0
    }
}

impl fmt::Display for GpuUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An NVIDIA CUDA compute capability such as `8.9`; ordered so `>=` means "at least".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ComputeCapability {
    /// Major version (the architecture generation).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl ComputeCapability {
    /// Builds `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }
}

impl FromStr for ComputeCapability {
    type Err = DeviceError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || DeviceError::InvalidComputeCapability {
            value: text.to_owned(),
        };
        let (major, minor) = text.trim().split_once('.').ok_or_else(invalid)?;
        Ok(Self {
            major: major.parse().map_err(|_| invalid())?,
            minor: minor.parse().map_err(|_| invalid())?,
        })
    }
}

impl TryFrom<String> for ComputeCapability {
    type Error = DeviceError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<ComputeCapability> for String {
    fn from(cc: ComputeCapability) -> Self {
        cc.to_string()
    }
}

impl fmt::Display for ComputeCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Whether an NVIDIA GPU is split into MIG instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigMode {
    /// MIG is off: the GPU is one device.
    Disabled,
    /// MIG is on: the GPU is partitioned into instances.
    Enabled,
    /// The GPU (or driver) has no MIG support, or it is unknown (declared GPUs).
    Unsupported,
}

/// Whether a device may take new work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GpuHealth {
    /// No sign of trouble.
    Healthy,
    /// Evidence of a fault; the allocator places nothing here.
    Unhealthy {
        /// What was observed, one entry per symptom.
        reasons: Vec<String>,
    },
}

impl GpuHealth {
    /// True for [`GpuHealth::Healthy`].
    pub fn is_healthy(&self) -> bool {
        matches!(self, Self::Healthy)
    }
}

/// An NVIDIA GPU as NVML (or a declaration) describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvidiaGpu {
    /// NVML's device index on its host.
    pub index: u32,
    /// NVML's UUID (`GPU-…`).
    pub uuid: GpuUuid,
    /// Product name, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    /// Installed framebuffer memory in bytes.
    pub memory_total_bytes: u64,
    /// Unused framebuffer memory in bytes when observed (equal to total for declared GPUs).
    pub memory_free_bytes: u64,
    /// CUDA compute capability.
    pub compute_capability: ComputeCapability,
    /// MIG partitioning.
    pub mig_mode: MigMode,
    /// Die temperature in °C, when the device reports it.
    pub temperature_celsius: Option<u32>,
    /// Power draw in milliwatts, when the device reports it.
    pub power_milliwatts: Option<u32>,
    /// Fault evidence.
    pub health: GpuHealth,
}

impl NvidiaGpu {
    /// Tensor cores arrived with Volta (7.0), but the Turing GTX 16-series parts have none.
    pub fn has_tensor_cores(&self) -> bool {
        self.compute_capability >= ComputeCapability::new(7, 0) && !is_gtx_16_series(&self.name)
    }
}

fn is_gtx_16_series(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper
        .split_once("GTX ")
        .is_some_and(|(_, rest)| rest.starts_with("16"))
}

/// An Apple-silicon GPU as Metal describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetalGpu {
    /// Identity derived from the registry id (`METAL-<hex>`), or declared.
    pub uuid: GpuUuid,
    /// Metal's device name, e.g. `Apple M3 Max`.
    pub name: String,
    /// The IORegistry id, stable across processes on one boot.
    pub registry_id: u64,
    /// Memory shared by CPU and GPU in bytes (Metal reports the working-set ceiling; declared
    /// inventories give the installed amount).
    pub unified_memory_bytes: u64,
    /// `recommendedMaxWorkingSetSize`: what the GPU can use without hurting performance. This is
    /// what the allocator hands out.
    pub recommended_working_set_bytes: u64,
    /// Newest `MTLGPUFamily` the device supports, e.g. `apple9`.
    pub gpu_family: Option<String>,
    /// Fault evidence (Metal reports none; declarations may mark a device unhealthy).
    pub health: GpuHealth,
}

/// Who makes a GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuVendor {
    /// NVIDIA (CUDA).
    Nvidia,
    /// Apple silicon (Metal).
    Apple,
}

/// A GPU found by any backend, keyed by [`GpuUuid`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "vendor", rename_all = "snake_case")]
pub enum GpuDevice {
    /// An NVIDIA GPU.
    Nvidia(NvidiaGpu),
    /// An Apple-silicon GPU.
    AppleSilicon(MetalGpu),
}

impl GpuDevice {
    /// The device's identity.
    pub fn uuid(&self) -> &GpuUuid {
        match self {
            Self::Nvidia(gpu) => &gpu.uuid,
            Self::AppleSilicon(gpu) => &gpu.uuid,
        }
    }

    /// The vendor-neutral facts the allocator decides on.
    pub fn view(&self) -> GpuView {
        match self {
            Self::Nvidia(gpu) => GpuView {
                uuid: gpu.uuid.clone(),
                vendor: GpuVendor::Nvidia,
                model: gpu.name.clone(),
                memory_bytes: gpu.memory_total_bytes,
                compute_capability: Some(gpu.compute_capability),
                tensor_cores: gpu.has_tensor_cores(),
                healthy: gpu.health.is_healthy(),
            },
            Self::AppleSilicon(gpu) => GpuView {
                uuid: gpu.uuid.clone(),
                vendor: GpuVendor::Apple,
                model: gpu.name.clone(),
                memory_bytes: gpu.recommended_working_set_bytes,
                compute_capability: None,
                // "Tensor cores" means NVIDIA's matrix units; Apple GPUs are never counted.
                tensor_cores: false,
                healthy: gpu.health.is_healthy(),
            },
        }
    }
}

/// The common view of a GPU that the allocator works with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuView {
    /// Identity.
    pub uuid: GpuUuid,
    /// Maker.
    pub vendor: GpuVendor,
    /// Model name, matched by allow and deny lists.
    pub model: String,
    /// Memory the GPU can use, in bytes (VRAM, or the Metal working set).
    pub memory_bytes: u64,
    /// CUDA compute capability; `None` for non-NVIDIA GPUs.
    pub compute_capability: Option<ComputeCapability>,
    /// NVIDIA tensor cores present.
    pub tensor_cores: bool,
    /// Healthy when registered.
    pub healthy: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_cores_need_volta_and_exclude_gtx_16_series() -> Result<(), DeviceError> {
        let gpu = |name: &str, cc: &str| -> Result<NvidiaGpu, DeviceError> {
            Ok(NvidiaGpu {
                index: 0,
                uuid: GpuUuid::new("GPU-test")?,
                name: name.to_owned(),
                memory_total_bytes: 1,
                memory_free_bytes: 1,
                compute_capability: cc.parse()?,
                mig_mode: MigMode::Unsupported,
                temperature_celsius: None,
                power_milliwatts: None,
                health: GpuHealth::Healthy,
            })
        };
        assert!(gpu("NVIDIA H100 80GB HBM3", "9.0")?.has_tensor_cores());
        assert!(gpu("Tesla V100-SXM2-16GB", "7.0")?.has_tensor_cores());
        assert!(gpu("NVIDIA GeForce RTX 2080", "7.5")?.has_tensor_cores());
        assert!(!gpu("NVIDIA GeForce GTX 1660 Ti", "7.5")?.has_tensor_cores());
        assert!(!gpu("NVIDIA GeForce GTX 1650", "7.5")?.has_tensor_cores());
        assert!(!gpu("Tesla P100-PCIE-16GB", "6.0")?.has_tensor_cores());
        Ok(())
    }

    #[test]
    fn compute_capability_parses_orders_and_rejects_garbage() -> Result<(), DeviceError> {
        let a: ComputeCapability = "8.9".parse()?;
        assert!(a > ComputeCapability::new(8, 0));
        assert!(a < ComputeCapability::new(9, 0));
        assert_eq!(a.to_string(), "8.9");
        assert!(matches!(
            "eight".parse::<ComputeCapability>(),
            Err(DeviceError::InvalidComputeCapability { value }) if value == "eight"
        ));
        Ok(())
    }

    #[test]
    fn uuid_rejects_empty_and_spaces() {
        assert!(GpuUuid::new("GPU-1f2e").is_ok());
        assert!(GpuUuid::new("").is_err());
        assert!(GpuUuid::new("GPU 1").is_err());
    }
}
