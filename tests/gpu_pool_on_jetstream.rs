//! The GPU pool persists through `cim-jetstream`: two allocators with their own connections (as
//! two processes would have) share one pool on a real `nats-server`, race for its memory, and the
//! server's optimistic concurrency keeps them from ever granting the same bytes twice.

use std::collections::HashMap;
use std::sync::Arc;

use cim_gpu::{
    AllocationId, AllocationOutcome, AllocationRequest, DeclaredInventory, GpuAllocator, GpuPool,
    GpuRequirements, InventoryBackend, MemoryRequest, PlacementPolicy, PoolCommand, PoolConfig,
    Priority, Requirement,
};
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository, JetStreamEventStore};
use cqrs_es::EventStore;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GIB: u64 = 1 << 30;
const POOL: &str = "pool-edge";

async fn allocator(
    server: &NatsServer,
) -> Result<GpuAllocator<JetStreamEventStore<GpuPool>>, Box<dyn std::error::Error>> {
    let repo =
        JetStreamEventRepository::connect(&server.url(), JetStreamConfig::named("gpu")).await?;
    Ok(GpuAllocator::new(
        JetStreamEventStore::new_event_store(repo),
        POOL,
    ))
}

fn four_gib(agent: String) -> AllocationRequest {
    AllocationRequest {
        allocation_id: AllocationId::new(),
        agent,
        memory: MemoryRequest::Bytes { bytes: 4 * GIB },
        requirements: GpuRequirements::default(),
        priority: Priority(1),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_never_grant_the_same_memory_and_the_pool_reloads_identically() -> TestResult {
    let server = NatsServer::start().await?;
    let first = Arc::new(allocator(&server).await?);
    let second = Arc::new(allocator(&server).await?);

    first
        .execute(PoolCommand::CreatePool {
            config: PoolConfig {
                allocatable_percent: 100,
                max_agents_per_gpu: 8,
                policy: PlacementPolicy::Binpack,
            },
        })
        .await?;
    let declared = DeclaredInventory::parse(
        "host: edge-1\ngpus:\n  - model: NVIDIA L4\n    vram_mib: 16384\n    compute_capability: '8.9'\n    count: 2\n",
        "edge-1.yaml",
    )?;
    for device in declared.devices()? {
        second
            .execute(PoolCommand::RegisterDevice {
                device: device.view(),
            })
            .await?;
    }

    // 2 GPUs × 16 GiB hold exactly 8 requests of 4 GiB; 12 ask, half through each writer.
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let writer = Arc::clone(if i % 2 == 0 { &first } else { &second });
            tokio::spawn(async move { writer.allocate(four_gib(format!("agent-{i}"))).await })
        })
        .collect();
    let mut granted = Vec::new();
    let mut rejected = 0;
    for task in tasks {
        match task.await?? {
            AllocationOutcome::Allocated { allocation, .. } => granted.push(allocation),
            AllocationOutcome::Rejected(reason) => {
                assert_eq!(reason.failed, Requirement::FreeMemory, "{reason}");
                rejected += 1;
            }
        }
    }
    assert_eq!((granted.len(), rejected), (8, 4));
    let mut per_gpu: HashMap<_, u64> = HashMap::new();
    for allocation in &granted {
        *per_gpu.entry(allocation.device.clone()).or_default() += allocation.bytes;
    }
    assert_eq!(per_gpu.len(), 2);
    assert!(
        per_gpu.values().all(|&bytes| bytes == 16 * GIB),
        "{per_gpu:?}"
    );

    // Memory released through one writer is granted through the other.
    second.release(granted[0].id).await?;
    let again = first.allocate(four_gib("late-agent".to_owned())).await?;
    assert!(
        matches!(&again, AllocationOutcome::Allocated { allocation, .. } if allocation.device == granted[0].device),
        "{again:?}"
    );

    // A third connection rebuilds exactly the state both writers see.
    let reloaded = allocator(&server).await?.pool().await?;
    assert_eq!(reloaded, first.pool().await?);
    assert_eq!(reloaded, second.pool().await?);
    let store = JetStreamEventStore::<GpuPool>::new_event_store(
        JetStreamEventRepository::connect(&server.url(), JetStreamConfig::named("gpu")).await?,
    );
    let events = store.load_events(POOL).await?;
    // create + 2 devices + 12 decisions + release + late grant.
    assert_eq!(events.len(), 17);
    Ok(())
}
