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

/// A request's static requirements, with the model allow/deny lists already judged for every
/// distinct model in the pool, so checking a GPU never touches strings.
pub(crate) struct Wants<'a> {
    requirements: &'a GpuRequirements,
    /// Per entry of [`GpuPool::models`]: the list requirement that model fails, if any. Empty
    /// when the request has no lists.
    model_verdicts: Vec<Option<Requirement>>,
}

impl<'a> Wants<'a> {
    pub(crate) fn new(requirements: &'a GpuRequirements, models: &[String]) -> Self {
        let lists = !requirements.allow_models.is_empty() || !requirements.deny_models.is_empty();
        let model_verdicts = if lists {
            let lower = |patterns: &[String]| -> Vec<String> {
                patterns.iter().map(|p| p.to_ascii_lowercase()).collect()
            };
            let (allow, deny) = (
                lower(&requirements.allow_models),
                lower(&requirements.deny_models),
            );
            models
                .iter()
                .map(|model| {
                    if !allow.is_empty() && !allow.iter().any(|p| model.contains(p.as_str())) {
                        Some(Requirement::AllowedModel)
                    } else if deny.iter().any(|p| model.contains(p.as_str())) {
                        Some(Requirement::DeniedModel)
                    } else {
                        None
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        Self {
            requirements,
            model_verdicts,
        }
    }

    /// The first static requirement `device` misses, if any.
    pub(crate) fn failure(&self, device: &DeviceSlot) -> Option<Requirement> {
        let wants = self.requirements;
        if let Some(pinned) = &wants.pinned_uuid
            && *pinned != device.view.uuid
        {
            return Some(Requirement::PinnedUuid);
        }
        if !device.healthy {
            return Some(Requirement::Healthy);
        }
        if let Some(&Some(verdict)) = self.model_verdicts.get(device.model as usize) {
            return Some(verdict);
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
}

/// The first capacity requirement `device` misses, if any.
pub(crate) fn capacity_failure(
    device: &DeviceSlot,
    memory: MemoryRequest,
    max_agents: usize,
) -> Option<Requirement> {
    match memory {
        MemoryRequest::WholeGpu if !device.tenants.is_empty() => Some(Requirement::ExclusiveAccess),
        // A GPU declared without its memory (0 bytes) can still be granted whole.
        MemoryRequest::WholeGpu if device.allocatable == 0 && device.view.memory_bytes > 0 => {
            Some(Requirement::FreeMemory)
        }
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
        let wants = Wants::new(&request.requirements, &self.models);
        let placed = match &request.requirements.pinned_uuid {
            Some(uuid) => self.by_uuid.get(uuid).copied().filter(|&slot| {
                self.slots.get(slot as usize).is_some_and(|device| {
                    wants.failure(device).is_none()
                        && capacity_failure(device, request.memory, max_agents).is_none()
                })
            }),
            None => self.search_index(request, &wants, config.policy),
        };
        if let Some(slot) = placed {
            return Ok(self.place(slot, request.memory, Vec::new()));
        }
        if let Some((slot, victims)) = self.preemption(request, &wants, max_agents) {
            return Ok(self.place(slot, request.memory, victims));
        }
        Ok(self.reject(request, &wants, max_agents))
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
    fn search_index(
        &self,
        request: &AllocationRequest,
        wants: &Wants<'_>,
        policy: PlacementPolicy,
    ) -> Option<Slot> {
        let (index, floor) = match request.memory {
            MemoryRequest::WholeGpu => (&self.empty_by_capacity, 1),
            MemoryRequest::Bytes { bytes } => (&self.open_by_free, bytes),
        };
        let qualifies = |&&(_, slot): &&(u64, Slot)| {
            self.slots
                .get(slot as usize)
                .is_some_and(|device| wants.failure(device).is_none())
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
    ///
    /// Each GPU's cost comes from its tenants' running totals; the static requirements, the
    /// dearer check, are only judged for a GPU that would beat the best so far.
    fn preemption(
        &self,
        request: &AllocationRequest,
        wants: &Wants<'_>,
        max_agents: usize,
    ) -> Option<(Slot, Vec<AllocationId>)> {
        // (victims, their summed priority, slot): smaller is better.
        let mut best: Option<(usize, u32, Slot)> = None;
        for (slot, device) in (0..).zip(&self.slots) {
            let tenants = device.tenants.len();
            // How many bytes must be freed, and how many tenants must leave, for the request
            // to fit; a GPU too small even when emptied is out.
            let (deficit, at_least) = match request.memory {
                MemoryRequest::WholeGpu if device.allocatable > 0 => (0, tenants),
                MemoryRequest::Bytes { bytes } if device.allocatable >= bytes => (
                    bytes.saturating_sub(device.free()),
                    (tenants + 1).saturating_sub(max_agents),
                ),
                _ => continue,
            };
            if best.is_some_and(|(count, ..)| at_least > count) {
                continue;
            }
            let Some(cost) = device
                .tenants
                .victims_for(deficit, at_least, request.priority)
            else {
                continue;
            };
            let key = (cost.victims, cost.priority_sum, slot);
            if best.is_none_or(|best| key < best) && wants.failure(device).is_none() {
                best = Some(key);
            }
        }
        let (count, _, slot) = best?;
        let device = self.slots.get(slot as usize)?;
        Some((slot, device.tenants.first_ids(count).collect()))
    }

    /// Explains a refusal: each GPU's first unmet requirement, and the furthest one reached.
    /// (If a GPU turns out to meet everything, the indexes were stale; it is placed there.)
    fn reject(
        &self,
        request: &AllocationRequest,
        wants: &Wants<'_>,
        max_agents: usize,
    ) -> Decision {
        let mut counts = [0u32; Requirement::ALL.len()];
        for (slot, device) in (0..).zip(&self.slots) {
            let failure = wants
                .failure(device)
                .or_else(|| capacity_failure(device, request.memory, max_agents));
            let Some(failure) = failure else {
                debug_assert!(false, "the capacity index missed GPU slot {slot}");
                return self.place(slot, request.memory, Vec::new());
            };
            // `ALL` lists every variant in declaration order, so the discriminant is the index.
            counts[failure as usize] += 1;
        }
        let blocked: Vec<BlockedCount> = Requirement::ALL
            .into_iter()
            .zip(counts)
            .filter(|&(_, devices)| devices > 0)
            .map(|(requirement, devices)| BlockedCount {
                requirement,
                devices,
            })
            .collect();
        Decision::Reject(RejectionReason {
            failed: blocked
                .last()
                .map_or(Requirement::AnyDevice, |furthest| furthest.requirement),
            devices_considered: u32::try_from(self.slots.len()).unwrap_or(u32::MAX),
            blocked,
        })
    }
}
