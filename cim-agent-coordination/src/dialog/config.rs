//! The router's bounds and policies.

use serde::{Deserialize, Serialize};

/// What happens to a message for an offline recipient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OfflinePolicy {
    /// Leave offline agents out; if nobody is left, `RoutingError::NoRecipient`.
    #[default]
    Skip,
    /// Keep them as recipients: a channel holds their messages (bounded) until they are online.
    Queue,
    /// Refuse the message with `RoutingError::RecipientOffline`.
    Error,
}

/// What the selector strategy does when the selector gives no valid answer in its attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectorFallback {
    /// Route as `Strategy::RoundRobin` would (deterministic, and fair over time).
    #[default]
    RoundRobin,
    /// Refuse with `RoutingError::SelectorExhausted`.
    Error,
}

/// Bounds and policies of an [`crate::dialog::AgentDialogRouter`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterConfig {
    /// Most turns (routed messages) per dialog; the next one is `RoutingError::TurnLimit`.
    pub max_turns: u32,
    /// Most hand-offs in a row (with no other turn between them).
    pub max_handoff_chain: u32,
    /// Offline recipients: skip, queue or error.
    pub offline: OfflinePolicy,
    /// How many agents priority routing reaches with an urgent message (others: one).
    pub urgent_fanout: usize,
    /// How many times the selector is asked before the fallback (at least one).
    pub selector_attempts: u32,
    /// What the selector strategy does after its attempts.
    pub selector_fallback: SelectorFallback,
}

impl Default for RouterConfig {
    /// 1,000 turns, 8 hand-offs in a row, skip offline agents, urgent fan-out 3, three selector
    /// attempts then round-robin.
    fn default() -> Self {
        Self {
            max_turns: 1_000,
            max_handoff_chain: 8,
            offline: OfflinePolicy::Skip,
            urgent_fanout: 3,
            selector_attempts: 3,
            selector_fallback: SelectorFallback::RoundRobin,
        }
    }
}
