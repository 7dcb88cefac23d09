//! Trust per fact and per agent: pure functions of the document's values, so the same heads
//! give the same scores on every replica.
//!
//! # The rule
//! A fact's trust is a weighted mean of confidences in `[0, 1]`:
//!
//! - a prior of `0.5` with weight [`PRIOR_WEIGHT`] (an unknown claim is a coin toss);
//! - every agent's [`Belief`] with weight [`VERIFIED_WEIGHT`] when verified (the agent checked
//!   it itself), [`REPEATED_WEIGHT`] otherwise;
//! - the asserting agent counts as believing its own fact with confidence 1 (weight
//!   [`REPEATED_WEIGHT`]) unless it recorded a belief of its own.
//!
//! A fact in conflict (several concurrent values) has its trust divided by the number of
//! values: nobody should act on a disputed fact with full confidence. Sums run in agent order
//! (the document's key order), so floating-point rounding is identical everywhere.
//!
//! An agent's trust is the mean trust of the undisputed facts it asserted (`0.5` when it has
//! none); [`super::ResolutionStrategy::HighestTrust`] uses it.

use std::collections::BTreeMap;

use cim_domain_agent::AgentId;

use super::document::SharedKnowledge;
use super::model::{Belief, Fact, FactId};

/// Weight of the `0.5` prior.
pub const PRIOR_WEIGHT: f64 = 1.0;
/// Weight of a belief the agent verified itself.
pub const VERIFIED_WEIGHT: f64 = 2.0;
/// Weight of a belief the agent did not verify (including the assertion itself).
pub const REPEATED_WEIGHT: f64 = 1.0;

/// The trust of `fact` given every belief in it (in agent order) and how many concurrent
/// values it has (`1` when undisputed). The result is in `[0, 1]`.
pub fn fact_trust(fact: &Fact, beliefs: &[Belief], values: usize) -> f64 {
    let mut weighted = 0.5 * PRIOR_WEIGHT;
    let mut total = PRIOR_WEIGHT;
    if !beliefs.iter().any(|b| b.agent == fact.asserted_by) {
        weighted += REPEATED_WEIGHT;
        total += REPEATED_WEIGHT;
    }
    for belief in beliefs {
        let weight = if belief.verified {
            VERIFIED_WEIGHT
        } else {
            REPEATED_WEIGHT
        };
        weighted += weight * belief.confidence.clamp(0.0, 1.0);
        total += weight;
    }
    (weighted / total) / values.max(1) as f64
}

/// Trust of every fact in the document, by id.
pub fn trust_scores(knowledge: &SharedKnowledge) -> BTreeMap<FactId, f64> {
    knowledge
        .facts()
        .into_iter()
        .map(|fact| {
            let beliefs = knowledge.beliefs(&fact.id);
            let values = knowledge.candidates(&fact.id).len();
            let score = fact_trust(&fact, &beliefs, values);
            (fact.id, score)
        })
        .collect()
}

/// Trust of every agent that asserted an undisputed fact: the mean trust of those facts.
pub fn agent_trust(knowledge: &SharedKnowledge) -> BTreeMap<AgentId, f64> {
    let mut sums: BTreeMap<AgentId, (f64, usize)> = BTreeMap::new();
    for fact in knowledge.facts() {
        if knowledge.candidates(&fact.id).len() > 1 {
            continue;
        }
        let beliefs = knowledge.beliefs(&fact.id);
        let entry = sums.entry(fact.asserted_by).or_insert((0.0, 0));
        entry.0 += fact_trust(&fact, &beliefs, 1);
        entry.1 += 1;
    }
    sums.into_iter()
        .map(|(agent, (sum, n))| (agent, sum / n as f64))
        .collect()
}

/// The trust of an agent with no undisputed facts.
pub const UNKNOWN_AGENT_TRUST: f64 = 0.5;
