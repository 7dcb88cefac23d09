//! Apple-silicon GPUs through Metal.
//!
//! Compiled only for Apple targets. It has not been compiled or run on the Linux machine this
//! crate is developed on; it uses only `objc2-metal`'s safe bindings so the workspace's
//! `unsafe_code = "deny"` holds.

use objc2_metal::{MTLCopyAllDevices, MTLDevice, MTLGPUFamily};

use crate::device::{GpuDevice, GpuHealth, GpuUuid, MetalGpu};
use crate::error::InventoryError;
use crate::inventory::InventoryBackend;

/// Reads this Mac's GPUs from Metal.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetalBackend;

/// Newest first, so the first supported family is the device's generation.
const FAMILIES: [(MTLGPUFamily, &str); 10] = [
    (MTLGPUFamily::Apple10, "apple10"),
    (MTLGPUFamily::Apple9, "apple9"),
    (MTLGPUFamily::Apple8, "apple8"),
    (MTLGPUFamily::Apple7, "apple7"),
    (MTLGPUFamily::Apple6, "apple6"),
    (MTLGPUFamily::Apple5, "apple5"),
    (MTLGPUFamily::Apple4, "apple4"),
    (MTLGPUFamily::Apple3, "apple3"),
    (MTLGPUFamily::Apple2, "apple2"),
    (MTLGPUFamily::Mac2, "mac2"),
];

impl InventoryBackend for MetalBackend {
    fn name(&self) -> &'static str {
        "metal"
    }

    fn devices(&self) -> Result<Vec<GpuDevice>, InventoryError> {
        let all = MTLCopyAllDevices();
        if all.is_empty() {
            return Err(InventoryError::MetalUnavailable {
                reason: "MTLCopyAllDevices returned no devices".to_owned(),
            });
        }
        all.iter()
            .map(|device| {
                let registry_id = device.registryID();
                let uuid = GpuUuid::new(format!("METAL-{registry_id:016x}")).map_err(|error| {
                    InventoryError::MetalUnavailable {
                        reason: error.to_string(),
                    }
                })?;
                let working_set = device.recommendedMaxWorkingSetSize();
                Ok(GpuDevice::AppleSilicon(MetalGpu {
                    uuid,
                    name: device.name().to_string(),
                    registry_id,
                    unified_memory_bytes: working_set,
                    recommended_working_set_bytes: working_set,
                    gpu_family: FAMILIES
                        .iter()
                        .find(|(family, _)| device.supportsFamily(*family))
                        .map(|(_, name)| (*name).to_owned()),
                    health: GpuHealth::Healthy,
                }))
            })
            .collect()
    }
}
