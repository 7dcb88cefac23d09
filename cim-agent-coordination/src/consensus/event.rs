//! Events of the Proposal aggregate: the audit trail of a decision.

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentId;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::ids::{ProposalId, ProposalSubject};
use super::rules::{Electorate, Rules};
use super::tally::{Choice, Outcome, Tally};

/// Something that happened to a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ProposalEvent {
    /// Opened with its rules and electorate, fixed from here on.
    Opened {
        /// Its id.
        proposal: ProposalId,
        /// What is decided.
        subject: ProposalSubject,
        /// Who votes, with weights.
        electorate: Electorate,
        /// How it is decided.
        rules: Rules,
        /// When it opened.
        opened_at: DateTime<Utc>,
        /// When voting opens (after the discussion period).
        voting_opens_at: DateTime<Utc>,
        /// When voting closes.
        deadline: DateTime<Utc>,
    },
    /// A ballot was recorded (replacing `previous` when revoting).
    VoteCast {
        /// Who voted.
        voter: AgentId,
        /// How.
        choice: Choice,
        /// The replaced vote, if any.
        previous: Option<Choice>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Quorum was reached late; the deadline moved.
    DeadlineExtended {
        /// The new deadline.
        deadline: DateTime<Utc>,
        /// When quorum was reached.
        at: DateTime<Utc>,
    },
    /// Voting closed with this tally and result (`Passed`, `Rejected` or `Expired`).
    VotingClosed {
        /// The final count.
        tally: Tally,
        /// What the count decides.
        result: Outcome,
        /// When voting closed: the vote that settled it, or the deadline (even when the
        /// deadline driver noticed later).
        at: DateTime<Utc>,
        /// Closed before the deadline because no remaining vote could change the result.
        early: bool,
    },
    /// A named vetoer stopped it.
    Vetoed {
        /// Who.
        by: AgentId,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The proposer withdrew it.
    Cancelled {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The final, enforceable outcome; other parts react to this event (the deployment
    /// pipeline approves `subject` only when `outcome` is `Passed`).
    Decided {
        /// The proposal.
        proposal: ProposalId,
        /// What was decided.
        subject: ProposalSubject,
        /// How it ended.
        outcome: Outcome,
        /// The count at closing (or at the veto or cancellation).
        tally: Tally,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for ProposalEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Opened { .. } => "Opened",
            Self::VoteCast { .. } => "VoteCast",
            Self::DeadlineExtended { .. } => "DeadlineExtended",
            Self::VotingClosed { .. } => "VotingClosed",
            Self::Vetoed { .. } => "Vetoed",
            Self::Cancelled { .. } => "Cancelled",
            Self::Decided { .. } => "Decided",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
