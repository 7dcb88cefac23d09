//! The messages of task delivery and of the task API, as JSON on the subjects of
//! [`crate::subject`] (`cim.tasks.…`).

use cim_domain_agent::AgentName;
use serde::{Deserialize, Serialize};

use super::{Attempt, TaskEvent, TaskId, TaskSpec, TaskStatus};

/// Largest task message the coordinator or a worker decodes, in bytes; larger ones are
/// counted and dropped.
pub const MAX_TASK_MESSAGE_BYTES: usize = 256 * 1024;

/// A cancellation sent to an agent's inbox: stop working on `task` attempt `attempt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelMessage {
    /// The task.
    pub task: TaskId,
    /// The assignment to stop.
    pub attempt: u32,
    /// Why (the client's reason, or `superseded` when the assignment was taken away).
    pub reason: String,
}

/// What an agent reports about an assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// It took the assignment.
    Acknowledged,
    /// It is making progress (the deadline moves).
    Progress {
        /// What it says.
        note: String,
        /// Its own counter, so two progress reports are two messages, a retried one is one.
        sequence: u64,
    },
    /// It finished.
    Done {
        /// The result.
        result: String,
    },
    /// It gave up.
    Failed {
        /// Why.
        reason: String,
    },
}

/// An agent's report, on `cim.tasks.<agent>.report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentReport {
    /// The task.
    pub task: TaskId,
    /// The reporting agent (must match the subject).
    pub agent: AgentName,
    /// The assignment's attempt number (the fencing token).
    pub attempt: u32,
    /// What happened.
    pub kind: ReportKind,
}

impl AgentReport {
    /// The `Nats-Msg-Id` of this report: a retried publish of the same report is stored once.
    pub fn message_id(&self) -> String {
        let kind = match &self.kind {
            ReportKind::Acknowledged => "ack".to_owned(),
            ReportKind::Progress { sequence, .. } => format!("progress-{sequence}"),
            ReportKind::Done { .. } => "done".to_owned(),
            ReportKind::Failed { .. } => "failed".to_owned(),
        };
        format!(
            "report-{}-{}-{}-{kind}",
            self.agent, self.task, self.attempt
        )
    }
}

/// A request on `cim.tasks.api`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskRequest {
    /// Submit a task (idempotent for the same id and spec).
    Submit {
        /// The client's id.
        id: TaskId,
        /// What to do.
        spec: TaskSpec,
    },
    /// Cancel a task.
    Cancel {
        /// The task.
        id: TaskId,
        /// Why.
        reason: String,
    },
    /// One task with its history.
    Show {
        /// The task.
        id: TaskId,
    },
    /// Every task this coordinator knows.
    List,
}

/// One line of a task listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// The task.
    pub id: TaskId,
    /// Where it stands.
    pub status: TaskStatus,
    /// Its priority.
    pub priority: u8,
    /// How many assignments it had.
    pub attempts: usize,
}

/// The answer to a [`TaskRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskReply {
    /// The submission was recorded (`new: false`: it was already there).
    Submitted {
        /// The task.
        id: TaskId,
        /// Whether this request created it.
        new: bool,
    },
    /// The task is cancelled (or had already ended).
    Cancelled {
        /// The task.
        id: TaskId,
        /// Where it stands now.
        status: TaskStatus,
    },
    /// One task.
    Shown {
        /// The task.
        id: TaskId,
        /// Where it stands.
        status: TaskStatus,
        /// Its assignments.
        attempts: Vec<Attempt>,
        /// Its events, oldest first.
        history: Vec<TaskEvent>,
    },
    /// Every known task, by id.
    Listed(Vec<TaskSummary>),
    /// The request was refused.
    Refused {
        /// Why.
        reason: String,
    },
}
