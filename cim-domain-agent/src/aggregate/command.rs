//! Commands to the Agent aggregate. Time is always passed in (`at`, `now`) so handling stays
//! deterministic and testable; the caller's clock decides when approvals time out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ApprovalId, TaskId};
use super::state::{ApprovalKind, Task};
use crate::definition::{AgentDefinition, AgentId, AgentName};

/// A request to change an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AgentCommand {
    /// Create the agent.
    Register {
        /// Its id.
        id: AgentId,
        /// Its name.
        name: AgentName,
        /// Definition version; `None` for an unversioned definition (absent in events
        /// stored before versions became optional reads as `None` too).
        #[serde(default)]
        version: Option<semver::Version>,
        /// Capability names.
        capabilities: Vec<String>,
    },
    /// Place it on a node.
    Deploy {
        /// The node.
        node: String,
    },
    /// Start serving.
    Activate,
    /// Pause serving.
    Suspend {
        /// Why.
        reason: String,
    },
    /// Serve again after a suspension.
    Resume,
    /// Retire it; queued tasks and pending approvals are dropped.
    Decommission {
        /// Why.
        reason: String,
    },
    /// Heartbeats stopped arriving.
    MarkOffline,
    /// Heartbeats arrive again.
    MarkOnline,
    /// Give it a task: started at once when it is free, queued otherwise.
    AssignTask {
        /// The task.
        task: Task,
    },
    /// The running task finished.
    CompleteTask {
        /// The task.
        task: TaskId,
        /// What came of it.
        outcome: String,
    },
    /// The running task failed.
    FailTask {
        /// The task.
        task: TaskId,
        /// Why.
        reason: String,
    },
    /// The agent asks for permission.
    RequestApproval {
        /// The request's id.
        id: ApprovalId,
        /// What for.
        kind: ApprovalKind,
        /// Why.
        reason: String,
        /// When it asks.
        at: DateTime<Utc>,
        /// Seconds until it is denied automatically.
        timeout_secs: u32,
    },
    /// Someone approves a pending request.
    Approve {
        /// The request.
        id: ApprovalId,
        /// Who.
        by: String,
        /// When; after the request's deadline the approval is refused.
        at: DateTime<Utc>,
    },
    /// Someone denies a pending request.
    Deny {
        /// The request.
        id: ApprovalId,
        /// Who.
        by: String,
        /// Why.
        reason: String,
    },
    /// Deny every pending request whose deadline is at or before `now`.
    ExpireApprovals {
        /// The current time.
        now: DateTime<Utc>,
    },
}

impl AgentCommand {
    /// The `Register` command for a parsed definition.
    pub fn register(definition: &AgentDefinition) -> Self {
        Self::Register {
            id: definition.id,
            name: definition.name.clone(),
            version: definition.version.clone(),
            capabilities: definition.capabilities.clone(),
        }
    }
}
