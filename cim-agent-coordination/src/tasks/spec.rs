//! What a client submits, and the records of attempts and bids.

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentName;
use serde::{Deserialize, Serialize};

/// A task as submitted. Two submissions with the same id are the same task only when their
/// specs are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The work, opaque to the coordinator (the agent interprets it).
    pub payload: String,
    /// Higher runs first; equal priorities run first-in first-out.
    pub priority: u8,
    /// Capabilities an agent must all declare to take the task (sorted, de-duplicated).
    pub required_capabilities: Vec<String>,
    /// When the task stops being worth doing; a task still unfinished then is dead-lettered.
    pub deadline: Option<DateTime<Utc>>,
    /// How many assignments the task gets before it is dead-lettered (at least 1).
    pub max_attempts: u32,
}

impl TaskSpec {
    /// A spec with `payload`, priority 0, no required capability, no deadline, 3 attempts.
    pub fn new(payload: impl Into<String>) -> Self {
        Self {
            payload: payload.into(),
            priority: 0,
            required_capabilities: Vec::new(),
            deadline: None,
            max_attempts: 3,
        }
    }

    /// The same spec with `priority`.
    pub fn with_priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// The same spec requiring `capabilities`.
    pub fn requiring<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        capabilities: I,
    ) -> Self {
        self.required_capabilities = capabilities.into_iter().map(Into::into).collect();
        self.normalized()
    }

    /// The same spec with at most `attempts` assignments.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self.normalized()
    }

    /// The same spec dead-lettered if unfinished at `deadline`.
    pub fn with_deadline(mut self, deadline: DateTime<Utc>) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Capabilities sorted and de-duplicated, at least one attempt: the form stored and compared.
    pub fn normalized(mut self) -> Self {
        self.required_capabilities.sort();
        self.required_capabilities.dedup();
        self.max_attempts = self.max_attempts.max(1);
        self
    }
}

/// Why an assignment was taken away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReassignReason {
    /// No acknowledgement within the ack wait.
    MissedAcknowledgement,
    /// Acknowledged, then no progress or result before the extended deadline.
    ProgressTimeout,
    /// The registry marked the agent offline.
    AgentOffline,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The agent finished it.
    Completed,
    /// The agent reported failure.
    Failed {
        /// The agent's reason.
        reason: String,
    },
    /// It was taken away.
    Reassigned {
        /// Why.
        reason: ReassignReason,
    },
    /// The task was cancelled while this attempt was live.
    Cancelled,
    /// The task's deadline passed while this attempt was live.
    DeadlinePassed,
}

/// One assignment of a task to an agent: the history a dead letter carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first assignment, counting up; the fencing token.
    pub attempt: u32,
    /// The agent it went to.
    pub agent: AgentName,
    /// When it was assigned.
    pub assigned_at: DateTime<Utc>,
    /// When the agent acknowledged it, if it did.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// How it ended; `None` while live.
    pub outcome: Option<AttemptOutcome>,
}

/// An agent's answer to a call for proposals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bid {
    /// The bidder.
    pub agent: AgentName,
    /// The call for proposals answered (its round number).
    pub round: u32,
    /// What the agent says the task costs it (lower wins).
    pub cost: f64,
    /// How long the agent expects it to take, in seconds (breaks ties on cost).
    pub estimated_secs: u64,
    /// When the bid arrived.
    pub at: DateTime<Utc>,
}

/// Why a call for proposals ended without an award: a typed outcome, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoBidReason {
    /// Nobody bid before the deadline.
    NoBids,
    /// Bids came, but none from an agent able to take the task now (offline, full, or lacking
    /// a capability).
    NoEligibleBidder {
        /// The agents that bid, in bid order.
        bidders: Vec<AgentName>,
    },
}
