//! GPUs written in configuration, so placement can be planned for machines other than this one.

use serde::{Deserialize, Serialize};

use crate::device::{
    ComputeCapability, GpuDevice, GpuHealth, GpuUuid, MetalGpu, MigMode, NvidiaGpu,
};
use crate::error::InventoryError;
use crate::inventory::InventoryBackend;

const MIB: u64 = 1024 * 1024;

/// The GPUs of one host as a deployment graph declares them (JSON or YAML).
///
/// ```yaml
/// host: gpu-node-1
/// gpus:
///   - model: NVIDIA H100 80GB HBM3
///     vram_mib: 81559
///     compute_capability: "9.0"
///     count: 4
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredInventory {
    /// Host the GPUs belong to; seeds the UUIDs derived for GPUs declared by count.
    #[serde(default)]
    pub host: String,
    /// GPU groups, each one model.
    #[serde(default)]
    pub gpus: Vec<DeclaredGpu>,
    /// Label used in error messages (the file name); not part of the declaration.
    #[serde(skip)]
    pub source_name: String,
}

/// One group of identical GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredGpu {
    /// Maker; NVIDIA unless stated.
    #[serde(default)]
    pub vendor: DeclaredVendor,
    /// Model name as the driver reports it, e.g. `NVIDIA A100-SXM4-40GB`.
    pub model: String,
    /// Memory per GPU in MiB (for Apple GPUs: the recommended working set).
    pub vram_mib: u64,
    /// CUDA compute capability such as `"8.0"`; required for NVIDIA GPUs.
    #[serde(default)]
    pub compute_capability: Option<String>,
    /// How many such GPUs; defaults to the number of `uuids`, or 1.
    #[serde(default)]
    pub count: Option<u32>,
    /// Known UUIDs; when absent, stable ones are derived from host, group and position.
    #[serde(default)]
    pub uuids: Vec<String>,
    /// Apple GPU family such as `apple9`.
    #[serde(default)]
    pub gpu_family: Option<String>,
}

/// Vendors a declaration can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredVendor {
    /// NVIDIA.
    #[default]
    Nvidia,
    /// Apple silicon.
    Apple,
}

impl DeclaredInventory {
    /// Parses a declaration written in YAML or JSON (JSON is read as YAML). `source_name`
    /// labels errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, InventoryError> {
        let mut inventory: Self = serde_yaml_ng::from_str(text).map_err(|error| {
            let (line, column) = error
                .location()
                .map_or((0, 0), |at| (at.line(), at.column()));
            InventoryError::DeclaredSyntax {
                source_name: source_name.to_owned(),
                line,
                column,
                message: error.to_string(),
            }
        })?;
        inventory.source_name = source_name.to_owned();
        Ok(inventory)
    }

    fn derived_uuid(&self, vendor: DeclaredVendor, group: usize, position: u32) -> String {
        let name = format!("cim-leaf:gpu:{}:{group}:{position}", self.host);
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes());
        match vendor {
            DeclaredVendor::Nvidia => format!("GPU-{id}"),
            DeclaredVendor::Apple => format!("METAL-{id}"),
        }
    }

    fn group_devices(
        &self,
        group: usize,
        gpu: &DeclaredGpu,
        seen: &mut std::collections::HashSet<GpuUuid>,
        out: &mut Vec<GpuDevice>,
    ) -> Result<(), InventoryError> {
        let field = |name: &str| format!("gpus[{group}].{name}");
        let source_name = || self.source_name.clone();
        if gpu.vram_mib == 0 {
            return Err(InventoryError::DeclaredZero {
                source_name: source_name(),
                field: field("vram_mib"),
            });
        }
        let count = match (gpu.count, gpu.uuids.len()) {
            (Some(0), _) => {
                return Err(InventoryError::DeclaredZero {
                    source_name: source_name(),
                    field: field("count"),
                });
            }
            (Some(count), 0) => count,
            (Some(count), listed) if usize::try_from(count).is_ok_and(|c| c == listed) => count,
            (Some(count), listed) => {
                return Err(InventoryError::DeclaredCountMismatch {
                    source_name: source_name(),
                    field: field("uuids"),
                    count,
                    uuids: listed,
                });
            }
            (None, 0) => 1,
            (None, listed) => u32::try_from(listed).unwrap_or(u32::MAX),
        };
        let compute_capability = match (gpu.vendor, &gpu.compute_capability) {
            (_, Some(text)) => Some(text.parse::<ComputeCapability>().map_err(|reason| {
                InventoryError::DeclaredField {
                    source_name: source_name(),
                    field: field("compute_capability"),
                    reason,
                }
            })?),
            (DeclaredVendor::Nvidia, None) => {
                return Err(InventoryError::DeclaredMissing {
                    source_name: source_name(),
                    field: field("compute_capability"),
                    vendor: "nvidia",
                });
            }
            (DeclaredVendor::Apple, None) => None,
        };
        let bytes = gpu.vram_mib.saturating_mul(MIB);
        for position in 0..count {
            let listed = usize::try_from(position)
                .ok()
                .and_then(|i| gpu.uuids.get(i).cloned());
            let uuid_field = field(&format!("uuids[{position}]"));
            let raw = listed.unwrap_or_else(|| self.derived_uuid(gpu.vendor, group, position));
            let uuid = GpuUuid::new(raw).map_err(|reason| InventoryError::DeclaredField {
                source_name: source_name(),
                field: uuid_field.clone(),
                reason,
            })?;
            if !seen.insert(uuid.clone()) {
                return Err(InventoryError::DeclaredDuplicateUuid {
                    source_name: source_name(),
                    field: uuid_field,
                    uuid: uuid.to_string(),
                });
            }
            out.push(match (gpu.vendor, compute_capability) {
                (DeclaredVendor::Nvidia, Some(compute_capability)) => {
                    GpuDevice::Nvidia(NvidiaGpu {
                        index: position,
                        uuid,
                        name: gpu.model.clone(),
                        memory_total_bytes: bytes,
                        memory_free_bytes: bytes,
                        compute_capability,
                        mig_mode: MigMode::Unsupported,
                        temperature_celsius: None,
                        power_milliwatts: None,
                        health: GpuHealth::Healthy,
                    })
                }
                _ => GpuDevice::AppleSilicon(MetalGpu {
                    uuid,
                    name: gpu.model.clone(),
                    registry_id: 0,
                    unified_memory_bytes: bytes,
                    recommended_working_set_bytes: bytes,
                    gpu_family: gpu.gpu_family.clone(),
                    health: GpuHealth::Healthy,
                }),
            });
        }
        Ok(())
    }
}

impl InventoryBackend for DeclaredInventory {
    fn name(&self) -> &'static str {
        "declared"
    }

    fn devices(&self) -> Result<Vec<GpuDevice>, InventoryError> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (group, gpu) in self.gpus.iter().enumerate() {
            self.group_devices(group, gpu, &mut seen, &mut out)?;
        }
        Ok(out)
    }
}
