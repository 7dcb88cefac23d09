//! GPUs declared in configuration: parsed from YAML or JSON, expanded by count with stable
//! UUIDs, and refused with the file and field named when wrong.

use cim_gpu::{DeclaredInventory, GpuDevice, InventoryBackend, InventoryError};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const NODE: &str = "\
host: gpu-node-1
gpus:
  - model: NVIDIA H100 80GB HBM3
    memory_mb: 81559
    compute_capability: \"9.0\"
    count: 2
  - model: NVIDIA L4
    memory_mb: 23034
    compute_capability: \"8.9\"
    uuids: [GPU-aaaa, GPU-bbbb]
  - vendor: apple
    model: Apple M2 Ultra
    vram_mib: 147456
    gpu_family: apple8
";

#[test]
fn declared_yaml_expands_counts_with_stable_uuids() -> TestResult {
    let devices = DeclaredInventory::parse(NODE, "node.yaml")?.devices()?;
    assert_eq!(devices.len(), 5);
    let GpuDevice::Nvidia(h100) = &devices[0] else {
        return Err("first device should be NVIDIA".into());
    };
    assert_eq!(h100.memory_total_bytes, 81559 * 1024 * 1024);
    assert_eq!(h100.compute_capability.to_string(), "9.0");
    assert!(h100.uuid.as_str().starts_with("GPU-"));
    assert_eq!(devices[2].uuid().as_str(), "GPU-aaaa");
    let GpuDevice::AppleSilicon(m2) = &devices[4] else {
        return Err("last device should be Apple".into());
    };
    assert_eq!(m2.gpu_family.as_deref(), Some("apple8"));
    assert!(!devices[4].view().tensor_cores);

    // Same declaration, same UUIDs; another host, different ones.
    let again = DeclaredInventory::parse(NODE, "node.yaml")?.devices()?;
    assert_eq!(devices, again);
    let other = DeclaredInventory::parse(&NODE.replace("gpu-node-1", "gpu-node-2"), "n2.yaml")?
        .devices()?;
    assert_ne!(devices[0].uuid(), other[0].uuid());
    assert_ne!(devices[0].uuid(), devices[1].uuid());
    Ok(())
}

#[test]
fn declared_json_is_accepted() -> TestResult {
    let json =
        r#"{"host":"h","gpus":[{"model":"Tesla T4","vram_mib":15360,"compute_capability":"7.5"}]}"#;
    let devices = DeclaredInventory::parse(json, "h.json")?.devices()?;
    assert_eq!(devices.len(), 1);
    assert!(devices[0].view().tensor_cores);
    Ok(())
}

fn error_of(text: &str) -> Result<InventoryError, Box<dyn std::error::Error>> {
    match DeclaredInventory::parse(text, "bad.yaml").and_then(|inventory| inventory.devices()) {
        Ok(devices) => Err(format!("expected an error, got {devices:?}").into()),
        Err(error) => Ok(error),
    }
}

#[test]
fn invalid_declarations_name_file_and_field() -> TestResult {
    let missing_cc = error_of("gpus:\n  - model: X\n    vram_mib: 1\n")?;
    assert_eq!(
        missing_cc.to_string(),
        "bad.yaml: gpus[0].compute_capability: required for nvidia GPUs"
    );
    let bad_cc = error_of("gpus:\n  - model: X\n    vram_mib: 1\n    compute_capability: nine\n")?;
    assert!(
        bad_cc
            .to_string()
            .starts_with("bad.yaml: gpus[0].compute_capability: invalid compute capability"),
        "{bad_cc}"
    );
    let zero = error_of("gpus:\n  - model: X\n    vram_mib: 0\n    compute_capability: '8.0'\n")?;
    assert_eq!(
        zero.to_string(),
        "bad.yaml: gpus[0].memory_mb: must be greater than zero"
    );
    let mismatch = error_of(
        "gpus:\n  - model: X\n    vram_mib: 1\n    compute_capability: '8.0'\n    count: 3\n    uuids: [GPU-1]\n",
    )?;
    assert_eq!(
        mismatch.to_string(),
        "bad.yaml: gpus[0].uuids: lists 1 UUIDs but count is 3"
    );
    let duplicate = error_of(
        "gpus:\n  - model: X\n    vram_mib: 1\n    compute_capability: '8.0'\n    uuids: [GPU-1]\n  - model: Y\n    vram_mib: 1\n    compute_capability: '8.0'\n    uuids: [GPU-1]\n",
    )?;
    assert_eq!(
        duplicate.to_string(),
        "bad.yaml: gpus[1].uuids[0]: UUID GPU-1 is declared twice"
    );
    let bad_uuid = error_of(
        "gpus:\n  - model: X\n    vram_mib: 1\n    compute_capability: '8.0'\n    uuids: ['GPU 1']\n",
    )?;
    assert!(
        matches!(bad_uuid, InventoryError::DeclaredField { ref field, .. } if field == "gpus[0].uuids[0]")
    );
    Ok(())
}

#[test]
fn syntax_errors_and_unknown_fields_give_a_line() -> TestResult {
    let unknown = error_of("host: h\ngpus:\n  - model: X\n    vram_gb: 1\n")?;
    match unknown {
        InventoryError::DeclaredSyntax {
            line, ref message, ..
        } => {
            assert_eq!(line, 4, "{unknown}");
            assert!(message.contains("vram_gb"), "{message}");
        }
        other => return Err(format!("expected a syntax error, got {other}").into()),
    }
    Ok(())
}

#[test]
fn nvidia_gpus_are_numbered_across_groups_in_declaration_order() -> TestResult {
    let devices = DeclaredInventory::parse(NODE, "node.yaml")?.devices()?;
    let indices: Vec<u32> = devices
        .iter()
        .filter_map(|device| match device {
            GpuDevice::Nvidia(gpu) => Some(gpu.index),
            GpuDevice::AppleSilicon(_) => None,
        })
        .collect();
    assert_eq!(indices, [0, 1, 2, 3]);
    Ok(())
}

#[test]
fn a_gpu_of_unknown_memory_is_granted_whole_when_pinned() -> TestResult {
    use cim_gpu::{
        AllocationId, AllocationRequest, GpuPool, GpuRequirements, MemoryRequest, PoolCommand,
        PoolConfig, PoolEvent, Priority,
    };
    let declared = DeclaredInventory::parse(
        "host: h\ngpus:\n  - model: NVIDIA L4\n    compute_capability: '8.9'\n",
        "h.yaml",
    )?;
    let device = declared.devices()?.remove(0).view();
    assert_eq!(device.memory_bytes, 0);
    let mut pool = GpuPool::default();
    pool.execute(PoolCommand::CreatePool {
        config: PoolConfig::default(),
    })?;
    pool.execute(PoolCommand::RegisterDevice {
        device: device.clone(),
    })?;
    let request = |agent: &str| AllocationRequest {
        allocation_id: AllocationId::new(),
        agent: agent.to_owned(),
        memory: MemoryRequest::WholeGpu,
        requirements: GpuRequirements {
            pinned_uuid: Some(device.uuid.clone()),
            ..GpuRequirements::default()
        },
        priority: Priority(10),
    };
    let granted = pool.execute(PoolCommand::Allocate {
        request: request("a"),
    })?;
    assert!(matches!(&granted[..], [PoolEvent::GpuAllocated { .. }]));
    // Still exclusive: a second whole-GPU request for it is refused.
    let refused = pool.execute(PoolCommand::Allocate {
        request: request("b"),
    })?;
    assert!(matches!(
        &refused[..],
        [PoolEvent::AllocationRejected { .. }]
    ));
    Ok(())
}
