//! The rules of one proposal, fixed when it opens: protocol, quorum, veto, periods, revoting, and
//! the electorate with its weights. All thresholds are exact ratios of integers compared by
//! cross-multiplication in `u128`, never floats, and whether the bound is `>` or `>=` is always
//! stated ([`Comparison`]), since leaving it implicit is a classic governance bug.

use cim_domain_agent::AgentId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Whether a threshold must be exceeded (`>`) or only reached (`>=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// `part / whole > ratio`.
    Above,
    /// `part / whole >= ratio`.
    AtLeast,
}

/// An exact fraction `numerator / denominator` with `0 <= numerator <= denominator`,
/// `denominator > 0` (checked by [`Rules::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratio {
    /// Top of the fraction.
    pub numerator: u64,
    /// Bottom of the fraction, never zero.
    pub denominator: u64,
}

impl Ratio {
    /// `numerator / denominator` (validated when the rules are).
    pub const fn new(numerator: u64, denominator: u64) -> Self {
        Self {
            numerator,
            denominator,
        }
    }
}

/// A ratio and the comparison that decides it: `part / whole (> | >=) ratio`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threshold {
    /// The bound.
    pub ratio: Ratio,
    /// `>` or `>=`.
    pub comparison: Comparison,
}

impl Threshold {
    /// `part / whole > numerator / denominator`.
    pub const fn above(numerator: u64, denominator: u64) -> Self {
        Self {
            ratio: Ratio::new(numerator, denominator),
            comparison: Comparison::Above,
        }
    }

    /// `part / whole >= numerator / denominator`.
    pub const fn at_least(numerator: u64, denominator: u64) -> Self {
        Self {
            ratio: Ratio::new(numerator, denominator),
            comparison: Comparison::AtLeast,
        }
    }

    /// Whether `part / whole` meets the threshold, by cross-multiplication
    /// (`part * den` against `num * whole`, in `u128`, so no rounding and no overflow).
    pub fn met(&self, part: u64, whole: u64) -> bool {
        let left = u128::from(part) * u128::from(self.ratio.denominator);
        let right = u128::from(self.ratio.numerator) * u128::from(whole);
        match self.comparison {
            Comparison::Above => left > right,
            Comparison::AtLeast => left >= right,
        }
    }

    /// Whether some `part <= whole` (with `whole > 0`) can meet it: the ratio is at most one,
    /// and exactly one only with `>=`.
    fn reachable(&self) -> bool {
        let Ratio {
            numerator,
            denominator,
        } = self.ratio;
        match self.comparison {
            Comparison::Above => numerator < denominator,
            Comparison::AtLeast => numerator <= denominator,
        }
    }
}

/// How votes become a decision. "Units" are heads (each voter counts one) for every protocol
/// except [`Protocol::WeightedVoting`], where they are the electorate's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// Passes when strictly more than half of the votes cast for or against are for
    /// (`for > against`); a tie is rejected; abstentions do not count.
    SimpleMajority,
    /// Passes when `for / (for + against)` meets the threshold and at least one vote is for.
    QualifiedMajority(Threshold),
    /// Passes only when every member of the electorate votes for (an abstention, an against
    /// vote or a missing vote rejects).
    Unanimous,
    /// Like [`Protocol::QualifiedMajority`], counting each voter's weight instead of heads.
    WeightedVoting(Threshold),
}

/// Participation needed for any decision: `participating units / electorate units` must meet
/// `threshold`, else the proposal expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quorum {
    /// The participation bound.
    pub threshold: Threshold,
    /// Whether abstentions count as participation (for and against always do).
    pub count_abstentions: bool,
}

/// Named agents who can stop a proposal, and for how long after it passes they still can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VetoRule {
    /// Who may veto (need not be voters). Sorted, no duplicates.
    pub vetoers: Vec<AgentId>,
    /// Seconds after a pass during which a veto still stops it (0: vetoes only while voting is
    /// open, until the deadline).
    pub time_lock_secs: u32,
}

/// One voter and its weight (a positive integer; used by [`Protocol::WeightedVoting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The voter.
    pub agent: AgentId,
    /// Its weight, at least 1.
    pub weight: u64,
}

/// Who may vote, with weights, as they were when the proposal opened.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Electorate {
    members: Vec<Member>,
}

impl Electorate {
    /// From `(agent, weight)` pairs; order does not matter. Duplicates and zero weights are
    /// kept here and refused by [`Rules::validate`] at opening.
    pub fn new(members: impl IntoIterator<Item = (AgentId, u64)>) -> Self {
        let mut members: Vec<Member> = members
            .into_iter()
            .map(|(agent, weight)| Member { agent, weight })
            .collect();
        members.sort_by_key(|m| m.agent);
        Self { members }
    }

    /// Every voter with weight 1.
    pub fn equal(agents: impl IntoIterator<Item = AgentId>) -> Self {
        Self::new(agents.into_iter().map(|a| (a, 1)))
    }

    /// Members, sorted by agent id.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// How many voters.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether nobody may vote.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The member `agent`, if eligible.
    pub fn get(&self, agent: &AgentId) -> Option<&Member> {
        self.members
            .binary_search_by_key(agent, |m| m.agent)
            .ok()
            .and_then(|i| self.members.get(i))
    }
}

/// Everything that decides a proposal, fixed at opening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// How votes become a decision.
    pub protocol: Protocol,
    /// Participation needed; `None`: any participation decides.
    pub quorum: Option<Quorum>,
    /// Who may veto; `None`: nobody.
    pub veto: Option<VetoRule>,
    /// Seconds between opening and the start of voting (discussion period).
    pub discussion_secs: u32,
    /// Seconds from the start of voting to the deadline (at least 1).
    pub voting_secs: u32,
    /// When quorum is first reached less than this many seconds before the deadline, the
    /// deadline moves to that moment plus this many seconds (needs a quorum rule).
    pub late_quorum_extension_secs: Option<u32>,
    /// Whether a voter may vote again (the last vote counts); otherwise a second vote is refused.
    pub revoting: bool,
}

impl Rules {
    /// Plain rules for `protocol`: no quorum, no veto, no discussion, `voting_secs` to vote,
    /// no extension, no revoting.
    pub fn new(protocol: Protocol, voting_secs: u32) -> Self {
        Self {
            protocol,
            quorum: None,
            veto: None,
            discussion_secs: 0,
            voting_secs,
            late_quorum_extension_secs: None,
            revoting: false,
        }
    }

    /// How many units `member` counts for under these rules (1, or its weight).
    pub fn units(&self, member: &Member) -> u64 {
        match self.protocol {
            Protocol::WeightedVoting(_) => member.weight,
            _ => 1,
        }
    }

    /// Checks the rules against the electorate; returns the electorate's total units.
    ///
    /// # Errors
    /// A [`RulesError`] for an empty electorate, a duplicate voter or vetoer, a zero weight, a
    /// total weight beyond `u64`, a zero voting period, a zero denominator, or a threshold that
    /// no set of votes can ever meet (a ratio above one, or exactly one with `>`).
    pub fn validate(&self, electorate: &Electorate) -> Result<u64, RulesError> {
        if electorate.is_empty() {
            return Err(RulesError::EmptyElectorate);
        }
        for pair in electorate.members.windows(2) {
            if let [a, b] = pair
                && a.agent == b.agent
            {
                return Err(RulesError::DuplicateVoter(a.agent));
            }
        }
        let mut total: u64 = 0;
        for member in &electorate.members {
            if member.weight == 0 {
                return Err(RulesError::ZeroWeight(member.agent));
            }
            total = total
                .checked_add(self.units(member))
                .ok_or(RulesError::WeightOverflow)?;
        }
        if self.voting_secs == 0 {
            return Err(RulesError::NoVotingPeriod);
        }
        let check = |which: &'static str, threshold: &Threshold| {
            if threshold.ratio.denominator == 0 {
                Err(RulesError::ZeroDenominator { which })
            } else if !threshold.reachable() {
                Err(RulesError::UnreachableThreshold {
                    which,
                    threshold: *threshold,
                })
            } else {
                Ok(())
            }
        };
        match &self.protocol {
            Protocol::QualifiedMajority(t) | Protocol::WeightedVoting(t) => check("protocol", t)?,
            Protocol::SimpleMajority | Protocol::Unanimous => {}
        }
        if let Some(quorum) = &self.quorum {
            check("quorum", &quorum.threshold)?;
        }
        if let Some(veto) = &self.veto {
            if veto.vetoers.is_empty() {
                return Err(RulesError::NoVetoers);
            }
            let mut seen = veto.vetoers.clone();
            seen.sort();
            seen.dedup();
            if seen.len() != veto.vetoers.len() {
                return Err(RulesError::DuplicateVetoer);
            }
        }
        if self.late_quorum_extension_secs.is_some() && self.quorum.is_none() {
            return Err(RulesError::ExtensionWithoutQuorum);
        }
        Ok(total)
    }

    /// Whether `agent` is a named vetoer.
    pub fn is_vetoer(&self, agent: &AgentId) -> bool {
        self.veto
            .as_ref()
            .is_some_and(|v| v.vetoers.contains(agent))
    }

    /// The veto time lock in seconds (0 when there is no veto rule).
    pub fn time_lock_secs(&self) -> u32 {
        self.veto.as_ref().map_or(0, |v| v.time_lock_secs)
    }
}

/// Why rules are refused when a proposal opens.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RulesError {
    /// Nobody may vote.
    #[error("the electorate is empty")]
    EmptyElectorate,
    /// One agent listed twice.
    #[error("agent {0} is listed twice in the electorate")]
    DuplicateVoter(AgentId),
    /// A voter with weight 0 could never matter.
    #[error("agent {0} has weight 0")]
    ZeroWeight(AgentId),
    /// The weights add up past `u64::MAX`.
    #[error("the electorate's total weight overflows u64")]
    WeightOverflow,
    /// `voting_secs` is 0: the deadline would be the moment voting opens.
    #[error("the voting period is zero seconds")]
    NoVotingPeriod,
    /// A ratio with denominator 0.
    #[error("the {which} threshold has denominator 0")]
    ZeroDenominator {
        /// `protocol` or `quorum`.
        which: &'static str,
    },
    /// A threshold above 100%, or `> 100%`: no ballots can ever meet it.
    #[error("the {which} threshold {threshold:?} can never be reached")]
    UnreachableThreshold {
        /// `protocol` or `quorum`.
        which: &'static str,
        /// The threshold as given.
        threshold: Threshold,
    },
    /// A veto rule that names nobody.
    #[error("the veto rule names no vetoer")]
    NoVetoers,
    /// A vetoer named twice.
    #[error("a vetoer is named twice")]
    DuplicateVetoer,
    /// A late-quorum extension needs a quorum to wait for.
    #[error("a late-quorum extension needs a quorum rule")]
    ExtensionWithoutQuorum,
}
