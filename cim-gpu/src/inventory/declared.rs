//! GPUs written in configuration, so placement can be planned for machines other than this one.

use serde::{Deserialize, Serialize};

use crate::device::{
    ComputeCapability, GpuDevice, GpuHealth, GpuUuid, MetalGpu, MigMode, NvidiaGpu,
};
use crate::error::InventoryError;
use crate::inventory::InventoryBackend;

const MIB: u64 = 1024 * 1024;

/// Most GPUs one declaration (one host) may hold in all groups together; a `count` beyond it
/// is refused before any device is made (issue 12: `count: 4294967295` took gigabytes).
pub const MAX_DECLARED_GPUS: u32 = 1024;

/// The GPUs of one host as a deployment graph declares them (JSON or YAML). The `gpus` list is
/// the same format a deployment graph's hosts use (`hosts[].gpus`).
///
/// ```yaml
/// host: gpu-node-1
/// gpus:
///   - model: NVIDIA H100 80GB HBM3
///     memory_mb: 81559
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

/// One group of identical GPUs: the one GPU declaration format, used by declared inventories
/// and by the hosts of a deployment graph alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredGpu {
    /// Maker; NVIDIA unless stated.
    #[serde(default, skip_serializing_if = "DeclaredVendor::is_nvidia")]
    pub vendor: DeclaredVendor,
    /// Model name as the driver reports it, e.g. `NVIDIA A100-SXM4-40GB`.
    pub model: String,
    /// Memory per GPU in MiB (for Apple GPUs: the recommended working set), when known. A GPU
    /// of unknown memory can only be granted whole. `vram_mib` is read as the same field.
    #[serde(default, alias = "vram_mib", skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// CUDA compute capability such as `"8.0"`; required for NVIDIA GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_capability: Option<String>,
    /// How many such GPUs; defaults to the number of `uuids`, or 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Known UUIDs; when absent, stable ones are derived from host, group and position.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uuids: Vec<String>,
    /// Apple GPU family such as `apple9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_family: Option<String>,
}

impl DeclaredGpu {
    /// A group of `count` NVIDIA GPUs of `model` with compute capability `compute_capability`.
    pub fn nvidia(model: impl Into<String>, compute_capability: impl Into<String>) -> Self {
        Self {
            vendor: DeclaredVendor::Nvidia,
            model: model.into(),
            memory_mb: None,
            compute_capability: Some(compute_capability.into()),
            count: None,
            uuids: Vec::new(),
            gpu_family: None,
        }
    }

    /// How many GPUs the group declares: `count`, else the number of `uuids`, else 1.
    pub fn device_count(&self) -> u64 {
        match (self.count, self.uuids.len()) {
            (Some(count), _) => u64::from(count),
            (None, 0) => 1,
            (None, listed) => listed as u64,
        }
    }
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

impl DeclaredVendor {
    fn is_nvidia(&self) -> bool {
        *self == Self::Nvidia
    }
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
        if gpu.memory_mb == Some(0) {
            return Err(InventoryError::DeclaredZero {
                source_name: source_name(),
                field: field("memory_mb"),
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
        if u64::from(count) + out.len() as u64 > u64::from(MAX_DECLARED_GPUS) {
            return Err(InventoryError::DeclaredTooMany {
                source_name: source_name(),
                field: field(if gpu.uuids.is_empty() {
                    "count"
                } else {
                    "uuids"
                }),
                limit: MAX_DECLARED_GPUS,
            });
        }
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
        // Unknown memory is 0 bytes: the allocator then grants the GPU only whole.
        let bytes = gpu.memory_mb.unwrap_or(0).saturating_mul(MIB);
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
                        // The host-wide device number (`/dev/nvidia<index>`): GPUs are numbered
                        // in declaration order across groups.
                        index: u32::try_from(out.len()).unwrap_or(u32::MAX),
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
