//! Dialogs between agents: who speaks to whom, with what context, within which bounds.
//!
//! - [`AgentDialogRouter`] decides recipients: a pure, deterministic function of the agents it
//!   was told about (a registry feeds it [`DialogAgent`]s and presence) and the small state its
//!   own decisions leave (turn counts, round-robin position). Strategies: broadcast,
//!   round-robin, capability, priority, direct, hand-off and a validated selector hook; bounds:
//!   turns per dialog, hand-offs in a row, an offline policy, and no-recipient failing fast.
//! - [`DialogContext`] travels with messages: references (graph version, proposal, facts),
//!   prior turns or a summary, key/value entries; filtered per recipient
//!   ([`ContextFilter`]) and merged by a [`MergePolicy`].
//! - [`Dialog`] is the cqrs-es aggregate: turns are events, a transcript replays to the same
//!   state.
//! - [`create_agent_channel`] opens a [`DialogChannel`] over any [`crate::transport::Transport`]:
//!   deliveries on `cim.dialog.<dialog>.to.<agent>`, bounded per-agent [`Mailbox`]es with
//!   backpressure, bad payloads counted and logged.

mod agent;
mod aggregate;
mod channel;
mod config;
mod context;
mod error;
mod mailbox;
mod merge;
mod message;
mod router;
mod wire;

pub use agent::{DialogAgent, Presence};
pub use aggregate::{Dialog, DialogCommand, DialogError, DialogEvent, Turn};
pub use channel::{
    ChannelConfig, DialogChannel, QueueFullPolicy, Sent, SharedRouter, create_agent_channel,
    create_agent_channel_with_id,
};
pub use config::{OfflinePolicy, RouterConfig, SelectorFallback};
pub use context::{
    ContextEntry, ContextFilter, DialogContext, History, PriorTurn, References, Visibility,
};
pub use error::{ChannelError, RoutingError};
pub use mailbox::Mailbox;
pub use merge::{MergePolicy, MergeStrategy};
pub use message::{DialogId, Message, Priority, Strategy};
pub use router::{AgentDialogRouter, DialogCounters, RoutePlan, Selector, SelectorInput};
pub use wire::{ChannelStats, Delivery, StatsSnapshot};
