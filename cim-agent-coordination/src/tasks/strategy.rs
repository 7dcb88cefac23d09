//! Assignment strategies: pure functions of the candidates, benchable and property-tested.
//!
//! Every strategy picks only an agent that *can take* the task: online, below its declared
//! number of tasks in flight, and declaring every required capability. They differ in which of
//! those it prefers. Candidates are ordered by name, so every choice is deterministic.

use cim_domain_agent::AgentName;
use serde::{Deserialize, Serialize};

/// A 64-bit summary of a set of capabilities (each name hashed to one bit, FNV-1a): if a bit of
/// the required set is missing from an agent's, the agent lacks a capability; if all are there,
/// the names are compared. Lets the dispatcher skip most agents without touching a string.
pub fn capability_mask<S: AsRef<str>>(capabilities: &[S]) -> u64 {
    capabilities.iter().fold(0, |mask, capability| {
        let hash = capability
            .as_ref()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        mask | (1 << (hash % 64))
    })
}

/// One agent as the dispatcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its name.
    pub name: AgentName,
    /// Its capabilities, sorted.
    capabilities: Vec<String>,
    /// [`capability_mask`] of `capabilities`.
    mask: u64,
    /// Tasks assigned to it and not finished.
    pub in_flight: u32,
    /// How many it takes at once.
    pub max_in_flight: u32,
    /// Whether the registry has it online.
    pub online: bool,
}

impl Candidate {
    /// A candidate with `capabilities` (sorted and de-duplicated here).
    pub fn new(
        name: AgentName,
        mut capabilities: Vec<String>,
        in_flight: u32,
        max_in_flight: u32,
        online: bool,
    ) -> Self {
        capabilities.sort();
        capabilities.dedup();
        let mask = capability_mask(&capabilities);
        Self {
            name,
            capabilities,
            mask,
            in_flight,
            max_in_flight,
            online,
        }
    }

    /// Its capabilities, sorted.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// Whether it has every capability in `required` (sorted).
    pub fn has_all(&self, required: &[String]) -> bool {
        self.has_all_masked(required, capability_mask(required))
    }

    fn has_all_masked(&self, required: &[String], mask: u64) -> bool {
        if mask & !self.mask != 0 || required.len() > self.capabilities.len() {
            return false;
        }
        // Both lists are sorted: one merge walk.
        let mut mine = self.capabilities.iter();
        'next: for need in required {
            for have in mine.by_ref() {
                match have.cmp(need) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => continue 'next,
                    std::cmp::Ordering::Greater => return false,
                }
            }
            return false;
        }
        true
    }

    /// Whether it can take a task requiring `required` now.
    pub fn can_take(&self, required: &[String]) -> bool {
        self.can_take_masked(required, capability_mask(required))
    }

    fn can_take_masked(&self, required: &[String], mask: u64) -> bool {
        self.online && self.in_flight < self.max_in_flight && self.has_all_masked(required, mask)
    }
}

/// How the dispatcher picks among agents that can take a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The next able agent after the previous pick, in name order.
    RoundRobin,
    /// The most specialised able agent (fewest capabilities beyond the required), then the
    /// least loaded.
    #[default]
    CapabilityMatch,
    /// The able agent with the fewest tasks in flight.
    LeastLoaded,
}

/// The index in `candidates` of the agent `strategy` picks for a task requiring `required`
/// (sorted), or `None` when nobody can take it. `cursor` is where round-robin starts (the index
/// after its previous pick).
pub fn choose(
    strategy: Strategy,
    required: &[String],
    candidates: &[Candidate],
    cursor: usize,
) -> Option<usize> {
    let mask = capability_mask(required);
    let able = |c: &Candidate| c.can_take_masked(required, mask);
    match strategy {
        Strategy::RoundRobin => {
            let n = candidates.len();
            (0..n)
                .map(|offset| (cursor + offset) % n)
                .find(|&i| able(&candidates[i]))
        }
        Strategy::CapabilityMatch => {
            // The best possible key is (required.len(), 0): the first agent with it wins.
            let mut best: Option<(usize, u32, usize)> = None;
            for (i, c) in candidates.iter().enumerate() {
                let key = (c.capabilities.len(), c.in_flight, i);
                if best.is_some_and(|b| key >= b) || !able(c) {
                    continue;
                }
                best = Some(key);
                if key.0 == required.len() && key.1 == 0 {
                    break;
                }
            }
            best.map(|(_, _, i)| i)
        }
        Strategy::LeastLoaded => {
            let mut best: Option<(u32, usize)> = None;
            for (i, c) in candidates.iter().enumerate() {
                if best.is_some_and(|(load, _)| c.in_flight >= load) || !able(c) {
                    continue;
                }
                best = Some((c.in_flight, i));
                if c.in_flight == 0 {
                    break;
                }
            }
            best.map(|(_, i)| i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AgentName, Candidate, Strategy, choose};
    use proptest::prelude::{any, prop_assert_eq, proptest};

    const CAPS: [&str; 6] = ["code", "plan", "review", "search", "test", "math"];

    fn caps(bits: u8) -> Vec<String> {
        CAPS.iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, c)| (*c).to_owned())
            .collect()
    }

    /// The definitions, written the slow obvious way.
    fn naive(
        strategy: Strategy,
        required: &[String],
        all: &[Candidate],
        cursor: usize,
    ) -> Option<usize> {
        let able = |c: &Candidate| {
            c.online
                && c.in_flight < c.max_in_flight
                && required.iter().all(|r| c.capabilities.contains(r))
        };
        let n = all.len();
        match strategy {
            Strategy::RoundRobin => (0..n).map(|o| (cursor + o) % n).find(|&i| able(&all[i])),
            Strategy::CapabilityMatch => (0..n)
                .filter(|&i| able(&all[i]))
                .min_by_key(|&i| (all[i].capabilities.len(), all[i].in_flight, i)),
            Strategy::LeastLoaded => (0..n)
                .filter(|&i| able(&all[i]))
                .min_by_key(|&i| (all[i].in_flight, i)),
        }
    }

    proptest! {
        #[test]
        fn choices_match_the_definitions(
            agents in proptest::collection::vec((any::<u8>(), 0u32..3, 1u32..3, any::<bool>()), 0..30),
            required in any::<u8>(),
            cursor in 0usize..40,
        ) {
            let all: Vec<Candidate> = agents
                .iter()
                .enumerate()
                .filter_map(|(i, (bits, load, max, online))| {
                    AgentName::new(format!("a{i:02}"))
                        .ok()
                        .map(|name| Candidate::new(name, caps(*bits), *load, *max, *online))
                })
                .collect();
            let required = caps(required & 0b0000_0111);
            for strategy in [Strategy::RoundRobin, Strategy::CapabilityMatch, Strategy::LeastLoaded] {
                prop_assert_eq!(
                    choose(strategy, &required, &all, cursor),
                    naive(strategy, &required, &all, cursor),
                    "{:?}", strategy
                );
            }
        }
    }
}
