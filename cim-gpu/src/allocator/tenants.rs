//! One GPU's live allocations in victim order, with running totals so preemption can say how
//! many victims a request needs with a binary search instead of a walk.

use std::cmp::Reverse;

use crate::allocator::request::{AllocationId, Priority};

/// Victim order on one GPU: lowest priority first, newest (highest grant sequence) first within
/// a priority.
pub(crate) type TenantKey = (Priority, Reverse<u64>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tenant {
    key: TenantKey,
    id: AllocationId,
    bytes: u64,
    /// Bytes freed by preempting this tenant and every one before it.
    freed: u64,
    /// Summed priority of this tenant and every one before it.
    priority_sum: u32,
}

/// What preempting on one GPU costs: the first `victims` tenants, whose priorities sum to
/// `priority_sum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Victims {
    pub(crate) victims: usize,
    pub(crate) priority_sum: u32,
}

/// The tenants of one GPU. The running totals are derived from the tenants alone, so two GPUs
/// holding the same allocations compare equal however they got there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tenants {
    order: Vec<Tenant>,
}

impl Tenants {
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub(crate) fn insert(&mut self, key: TenantKey, id: AllocationId, bytes: u64) {
        let at = self.order.partition_point(|tenant| tenant.key < key);
        self.order.insert(
            at,
            Tenant {
                key,
                id,
                bytes,
                freed: 0,
                priority_sum: 0,
            },
        );
        self.refresh_from(at);
    }

    pub(crate) fn remove(&mut self, key: &TenantKey) {
        if let Ok(at) = self.order.binary_search_by(|tenant| tenant.key.cmp(key)) {
            self.order.remove(at);
            self.refresh_from(at);
        }
    }

    /// Recomputes the running totals from position `at` on; the ones before it still hold.
    fn refresh_from(&mut self, at: usize) {
        let (mut freed, mut priority_sum) = at
            .checked_sub(1)
            .and_then(|before| self.order.get(before))
            .map_or((0, 0), |before| (before.freed, before.priority_sum));
        for tenant in self.order.iter_mut().skip(at) {
            freed = freed.saturating_add(tenant.bytes);
            priority_sum = priority_sum.saturating_add(u32::from(tenant.key.0.0));
            tenant.freed = freed;
            tenant.priority_sum = priority_sum;
        }
    }
}

impl Tenants {
    /// The fewest tenants to preempt, in victim order, so that at least `deficit` bytes are
    /// freed and at least `at_least` tenants leave; `None` when that would take a tenant of
    /// priority `below` or higher, or more tenants than there are.
    pub(crate) fn victims_for(
        &self,
        deficit: u64,
        at_least: usize,
        below: Priority,
    ) -> Option<Victims> {
        let for_bytes = if deficit == 0 {
            0
        } else {
            // `freed` never decreases along the order, so the first tenant that frees enough
            // is found by bisection.
            let reached = self.order.partition_point(|tenant| tenant.freed < deficit);
            if reached == self.order.len() {
                return None;
            }
            reached + 1
        };
        let victims = for_bytes.max(at_least);
        let Some(last) = victims.checked_sub(1) else {
            return Some(Victims {
                victims: 0,
                priority_sum: 0,
            });
        };
        // Priorities never decrease along the order, so the last victim is the highest.
        let last = self.order.get(last).filter(|last| last.key.0 < below)?;
        Some(Victims {
            victims,
            priority_sum: last.priority_sum,
        })
    }

    /// The first `count` tenants in victim order.
    pub(crate) fn first_ids(&self, count: usize) -> impl Iterator<Item = AllocationId> + '_ {
        self.order.iter().take(count).map(|tenant| tenant.id)
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::{Tenants, Victims};
    use crate::allocator::request::{AllocationId, Priority};

    /// The walk the running totals replace: take tenants in victim order until the request
    /// fits, stopping at the first of priority `below` or higher.
    fn walk(
        tenants: &BTreeMap<(Priority, Reverse<u64>), u64>,
        deficit: u64,
        at_least: usize,
        below: Priority,
    ) -> Option<Victims> {
        let (mut freed, mut victims, mut priority_sum) = (0u64, 0usize, 0u32);
        for (&(priority, _), &bytes) in tenants {
            if freed >= deficit && victims >= at_least {
                break;
            }
            if priority >= below {
                return None;
            }
            freed += bytes;
            victims += 1;
            priority_sum += u32::from(priority.0);
        }
        (freed >= deficit && victims >= at_least).then_some(Victims {
            victims,
            priority_sum,
        })
    }

    proptest! {
        #[test]
        fn running_totals_match_the_walk_and_do_not_depend_on_history(
            grants in prop::collection::vec((0u8..4, 1u64..8), 0..12),
            releases in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
            queries in prop::collection::vec((0u64..40, 0usize..14, 0u8..5), 1..8),
        ) {
            let ids: Vec<AllocationId> = grants.iter().map(|_| AllocationId::new()).collect();
            let mut tenants = Tenants::default();
            let mut reference = BTreeMap::new();
            for (seq, (&(priority, bytes), &id)) in (0u64..).zip(grants.iter().zip(&ids)) {
                let key = (Priority(priority), Reverse(seq));
                tenants.insert(key, id, bytes);
                reference.insert(key, (bytes, id));
            }
            for release in releases {
                if reference.is_empty() {
                    break;
                }
                let key = *release.get(&reference.keys().copied().collect::<Vec<_>>());
                tenants.remove(&key);
                reference.remove(&key);
            }
            prop_assert_eq!(tenants.len(), reference.len());
            // Granting the survivors afresh, in victim order, gives the same totals.
            let mut rebuilt = Tenants::default();
            for (&key, &(bytes, id)) in &reference {
                rebuilt.insert(key, id, bytes);
            }
            prop_assert_eq!(&rebuilt, &tenants);
            let bytes: BTreeMap<_, _> = reference.iter().map(|(&k, &(b, _))| (k, b)).collect();
            for (deficit, at_least, below) in queries {
                let got = tenants.victims_for(deficit, at_least, Priority(below));
                prop_assert_eq!(got, walk(&bytes, deficit, at_least, Priority(below)));
                if let Some(cost) = got {
                    let expected: Vec<AllocationId> =
                        reference.values().take(cost.victims).map(|&(_, id)| id).collect();
                    prop_assert_eq!(tenants.first_ids(cost.victims).collect::<Vec<_>>(), expected);
                }
            }
        }
    }
}
