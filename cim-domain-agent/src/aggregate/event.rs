//! Events of the Agent aggregate (past tense, one `apply` arm each).

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::ids::{ApprovalId, TaskId};
use super::state::{ApprovalRequest, Task};
use crate::definition::{AgentId, AgentName};

/// Something that happened to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AgentEvent {
    /// The agent was created.
    Registered {
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
    /// Placed on a node.
    Deployed {
        /// The node.
        node: String,
    },
    /// Started serving.
    Activated,
    /// Paused.
    Suspended {
        /// Why.
        reason: String,
    },
    /// Serving again.
    Resumed,
    /// Retired; what it dropped is listed.
    Decommissioned {
        /// Why.
        reason: String,
        /// The running and queued tasks that will not run.
        abandoned_tasks: Vec<TaskId>,
        /// Pending approvals that were dropped.
        cancelled_approvals: Vec<ApprovalId>,
    },
    /// Stopped answering.
    WentOffline,
    /// Answering again.
    CameOnline,
    /// A task started running.
    TaskStarted {
        /// The task.
        task: Task,
    },
    /// A task was queued behind others.
    TaskQueued {
        /// The task.
        task: Task,
        /// 1-based place in the queue.
        position: usize,
    },
    /// The running task finished.
    TaskCompleted {
        /// The task.
        task: TaskId,
        /// What came of it.
        outcome: String,
    },
    /// The running task failed.
    TaskFailed {
        /// The task.
        task: TaskId,
        /// Why.
        reason: String,
    },
    /// The agent asked for permission.
    ApprovalRequested {
        /// The request.
        request: ApprovalRequest,
    },
    /// Permission granted.
    ApprovalGranted {
        /// The request.
        id: ApprovalId,
        /// Who granted it.
        by: String,
    },
    /// Permission denied by someone.
    ApprovalDenied {
        /// The request.
        id: ApprovalId,
        /// Who denied it.
        by: String,
        /// Why.
        reason: String,
    },
    /// Permission denied automatically at the deadline.
    ApprovalExpired {
        /// The request.
        id: ApprovalId,
        /// The deadline that passed.
        expired_at: DateTime<Utc>,
    },
}

impl DomainEvent for AgentEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Registered { .. } => "Registered",
            Self::Deployed { .. } => "Deployed",
            Self::Activated => "Activated",
            Self::Suspended { .. } => "Suspended",
            Self::Resumed => "Resumed",
            Self::Decommissioned { .. } => "Decommissioned",
            Self::WentOffline => "WentOffline",
            Self::CameOnline => "CameOnline",
            Self::TaskStarted { .. } => "TaskStarted",
            Self::TaskQueued { .. } => "TaskQueued",
            Self::TaskCompleted { .. } => "TaskCompleted",
            Self::TaskFailed { .. } => "TaskFailed",
            Self::ApprovalRequested { .. } => "ApprovalRequested",
            Self::ApprovalGranted { .. } => "ApprovalGranted",
            Self::ApprovalDenied { .. } => "ApprovalDenied",
            Self::ApprovalExpired { .. } => "ApprovalExpired",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
