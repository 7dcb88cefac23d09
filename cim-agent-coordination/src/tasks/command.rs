//! What can be asked of a task. Every command carries its time (`at`): the aggregate reads no
//! clock.

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentName;
use serde::{Deserialize, Serialize};

use super::{Bid, ReassignReason, TaskId, TaskSpec};

/// A command to the task aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TaskCommand {
    /// Submit (idempotent for an equal spec).
    Submit {
        /// The client's id for it.
        id: TaskId,
        /// What to do.
        spec: TaskSpec,
        /// When.
        at: DateTime<Utc>,
    },
    /// Open a call for proposals until `deadline` (queued tasks only).
    Offer {
        /// Bids after this are refused.
        deadline: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record a bid on the open call.
    Bid(Bid),
    /// Close the call: award the best bid among `eligible` agents, or record a no-bid outcome.
    CloseBidding {
        /// The round to close (a stale close is refused).
        round: u32,
        /// Agents able to take the task now; bids from others do not win.
        eligible: Vec<AgentName>,
        /// The winner must acknowledge by then.
        ack_by: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Assign to `agent` (queued tasks only).
    Assign {
        /// The agent chosen by a strategy.
        agent: AgentName,
        /// It must acknowledge by then.
        ack_by: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The agent takes the assignment `attempt`.
    Acknowledge {
        /// The agent.
        agent: AgentName,
        /// The attempt it was given.
        attempt: u32,
        /// It must report progress or a result by then.
        progress_by: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The agent reports progress on `attempt`.
    Progress {
        /// The agent.
        agent: AgentName,
        /// The attempt.
        attempt: u32,
        /// What it says.
        note: String,
        /// The new deadline.
        progress_by: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Take assignment `attempt` away (missed ack, progress timeout, agent offline).
    Expire {
        /// The attempt to end (a stale one is refused).
        attempt: u32,
        /// Why.
        reason: ReassignReason,
        /// When.
        at: DateTime<Utc>,
    },
    /// The agent finished `attempt`.
    Complete {
        /// The agent.
        agent: AgentName,
        /// The attempt.
        attempt: u32,
        /// The result.
        result: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The agent failed `attempt`.
    Fail {
        /// The agent.
        agent: AgentName,
        /// The attempt.
        attempt: u32,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The task's deadline has passed: dead-letter it unless finished.
    DeadlinePassed {
        /// When.
        at: DateTime<Utc>,
    },
    /// Cancel it (a finished task stays as it ended).
    Cancel {
        /// The client's reason.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
}
