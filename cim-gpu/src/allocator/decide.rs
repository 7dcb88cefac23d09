//! Placement: where a request goes, whom it displaces, or why it cannot go anywhere.

use crate::allocator::config::PlacementPolicy;
use crate::allocator::error::PoolError;
use crate::allocator::pool::{DeviceSlot, GpuPool, Slot};
use crate::allocator::rejection::{BlockedCount, RejectionReason, Requirement};
use crate::allocator::request::{AllocationId, AllocationRequest, GpuRequirements, MemoryRequest};
use crate::device::GpuUuid;

/// The outcome of [`GpuPool::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Grant `bytes` on `device`, after preempting `preempt` (empty unless capacity ran out).
    Place {
        /// The GPU.
        device: GpuUuid,
        /// Bytes to reserve.
        bytes: u64,
        /// Lower-priority allocations to take away first, lowest priority first.
        preempt: Vec<AllocationId>,
    },
    /// No GPU can take the request.
    Reject(RejectionReason),
}

/// Case-insensitive (ASCII) substring test against an already lower-cased haystack.
fn contains_ignore_case(haystack_lower: &str, needle: &str) -> bool {
    let needle = needle.as_bytes();
    needle.is_empty()
        || haystack_lower
            .as_bytes()
            .windows(needle.len())
            .any(|window| {
                window
                    .iter()
                    .zip(needle)
                    .all(|(h, n)| *h == n.to_ascii_lowercase())
            })
}

/// The first static requirement `device` misses, if any.
pub(crate) fn static_failure(device: &DeviceSlot, wants: &GpuRequirements) -> Option<Requirement> {
    if let Some(pinned) = &wants.pinned_uuid
        && *pinned != device.view.uuid
    {
        return Some(Requirement::PinnedUuid);
    }
    if !device.healthy {
        return Some(Requirement::Healthy);
    }
    if !wants.allow_models.is_empty()
        && !wants
            .allow_models
            .iter()
            .any(|pattern| contains_ignore_case(&device.model_lower, pattern))
    {
        return Some(Requirement::AllowedModel);
    }
    if wants
        .deny_models
        .iter()
        .any(|pattern| contains_ignore_case(&device.model_lower, pattern))
    {
        return Some(Requirement::DeniedModel);
    }
    if device.view.memory_bytes < wants.min_vram_bytes {
        return Some(Requirement::MinVram);
    }
    if let Some(min) = wants.min_compute_capability
        && device.view.compute_capability.is_none_or(|cc| cc < min)
    {
        return Some(Requirement::ComputeCapability);
    }
    if wants.tensor_cores && !device.view.tensor_cores {
        return Some(Requirement::TensorCores);
    }
    None
}

/// The first capacity requirement `device` misses, if any.
pub(crate) fn capacity_failure(
    device: &DeviceSlot,
    memory: MemoryRequest,
    max_agents: usize,
) -> Option<Requirement> {
    match memory {
        MemoryRequest::WholeGpu if !device.tenants.is_empty() => Some(Requirement::ExclusiveAccess),
        MemoryRequest::WholeGpu if device.allocatable == 0 => Some(Requirement::FreeMemory),
        MemoryRequest::WholeGpu => None,
        MemoryRequest::Bytes { .. } if device.tenants.len() >= max_agents => {
            Some(Requirement::AgentLimit)
        }
        MemoryRequest::Bytes { bytes } if device.free() < bytes => Some(Requirement::FreeMemory),
        MemoryRequest::Bytes { .. } => None,
    }
}

impl GpuPool {
    /// Decides where `request` goes without changing anything. Commands call this; it is public
    /// so planners can ask "what if" and benches can time it.
    pub fn decide(&self, request: &AllocationRequest) -> Result<Decision, PoolError> {
        let config = self.config.ok_or(PoolError::NotCreated)?;
        let id = request.allocation_id;
        if self.allocations.contains_key(&id) {
            return Err(PoolError::DuplicateAllocation { id });
        }
        if request.memory == (MemoryRequest::Bytes { bytes: 0 }) {
            return Err(PoolError::ZeroBytes { id });
        }
        let max_agents = config.max_agents_per_gpu as usize;
        let placed = match &request.requirements.pinned_uuid {
            Some(uuid) => self.by_uuid.get(uuid).copied().filter(|&slot| {
                self.slots.get(slot as usize).is_some_and(|device| {
                    static_failure(device, &request.requirements).is_none()
                        && capacity_failure(device, request.memory, max_agents).is_none()
                })
            }),
            None => self.search_index(request, config.policy),
        };
        if let Some(slot) = placed {
            return Ok(self.place(slot, request.memory, Vec::new()));
        }
        if let Some((slot, victims)) = self.preemption(request, max_agents) {
            return Ok(self.place(slot, request.memory, victims));
        }
        Ok(self.reject(request, max_agents))
    }

    fn place(&self, slot: Slot, memory: MemoryRequest, preempt: Vec<AllocationId>) -> Decision {
        match self.slots.get(slot as usize) {
            Some(device) => Decision::Place {
                device: device.view.uuid.clone(),
                bytes: match memory {
                    MemoryRequest::WholeGpu => device.allocatable,
                    MemoryRequest::Bytes { bytes } => bytes,
                },
                preempt,
            },
            None => Decision::Reject(RejectionReason {
                failed: Requirement::AnyDevice,
                devices_considered: 0,
                blocked: Vec::new(),
            }),
        }
    }

    /// Walks the capacity index from the tightest fit (binpack) or the loosest (spread); every
    /// entry already has the capacity, so only static requirements are checked per GPU.
    fn search_index(&self, request: &AllocationRequest, policy: PlacementPolicy) -> Option<Slot> {
        let (index, floor) = match request.memory {
            MemoryRequest::WholeGpu => (&self.empty_by_capacity, 1),
            MemoryRequest::Bytes { bytes } => (&self.open_by_free, bytes),
        };
        let qualifies = |&&(_, slot): &&(u64, Slot)| {
            self.slots
                .get(slot as usize)
                .is_some_and(|device| static_failure(device, &request.requirements).is_none())
        };
        let mut fits = index.range((floor, 0)..);
        match policy {
            PlacementPolicy::Binpack => fits.find(qualifies),
            PlacementPolicy::Spread => fits.rev().find(qualifies),
        }
        .map(|&(_, slot)| slot)
    }

    /// The GPU where displacing the fewest strictly-lower-priority allocations (lowest priority
    /// and newest first) makes room; ties go to the smaller total victim priority, then to the
    /// GPU registered first.
    fn preemption(
        &self,
        request: &AllocationRequest,
        max_agents: usize,
    ) -> Option<(Slot, Vec<AllocationId>)> {
        let mut best: Option<((usize, u32, Slot), Vec<AllocationId>)> = None;
        for (slot, device) in (0..).zip(&self.slots) {
            if static_failure(device, &request.requirements).is_some() {
                continue;
            }
            let Some(&(lowest, _)) = device.tenants.keys().next() else {
                continue;
            };
            if lowest >= request.priority {
                continue;
            }
            let mut free = device.free();
            let mut tenants = device.tenants.len();
            let mut victims = Vec::new();
            let mut victim_priority = 0u32;
            let room = |free: u64, tenants: usize| match request.memory {
                MemoryRequest::WholeGpu => tenants == 0 && device.allocatable > 0,
                MemoryRequest::Bytes { bytes } => free >= bytes && tenants < max_agents,
            };
            for (&(priority, _), id) in &device.tenants {
                if room(free, tenants) || priority >= request.priority {
                    break;
                }
                let bytes = self
                    .allocations
                    .get(id)
                    .map_or(0, |live| live.allocation.bytes);
                free = free.saturating_add(bytes);
                tenants -= 1;
                victim_priority += u32::from(priority.0);
                victims.push(*id);
            }
            if !room(free, tenants) {
                continue;
            }
            let key = (victims.len(), victim_priority, slot);
            if best.as_ref().is_none_or(|(best_key, _)| key < *best_key) {
                best = Some((key, victims));
            }
        }
        best.map(|((_, _, slot), victims)| (slot, victims))
    }

    /// Explains a refusal: each GPU's first unmet requirement, and the furthest one reached.
    /// (If a GPU turns out to meet everything, the indexes were stale; it is placed there.)
    fn reject(&self, request: &AllocationRequest, max_agents: usize) -> Decision {
        let mut counts = std::collections::BTreeMap::<Requirement, u32>::new();
        for (slot, device) in (0..).zip(&self.slots) {
            let failure = static_failure(device, &request.requirements)
                .or_else(|| capacity_failure(device, request.memory, max_agents));
            let Some(failure) = failure else {
                debug_assert!(false, "the capacity index missed GPU slot {slot}");
                return self.place(slot, request.memory, Vec::new());
            };
            *counts.entry(failure).or_default() += 1;
        }
        Decision::Reject(RejectionReason {
            failed: counts
                .keys()
                .next_back()
                .copied()
                .unwrap_or(Requirement::AnyDevice),
            devices_considered: u32::try_from(self.slots.len()).unwrap_or(u32::MAX),
            blocked: counts
                .into_iter()
                .map(|(requirement, devices)| BlockedCount {
                    requirement,
                    devices,
                })
                .collect(),
        })
    }
}
