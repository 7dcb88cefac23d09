//! The events of a task: its whole history, queryable from the event store.

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentName;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{Attempt, Bid, NoBidReason, ReassignReason, TaskId, TaskSpec};

/// Why a task was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// Its last allowed attempt was taken away.
    MaxAttemptsReached,
    /// Its deadline passed before it finished.
    DeadlinePassed,
}

/// Something that happened to a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum TaskEvent {
    /// The client submitted it.
    Submitted {
        /// Its id.
        id: TaskId,
        /// What was submitted (normalised).
        spec: TaskSpec,
        /// When.
        at: DateTime<Utc>,
    },
    /// A call for proposals went out (contract net).
    Offered {
        /// The round number (1, 2, … per task).
        round: u32,
        /// Bids after this time are refused.
        deadline: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A bid arrived in time.
    BidReceived {
        /// The bid.
        bid: Bid,
    },
    /// The bidding closed without an award; the task is queued again.
    NoBid {
        /// The round that closed.
        round: u32,
        /// Why nobody was awarded.
        reason: NoBidReason,
        /// When.
        at: DateTime<Utc>,
    },
    /// The task went to an agent.
    Assigned {
        /// The agent.
        agent: AgentName,
        /// The attempt number: the fencing token every later message of this assignment carries.
        attempt: u32,
        /// The agent must acknowledge by then.
        ack_by: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The agent took it.
    Acknowledged {
        /// The agent.
        agent: AgentName,
        /// The attempt.
        attempt: u32,
        /// The agent must report progress or a result by then.
        progress_by: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The agent reported progress; the deadline moved.
    Progressed {
        /// The agent.
        agent: AgentName,
        /// The attempt.
        attempt: u32,
        /// What the agent said.
        note: String,
        /// The new deadline for the next progress or result.
        progress_by: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The assignment was taken away; the task is queued again.
    Reassigned {
        /// The agent it was taken from.
        agent: AgentName,
        /// The attempt that ended.
        attempt: u32,
        /// Why.
        reason: ReassignReason,
        /// When.
        at: DateTime<Utc>,
    },
    /// The agent finished it (terminal).
    Completed {
        /// The agent.
        agent: AgentName,
        /// The attempt.
        attempt: u32,
        /// The result, opaque to the coordinator.
        result: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The agent reported failure (terminal).
    Failed {
        /// The agent.
        agent: AgentName,
        /// The attempt.
        attempt: u32,
        /// The agent's reason.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Given up (terminal), with every attempt.
    DeadLettered {
        /// Why.
        reason: DeadLetterReason,
        /// The whole history of attempts.
        attempts: Vec<Attempt>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Cancelled by a client (terminal). `live` names the assignment that must be told.
    Cancelled {
        /// The client's reason.
        reason: String,
        /// The live assignment at the time (agent, attempt), which the coordinator notifies.
        live: Option<(AgentName, u32)>,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for TaskEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Submitted { .. } => "Submitted",
            Self::Offered { .. } => "Offered",
            Self::BidReceived { .. } => "BidReceived",
            Self::NoBid { .. } => "NoBid",
            Self::Assigned { .. } => "Assigned",
            Self::Acknowledged { .. } => "Acknowledged",
            Self::Progressed { .. } => "Progressed",
            Self::Reassigned { .. } => "Reassigned",
            Self::Completed { .. } => "Completed",
            Self::Failed { .. } => "Failed",
            Self::DeadLettered { .. } => "DeadLettered",
            Self::Cancelled { .. } => "Cancelled",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
