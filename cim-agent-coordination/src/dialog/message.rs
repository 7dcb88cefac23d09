//! What is routed: a message of one dialog, with its strategy, priority and context.

use std::fmt;

use cim_domain_agent::AgentId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::context::DialogContext;

/// Identity of one dialog (UUID v7 for new dialogs). Its simple (hyphen-less) text form is a
/// valid NATS subject token, used in `cim.dialog.<dialog>.…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DialogId(pub Uuid);

impl DialogId {
    /// A fresh id (UUID v7).
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.simple().fmt(f)
    }
}

/// How urgent a message is. Per-agent queues hand out higher priorities first; priority routing
/// widens its fan-out for urgent messages.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Priority {
    /// Background.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Ahead of normal traffic.
    High,
    /// First in every queue; priority routing reaches `urgent_fanout` agents.
    Urgent,
}

impl Priority {
    /// Queue index, 0 (low) to 3 (urgent).
    pub(crate) fn rank(self) -> usize {
        match self {
            Self::Low => 0,
            Self::Normal => 1,
            Self::High => 2,
            Self::Urgent => 3,
        }
    }
}

/// How the router picks recipients among the participants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Strategy {
    /// Every participant except the sender.
    Broadcast,
    /// The next participant in turn (per dialog), skipping the sender: over any n consecutive
    /// messages to the same n participants each gets exactly one.
    RoundRobin,
    /// Participants with every `required` capability, best match first: more of `preferred`,
    /// then higher preference, then smaller id. `limit` keeps the best `limit`.
    Capability {
        /// Capabilities a recipient must all have.
        required: Vec<String>,
        /// Capabilities that rank a recipient higher.
        #[serde(default)]
        preferred: Vec<String>,
        /// Keep only the best this many (all when absent).
        #[serde(default)]
        limit: Option<usize>,
    },
    /// Participants by preference (higher first, then smaller id): one for most messages,
    /// `urgent_fanout` for urgent ones.
    Priority,
    /// One named participant.
    Direct {
        /// The recipient.
        to: AgentId,
    },
    /// The speaker passes the turn to `to`, with a reason; the message's context goes along.
    HandOff {
        /// The next speaker.
        to: AgentId,
        /// Why (required, non-empty): the receiver's first question is usually "why me?".
        reason: String,
    },
    /// The router's selector function names the next speaker; its answer is validated.
    Selector,
}

impl Strategy {
    /// A short name for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Broadcast => "broadcast",
            Self::RoundRobin => "round-robin",
            Self::Capability { .. } => "capability",
            Self::Priority => "priority",
            Self::Direct { .. } => "direct",
            Self::HandOff { .. } => "hand-off",
            Self::Selector => "selector",
        }
    }
}

/// One message of a dialog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The dialog it belongs to.
    pub dialog: DialogId,
    /// Who speaks.
    pub from: AgentId,
    /// How recipients are chosen.
    pub strategy: Strategy,
    /// How urgent it is.
    #[serde(default)]
    pub priority: Priority,
    /// What is said (free text; agents decide its meaning).
    pub content: String,
    /// What travels with it (filtered per recipient on delivery).
    #[serde(default)]
    pub context: DialogContext,
}

impl Message {
    /// A normal-priority message with an empty context.
    pub fn new(
        dialog: DialogId,
        from: AgentId,
        strategy: Strategy,
        content: impl Into<String>,
    ) -> Self {
        Self {
            dialog,
            from,
            strategy,
            priority: Priority::Normal,
            content: content.into(),
            context: DialogContext::default(),
        }
    }

    /// The same message with another priority.
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// The same message with a context.
    pub fn with_context(mut self, context: DialogContext) -> Self {
        self.context = context;
        self
    }
}
