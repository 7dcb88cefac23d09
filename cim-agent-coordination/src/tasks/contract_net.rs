//! Contract net: award a call for proposals to the best bid, as a pure function.

use cim_domain_agent::AgentName;

use super::{Bid, NoBidReason};

/// The best bid among those from `eligible` agents: lowest cost, then shortest estimate, then
/// earliest, then agent name (so the choice is deterministic). No bids, or none from an eligible
/// agent, is a typed [`NoBidReason`].
///
/// # Errors
/// [`NoBidReason::NoBids`] or [`NoBidReason::NoEligibleBidder`].
pub fn award<'a>(bids: &'a [Bid], eligible: &[AgentName]) -> Result<&'a Bid, NoBidReason> {
    if bids.is_empty() {
        return Err(NoBidReason::NoBids);
    }
    bids.iter()
        .filter(|b| eligible.contains(&b.agent) && b.cost.is_finite())
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
