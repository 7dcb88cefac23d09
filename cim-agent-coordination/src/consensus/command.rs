//! Commands of the Proposal aggregate. Each carries `now`: time enters as data.

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentId;

use super::ids::{ProposalId, ProposalSubject};
use super::rules::{Electorate, Rules};
use super::tally::Choice;

/// What may be asked of a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposalCommand {
    /// Opens the proposal; rules, electorate and weights are fixed from here on.
    Open {
        /// Its id (equal to the aggregate id).
        proposal: ProposalId,
        /// What is decided.
        subject: ProposalSubject,
        /// Who votes, with weights, as of now.
        electorate: Electorate,
        /// How it is decided.
        rules: Rules,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// A voter's ballot.
    Vote {
        /// Who votes.
        voter: AgentId,
        /// How.
        choice: Choice,
        /// When the vote arrived.
        now: DateTime<Utc>,
    },
    /// A named vetoer stops the proposal.
    Veto {
        /// Who vetoes.
        by: AgentId,
        /// Why.
        reason: String,
        /// When.
        now: DateTime<Utc>,
    },
    /// The proposer withdraws it.
    Cancel {
        /// Why.
        reason: String,
        /// When.
        now: DateTime<Utc>,
    },
    /// The clock moved: closes at the deadline, enforces a pass when its time lock ends.
    Tick {
        /// The current time.
        now: DateTime<Utc>,
    },
}
