//! The parts of an agent's state: lifecycle stage, presence, tasks and approvals.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ApprovalId, TaskId};

/// Lifecycle stage: registered → deployed → active ⇄ suspended → decommissioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Known to the fleet, not placed anywhere yet.
    Registered,
    /// Placed on a node, not yet serving.
    Deployed,
    /// Serving: takes and runs tasks.
    Active,
    /// Paused: keeps its queue, starts nothing new.
    Suspended,
    /// Retired for good; accepts no further commands.
    Decommissioned,
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Registered => "registered",
            Self::Deployed => "deployed",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Decommissioned => "decommissioned",
        })
    }
}

/// What the agent is doing right now, derived from its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Presence {
    /// Reachable and without a task.
    Idle,
    /// Running a task.
    Working {
        /// The task.
        task: TaskId,
    },
    /// Waiting for a decision on an approval request.
    Blocked {
        /// The oldest pending request.
        approval: ApprovalId,
    },
    /// Not reachable, or not in a serving lifecycle stage.
    Offline,
}

/// A unit of work for an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// What to do.
    pub description: String,
}

/// What an agent asks permission for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalKind {
    /// Run something with elevated privileges.
    Sudo,
    /// Hand work to another agent.
    Delegate,
    /// Change its own or another agent's resources or replica count.
    Scale,
    /// Reach a network destination outside its allowance.
    Network,
}

/// A request waiting for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// Its id.
    pub id: ApprovalId,
    /// What is asked for.
    pub kind: ApprovalKind,
    /// Why, in the agent's words.
    pub reason: String,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
    /// When it is denied automatically if nobody decides.
    pub expires_at: DateTime<Utc>,
}

/// How an approval request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalOutcome {
    /// Approved by someone.
    Granted,
    /// Denied by someone.
    Denied,
    /// Denied automatically at its timeout.
    Expired,
    /// Dropped because the agent was decommissioned.
    Cancelled,
}

impl fmt::Display for ApprovalOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Granted => "granted",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        })
    }
}
