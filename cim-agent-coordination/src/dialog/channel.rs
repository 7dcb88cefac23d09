//! [`DialogChannel`]: one conversation over the transport seam, with its own subjects, bounded
//! per-agent mailboxes and the dialog aggregate recording every turn.
//!
//! Sending a message: the router decides the recipients (pure), the dialog aggregate checks and
//! records the turn, the context is filtered for each recipient, and one [`Delivery`] per
//! recipient is published on `cim.dialog.<dialog>.to.<agent>`. Each agent's mailbox is filled
//! by its own subscription; a full mailbox refuses the send ([`QueueFullPolicy::Reject`]) or
//! makes it wait for room ([`QueueFullPolicy::Wait`]). A payload that is oversized, not a
//! delivery, or meant for another dialog or agent is counted and logged, never a crash.
//! Everything is decided before anything is published: a refused message leaves no turn.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use cim_domain_agent::AgentId;
use futures::StreamExt;
use rustc_hash::FxHashMap;
use tokio::task::JoinHandle;

use super::agent::Presence;
use super::aggregate::{Dialog, DialogCommand, DialogEvent};
use super::config::OfflinePolicy;
use super::context::{ContextFilter, DialogContext};
use super::error::ChannelError;
use super::mailbox::Mailbox;
use super::merge::MergePolicy;
use super::message::{DialogId, Message};
use super::router::AgentDialogRouter;
use super::wire::{ChannelStats, Delivery, StatsSnapshot};
use crate::subject::dialog_inbox;
use crate::transport::{Subscription, Transport};

/// What a send does when a recipient's mailbox is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFullPolicy {
    /// Refuse at once with [`ChannelError::QueueFull`].
    Reject,
    /// Wait up to this long for room, then refuse with [`ChannelError::QueueFull`].
    Wait(Duration),
}

/// Limits and rules of a channel.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// Most deliveries waiting per agent (also the most held for an offline agent).
    pub queue_capacity: usize,
    /// What a send does when a mailbox is full.
    pub on_full: QueueFullPolicy,
    /// Largest encoded delivery, in bytes (further capped by the transport's `max_payload`).
    pub max_message_bytes: usize,
    /// Per-recipient allow-lists (visibility rules always apply).
    pub filter: ContextFilter,
    /// How turn contexts merge into the dialog's context.
    pub merge: MergePolicy,
}

impl Default for ChannelConfig {
    /// 256 deliveries per agent, reject when full, 256 KiB per delivery, no allow-lists,
    /// last-writer merges.
    fn default() -> Self {
        Self {
            queue_capacity: 256,
            on_full: QueueFullPolicy::Reject,
            max_message_bytes: 256 * 1024,
            filter: ContextFilter::default(),
            merge: MergePolicy::default(),
        }
    }
}

/// What a successful send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The turn's sequence number.
    pub seq: u32,
    /// Recipients the delivery was published to.
    pub delivered: Vec<AgentId>,
    /// Offline recipients whose delivery is held until they are online
    /// (`OfflinePolicy::Queue`).
    pub held: Vec<AgentId>,
}

/// The router shared by the channels of one process (the registry feeds it).
pub type SharedRouter = Arc<Mutex<AgentDialogRouter>>;

struct Record {
    dialog: Dialog,
    events: Vec<DialogEvent>,
    held: FxHashMap<AgentId, VecDeque<(String, Bytes)>>,
}

/// One conversation among `agents`, over transport `T`.
pub struct DialogChannel<T: Transport> {
    id: DialogId,
    transport: T,
    router: SharedRouter,
    config: ChannelConfig,
    participants: Vec<AgentId>,
    mailboxes: FxHashMap<AgentId, Arc<Mailbox>>,
    record: Mutex<Record>,
    stats: Arc<ChannelStats>,
    pumps: Vec<JoinHandle<()>>,
}

impl<T: Transport> Drop for DialogChannel<T> {
    fn drop(&mut self) {
        for pump in &self.pumps {
            pump.abort();
        }
    }
}

fn lock<X>(mutex: &Mutex<X>) -> MutexGuard<'_, X> {
    // The guarded values are only changed by complete assignments; a panic elsewhere leaves them
    // consistent.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens a dialog among `agents` (distinct, in speaking order for round-robin) over
/// `transport`: records `Opened`, subscribes one mailbox per agent on
/// `cim.dialog.<dialog>.to.<agent>`, and returns once the subscriptions are in place.
///
/// # Errors
/// [`ChannelError::Dialog`] for an empty or repeated agent list; [`ChannelError::Transport`]
/// when a subscription fails.
pub async fn create_agent_channel<T: Transport>(
    transport: T,
    router: SharedRouter,
    agents: &[AgentId],
    config: ChannelConfig,
) -> Result<DialogChannel<T>, ChannelError> {
    create_agent_channel_with_id(transport, router, DialogId::new_v7(), agents, config).await
}

/// [`create_agent_channel`] with a chosen dialog id (tests, replays, a dialog resumed by id).
///
/// # Errors
/// As [`create_agent_channel`].
pub async fn create_agent_channel_with_id<T: Transport>(
    transport: T,
    router: SharedRouter,
    id: DialogId,
    agents: &[AgentId],
    config: ChannelConfig,
) -> Result<DialogChannel<T>, ChannelError> {
    let (max_turns, max_handoff_chain) = {
        let router = lock(&router);
        (router.config().max_turns, router.config().max_handoff_chain)
    };
    let mut dialog = Dialog::default();
    let events = dialog.decide(DialogCommand::Open {
        id,
        participants: agents.to_vec(),
        max_turns,
        max_handoff_chain,
        merge: config.merge.clone(),
    })?;
    for event in events.iter().cloned() {
        dialog.apply_event(event);
    }
    let stats = Arc::new(ChannelStats::default());
    let max_bytes = config.max_message_bytes.min(transport.max_payload());
    let mut mailboxes = FxHashMap::default();
    let mut pumps = Vec::with_capacity(agents.len());
    for &agent in agents {
        let mailbox = Arc::new(Mailbox::new(agent, config.queue_capacity));
        let subject = dialog_inbox(&id.to_string(), &agent.to_string())?;
        let subscription = transport.subscribe(&subject).await?;
        pumps.push(tokio::spawn(pump(
            subscription,
            id,
            Arc::clone(&mailbox),
            Arc::clone(&stats),
            max_bytes,
            config.on_full,
        )));
        mailboxes.insert(agent, mailbox);
    }
    transport.flush().await?;
    Ok(DialogChannel {
        id,
        transport,
        router,
        config,
        participants: agents.to_vec(),
        mailboxes,
        record: Mutex::new(Record {
            dialog,
            events,
            held: FxHashMap::default(),
        }),
        stats,
        pumps,
    })
}

/// Moves deliveries from one agent's subscription into its mailbox.
async fn pump(
    mut subscription: Subscription,
    dialog: DialogId,
    mailbox: Arc<Mailbox>,
    stats: Arc<ChannelStats>,
    max_bytes: usize,
    on_full: QueueFullPolicy,
) {
    let agent = mailbox.agent();
    while let Some(envelope) = subscription.next().await {
        if envelope.payload.len() > max_bytes {
            ChannelStats::bump(&stats.oversized);
            tracing::warn!(%dialog, %agent, size = envelope.payload.len(), max_bytes, "oversized dialog message dropped");
            continue;
        }
        let delivery: Box<Delivery> = match serde_json::from_slice(&envelope.payload) {
            Ok(delivery) => delivery,
            Err(error) => {
                ChannelStats::bump(&stats.malformed);
                tracing::warn!(%dialog, %agent, %error, "malformed dialog message dropped");
                continue;
            }
        };
        if delivery.dialog != dialog {
            ChannelStats::bump(&stats.malformed);
            tracing::warn!(%dialog, %agent, for_dialog = %delivery.dialog, "misaddressed dialog message dropped");
            continue;
        }
        let mut pending = delivery;
        pending.to = agent;
        loop {
            match mailbox.try_push(pending) {
                Ok(()) => {
                    ChannelStats::bump(&stats.delivered);
                    break;
                }
                Err(back) => {
                    let room = match on_full {
                        QueueFullPolicy::Wait(limit) => mailbox.wait_for_room(limit).await,
                        QueueFullPolicy::Reject => false,
                    };
                    if !room {
                        ChannelStats::bump(&stats.overflowed);
                        tracing::warn!(%dialog, %agent, seq = back.seq, capacity = mailbox.capacity(), "mailbox full, dialog message dropped");
                        break;
                    }
                    pending = back;
                }
            }
        }
    }
}

impl<T: Transport> DialogChannel<T> {
    /// The dialog's id.
    pub fn id(&self) -> DialogId {
        self.id
    }

    /// The participants, in the order given.
    pub fn participants(&self) -> &[AgentId] {
        &self.participants
    }

    /// The mailbox of one of the channel's agents.
    pub fn mailbox(&self, agent: AgentId) -> Option<Arc<Mailbox>> {
        self.mailboxes.get(&agent).cloned()
    }

    /// Waits for `agent`'s next delivery (most urgent first).
    ///
    /// # Errors
    /// [`ChannelError::NoMailbox`] when `agent` is not on this channel.
    pub async fn recv(&self, agent: AgentId) -> Result<Delivery, ChannelError> {
        let mailbox = self
            .mailboxes
            .get(&agent)
            .ok_or(ChannelError::NoMailbox { agent })?;
        Ok(mailbox.recv().await)
    }

    /// Counters of what arrived, was dropped as malformed or oversized, or found a full mailbox.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// The dialog's state (as its events replay to).
    pub fn dialog(&self) -> Dialog {
        lock(&self.record).dialog.clone()
    }

    /// Every event so far: the transcript.
    pub fn transcript(&self) -> Vec<DialogEvent> {
        lock(&self.record).events.clone()
    }

    /// Routes, records and delivers one message.
    ///
    /// # Errors
    /// [`ChannelError::WrongDialog`], routing errors ([`ChannelError::Routing`]), the dialog's
    /// own checks ([`ChannelError::Dialog`]), [`ChannelError::MessageTooLarge`],
    /// [`ChannelError::QueueFull`] (after waiting, under `Wait`), and transport errors. Nothing
    /// is recorded or published when an error is returned before publishing.
    pub async fn send(&self, message: &Message) -> Result<Sent, ChannelError> {
        if message.dialog != self.id {
            return Err(ChannelError::WrongDialog {
                expected: self.id,
                got: message.dialog,
            });
        }
        loop {
            match self.try_commit(message)? {
                Ok(outgoing) => return self.publish(outgoing).await,
                Err(full) => {
                    let QueueFullPolicy::Wait(limit) = self.config.on_full else {
                        return Err(full.error());
                    };
                    if !full.mailbox.wait_for_room(limit).await {
                        return Err(full.error());
                    }
                }
            }
        }
    }

    /// Decides and records a turn, or reports the first full mailbox; no await inside.
    fn try_commit(&self, message: &Message) -> Result<Result<Outgoing, Full>, ChannelError> {
        let mut router = lock(&self.router);
        let plan = router.plan(message, &self.participants)?;
        let mut record = lock(&self.record);
        let events = record.dialog.decide(DialogCommand::TakeTurn {
            from: message.from,
            strategy: message.strategy.clone(),
            priority: message.priority,
            content: message.content.clone(),
            recipients: plan.recipients.clone(),
            context: message.context.clone(),
        })?;
        let seq = u32::try_from(record.dialog.turns.len() + 1).unwrap_or(u32::MAX);
        let max = self
            .config
            .max_message_bytes
            .min(self.transport.max_payload());
        let queue = router.config().offline == OfflinePolicy::Queue;
        let mut outgoing = Outgoing {
            seq,
            now: Vec::with_capacity(plan.recipients.len()),
            held: Vec::new(),
        };
        // Recipients allowed the same context share one encoded payload.
        let mut encoded: Vec<(DialogContext, Bytes)> = Vec::new();
        let dialog_token = self.id.to_string();
        for &to in &plan.recipients {
            let Some(agent) = router.agent(to) else {
                continue;
            };
            let online = agent.presence == Presence::Online;
            if online && let Some(mailbox) = self.mailboxes.get(&to).filter(|m| m.is_full()) {
                return Ok(Err(Full {
                    mailbox: Arc::clone(mailbox),
                }));
            }
            if !online
                && queue
                && record.held.get(&to).map_or(0, VecDeque::len) >= self.config.queue_capacity
            {
                return Err(ChannelError::QueueFull {
                    agent: to,
                    capacity: self.config.queue_capacity,
                });
            }
            let context = self.config.filter.for_recipient(&message.context, agent);
            let payload = match encoded.iter().find(|(seen, _)| *seen == context) {
                Some((_, payload)) => payload.clone(),
                None => {
                    let delivery = Delivery {
                        dialog: self.id,
                        seq,
                        from: message.from,
                        to,
                        strategy: message.strategy.clone(),
                        priority: message.priority,
                        content: message.content.clone(),
                        context,
                    };
                    let payload = Bytes::from(serde_json::to_vec(&delivery)?);
                    if payload.len() > max {
                        return Err(ChannelError::MessageTooLarge {
                            size: payload.len(),
                            max,
                        });
                    }
                    encoded.push((delivery.context, payload.clone()));
                    payload
                }
            };
            let subject = dialog_inbox(&dialog_token, &to.to_string())?;
            if online {
                outgoing.now.push((to, subject, payload));
            } else {
                outgoing.held.push((to, subject, payload));
            }
        }
        router.commit(message.dialog, plan.counters);
        for event in events {
            record.dialog.apply_event(event.clone());
            record.events.push(event);
        }
        for (to, subject, payload) in &outgoing.held {
            record
                .held
                .entry(*to)
                .or_default()
                .push_back((subject.clone(), payload.clone()));
        }
        Ok(Ok(outgoing))
    }

    async fn publish(&self, outgoing: Outgoing) -> Result<Sent, ChannelError> {
        let mut delivered = Vec::with_capacity(outgoing.now.len());
        for (to, subject, payload) in outgoing.now {
            self.transport.publish(&subject, payload).await?;
            delivered.push(to);
        }
        Ok(Sent {
            seq: outgoing.seq,
            delivered,
            held: outgoing.held.into_iter().map(|(to, _, _)| to).collect(),
        })
    }

    /// Records `agent`'s presence in the router and, when it comes online, publishes what was
    /// held for it; returns how many held deliveries were published.
    ///
    /// # Errors
    /// Transport errors; deliveries not yet published stay held.
    pub async fn set_presence(
        &self,
        agent: AgentId,
        presence: Presence,
    ) -> Result<usize, ChannelError> {
        lock(&self.router).set_presence(agent, presence);
        if presence == Presence::Offline {
            return Ok(0);
        }
        let mut published = 0;
        loop {
            let next = lock(&self.record)
                .held
                .get_mut(&agent)
                .and_then(VecDeque::pop_front);
            let Some((subject, payload)) = next else {
                return Ok(published);
            };
            if let Err(error) = self.transport.publish(&subject, payload.clone()).await {
                lock(&self.record)
                    .held
                    .entry(agent)
                    .or_default()
                    .push_front((subject, payload));
                return Err(error.into());
            }
            published += 1;
        }
    }

    /// Deliveries held for an offline agent.
    pub fn held(&self, agent: AgentId) -> usize {
        lock(&self.record).held.get(&agent).map_or(0, VecDeque::len)
    }

    /// Closes the dialog (recorded as `Closed`) and forgets its router counters.
    ///
    /// # Errors
    /// [`ChannelError::Dialog`] when it is already closed.
    pub fn close(&self, reason: impl Into<String>) -> Result<(), ChannelError> {
        let mut record = lock(&self.record);
        for event in record.dialog.decide(DialogCommand::Close {
            reason: reason.into(),
        })? {
            record.dialog.apply_event(event.clone());
            record.events.push(event);
        }
        lock(&self.router).forget_dialog(self.id);
        Ok(())
    }
}

struct Outgoing {
    seq: u32,
    now: Vec<(AgentId, String, Bytes)>,
    held: Vec<(AgentId, String, Bytes)>,
}

struct Full {
    mailbox: Arc<Mailbox>,
}

impl Full {
    fn error(&self) -> ChannelError {
        ChannelError::QueueFull {
            agent: self.mailbox.agent(),
            capacity: self.mailbox.capacity(),
        }
    }
}
