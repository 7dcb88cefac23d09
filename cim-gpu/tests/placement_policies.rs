//! Each placement rule of the allocator, one test per rule.

mod common;

use cim_gpu::{
    ComputeCapability, GpuUuid, MemoryRequest, PlacementPolicy, PoolCommand, PoolConfig, PoolError,
    Requirement,
};
use common::{GIB, allocate, bytes, config, nvidia, placed_on, pool, rejected_for, whole};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn binpack_fills_the_tightest_gpu_first() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![
            nvidia("GPU-a", "NVIDIA A100-SXM4-80GB", 80, (8, 0))?,
            nvidia("GPU-b", "NVIDIA L4", 24, (8, 9))?,
        ],
    )?;
    assert_eq!(placed_on(allocate(&mut pool, bytes(10))?)?, "GPU-b");
    assert_eq!(placed_on(allocate(&mut pool, bytes(10))?)?, "GPU-b");
    // 4 GiB left on the L4: the next 10 GiB goes to the A100, a 4 GiB one back to the L4.
    assert_eq!(placed_on(allocate(&mut pool, bytes(10))?)?, "GPU-a");
    assert_eq!(placed_on(allocate(&mut pool, bytes(4))?)?, "GPU-b");
    Ok(())
}

#[test]
fn spread_picks_the_gpu_with_most_free_memory() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Spread, 8),
        vec![
            nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?,
            nvidia("GPU-b", "NVIDIA L4", 24, (8, 9))?,
            nvidia("GPU-c", "NVIDIA L4", 24, (8, 9))?,
        ],
    )?;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(placed_on(allocate(&mut pool, bytes(8))?)?);
    }
    seen.sort();
    assert_eq!(
        seen,
        ["GPU-a", "GPU-b", "GPU-c"],
        "one agent per GPU before doubling up"
    );
    Ok(())
}

#[test]
fn whole_gpu_takes_all_allocatable_memory_and_needs_an_unused_gpu() -> TestResult {
    let mut pool = pool(
        PoolConfig {
            allocatable_percent: 80,
            max_agents_per_gpu: 8,
            policy: PlacementPolicy::Binpack,
        },
        vec![nvidia("GPU-a", "NVIDIA H100 80GB HBM3", 80, (9, 0))?],
    )?;
    match allocate(&mut pool, whole())? {
        common::Outcome::Placed { bytes, .. } => assert_eq!(bytes, 64 * GIB),
        common::Outcome::Rejected(reason) => return Err(reason.to_string().into()),
    }
    assert_eq!(
        rejected_for(allocate(&mut pool, bytes(1))?)?,
        Requirement::FreeMemory
    );
    assert_eq!(
        rejected_for(allocate(&mut pool, whole())?)?,
        Requirement::ExclusiveAccess
    );
    Ok(())
}

#[test]
fn whole_gpu_is_refused_while_a_fraction_is_in_use() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?],
    )?;
    placed_on(allocate(&mut pool, bytes(1))?)?;
    assert_eq!(
        rejected_for(allocate(&mut pool, whole())?)?,
        Requirement::ExclusiveAccess
    );
    Ok(())
}

#[test]
fn reserve_keeps_the_rest_of_memory_unallocatable() -> TestResult {
    let mut pool = pool(
        PoolConfig {
            allocatable_percent: 80,
            max_agents_per_gpu: 8,
            policy: PlacementPolicy::Binpack,
        },
        vec![nvidia("GPU-a", "NVIDIA A100-SXM4-40GB", 40, (8, 0))?],
    )?;
    placed_on(allocate(&mut pool, bytes(32))?)?;
    assert_eq!(
        rejected_for(allocate(&mut pool, bytes(1))?)?,
        Requirement::FreeMemory
    );
    Ok(())
}

#[test]
fn agent_limit_caps_tenants_per_gpu() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 2),
        vec![nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?],
    )?;
    placed_on(allocate(&mut pool, bytes(1))?)?;
    placed_on(allocate(&mut pool, bytes(1))?)?;
    assert_eq!(
        rejected_for(allocate(&mut pool, bytes(1))?)?,
        Requirement::AgentLimit
    );
    Ok(())
}

#[test]
fn model_allow_and_deny_lists_match_case_insensitive_substrings() -> TestResult {
    let devices = vec![
        nvidia("GPU-a", "NVIDIA A100-SXM4-80GB", 80, (8, 0))?,
        nvidia("GPU-h", "NVIDIA H100 80GB HBM3", 80, (9, 0))?,
    ];
    let mut pool = pool(config(PlacementPolicy::Binpack, 8), devices)?;
    let mut allow = bytes(1);
    allow.requirements.allow_models = vec!["h100".to_owned()];
    assert_eq!(placed_on(allocate(&mut pool, allow)?)?, "GPU-h");
    let mut deny = bytes(1);
    deny.requirements.deny_models = vec!["A100".to_owned()];
    assert_eq!(placed_on(allocate(&mut pool, deny)?)?, "GPU-h");
    let mut none = bytes(1);
    none.requirements.allow_models = vec!["V100".to_owned()];
    assert_eq!(
        rejected_for(allocate(&mut pool, none)?)?,
        Requirement::AllowedModel
    );
    let mut both = bytes(1);
    both.requirements.deny_models = vec!["nvidia".to_owned()];
    assert_eq!(
        rejected_for(allocate(&mut pool, both)?)?,
        Requirement::DeniedModel
    );
    Ok(())
}

#[test]
fn min_vram_compares_total_gpu_memory() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![
            nvidia("GPU-small", "NVIDIA L4", 24, (8, 9))?,
            nvidia("GPU-big", "NVIDIA A100-SXM4-80GB", 80, (8, 0))?,
        ],
    )?;
    let mut request = bytes(1);
    request.requirements.min_vram_bytes = 40 * GIB;
    assert_eq!(placed_on(allocate(&mut pool, request)?)?, "GPU-big");
    let mut too_big = bytes(1);
    too_big.requirements.min_vram_bytes = 100 * GIB;
    assert_eq!(
        rejected_for(allocate(&mut pool, too_big)?)?,
        Requirement::MinVram
    );
    Ok(())
}

#[test]
fn compute_capability_and_tensor_cores_filter_gpus() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![
            nvidia("GPU-p100", "Tesla P100-PCIE-16GB", 16, (6, 0))?,
            nvidia("GPU-1660", "NVIDIA GeForce GTX 1660 Ti", 6, (7, 5))?,
            nvidia("GPU-t4", "Tesla T4", 16, (7, 5))?,
        ],
    )?;
    let mut cc = bytes(1);
    cc.requirements.min_compute_capability = Some(ComputeCapability::new(7, 0));
    // Binpack prefers the 6 GiB GTX 1660: it meets 7.0.
    assert_eq!(placed_on(allocate(&mut pool, cc)?)?, "GPU-1660");
    let mut tensor = bytes(1);
    tensor.requirements.tensor_cores = true;
    assert_eq!(placed_on(allocate(&mut pool, tensor)?)?, "GPU-t4");
    let mut hopper = bytes(1);
    hopper.requirements.min_compute_capability = Some(ComputeCapability::new(9, 0));
    assert_eq!(
        rejected_for(allocate(&mut pool, hopper)?)?,
        Requirement::ComputeCapability
    );
    Ok(())
}

#[test]
fn pinned_uuid_goes_there_or_says_why_not() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![
            nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?,
            nvidia("GPU-b", "NVIDIA L4", 24, (8, 9))?,
        ],
    )?;
    let mut pinned = bytes(20);
    pinned.requirements.pinned_uuid = Some(GpuUuid::new("GPU-b")?);
    assert_eq!(placed_on(allocate(&mut pool, pinned.clone())?)?, "GPU-b");
    pinned.allocation_id = cim_gpu::AllocationId::new();
    assert_eq!(
        rejected_for(allocate(&mut pool, pinned)?)?,
        Requirement::FreeMemory
    );
    let mut unknown = bytes(1);
    unknown.requirements.pinned_uuid = Some(GpuUuid::new("GPU-zzz")?);
    assert_eq!(
        rejected_for(allocate(&mut pool, unknown)?)?,
        Requirement::PinnedUuid
    );
    Ok(())
}

#[test]
fn unhealthy_gpus_are_excluded_until_they_recover() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?],
    )?;
    let uuid = GpuUuid::new("GPU-a")?;
    pool.execute(PoolCommand::MarkUnhealthy {
        uuid: uuid.clone(),
        reason: "XID 79: fallen off the bus".to_owned(),
    })?;
    assert_eq!(
        rejected_for(allocate(&mut pool, bytes(1))?)?,
        Requirement::Healthy
    );
    assert_eq!(
        rejected_for(allocate(&mut pool, whole())?)?,
        Requirement::Healthy
    );
    pool.execute(PoolCommand::MarkRecovered { uuid })?;
    assert_eq!(placed_on(allocate(&mut pool, bytes(1))?)?, "GPU-a");
    Ok(())
}

#[test]
fn rejection_names_the_furthest_requirement_and_counts_every_gpu() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![
            nvidia("GPU-old", "Tesla P100-PCIE-16GB", 16, (6, 0))?,
            nvidia("GPU-full", "NVIDIA L4", 24, (8, 9))?,
        ],
    )?;
    let mut fill = bytes(24);
    fill.requirements.pinned_uuid = Some(GpuUuid::new("GPU-full")?);
    placed_on(allocate(&mut pool, fill)?)?;
    let mut request = bytes(4);
    request.requirements.tensor_cores = true;
    let common::Outcome::Rejected(reason) = allocate(&mut pool, request)? else {
        return Err("expected a rejection".into());
    };
    assert_eq!(reason.failed, Requirement::FreeMemory);
    assert_eq!(reason.devices_considered, 2);
    let counts: Vec<_> = reason
        .blocked
        .iter()
        .map(|b| (b.requirement, b.devices))
        .collect();
    assert_eq!(
        counts,
        [(Requirement::TensorCores, 1), (Requirement::FreeMemory, 1)]
    );
    assert!(
        reason.to_string().contains("enough free memory"),
        "{reason}"
    );
    Ok(())
}

#[test]
fn empty_pool_rejects_with_any_device() -> TestResult {
    let mut pool = pool(config(PlacementPolicy::Binpack, 8), Vec::new())?;
    assert_eq!(
        rejected_for(allocate(&mut pool, bytes(1))?)?,
        Requirement::AnyDevice
    );
    Ok(())
}

#[test]
fn invalid_commands_are_refused_without_events() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?],
    )?;
    let before = pool.clone();
    let mut zero = bytes(1);
    zero.memory = MemoryRequest::Bytes { bytes: 0 };
    assert!(matches!(
        pool.execute(PoolCommand::Allocate { request: zero }),
        Err(PoolError::ZeroBytes { .. })
    ));
    let missing = cim_gpu::AllocationId::new();
    assert_eq!(
        pool.execute(PoolCommand::Release {
            allocation_id: missing
        }),
        Err(PoolError::UnknownAllocation { id: missing })
    );
    assert!(matches!(
        pool.execute(PoolCommand::RegisterDevice {
            device: nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?
        }),
        Err(PoolError::DuplicateDevice { .. })
    ));
    assert!(matches!(
        pool.execute(PoolCommand::CreatePool {
            config: PoolConfig::default()
        }),
        Err(PoolError::AlreadyCreated)
    ));
    let request = bytes(1);
    pool.execute(PoolCommand::Allocate {
        request: request.clone(),
    })?;
    assert!(matches!(
        pool.execute(PoolCommand::Allocate { request }),
        Err(PoolError::DuplicateAllocation { .. })
    ));
    assert_eq!(pool.allocations().len(), 1);
    assert_eq!(before.allocations().len(), 0);

    let mut fresh = cim_gpu::GpuPool::default();
    assert_eq!(
        fresh.execute(PoolCommand::CreatePool {
            config: PoolConfig {
                allocatable_percent: 0,
                ..PoolConfig::default()
            }
        }),
        Err(PoolError::InvalidConfig {
            field: "allocatable_percent",
            value: 0,
            expected: "1 to 100"
        })
    );
    assert_eq!(
        fresh.execute(PoolCommand::Allocate { request: bytes(1) }),
        Err(PoolError::NotCreated)
    );
    Ok(())
}

#[test]
fn released_memory_is_reused() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?],
    )?;
    let first = bytes(24);
    let id = first.allocation_id;
    placed_on(allocate(&mut pool, first)?)?;
    assert_eq!(
        rejected_for(allocate(&mut pool, bytes(24))?)?,
        Requirement::FreeMemory
    );
    pool.execute(PoolCommand::Release { allocation_id: id })?;
    assert_eq!(placed_on(allocate(&mut pool, bytes(24))?)?, "GPU-a");
    Ok(())
}
