//! The NVML backend on whatever machine runs the tests: real GPUs where a driver exists,
//! otherwise the clear "NVML not available" error. With `CIM_EXPECT_GPU=1` a missing GPU fails.

use cim_gpu::{
    GpuDevice, GpuPool, InventoryBackend, InventoryError, LocalInventory, NvmlBackend, PoolCommand,
    PoolConfig, PoolEvent,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn gpu_expected() -> bool {
    std::env::var("CIM_EXPECT_GPU").is_ok_and(|value| value == "1")
}

#[test]
fn nvml_reports_real_gpus_or_says_it_is_not_available() -> TestResult {
    match NvmlBackend::init() {
        Err(InventoryError::NvmlUnavailable { reason }) => {
            assert!(
                !gpu_expected(),
                "CIM_EXPECT_GPU=1 but NVML is not available: {reason}"
            );
            assert!(!reason.is_empty());
            let message = InventoryError::NvmlUnavailable {
                reason: reason.clone(),
            }
            .to_string();
            assert_eq!(message, format!("NVML not available: {reason}"));
            // The machine-wide probe reports the same reason and no NVIDIA device.
            let local = LocalInventory::probe();
            assert!(
                local
                    .unavailable
                    .iter()
                    .any(|(backend, error)| *backend == "nvml" && error.to_string() == message)
            );
            assert!(
                !local
                    .devices
                    .iter()
                    .any(|device| matches!(device, GpuDevice::Nvidia(_)))
            );
            eprintln!("no GPU here: {message}");
            Ok(())
        }
        Err(other) => Err(format!("NVML init failed with an unexpected error: {other}").into()),
        Ok(backend) => {
            let devices = backend.devices()?;
            if gpu_expected() {
                assert!(
                    !devices.is_empty(),
                    "CIM_EXPECT_GPU=1 but NVML lists no GPU"
                );
            }
            let mut pool = GpuPool::default();
            pool.execute(PoolCommand::CreatePool {
                config: PoolConfig::default(),
            })?;
            for (position, device) in devices.iter().enumerate() {
                let GpuDevice::Nvidia(gpu) = device else {
                    return Err(format!("NVML returned a non-NVIDIA device {device:?}").into());
                };
                eprintln!(
                    "driver {:?}: {}",
                    backend.driver_version(),
                    serde_json::to_string(gpu)?
                );
                assert_eq!(gpu.index as usize, position);
                assert!(gpu.uuid.as_str().starts_with("GPU-"), "{}", gpu.uuid);
                assert!(!gpu.name.is_empty());
                assert!(gpu.memory_total_bytes > 0);
                assert!(gpu.memory_free_bytes <= gpu.memory_total_bytes);
                assert!(gpu.compute_capability.major >= 3);
                // A real device is usable by the allocator: 1 GiB pinned to it is granted.
                let view = device.view();
                let uuid = view.uuid.clone();
                let healthy = view.healthy;
                pool.execute(PoolCommand::RegisterDevice { device: view })?;
                let request = cim_gpu::AllocationRequest {
                    allocation_id: cim_gpu::AllocationId::new(),
                    agent: "nvml-test".to_owned(),
                    memory: cim_gpu::MemoryRequest::Bytes { bytes: 1 << 30 },
                    requirements: cim_gpu::GpuRequirements {
                        pinned_uuid: Some(uuid),
                        ..Default::default()
                    },
                    priority: cim_gpu::Priority(0),
                };
                let events = pool.execute(PoolCommand::Allocate { request })?;
                assert_eq!(
                    matches!(&events[..], [PoolEvent::GpuAllocated { .. }]),
                    healthy,
                    "{events:?}"
                );
            }
            Ok(())
        }
    }
}
