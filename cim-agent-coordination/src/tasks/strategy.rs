//! Assignment strategies: pure functions of the candidates, benchable and property-tested.
//!
//! Every strategy picks only an agent that *can take* the task: online, below its declared
//! number of tasks in flight, and declaring every required capability. They differ in which of
//! those it prefers. Candidates are ordered by name, so every choice is deterministic.

use cim_domain_agent::AgentName;
use serde::{Deserialize, Serialize};

/// One agent as the dispatcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its name.
    pub name: AgentName,
    /// Its capabilities, sorted.
    pub capabilities: Vec<String>,
    /// Tasks assigned to it and not finished.
    pub in_flight: u32,
    /// How many it takes at once.
    pub max_in_flight: u32,
    /// Whether the registry has it online.
    pub online: bool,
}

impl Candidate {
    /// Whether it has every capability in `required` (sorted).
    pub fn has_all(&self, required: &[String]) -> bool {
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
        self.online && self.in_flight < self.max_in_flight && self.has_all(required)
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
    match strategy {
        Strategy::RoundRobin => {
            let n = candidates.len();
            (0..n)
                .map(|offset| (cursor + offset) % n)
                .find(|&i| candidates[i].can_take(required))
        }
        Strategy::CapabilityMatch => candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.can_take(required))
            .min_by_key(|(i, c)| (c.capabilities.len(), c.in_flight, *i))
            .map(|(i, _)| i),
        Strategy::LeastLoaded => candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.can_take(required))
            .min_by_key(|(i, c)| (c.in_flight, *i))
            .map(|(i, _)| i),
    }
}
