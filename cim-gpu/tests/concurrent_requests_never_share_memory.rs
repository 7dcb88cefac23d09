//! Many agents asking at once through one `GpuAllocator` on cqrs-es's `MemStore`: no byte is
//! granted twice, and the stored events rebuild the same pool.

mod common;

use std::sync::Arc;

use cim_gpu::{AllocationOutcome, GpuAllocator, GpuPool, PlacementPolicy, PoolCommand, PoolConfig};
use cqrs_es::mem_store::MemStore;
use cqrs_es::{Aggregate, EventStore};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_never_allocate_the_same_memory_twice() -> TestResult {
    let store = MemStore::<GpuPool>::default();
    let allocator = Arc::new(GpuAllocator::new(store.clone(), "pool-a"));
    allocator
        .execute(PoolCommand::CreatePool {
            config: PoolConfig {
                allocatable_percent: 100,
                max_agents_per_gpu: 8,
                policy: PlacementPolicy::Spread,
            },
        })
        .await?;
    for i in 0..4 {
        let device = common::nvidia(&format!("GPU-{i}"), "NVIDIA L4", 24, (8, 9))?;
        allocator
            .execute(PoolCommand::RegisterDevice { device })
            .await?;
    }

    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let allocator = Arc::clone(&allocator);
            tokio::spawn(async move { allocator.allocate(common::bytes(4)).await })
        })
        .collect();
    let (mut granted, mut rejected) = (Vec::new(), 0);
    for task in tasks {
        match task.await?? {
            AllocationOutcome::Allocated {
                allocation,
                preempted,
            } => {
                assert!(preempted.is_empty());
                granted.push(allocation);
            }
            AllocationOutcome::Rejected(reason) => {
                assert_eq!(reason.failed, cim_gpu::Requirement::FreeMemory, "{reason}");
                rejected += 1;
            }
        }
    }
    // 4 GPUs × 24 GiB / 4 GiB: exactly 24 grants fit.
    assert_eq!((granted.len(), rejected), (24, 40));
    for i in 0..4 {
        let on: u64 = granted
            .iter()
            .filter(|a| a.device.as_str() == format!("GPU-{i}"))
            .map(|a| a.bytes)
            .sum();
        assert_eq!(on, 24 * common::GIB, "GPU-{i}");
    }

    // The store alone rebuilds the same pool.
    let mut replayed = GpuPool::default();
    for envelope in store.load_events("pool-a").await? {
        replayed.apply(envelope.payload);
    }
    assert_eq!(replayed, allocator.pool().await?);
    assert_eq!(replayed.allocations().len(), 24);

    // Releases through the store free memory for the next agent.
    allocator.release(granted[0].id).await?;
    match allocator.allocate(common::bytes(4)).await? {
        AllocationOutcome::Allocated { allocation, .. } => {
            assert_eq!(allocation.device, granted[0].device)
        }
        AllocationOutcome::Rejected(reason) => return Err(reason.to_string().into()),
    }
    Ok(())
}

#[tokio::test]
async fn refused_commands_surface_as_pool_errors() -> TestResult {
    let allocator = GpuAllocator::new(MemStore::<GpuPool>::default(), "pool-b");
    match allocator.allocate(common::bytes(1)).await {
        Err(cim_gpu::AllocatorError::Pool(cim_gpu::PoolError::NotCreated)) => Ok(()),
        other => Err(format!("expected NotCreated, got {other:?}").into()),
    }
}
