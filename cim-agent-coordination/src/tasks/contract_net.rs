//! Contract net: award a call for proposals to the best bid, as a pure function.

use cim_domain_agent::AgentName;

use super::{Bid, NoBidReason};

/// The best bid among those from `eligible` agents: lowest cost, then shortest estimate, then
/// earliest, then agent name (so the choice is deterministic). No bids, or none from an eligible
/// agent, is a typed [`NoBidReason`]. `eligible` sorted by name is searched by bisection (the
/// coordinator passes it so); unsorted, it is scanned.
///
/// # Errors
/// [`NoBidReason::NoBids`] or [`NoBidReason::NoEligibleBidder`].
pub fn award<'a>(bids: &'a [Bid], eligible: &[AgentName]) -> Result<&'a Bid, NoBidReason> {
    if bids.is_empty() {
        return Err(NoBidReason::NoBids);
    }
    let sorted = eligible.is_sorted();
    let is_eligible = |agent: &AgentName| {
        if sorted {
            eligible.binary_search(agent).is_ok()
        } else {
            eligible.contains(agent)
        }
    };
    bids.iter()
        .filter(|b| b.cost.is_finite() && is_eligible(&b.agent))
        .min_by(|a, b| {
            a.cost
                .total_cmp(&b.cost)
                .then(a.estimated_secs.cmp(&b.estimated_secs))
                .then(a.at.cmp(&b.at))
                .then(a.agent.cmp(&b.agent))
        })
        .ok_or_else(|| NoBidReason::NoEligibleBidder {
            bidders: bids.iter().map(|b| b.agent.clone()).collect(),
        })
}
