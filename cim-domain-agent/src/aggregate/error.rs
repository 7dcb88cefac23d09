//! Why the Agent aggregate rejected a command.

use chrono::{DateTime, Utc};

use super::ids::{ApprovalId, TaskId};
use super::state::{ApprovalOutcome, Lifecycle};
use crate::definition::AgentId;

/// A rejected command; the aggregate is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// A command other than `Register` for an agent that does not exist yet.
    #[error("agent is not registered")]
    NotRegistered,
    /// `Register` (for the id shown) sent to an agent that already exists.
    #[error("agent is already registered; refused Register for {0}")]
    AlreadyRegistered(AgentId),
    /// A lifecycle command not allowed in the current stage.
    #[error("cannot {command} an agent that is {from}")]
    InvalidTransition {
        /// The stage the agent is in.
        from: Lifecycle,
        /// The command's verb (`activate`, `suspend`, ...).
        command: &'static str,
    },
    /// Any command after decommissioning.
    #[error("agent is decommissioned")]
    Decommissioned,
    /// Work or approvals for an agent that is neither active nor suspended.
    #[error("agent is {0}; tasks and approvals need an active or suspended agent")]
    NotServing(Lifecycle),
    /// A task id that was already assigned.
    #[error("task {0} was already assigned")]
    DuplicateTask(TaskId),
    /// Completing or failing a task that is not the running one.
    #[error("task {task} is not the running task")]
    NotRunningTask {
        /// The task named by the command.
        task: TaskId,
    },
    /// An approval id that was already used.
    #[error("approval {0} was already requested")]
    DuplicateApproval(ApprovalId),
    /// An approval id never requested.
    #[error("approval {0} was never requested")]
    UnknownApproval(ApprovalId),
    /// Deciding an approval that already ended.
    #[error("approval {id} was already {outcome}")]
    ApprovalAlreadyDecided {
        /// The request.
        id: ApprovalId,
        /// How it ended.
        outcome: ApprovalOutcome,
    },
    /// Deciding an approval after its timeout (it is denied; run `ExpireApprovals`).
    #[error("approval {id} timed out at {expired_at}")]
    ApprovalTimedOut {
        /// The request.
        id: ApprovalId,
        /// Its deadline.
        expired_at: DateTime<Utc>,
    },
    /// An approval request with a zero timeout.
    #[error("an approval timeout must be at least one second")]
    ZeroTimeout,
}
