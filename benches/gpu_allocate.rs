//! Criterion bench: one allocation decision across 1,000 GPUs holding 10,000 live allocations
//! (goal: under 10 µs per decision), plus the full allocate + release command cycle, the
//! preemption path and the rejection path that explains itself by looking at every GPU.

use std::hint::black_box;

use cim_gpu::{
    AllocationId, AllocationRequest, ComputeCapability, GpuPool, GpuRequirements, GpuUuid,
    GpuVendor, GpuView, MemoryRequest, PlacementPolicy, PoolCommand, PoolConfig, Priority,
};
use criterion::{Criterion, criterion_group, criterion_main};

const GIB: u64 = 1 << 30;
const GPUS: usize = 1_000;
const LIVE: usize = 10_000;
/// GPUs left without tenants so whole-GPU requests have somewhere to go.
const EMPTY_GPUS: usize = 50;

fn fleet_gpu(i: usize) -> Result<GpuView, cim_gpu::DeviceError> {
    let (model, gib, cc) = match i % 10 {
        0..=4 => ("NVIDIA H100 80GB HBM3", 80, (9, 0)),
        5..=7 => ("NVIDIA A100-SXM4-40GB", 40, (8, 0)),
        _ => ("NVIDIA L4", 24, (8, 9)),
    };
    Ok(GpuView {
        uuid: GpuUuid::new(format!("GPU-{i:05}"))?,
        vendor: GpuVendor::Nvidia,
        model: model.to_owned(),
        memory_bytes: gib * GIB,
        compute_capability: Some(ComputeCapability::new(cc.0, cc.1)),
        tensor_cores: true,
        healthy: true,
    })
}

fn request(memory: MemoryRequest, priority: u8) -> AllocationRequest {
    AllocationRequest {
        allocation_id: AllocationId::new(),
        agent: "bench".to_owned(),
        memory,
        requirements: GpuRequirements {
            tensor_cores: true,
            min_compute_capability: Some(ComputeCapability::new(8, 0)),
            deny_models: vec!["GTX".to_owned()],
            ..GpuRequirements::default()
        },
        priority: Priority(priority),
    }
}

/// 1,000 GPUs; 10,000 allocations of 1 to 2 GiB pinned round-robin over all but the last 50.
fn fleet(policy: PlacementPolicy) -> Result<GpuPool, Box<dyn std::error::Error>> {
    let mut pool = GpuPool::default();
    pool.execute(PoolCommand::CreatePool {
        config: PoolConfig {
            allocatable_percent: 90,
            max_agents_per_gpu: 16,
            policy,
        },
    })?;
    for i in 0..GPUS {
        pool.execute(PoolCommand::RegisterDevice {
            device: fleet_gpu(i)?,
        })?;
    }
    for n in 0..LIVE {
        let gpu = n % (GPUS - EMPTY_GPUS);
        let mut live = request(
            MemoryRequest::Bytes {
                bytes: GIB + ((n / (GPUS - EMPTY_GPUS)) as u64 % 2) * GIB,
            },
            1,
        );
        live.requirements = GpuRequirements {
            pinned_uuid: Some(GpuUuid::new(format!("GPU-{gpu:05}"))?),
            ..GpuRequirements::default()
        };
        pool.execute(PoolCommand::Allocate { request: live })?;
    }
    if pool.allocations().len() != LIVE {
        return Err(format!("set-up placed {} of {LIVE}", pool.allocations().len()).into());
    }
    Ok(pool)
}

fn decisions(c: &mut Criterion) {
    let binpack = fleet(PlacementPolicy::Binpack).expect("binpack fleet builds");
    let spread = fleet(PlacementPolicy::Spread).expect("spread fleet builds");
    let mut group = c.benchmark_group("gpu_allocate_1000_gpus_10000_live");

    let fraction = request(MemoryRequest::Bytes { bytes: 4 * GIB }, 1);
    group.bench_function("decide_binpack_4gib", |b| {
        b.iter(|| binpack.decide(black_box(&fraction)))
    });
    group.bench_function("decide_spread_4gib", |b| {
        b.iter(|| spread.decide(black_box(&fraction)))
    });
    let whole = request(MemoryRequest::WholeGpu, 1);
    group.bench_function("decide_whole_gpu", |b| {
        b.iter(|| binpack.decide(black_box(&whole)))
    });
    let mut allow = request(MemoryRequest::Bytes { bytes: 4 * GIB }, 1);
    allow.requirements.allow_models = vec!["L4".to_owned()];
    group.bench_function("decide_binpack_allow_list", |b| {
        b.iter(|| binpack.decide(black_box(&allow)))
    });
    // With the idle GPUs marked unhealthy, 70 GiB fits nowhere without displacing the live
    // priority-1 allocations, so every GPU is weighed for preemption: the slow path.
    let mut crowded = binpack.clone();
    for i in GPUS - EMPTY_GPUS..GPUS {
        crowded
            .execute(PoolCommand::MarkUnhealthy {
                uuid: GpuUuid::new(format!("GPU-{i:05}")).expect("bench UUIDs are valid"),
                reason: "bench".to_owned(),
            })
            .expect("bench GPUs exist");
    }
    let preempting = request(MemoryRequest::Bytes { bytes: 70 * GIB }, 9);
    match crowded.decide(&preempting) {
        Ok(cim_gpu::Decision::Place { preempt, .. }) if !preempt.is_empty() => {}
        other => panic!("the preemption bench must preempt, got {other:?}"),
    }
    group.bench_function("decide_with_preemption_70gib", |b| {
        b.iter(|| crowded.decide(black_box(&preempting)))
    });
    // Cannot fit anywhere and cannot preempt: the reason is built from every GPU.
    let impossible = request(MemoryRequest::Bytes { bytes: 100 * GIB }, 1);
    match binpack.decide(&impossible) {
        Ok(cim_gpu::Decision::Reject(_)) => {}
        other => panic!("the rejection bench must reject, got {other:?}"),
    }
    group.bench_function("decide_rejection_with_reason", |b| {
        b.iter(|| binpack.decide(black_box(&impossible)))
    });

    let mut cycling = binpack.clone();
    group.bench_function("allocate_and_release_command_cycle", |b| {
        b.iter(|| {
            let mut next = fraction.clone();
            next.allocation_id = AllocationId::new();
            let id = next.allocation_id;
            let placed = cycling.execute(PoolCommand::Allocate { request: next });
            let released = cycling.execute(PoolCommand::Release { allocation_id: id });
            black_box((placed, released))
        })
    });
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);
