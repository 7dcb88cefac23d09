//! Property tests: for any sequence of requests, releases and health changes, no GPU is ever
//! over its allocatable memory or tenant limit, released memory is reusable, replaying the
//! events rebuilds the same state, and every rejection names the requirement that failed
//! (checked against a naive reference that looks at every GPU and allocation).

mod common;

use std::collections::BTreeMap;

use cim_gpu::{
    AllocationId, AllocationRequest, ComputeCapability, GpuPool, GpuRequirements, GpuUuid,
    GpuVendor, GpuView, MemoryRequest, PlacementPolicy, PoolCommand, PoolConfig, PoolEvent,
    Priority, Requirement,
};
use cqrs_es::Aggregate;
use proptest::prelude::*;

const GIB: u64 = common::GIB;
const MODELS: [&str; 5] = [
    "NVIDIA H100 80GB HBM3",
    "NVIDIA A100-SXM4-40GB",
    "NVIDIA GeForce GTX 1660 Ti",
    "Tesla T4",
    "Apple M2 Ultra",
];
const FRAGMENTS: [&str; 4] = ["h100", "A100", "gtx", "apple"];

#[derive(Debug, Clone)]
struct DeviceSpec {
    model: usize,
    gib: u64,
    cc: (u32, u32),
}

#[derive(Debug, Clone)]
enum Op {
    Allocate {
        whole: bool,
        gib: u64,
        min_vram_gib: u64,
        min_cc: Option<u32>,
        tensor: bool,
        allow: Option<usize>,
        deny: Option<usize>,
        pin: Option<usize>,
        priority: u8,
    },
    Release(usize),
    Unhealthy(usize),
    Recover(usize),
}

fn device_spec() -> impl Strategy<Value = DeviceSpec> {
    (0..MODELS.len(), 1u64..=32, 6u32..=9, 0u32..=9).prop_map(|(model, gib, major, minor)| {
        DeviceSpec {
            model,
            gib,
            cc: (major, minor),
        }
    })
}

fn op() -> impl Strategy<Value = Op> {
    let allocate = (
        (
            prop::bool::weighted(0.15),
            1u64..=16,
            prop_oneof![Just(0u64), 1u64..=32],
        ),
        (
            prop::option::weighted(0.2, 6u32..=9),
            prop::bool::weighted(0.2),
        ),
        (
            prop::option::weighted(0.15, 0..FRAGMENTS.len()),
            prop::option::weighted(0.15, 0..FRAGMENTS.len()),
            prop::option::weighted(0.15, 0usize..7),
        ),
        0u8..=3,
    )
        .prop_map(
            |((whole, gib, min_vram_gib), (min_cc, tensor), (allow, deny, pin), priority)| {
                Op::Allocate {
                    whole,
                    gib,
                    min_vram_gib,
                    min_cc,
                    tensor,
                    allow,
                    deny,
                    pin,
                    priority,
                }
            },
        );
    prop_oneof![
        6 => allocate,
        3 => any::<usize>().prop_map(Op::Release),
        1 => (0usize..6).prop_map(Op::Unhealthy),
        1 => (0usize..6).prop_map(Op::Recover),
    ]
}

fn view(index: usize, spec: &DeviceSpec) -> Result<GpuView, cim_gpu::DeviceError> {
    let model = MODELS[spec.model];
    let apple = model.starts_with("Apple");
    Ok(GpuView {
        uuid: GpuUuid::new(format!("GPU-{index}"))?,
        vendor: if apple {
            GpuVendor::Apple
        } else {
            GpuVendor::Nvidia
        },
        model: model.to_owned(),
        memory_bytes: spec.gib * GIB,
        compute_capability: (!apple).then(|| ComputeCapability::new(spec.cc.0, spec.cc.1)),
        tensor_cores: !apple && spec.cc.0 >= 7 && !model.contains("GTX 16"),
        healthy: true,
    })
}

/// The naive reference: the first requirement `device` misses, looking at every allocation.
fn reference_failure(
    device: &GpuView,
    healthy: bool,
    allocatable: u64,
    live: &[&cim_gpu::Allocation],
    request: &AllocationRequest,
    max_agents: usize,
) -> Option<Requirement> {
    let wants = &request.requirements;
    let model = device.model.to_lowercase();
    let on_device: Vec<_> = live.iter().filter(|a| a.device == device.uuid).collect();
    let used: u64 = on_device.iter().map(|a| a.bytes).sum();
    let checks = [
        (
            Requirement::PinnedUuid,
            wants.pinned_uuid.as_ref().is_none_or(|p| *p == device.uuid),
        ),
        (Requirement::Healthy, healthy),
        (
            Requirement::AllowedModel,
            wants.allow_models.is_empty()
                || wants
                    .allow_models
                    .iter()
                    .any(|p| model.contains(&p.to_lowercase())),
        ),
        (
            Requirement::DeniedModel,
            !wants
                .deny_models
                .iter()
                .any(|p| model.contains(&p.to_lowercase())),
        ),
        (
            Requirement::MinVram,
            device.memory_bytes >= wants.min_vram_bytes,
        ),
        (
            Requirement::ComputeCapability,
            wants
                .min_compute_capability
                .is_none_or(|min| device.compute_capability.is_some_and(|cc| cc >= min)),
        ),
        (
            Requirement::TensorCores,
            !wants.tensor_cores || device.tensor_cores,
        ),
    ];
    if let Some((failed, _)) = checks.iter().find(|(_, ok)| !ok) {
        return Some(*failed);
    }
    match request.memory {
        MemoryRequest::WholeGpu if !on_device.is_empty() => Some(Requirement::ExclusiveAccess),
        MemoryRequest::WholeGpu if allocatable == 0 => Some(Requirement::FreeMemory),
        MemoryRequest::WholeGpu => None,
        MemoryRequest::Bytes { .. } if on_device.len() >= max_agents => {
            Some(Requirement::AgentLimit)
        }
        MemoryRequest::Bytes { bytes } if allocatable - used < bytes => {
            Some(Requirement::FreeMemory)
        }
        MemoryRequest::Bytes { .. } => None,
    }
}

struct Harness {
    pool: GpuPool,
    config: PoolConfig,
    views: Vec<GpuView>,
    healthy: Vec<bool>,
    events: Vec<PoolEvent>,
}

impl Harness {
    fn run(&mut self, command: PoolCommand) -> Result<Vec<PoolEvent>, TestCaseError> {
        let events = self
            .pool
            .execute(command)
            .map_err(|error| TestCaseError::fail(format!("command refused: {error}")))?;
        self.events.extend(events.iter().cloned());
        Ok(events)
    }

    fn allocatable(&self, view: &GpuView) -> u64 {
        view.memory_bytes * u64::from(self.config.allocatable_percent) / 100
    }

    fn free(&self, view: &GpuView) -> u64 {
        let used: u64 = self
            .pool
            .allocations()
            .iter()
            .filter(|a| a.device == view.uuid)
            .map(|a| a.bytes)
            .sum();
        self.allocatable(view) - used
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let max = self.config.max_agents_per_gpu as usize;
        for view in &self.views {
            let on: Vec<_> = self
                .pool
                .allocations()
                .into_iter()
                .filter(|a| a.device == view.uuid)
                .collect();
            let used: u64 = on.iter().map(|a| a.bytes).sum();
            prop_assert!(
                used <= self.allocatable(view),
                "{} over-committed: {used}",
                view.uuid
            );
            prop_assert!(
                on.len() <= max,
                "{} holds {} > {max} agents",
                view.uuid,
                on.len()
            );
            if on.iter().any(|a| a.whole_gpu) {
                prop_assert_eq!(on.len(), 1, "whole-GPU allocation shares {}", view.uuid);
            }
            let usage = self
                .pool
                .device_usage(&view.uuid)
                .ok_or_else(|| TestCaseError::fail("device missing"))?;
            prop_assert_eq!(usage.used_bytes, used);
            prop_assert_eq!(usage.tenants as usize, on.len());
        }
        Ok(())
    }

    fn allocate(&mut self, request: AllocationRequest) -> Result<(), TestCaseError> {
        let max = self.config.max_agents_per_gpu as usize;
        let live = self
            .pool
            .allocations()
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        let live_refs: Vec<_> = live.iter().collect();
        let failures: Vec<Option<Requirement>> = self
            .views
            .iter()
            .zip(&self.healthy)
            .map(|(view, healthy)| {
                reference_failure(
                    view,
                    *healthy,
                    self.allocatable(view),
                    &live_refs,
                    &request,
                    max,
                )
            })
            .collect();
        let fits: Vec<GpuView> = self
            .views
            .iter()
            .zip(&failures)
            .filter(|(_, f)| f.is_none())
            .map(|(v, _)| v.clone())
            .collect();
        let events = self.run(PoolCommand::Allocate {
            request: request.clone(),
        })?;
        let (preempted, outcome): (Vec<_>, Vec<_>) = events
            .iter()
            .partition(|e| matches!(e, PoolEvent::AllocationPreempted { .. }));
        match (outcome.as_slice(), fits.is_empty()) {
            ([PoolEvent::GpuAllocated { allocation }], false) => {
                prop_assert!(preempted.is_empty(), "preempted although a GPU fits");
                let chosen = fits.iter().find(|v| v.uuid == allocation.device);
                let chosen = chosen
                    .ok_or_else(|| TestCaseError::fail("placed on a GPU that does not fit"))?;
                let free_before = |v: &GpuView| {
                    let used: u64 = live
                        .iter()
                        .filter(|a| a.device == v.uuid)
                        .map(|a| a.bytes)
                        .sum();
                    self.allocatable(v) - used
                };
                let frees: Vec<u64> = fits.iter().map(free_before).collect();
                let chosen_free = free_before(chosen);
                if request.memory != MemoryRequest::WholeGpu {
                    match self.config.policy {
                        PlacementPolicy::Binpack => {
                            prop_assert_eq!(Some(&chosen_free), frees.iter().min())
                        }
                        PlacementPolicy::Spread => {
                            prop_assert_eq!(Some(&chosen_free), frees.iter().max())
                        }
                    }
                }
            }
            ([PoolEvent::GpuAllocated { allocation }], true) => {
                prop_assert!(
                    !preempted.is_empty(),
                    "placed on {} though no GPU fits",
                    allocation.device
                );
                for event in &preempted {
                    if let PoolEvent::AllocationPreempted {
                        allocation_id,
                        device,
                        ..
                    } = event
                    {
                        let victim = live.iter().find(|a| a.id == *allocation_id);
                        let victim = victim.ok_or_else(|| {
                            TestCaseError::fail("preempted an unknown allocation")
                        })?;
                        prop_assert!(
                            victim.priority < request.priority,
                            "preempted equal or higher priority"
                        );
                        prop_assert_eq!(device, &allocation.device);
                    }
                }
            }
            ([PoolEvent::AllocationRejected { reason, .. }], true) => {
                prop_assert!(preempted.is_empty());
                let mut counts = BTreeMap::<Requirement, u32>::new();
                for failure in failures.iter().flatten() {
                    *counts.entry(*failure).or_default() += 1;
                }
                let expected = counts
                    .keys()
                    .next_back()
                    .copied()
                    .unwrap_or(Requirement::AnyDevice);
                prop_assert_eq!(reason.failed, expected, "reason {}", reason);
                let got: BTreeMap<_, _> = reason
                    .blocked
                    .iter()
                    .map(|b| (b.requirement, b.devices))
                    .collect();
                prop_assert_eq!(got, counts);
                // Preemption was impossible: every GPU that meets the static requirements is
                // blocked by allocations of equal or higher priority.
                for (view, failure) in self.views.iter().zip(&failures) {
                    if matches!(
                        failure,
                        Some(
                            Requirement::AgentLimit
                                | Requirement::ExclusiveAccess
                                | Requirement::FreeMemory
                        )
                    ) {
                        let lower: Vec<_> = live
                            .iter()
                            .filter(|a| a.device == view.uuid && a.priority < request.priority)
                            .collect();
                        let freed: u64 = lower.iter().map(|a| a.bytes).sum();
                        let tenants_after =
                            live.iter().filter(|a| a.device == view.uuid).count() - lower.len();
                        let room = match request.memory {
                            MemoryRequest::WholeGpu => {
                                tenants_after == 0 && self.allocatable(view) > 0
                            }
                            MemoryRequest::Bytes { bytes } => {
                                self.free(view) + freed >= bytes && tenants_after < max
                            }
                        };
                        prop_assert!(
                            !room,
                            "rejected although preempting on {} would make room",
                            view.uuid
                        );
                    }
                }
            }
            (other, fits_empty) => {
                return Err(TestCaseError::fail(format!(
                    "unexpected outcome {other:?} (no GPU fits: {fits_empty})"
                )));
            }
        }
        Ok(())
    }

    fn release(&mut self, pick: usize) -> Result<(), TestCaseError> {
        let live = self
            .pool
            .allocations()
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        if live.is_empty() {
            return Ok(());
        }
        let victim = &live[pick % live.len()];
        self.run(PoolCommand::Release {
            allocation_id: victim.id,
        })?;
        prop_assert!(self.pool.allocation(&victim.id).is_none());
        let slot = self.views.iter().position(|v| v.uuid == victim.device);
        let slot = slot.ok_or_else(|| TestCaseError::fail("released from an unknown GPU"))?;
        if !self.healthy[slot] {
            return Ok(());
        }
        // Released memory is reusable: the same amount on the same GPU fits again at once.
        let again = AllocationRequest {
            allocation_id: AllocationId::new(),
            agent: "reuse".to_owned(),
            memory: if victim.whole_gpu {
                MemoryRequest::WholeGpu
            } else {
                MemoryRequest::Bytes {
                    bytes: victim.bytes,
                }
            },
            requirements: GpuRequirements {
                pinned_uuid: Some(victim.device.clone()),
                ..GpuRequirements::default()
            },
            priority: Priority(0),
        };
        let id = again.allocation_id;
        let events = self.run(PoolCommand::Allocate { request: again })?;
        prop_assert!(
            matches!(&events[..], [PoolEvent::GpuAllocated { allocation }] if allocation.bytes == victim.bytes),
            "released memory not reusable: {:?}",
            events
        );
        self.run(PoolCommand::Release { allocation_id: id })?;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn any_sequence_keeps_every_invariant(
        specs in prop::collection::vec(device_spec(), 0..6),
        percent in 50u8..=100,
        max_agents in 1u32..=4,
        spread in any::<bool>(),
        ops in prop::collection::vec(op(), 0..48),
    ) {
        let config = PoolConfig {
            allocatable_percent: percent,
            max_agents_per_gpu: max_agents,
            policy: if spread { PlacementPolicy::Spread } else { PlacementPolicy::Binpack },
        };
        let views = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| view(i, spec))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        let mut h = Harness {
            pool: GpuPool::default(),
            config,
            healthy: vec![true; views.len()],
            views: views.clone(),
            events: Vec::new(),
        };
        h.run(PoolCommand::CreatePool { config })?;
        for device in views {
            h.run(PoolCommand::RegisterDevice { device })?;
        }
        for op in ops {
            match op {
                Op::Allocate { whole, gib, min_vram_gib, min_cc, tensor, allow, deny, pin, priority } => {
                    let request = AllocationRequest {
                        allocation_id: AllocationId::new(),
                        agent: "prop".to_owned(),
                        memory: if whole { MemoryRequest::WholeGpu } else { MemoryRequest::Bytes { bytes: gib * GIB } },
                        requirements: GpuRequirements {
                            min_vram_bytes: min_vram_gib * GIB,
                            min_compute_capability: min_cc.map(|major| ComputeCapability::new(major, 0)),
                            tensor_cores: tensor,
                            allow_models: allow.map(|i| vec![FRAGMENTS[i].to_owned()]).unwrap_or_default(),
                            deny_models: deny.map(|i| vec![FRAGMENTS[i].to_owned()]).unwrap_or_default(),
                            pinned_uuid: pin
                                .map(|i| GpuUuid::new(format!("GPU-{i}")))
                                .transpose()
                                .map_err(|error| TestCaseError::fail(error.to_string()))?,
                        },
                        priority: Priority(priority),
                    };
                    h.allocate(request)?;
                }
                Op::Release(pick) => h.release(pick)?,
                Op::Unhealthy(i) | Op::Recover(i) if i >= h.views.len() => {}
                Op::Unhealthy(i) => {
                    h.run(PoolCommand::MarkUnhealthy { uuid: h.views[i].uuid.clone(), reason: "test".to_owned() })?;
                    h.healthy[i] = false;
                }
                Op::Recover(i) => {
                    h.run(PoolCommand::MarkRecovered { uuid: h.views[i].uuid.clone() })?;
                    h.healthy[i] = true;
                }
            }
            h.check_invariants()?;
        }

        // Replaying the events rebuilds the same state, indexes included.
        let mut replayed = GpuPool::default();
        for event in h.events.iter().cloned() {
            replayed.apply(event);
        }
        prop_assert_eq!(&replayed, &h.pool);
        // So does a snapshot round trip.
        let json = serde_json::to_string(&h.pool).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let restored: GpuPool = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&restored, &h.pool);

        // Releasing everything returns every byte.
        for allocation in h.pool.allocations().into_iter().map(|a| a.id).collect::<Vec<_>>() {
            h.run(PoolCommand::Release { allocation_id: allocation })?;
        }
        for usage in h.pool.usage() {
            prop_assert_eq!(usage.used_bytes, 0);
            prop_assert_eq!(usage.tenants, 0);
        }
    }
}
