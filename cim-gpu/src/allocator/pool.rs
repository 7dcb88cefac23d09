//! The pool's state and how events change it.
//!
//! Besides the devices and live allocations, the state keeps two ordered indexes so a
//! placement decision looks at a handful of GPUs instead of every allocation:
//! `open_by_free` holds the GPUs that can take another fractional allocation, ordered by free
//! bytes; `empty_by_capacity` holds the GPUs with no tenant, ordered by allocatable bytes.
//! Each GPU also keeps its tenants in victim order with running totals of bytes and priority
//! (see [`Tenants`]), so preemption weighs a GPU with a bisection instead of a walk.
//! All of these are derived: serialisation stores devices and allocations only and rebuilds
//! them.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::allocator::config::PoolConfig;
use crate::allocator::events::{Allocation, PoolEvent};
use crate::allocator::request::AllocationId;
use crate::allocator::tenants::Tenants;
use crate::device::{GpuUuid, GpuView};

/// Position of a device in registration order.
pub(crate) type Slot = u32;

/// One GPU's share of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceSlot {
    pub(crate) view: GpuView,
    /// Index of the lower-cased model name in [`GpuPool::models`]: allow/deny lists are matched
    /// once per distinct model per decision, not once per GPU.
    pub(crate) model: u32,
    pub(crate) allocatable: u64,
    pub(crate) used: u64,
    pub(crate) healthy: bool,
    pub(crate) unhealthy_reason: Option<String>,
    /// Live allocations in victim order, with running totals so preemption needs no walk.
    pub(crate) tenants: Tenants,
}

impl DeviceSlot {
    pub(crate) fn free(&self) -> u64 {
        self.allocatable.saturating_sub(self.used)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveAllocation {
    pub(crate) allocation: Allocation,
    pub(crate) slot: Slot,
    /// Grant order, for newest-first preemption and deterministic snapshots.
    pub(crate) seq: u64,
}

/// The GPU pool aggregate: devices, live allocations, and the indexes that make placement fast.
///
/// Drive it with [`PoolCommand`](crate::PoolCommand)s through cqrs-es (any event store) or the
/// [`GpuAllocator`](crate::GpuAllocator); read it with the accessors below.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuPool {
    pub(crate) config: Option<PoolConfig>,
    pub(crate) slots: Vec<DeviceSlot>,
    /// Distinct lower-cased model names, in order of first registration.
    pub(crate) models: Vec<String>,
    pub(crate) by_uuid: HashMap<GpuUuid, Slot>,
    pub(crate) allocations: HashMap<AllocationId, LiveAllocation>,
    pub(crate) open_by_free: BTreeSet<(u64, Slot)>,
    pub(crate) empty_by_capacity: BTreeSet<(u64, Slot)>,
    pub(crate) next_seq: u64,
}

/// One GPU's load, as reported by [`GpuPool::usage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceUsage {
    /// The GPU.
    pub uuid: GpuUuid,
    /// Its model name.
    pub model: String,
    /// Bytes the pool may hand out on it.
    pub allocatable_bytes: u64,
    /// Bytes handed out.
    pub used_bytes: u64,
    /// Live allocations on it.
    pub tenants: u32,
    /// Whether it takes new work.
    pub healthy: bool,
    /// Why not, when it does not.
    pub unhealthy_reason: Option<String>,
}

impl GpuPool {
    /// The pool's rules, once created.
    pub fn config(&self) -> Option<&PoolConfig> {
        self.config.as_ref()
    }

    /// Load per GPU, in registration order.
    pub fn usage(&self) -> Vec<DeviceUsage> {
        self.slots.iter().map(Self::usage_of).collect()
    }

    /// Load of one GPU.
    pub fn device_usage(&self, uuid: &GpuUuid) -> Option<DeviceUsage> {
        let slot = *self.by_uuid.get(uuid)?;
        self.slots.get(slot as usize).map(Self::usage_of)
    }

    fn usage_of(slot: &DeviceSlot) -> DeviceUsage {
        DeviceUsage {
            uuid: slot.view.uuid.clone(),
            model: slot.view.model.clone(),
            allocatable_bytes: slot.allocatable,
            used_bytes: slot.used,
            tenants: u32::try_from(slot.tenants.len()).unwrap_or(u32::MAX),
            healthy: slot.healthy,
            unhealthy_reason: slot.unhealthy_reason.clone(),
        }
    }

    /// A live allocation.
    pub fn allocation(&self, id: &AllocationId) -> Option<&Allocation> {
        self.allocations.get(id).map(|live| &live.allocation)
    }

    /// All live allocations, in grant order.
    pub fn allocations(&self) -> Vec<&Allocation> {
        let mut live: Vec<&LiveAllocation> = self.allocations.values().collect();
        live.sort_by_key(|live| live.seq);
        live.into_iter().map(|live| &live.allocation).collect()
    }

    fn max_agents(&self) -> usize {
        self.config
            .map_or(1, |config| config.max_agents_per_gpu as usize)
    }

    fn unindex(&mut self, slot: Slot) {
        if let Some(device) = self.slots.get(slot as usize) {
            self.open_by_free.remove(&(device.free(), slot));
            self.empty_by_capacity.remove(&(device.allocatable, slot));
        }
    }

    fn index(&mut self, slot: Slot) {
        let max_agents = self.max_agents();
        let Some(device) = self.slots.get(slot as usize) else {
            return;
        };
        if !device.healthy {
            return;
        }
        if device.tenants.len() < max_agents && device.free() > 0 {
            self.open_by_free.insert((device.free(), slot));
        }
        if device.tenants.is_empty() && device.allocatable > 0 {
            self.empty_by_capacity.insert((device.allocatable, slot));
        }
    }

    /// Re-indexes `slot` around a change to it.
    fn change(&mut self, slot: Slot, edit: impl FnOnce(&mut DeviceSlot)) {
        self.unindex(slot);
        if let Some(device) = self.slots.get_mut(slot as usize) {
            edit(device);
        }
        self.index(slot);
    }

    pub(crate) fn register(&mut self, view: GpuView, healthy: bool, reason: Option<String>) {
        let config = self.config.unwrap_or_default();
        let Ok(slot) = Slot::try_from(self.slots.len()) else {
            return;
        };
        let model_lower = view.model.to_ascii_lowercase();
        let model = match self.models.iter().position(|known| *known == model_lower) {
            Some(position) => position,
            None => {
                self.models.push(model_lower);
                self.models.len() - 1
            }
        };
        self.by_uuid.insert(view.uuid.clone(), slot);
        self.slots.push(DeviceSlot {
            model: u32::try_from(model).unwrap_or(u32::MAX),
            allocatable: config.allocatable_bytes(view.memory_bytes),
            used: 0,
            healthy,
            unhealthy_reason: reason,
            tenants: Tenants::default(),
            view,
        });
        self.index(slot);
    }

    fn grant(&mut self, allocation: Allocation, seq: u64) {
        let Some(&slot) = self.by_uuid.get(&allocation.device) else {
            return;
        };
        let key = (allocation.priority, Reverse(seq));
        let (id, bytes) = (allocation.id, allocation.bytes);
        self.change(slot, |device| {
            device.used = device.used.saturating_add(bytes);
            device.tenants.insert(key, id, bytes);
        });
        self.allocations.insert(
            id,
            LiveAllocation {
                allocation,
                slot,
                seq,
            },
        );
        self.next_seq = self.next_seq.max(seq + 1);
    }

    fn remove(&mut self, id: &AllocationId) {
        let Some(live) = self.allocations.remove(id) else {
            return;
        };
        let key = (live.allocation.priority, Reverse(live.seq));
        self.change(live.slot, |device| {
            device.used = device.used.saturating_sub(live.allocation.bytes);
            device.tenants.remove(&key);
        });
    }

    fn set_health(&mut self, uuid: &GpuUuid, healthy: bool, reason: Option<String>) {
        if let Some(&slot) = self.by_uuid.get(uuid) {
            self.change(slot, |device| {
                device.healthy = healthy;
                device.unhealthy_reason = reason;
            });
        }
    }

    /// Applies one event. Events come from this pool's own decisions, so an event naming an
    /// unknown GPU or allocation cannot occur in a valid stream; it is ignored rather than
    /// trusted.
    pub(crate) fn apply_event(&mut self, event: PoolEvent) {
        match event {
            PoolEvent::PoolCreated { config } => self.config = Some(config),
            PoolEvent::DeviceRegistered { device } => {
                let healthy = device.healthy;
                self.register(device, healthy, None);
            }
            PoolEvent::GpuAllocated { allocation } => self.grant(allocation, self.next_seq),
            PoolEvent::AllocationReleased { allocation_id, .. }
            | PoolEvent::AllocationPreempted { allocation_id, .. } => self.remove(&allocation_id),
            PoolEvent::AllocationRejected { .. } => {}
            PoolEvent::DeviceMarkedUnhealthy { uuid, reason } => {
                self.set_health(&uuid, false, Some(reason));
            }
            PoolEvent::DeviceRecovered { uuid } => self.set_health(&uuid, true, None),
        }
    }
}

/// The serialised form: facts only, indexes rebuilt on load.
#[derive(Serialize, Deserialize)]
struct PoolSnapshot {
    config: Option<PoolConfig>,
    devices: Vec<SnapshotDevice>,
    allocations: Vec<SnapshotAllocation>,
    next_seq: u64,
}

#[derive(Serialize, Deserialize)]
struct SnapshotDevice {
    view: GpuView,
    healthy: bool,
    unhealthy_reason: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SnapshotAllocation {
    allocation: Allocation,
    seq: u64,
}

impl Serialize for GpuPool {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut live: Vec<&LiveAllocation> = self.allocations.values().collect();
        live.sort_by_key(|live| live.seq);
        PoolSnapshot {
            config: self.config,
            devices: self
                .slots
                .iter()
                .map(|device| SnapshotDevice {
                    view: device.view.clone(),
                    healthy: device.healthy,
                    unhealthy_reason: device.unhealthy_reason.clone(),
                })
                .collect(),
            allocations: live
                .into_iter()
                .map(|live| SnapshotAllocation {
                    allocation: live.allocation.clone(),
                    seq: live.seq,
                })
                .collect(),
            next_seq: self.next_seq,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for GpuPool {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let snapshot = PoolSnapshot::deserialize(deserializer)?;
        let mut pool = Self {
            config: snapshot.config,
            ..Self::default()
        };
        for device in snapshot.devices {
            pool.register(device.view, device.healthy, device.unhealthy_reason);
        }
        for entry in snapshot.allocations {
            pool.grant(entry.allocation, entry.seq);
        }
        pool.next_seq = snapshot.next_seq;
        Ok(pool)
    }
}
