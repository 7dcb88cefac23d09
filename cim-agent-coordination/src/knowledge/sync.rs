//! The sync engine: one automerge sync state per peer, and the loss-recovery rules around it.
//! It is pure: it takes messages and the time (monotonic milliseconds, from the caller's
//! clock) and returns the messages to send, so it is tested without a network.
//!
//! # Why recovery is needed
//! Automerge's sync protocol assumes a reliable, ordered channel: after sending, a sync state
//! is "in flight" and stays silent until the peer answers, so one lost message stalls the pair;
//! duplicated or reordered messages leave `sent_hashes` believing the peer has what it lost.
//! Core NATS delivers at most once.
//!
//! # The rules ([`SyncPolicy`])
//! - **Sessions.** Each pair of replicas shares a session number. Whoever resets its sync state
//!   for a peer raises the number; a message from a higher session makes the receiver reset
//!   its state for the sender and follow, a message from a lower one is stale and dropped. So
//!   both ends restart the protocol together, from fresh states, never from one stale one.
//! - **Periodic re-sync.** Every [`SyncPolicy::resync_interval_ms`] a peer whose last known
//!   heads differ from ours gets a reset and a fresh first message.
//! - **Seen again.** A peer heard from after [`SyncPolicy::peer_timeout_ms`] of silence, or
//!   with a new incarnation (it restarted), gets a reset.
//! - **Bounded rounds.** At most [`SyncPolicy::max_rounds`] messages are sent to a peer per
//!   session; then the engine waits for the next re-sync instead of looping.
//! - **Never converging.** A peer still not in sync after
//!   [`SyncPolicy::max_failed_syncs`] consecutive sessions is reported
//!   [`PeerHealth::NotConverging`] (and logged); the engine keeps trying at the re-sync rate.

use std::collections::BTreeMap;

use automerge::sync::{Message, State, SyncDoc};
use cim_domain_agent::AgentId;

use super::document::SharedKnowledge;
use super::error::KnowledgeError;
use super::wire::SyncMessage;

/// The loss-recovery settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPolicy {
    /// How often an out-of-sync peer gets a fresh session, in milliseconds.
    pub resync_interval_ms: u64,
    /// Silence after which a peer counts as gone (not sent to) and, when heard again, as seen
    /// again (reset), in milliseconds.
    pub peer_timeout_ms: u64,
    /// Messages sent to one peer per session at most.
    pub max_rounds: u32,
    /// Consecutive sessions without convergence before a peer is reported not converging.
    pub max_failed_syncs: u32,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        Self {
            resync_interval_ms: 1_000,
            peer_timeout_ms: 10_000,
            max_rounds: 32,
            max_failed_syncs: 5,
        }
    }
}

/// How the pair with one peer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerHealth {
    /// A session is running (or waiting for the next re-sync).
    Syncing,
    /// The peer's last known heads equal ours.
    InSync,
    /// Not heard from within the peer timeout; nothing is sent to it.
    Absent,
    /// [`SyncPolicy::max_failed_syncs`] sessions in a row ended out of sync.
    NotConverging,
}

/// Counters of what the engine did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Sync messages produced.
    pub sent: u64,
    /// Sync messages applied.
    pub received: u64,
    /// Messages dropped as from an older session.
    pub stale: u64,
    /// Messages that did not decode or apply.
    pub malformed: u64,
    /// Sync states reset (re-sync, seen again, restart, following a peer).
    pub resets: u64,
    /// Sessions that hit the round limit.
    pub exhausted: u64,
}

/// One message to send to one peer.
pub type Outgoing = SyncMessage;

#[derive(Debug)]
struct Peer {
    state: State,
    session: u64,
    incarnation: Option<u64>,
    rounds: u32,
    last_heard_ms: u64,
    last_resync_ms: u64,
    failed_syncs: u32,
    health: PeerHealth,
}

impl Peer {
    fn new(now_ms: u64) -> Self {
        Self {
            state: State::new(),
            session: 0,
            incarnation: None,
            rounds: 0,
            last_heard_ms: now_ms,
            last_resync_ms: now_ms,
            failed_syncs: 0,
            health: PeerHealth::Syncing,
        }
    }

    fn reset(&mut self, session: u64, now_ms: u64, stats: &mut SyncStats) {
        self.state = State::new();
        self.session = session;
        self.rounds = 0;
        self.last_resync_ms = now_ms;
        stats.resets += 1;
    }
}

/// The per-peer sync states of one replica and the recovery rules.
#[derive(Debug)]
pub struct SyncEngine {
    me: AgentId,
    incarnation: u64,
    policy: SyncPolicy,
    peers: BTreeMap<AgentId, Peer>,
    stats: SyncStats,
}

fn same_heads(theirs: Option<&Vec<automerge::ChangeHash>>, ours: &[automerge::ChangeHash]) -> bool {
    theirs.is_some_and(|theirs| {
        let mut theirs = theirs.clone();
        theirs.sort();
        theirs == ours
    })
}

impl SyncEngine {
    /// The engine of replica `me` in its `incarnation`.
    pub fn new(me: AgentId, incarnation: u64, policy: SyncPolicy) -> Self {
        Self {
            me,
            incarnation,
            policy,
            peers: BTreeMap::new(),
            stats: SyncStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> SyncStats {
        self.stats
    }

    /// The policy in force.
    pub fn policy(&self) -> SyncPolicy {
        self.policy
    }

    /// Every known peer and its health, in id order.
    pub fn peers(&self) -> Vec<(AgentId, PeerHealth)> {
        self.peers.iter().map(|(id, p)| (*id, p.health)).collect()
    }

    /// The peers reported as never converging.
    pub fn not_converging(&self) -> Vec<AgentId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.health == PeerHealth::NotConverging)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Produces the next message to `peer` if the protocol has one and the round budget allows.
    fn generate(&mut self, knowledge: &mut SharedKnowledge, peer: AgentId) -> Option<Outgoing> {
        let (me, incarnation, max_rounds) = (self.me, self.incarnation, self.policy.max_rounds);
        let entry = self.peers.get_mut(&peer)?;
        if entry.rounds >= max_rounds {
            return None;
        }
        let message = knowledge
            .doc_mut()
            .sync()
            .generate_sync_message(&mut entry.state)?;
        entry.rounds += 1;
        if entry.rounds == max_rounds {
            self.stats.exhausted += 1;
        }
        self.stats.sent += 1;
        Some(SyncMessage {
            from: me,
            incarnation,
            to: peer,
            session: entry.session,
            payload: message.encode(),
        })
    }

    /// A peer announced itself (hello) with `incarnation` at `now_ms`. A new peer, a restarted
    /// one, or one back after the peer timeout gets a fresh session and a first message.
    pub fn peer_seen(
        &mut self,
        knowledge: &mut SharedKnowledge,
        peer: AgentId,
        incarnation: u64,
        now_ms: u64,
    ) -> Option<Outgoing> {
        if peer == self.me {
            return None;
        }
        let timeout = self.policy.peer_timeout_ms;
        let stats = &mut self.stats;
        let entry = self.peers.entry(peer).or_insert_with(|| Peer::new(now_ms));
        let fresh = entry.incarnation.is_none() && entry.rounds == 0 && entry.session == 0;
        let restarted = entry.incarnation.is_some_and(|known| known != incarnation);
        let returned = now_ms.saturating_sub(entry.last_heard_ms) > timeout
            || entry.health == PeerHealth::Absent;
        entry.last_heard_ms = now_ms;
        entry.incarnation = Some(incarnation);
        if fresh || restarted || returned {
            if !fresh {
                let next = entry.session + 1;
                entry.reset(next, now_ms, stats);
            }
            entry.health = PeerHealth::Syncing;
            return self.generate(knowledge, peer);
        }
        None
    }

    /// Applies a sync message addressed to this replica and returns the answer, if any.
    ///
    /// # Errors
    /// [`KnowledgeError::Malformed`] when the payload is not an automerge sync message or
    /// automerge refuses it (counted; the session is reset so the next exchange starts clean).
    pub fn receive(
        &mut self,
        knowledge: &mut SharedKnowledge,
        message: &SyncMessage,
        now_ms: u64,
    ) -> Result<Option<Outgoing>, KnowledgeError> {
        if message.to != self.me || message.from == self.me {
            return Ok(None);
        }
        let stats = &mut self.stats;
        let entry = self
            .peers
            .entry(message.from)
            .or_insert_with(|| Peer::new(now_ms));
        let restarted = entry
            .incarnation
            .is_some_and(|known| known != message.incarnation);
        if restarted {
            let next = (entry.session + 1).max(message.session);
            entry.reset(next, now_ms, stats);
        } else if message.session > entry.session {
            entry.reset(message.session, now_ms, stats);
        } else if message.session < entry.session {
            stats.stale += 1;
            entry.last_heard_ms = now_ms;
            return Ok(None);
        }
        entry.incarnation = Some(message.incarnation);
        entry.last_heard_ms = now_ms;
        if entry.health == PeerHealth::Absent {
            entry.health = PeerHealth::Syncing;
        }
        let decoded = Message::decode(&message.payload).map_err(|_| {
            stats.malformed += 1;
            KnowledgeError::Malformed("automerge sync message")
        })?;
        if let Err(error) = knowledge
            .doc_mut()
            .sync()
            .receive_sync_message(&mut entry.state, decoded)
        {
            stats.malformed += 1;
            let next = entry.session + 1;
            entry.reset(next, now_ms, stats);
            tracing::warn!(peer = %message.from.0, %error, "sync message refused; session reset");
            return Err(error.into());
        }
        stats.received += 1;
        let ours = knowledge.heads();
        let entry = self.peers.get_mut(&message.from);
        if let Some(entry) = entry
            && same_heads(entry.state.their_heads.as_ref(), &ours)
        {
            entry.health = PeerHealth::InSync;
            entry.failed_syncs = 0;
        }
        Ok(self.generate(knowledge, message.from))
    }

    /// After a local write: the messages carrying it to every present peer (each starts a new
    /// round budget, a write being a new sync).
    pub fn local_change(&mut self, knowledge: &mut SharedKnowledge) -> Vec<Outgoing> {
        let present: Vec<AgentId> = self
            .peers
            .iter_mut()
            .filter(|(_, p)| p.health != PeerHealth::Absent)
            .map(|(id, p)| {
                p.rounds = 0;
                *id
            })
            .collect();
        present
            .into_iter()
            .filter_map(|peer| self.generate(knowledge, peer))
            .collect()
    }

    /// The periodic check at `now_ms`: peers silent past the timeout become absent; every
    /// present peer out of sync whose re-sync is due gets a fresh session and a first message.
    pub fn tick(&mut self, knowledge: &mut SharedKnowledge, now_ms: u64) -> Vec<Outgoing> {
        let ours = knowledge.heads();
        let policy = self.policy;
        let stats = &mut self.stats;
        let mut due = Vec::new();
        for (id, peer) in &mut self.peers {
            if now_ms.saturating_sub(peer.last_heard_ms) > policy.peer_timeout_ms {
                peer.health = PeerHealth::Absent;
                continue;
            }
            if now_ms.saturating_sub(peer.last_resync_ms) < policy.resync_interval_ms {
                continue;
            }
            peer.last_resync_ms = now_ms;
            if same_heads(peer.state.their_heads.as_ref(), &ours) {
                peer.health = PeerHealth::InSync;
                peer.failed_syncs = 0;
                continue;
            }
            peer.failed_syncs += 1;
            if peer.failed_syncs >= policy.max_failed_syncs {
                if peer.health != PeerHealth::NotConverging {
                    tracing::warn!(peer = %id.0, failed = peer.failed_syncs, "peer does not converge");
                }
                peer.health = PeerHealth::NotConverging;
            } else {
                peer.health = PeerHealth::Syncing;
            }
            let next = peer.session + 1;
            peer.reset(next, now_ms, stats);
            due.push(*id);
        }
        due.into_iter()
            .filter_map(|peer| self.generate(knowledge, peer))
            .collect()
    }
}
