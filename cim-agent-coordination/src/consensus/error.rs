//! Why a proposal command is refused.

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::ProposalId;
use super::rules::RulesError;
use super::tally::{Choice, Outcome};

/// A refused command; nothing is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProposalError {
    /// The proposal has not been opened.
    #[error("the proposal is not open")]
    NotOpened,
    /// `Open` on a proposal that exists (rules and weights cannot change after opening).
    #[error("proposal {0} is already open")]
    AlreadyOpened(ProposalId),
    /// The rules cannot work with this electorate.
    #[error("invalid rules: {0}")]
    InvalidRules(#[from] RulesError),
    /// The voter already voted and revoting is off.
    #[error("agent {voter} already voted {choice:?}")]
    AlreadyVoted {
        /// Who.
        voter: AgentId,
        /// The vote that stands.
        choice: Choice,
    },
    /// The voter is not in the electorate fixed at opening.
    #[error("agent {0} is not in this proposal's electorate")]
    IneligibleVoter(AgentId),
    /// A vote during the discussion period.
    #[error("voting opens at {opens_at}")]
    VotingNotOpen {
        /// When voting opens.
        opens_at: DateTime<Utc>,
    },
    /// A vote at or after the deadline.
    #[error("vote at {at} is after the deadline {deadline}")]
    LateVote {
        /// The deadline.
        deadline: DateTime<Utc>,
        /// When the vote arrived.
        at: DateTime<Utc>,
    },
    /// Voting has closed (early, or at the deadline).
    #[error("voting has closed")]
    VotingClosed,
    /// The proposal is decided.
    #[error("the proposal is already decided: {0:?}")]
    AlreadyDecided(Outcome),
    /// A veto from an agent the rules do not name.
    #[error("agent {0} may not veto this proposal")]
    NotAVetoer(AgentId),
    /// A veto after the deadline (no time lock) or after the time lock ended.
    #[error("the veto window ended at {ended_at}")]
    VetoWindowOver {
        /// When it ended.
        ended_at: DateTime<Utc>,
    },
}

/// A refusal as it travels back to a voter over NATS (the parts a voter can act on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// [`ProposalError::NotOpened`].
    NotOpened,
    /// [`ProposalError::AlreadyVoted`].
    AlreadyVoted {
        /// The vote that stands.
        choice: Choice,
    },
    /// [`ProposalError::IneligibleVoter`].
    Ineligible,
    /// [`ProposalError::VotingNotOpen`].
    VotingNotOpen {
        /// When voting opens.
        opens_at: DateTime<Utc>,
    },
    /// [`ProposalError::LateVote`].
    Late {
        /// The deadline.
        deadline: DateTime<Utc>,
    },
    /// [`ProposalError::VotingClosed`] or [`ProposalError::AlreadyDecided`].
    Closed,
    /// [`ProposalError::NotAVetoer`].
    NotAVetoer,
    /// [`ProposalError::VetoWindowOver`].
    VetoWindowOver,
    /// The message could not be read (malformed, oversized, or naming another voter).
    Malformed,
    /// The coordinator could not record it (store unavailable); retrying may succeed.
    Unavailable,
}

impl From<&ProposalError> for Refusal {
    fn from(error: &ProposalError) -> Self {
        match error {
            ProposalError::NotOpened => Self::NotOpened,
            ProposalError::AlreadyVoted { choice, .. } => Self::AlreadyVoted { choice: *choice },
            ProposalError::IneligibleVoter(_) => Self::Ineligible,
            ProposalError::VotingNotOpen { opens_at } => Self::VotingNotOpen {
                opens_at: *opens_at,
            },
            ProposalError::LateVote { deadline, .. } => Self::Late {
                deadline: *deadline,
            },
            ProposalError::VotingClosed | ProposalError::AlreadyDecided(_) => Self::Closed,
            ProposalError::NotAVetoer(_) => Self::NotAVetoer,
            ProposalError::VetoWindowOver { .. } => Self::VetoWindowOver,
            ProposalError::AlreadyOpened(_) | ProposalError::InvalidRules(_) => Self::Malformed,
        }
    }
}
