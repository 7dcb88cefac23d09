//! Higher-priority requests displace lower-priority allocations, and only those.

mod common;

use cim_gpu::{
    AllocationId, GpuUuid, PlacementPolicy, PoolCommand, PoolEvent, Priority, Requirement,
};
use common::{Outcome, allocate, bytes, config, nvidia, pool, rejected_for, whole};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn at(priority: u8, gib: u64) -> cim_gpu::AllocationRequest {
    let mut request = bytes(gib);
    request.priority = Priority(priority);
    request
}

#[test]
fn higher_priority_preempts_the_lowest_priority_newest_first() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?],
    )?;
    let (low_old, low_new, mid) = (at(1, 8), at(1, 8), at(5, 8));
    let (low_old_id, low_new_id, mid_id) = (
        low_old.allocation_id,
        low_new.allocation_id,
        mid.allocation_id,
    );
    for request in [low_old, low_new, mid] {
        common::placed_on(allocate(&mut pool, request)?)?;
    }
    let Outcome::Placed { preempted, .. } = allocate(&mut pool, at(9, 8))? else {
        return Err("priority 9 should displace a priority 1 allocation".into());
    };
    assert_eq!(preempted, [low_new_id]);
    assert!(pool.allocation(&low_new_id).is_none());
    assert!(pool.allocation(&low_old_id).is_some());
    assert!(pool.allocation(&mid_id).is_some());
    Ok(())
}

#[test]
fn equal_or_lower_priority_never_preempts() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?],
    )?;
    common::placed_on(allocate(&mut pool, at(5, 24))?)?;
    assert_eq!(
        rejected_for(allocate(&mut pool, at(5, 1))?)?,
        Requirement::FreeMemory
    );
    assert_eq!(
        rejected_for(allocate(&mut pool, at(4, 1))?)?,
        Requirement::FreeMemory
    );
    assert_eq!(pool.allocations().len(), 1);
    Ok(())
}

#[test]
fn preemption_picks_the_gpu_needing_fewest_victims() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![
            nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?,
            nvidia("GPU-b", "NVIDIA L4", 24, (8, 9))?,
        ],
    )?;
    let pin =
        |uuid: &str, gib: u64| -> Result<cim_gpu::AllocationRequest, Box<dyn std::error::Error>> {
            let mut request = at(1, gib);
            request.requirements.pinned_uuid = Some(GpuUuid::new(uuid)?);
            Ok(request)
        };
    for _ in 0..3 {
        common::placed_on(allocate(&mut pool, pin("GPU-a", 8)?)?)?;
    }
    common::placed_on(allocate(&mut pool, pin("GPU-b", 24)?)?)?;
    let Outcome::Placed {
        device, preempted, ..
    } = allocate(&mut pool, at(7, 16))?
    else {
        return Err("expected preemption".into());
    };
    assert_eq!((device.as_str(), preempted.len()), ("GPU-b", 1));
    Ok(())
}

#[test]
fn whole_gpu_request_preempts_every_tenant_when_all_are_lower() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 8),
        vec![nvidia("GPU-a", "NVIDIA H100 80GB HBM3", 80, (9, 0))?],
    )?;
    common::placed_on(allocate(&mut pool, at(1, 10))?)?;
    common::placed_on(allocate(&mut pool, at(2, 10))?)?;
    let mut high = whole();
    high.priority = Priority(3);
    let Outcome::Placed { preempted, .. } = allocate(&mut pool, high)? else {
        return Err("expected the whole GPU".into());
    };
    assert_eq!(preempted.len(), 2);
    assert_eq!(pool.allocations().len(), 1);
    let mut blocked = whole();
    blocked.priority = Priority(3);
    assert_eq!(
        rejected_for(allocate(&mut pool, blocked)?)?,
        Requirement::ExclusiveAccess
    );
    Ok(())
}

#[test]
fn preemption_events_name_victim_and_preemptor() -> TestResult {
    let mut pool = pool(
        config(PlacementPolicy::Binpack, 1),
        vec![nvidia("GPU-a", "NVIDIA L4", 24, (8, 9))?],
    )?;
    let low = at(0, 1);
    let low_id = low.allocation_id;
    common::placed_on(allocate(&mut pool, low)?)?;
    let high = at(1, 1);
    let high_id: AllocationId = high.allocation_id;
    let events = pool.execute(PoolCommand::Allocate { request: high })?;
    match &events[..] {
        [
            PoolEvent::AllocationPreempted {
                allocation_id, by, ..
            },
            PoolEvent::GpuAllocated { allocation },
        ] => {
            assert_eq!(
                (*allocation_id, *by, allocation.id),
                (low_id, high_id, high_id)
            );
        }
        other => return Err(format!("unexpected events {other:?}").into()),
    }
    Ok(())
}
