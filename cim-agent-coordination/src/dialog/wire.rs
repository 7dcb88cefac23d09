//! What goes over the wire to one recipient, and the counters of what could not be read.

use std::sync::atomic::{AtomicU64, Ordering};

use cim_domain_agent::AgentId;
use serde::{Deserialize, Serialize};

use super::context::DialogContext;
use super::message::{DialogId, Priority, Strategy};

/// One message as one recipient receives it (JSON on `cim.dialog.<dialog>.to.<agent>`), its
/// context already filtered for that recipient. The recipient is named by the subject, not in
/// the payload, so recipients that may see the same context share one encoded payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The dialog.
    pub dialog: DialogId,
    /// The turn's sequence number in the dialog (1-based).
    pub seq: u32,
    /// Who spoke.
    pub from: AgentId,
    /// The recipient (from the subject; not part of the payload).
    #[serde(skip, default = "nobody")]
    pub to: AgentId,
    /// How it was routed (a hand-off carries its reason).
    pub strategy: Strategy,
    /// How urgent.
    pub priority: Priority,
    /// What was said.
    pub content: String,
    /// The context as this recipient may see it.
    pub context: DialogContext,
}

fn nobody() -> AgentId {
    AgentId(uuid::Uuid::nil())
}

/// Counters of a channel's receiving side.
#[derive(Debug, Default)]
pub struct ChannelStats {
    pub(crate) delivered: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) oversized: AtomicU64,
    pub(crate) overflowed: AtomicU64,
}

/// A copy of [`ChannelStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Deliveries put into a mailbox.
    pub delivered: u64,
    /// Payloads that were not a delivery for this channel and mailbox (dropped, logged).
    pub malformed: u64,
    /// Payloads over the channel's size limit (dropped unread, logged).
    pub oversized: u64,
    /// Deliveries that found their mailbox full (dropped, logged).
    pub overflowed: u64,
}

impl ChannelStats {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            delivered: self.delivered.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
            oversized: self.oversized.load(Ordering::Relaxed),
            overflowed: self.overflowed.load(Ordering::Relaxed),
        }
    }
}
