//! The pure tally: ballots and rules in, outcome out. No clock, no I/O, exact integer
//! arithmetic, so the aggregate, the property tests and the bench all use the same function.

use std::collections::BTreeMap;

use cim_domain_agent::AgentId;
use serde::{Deserialize, Serialize};

use super::rules::{Electorate, Protocol, Rules};

/// One voter's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Choice {
    /// In favour.
    For,
    /// Opposed.
    Against,
    /// Present, taking no side (counts toward quorum only when the rules say so).
    Abstain,
}

/// How a proposal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// Quorum met and the protocol's threshold met.
    Passed,
    /// Quorum met, threshold not met.
    Rejected,
    /// Quorum not met by the deadline.
    Expired,
    /// A named vetoer stopped it (while voting, or during the time lock after a pass).
    Vetoed,
    /// Withdrawn before it was decided.
    Cancelled,
}

/// Counted units (heads, or weights under [`Protocol::WeightedVoting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    /// Units voting for.
    pub yes: u64,
    /// Units voting against.
    pub no: u64,
    /// Units abstaining.
    pub abstain: u64,
    /// Units in the whole electorate.
    pub eligible: u64,
    /// How many voters have a ballot.
    pub voters: u32,
}

impl Tally {
    /// Counts `ballots` (voters outside the electorate are ignored) under `rules`.
    ///
    /// Both sides are sorted by agent id, so this is one merge pass, O(electorate + ballots).
    pub fn count(
        rules: &Rules,
        electorate: &Electorate,
        ballots: &BTreeMap<AgentId, Choice>,
    ) -> Self {
        let mut tally = Self::default();
        let mut pending = ballots.iter().peekable();
        for member in electorate.members() {
            let units = rules.units(member);
            tally.eligible = tally.eligible.saturating_add(units);
            while pending
                .next_if(|(agent, _)| **agent < member.agent)
                .is_some()
            {}
            if let Some((_, choice)) = pending.next_if(|(agent, _)| **agent == member.agent) {
                tally.add(*choice, units);
                tally.voters = tally.voters.saturating_add(1);
            }
        }
        tally
    }

    /// Adds `units` for `choice` (saturating; totals are bounded by the validated electorate).
    pub fn add(&mut self, choice: Choice, units: u64) {
        let slot = match choice {
            Choice::For => &mut self.yes,
            Choice::Against => &mut self.no,
            Choice::Abstain => &mut self.abstain,
        };
        *slot = slot.saturating_add(units);
    }

    /// Takes `units` back from `choice` (a replaced vote under revoting).
    pub fn remove(&mut self, choice: Choice, units: u64) {
        let slot = match choice {
            Choice::For => &mut self.yes,
            Choice::Against => &mut self.no,
            Choice::Abstain => &mut self.abstain,
        };
        *slot = slot.saturating_sub(units);
    }

    /// Units that count toward quorum.
    pub fn participation(&self, count_abstentions: bool) -> u64 {
        let decisive = self.yes.saturating_add(self.no);
        if count_abstentions {
            decisive.saturating_add(self.abstain)
        } else {
            decisive
        }
    }
}

/// The three facts an outcome is made of. Each is a linear inequality in the counted units,
/// which is what makes [`settled`] sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Facts {
    quorum: bool,
    threshold: bool,
    any_for: bool,
}

fn facts(rules: &Rules, tally: &Tally) -> Facts {
    let quorum = rules.quorum.as_ref().is_none_or(|q| {
        q.threshold
            .met(tally.participation(q.count_abstentions), tally.eligible)
    });
    let decisive = tally.yes.saturating_add(tally.no);
    let threshold = match &rules.protocol {
        Protocol::SimpleMajority => tally.yes > tally.no,
        Protocol::QualifiedMajority(t) | Protocol::WeightedVoting(t) => t.met(tally.yes, decisive),
        Protocol::Unanimous => tally.yes >= tally.eligible,
    };
    Facts {
        quorum,
        threshold,
        any_for: tally.yes > 0,
    }
}

fn outcome_of(facts: Facts) -> Outcome {
    if !facts.quorum {
        Outcome::Expired
    } else if facts.threshold && facts.any_for {
        Outcome::Passed
    } else {
        Outcome::Rejected
    }
}

/// The outcome if voting ended with `tally`: [`Outcome::Expired`] when quorum is not met,
/// [`Outcome::Passed`] when the protocol's threshold is met with at least one vote for, else
/// [`Outcome::Rejected`].
pub fn evaluate(rules: &Rules, tally: &Tally) -> Outcome {
    outcome_of(facts(rules, tally))
}

/// The outcome, if it is already certain: `fixed` holds the ballots that can no longer change,
/// and `free_units` the units of voters who may still vote (or, with revoting, change their
/// vote).
///
/// Sound, not complete: every fact the outcome depends on is a linear inequality in the units
/// added for, against and abstaining, and the possible additions lie in the simplex spanned by
/// "nothing more", "all free units for", "all against" and "all abstain". A linear inequality
/// that holds (or fails) at every corner of a convex set holds (or fails) everywhere in it, so
/// when every fact agrees at the four corners no remaining vote can change the outcome.
pub fn settled(rules: &Rules, fixed: &Tally, free_units: u64) -> Option<Outcome> {
    let base = facts(rules, fixed);
    for choice in [Choice::For, Choice::Against, Choice::Abstain] {
        let mut corner = *fixed;
        corner.add(choice, free_units);
        if facts(rules, &corner) != base {
            return None;
        }
    }
    Some(outcome_of(base))
}
