//! Why the task aggregate refused a command.

use cim_domain_agent::AgentName;
use thiserror::Error;

use super::{TaskId, TaskStatus};

/// A refused command.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TaskError {
    /// The task was never submitted.
    #[error("task is not submitted")]
    NotSubmitted,
    /// The id is in use with another spec.
    #[error("task {0} was already submitted with another spec")]
    Conflict(TaskId),
    /// A message for an assignment that is no longer live (fencing by attempt number).
    #[error("attempt {attempt} by {agent} is not the live assignment (live: {live:?})")]
    Fenced {
        /// The agent that sent it.
        agent: AgentName,
        /// The attempt it named.
        attempt: u32,
        /// The live assignment, if any.
        live: Option<(AgentName, u32)>,
    },
    /// The command does not apply in the task's current state.
    #[error("cannot {command} a task that is {status}")]
    InvalidState {
        /// The command.
        command: &'static str,
        /// The state.
        status: String,
    },
    /// A bid for a round that is not open, or after its deadline.
    #[error("bidding round {round} is not open")]
    BiddingClosed {
        /// The round named.
        round: u32,
    },
    /// The agent already bid in this round.
    #[error("{0} already bid in this round")]
    DuplicateBid(AgentName),
    /// Every allowed attempt was used.
    #[error("all {0} attempts are used")]
    AttemptsExhausted(u32),
}

impl TaskError {
    pub(crate) fn invalid(command: &'static str, status: &TaskStatus) -> Self {
        Self::InvalidState {
            command,
            status: status.label().to_owned(),
        }
    }
}
