//! [`KnowledgeReplica`]: one agent's replica on the network. It bootstraps from the store,
//! announces itself, answers sync messages through the [`SyncEngine`], stores its own changes,
//! and runs the periodic re-sync. Generic over the transport and the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use cim_domain_agent::AgentId;
use futures::StreamExt;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use super::bootstrap::{RecoveryReport, bootstrap, compact};
use super::conflict::{Candidate, ConsensusHook, Resolution, ResolutionStrategy};
use super::document::{Assertion, LocalChange, SharedKnowledge};
use super::error::KnowledgeError;
use super::model::{ConsensusState, Fact, FactId, Topic};
use super::store::KnowledgeStore;
use super::subjects::KnowledgeSubjects;
use super::sync::{Outgoing, PeerHealth, SyncEngine, SyncPolicy, SyncStats};
use super::wire::{Hello, WireMessage};
use crate::transport::{Subscription, Transport};

/// A monotonic clock in milliseconds: the only time the sync engine sees.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since an arbitrary fixed start; never decreases.
    fn now_ms(&self) -> u64;
}

/// [`Clock`] over [`std::time::Instant`].
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock(Instant);

impl Default for MonotonicClock {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Clock for MonotonicClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Settings of a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// The loss-recovery rules.
    pub policy: SyncPolicy,
    /// How often the periodic check runs (re-sync due, retry of unstored changes).
    pub tick: Duration,
    /// How often the replica announces itself. Keep it well under
    /// [`SyncPolicy::peer_timeout_ms`], or quiet peers are taken for gone between hellos.
    pub hello_every: Duration,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        Self {
            policy: SyncPolicy::default(),
            tick: Duration::from_millis(100),
            hello_every: Duration::from_secs(1),
        }
    }
}

struct State {
    knowledge: SharedKnowledge,
    engine: SyncEngine,
    unstored: Vec<LocalChange>,
    last_hello_ms: u64,
    last_heads: Vec<automerge::ChangeHash>,
}

struct Shared<T, S> {
    agent: AgentId,
    incarnation: u64,
    transport: T,
    store: S,
    subjects: KnowledgeSubjects,
    clock: Arc<dyn Clock>,
    config: ReplicaConfig,
    state: Mutex<State>,
    malformed: AtomicU64,
    version: watch::Sender<u64>,
}

/// One agent's replica of the shared knowledge, kept in sync with its peers over `T` and
/// durable in `S`. Dropping it stops its background task.
pub struct KnowledgeReplica<T: Transport, S: KnowledgeStore> {
    shared: Arc<Shared<T, S>>,
    task: JoinHandle<()>,
    report: RecoveryReport,
}

impl<T: Transport, S: KnowledgeStore> Drop for KnowledgeReplica<T, S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T: Transport, S: KnowledgeStore> KnowledgeReplica<T, S> {
    /// Starts `agent`'s replica: bootstraps from `store` (snapshot + tail), subscribes to its
    /// sync inbox and the space's hellos, announces itself and runs the sync loop.
    ///
    /// # Errors
    /// [`KnowledgeError::Store`] when the store cannot be read; [`KnowledgeError::Transport`]
    /// when the subscriptions are refused.
    pub async fn start(
        agent: AgentId,
        transport: T,
        store: S,
        subjects: KnowledgeSubjects,
        config: ReplicaConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KnowledgeError> {
        let incarnation = u64::from_be_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8]
                .try_into()
                .unwrap_or([0; 8]),
        );
        let (knowledge, report) = bootstrap(&store, agent, incarnation).await?;
        if report.found_corruption() {
            tracing::warn!(?report, "knowledge bootstrap found corrupt records");
        }
        let inbox = transport.subscribe(&subjects.sync_inbox(agent)).await?;
        let hellos = transport.subscribe(&subjects.hello_filter()).await?;
        let shared = Arc::new(Shared {
            agent,
            incarnation,
            transport,
            store,
            subjects,
            clock,
            config,
            state: Mutex::new(State {
                knowledge,
                engine: SyncEngine::new(agent, incarnation, config.policy),
                unstored: Vec::new(),
                last_hello_ms: 0,
                last_heads: Vec::new(),
            }),
            malformed: AtomicU64::new(0),
            version: watch::Sender::new(0),
        });
        shared.transport.flush().await?;
        shared.hello().await;
        let task = tokio::spawn(run(Arc::clone(&shared), inbox, hellos));
        Ok(Self {
            shared,
            task,
            report,
        })
    }

    /// The agent this replica belongs to.
    pub fn agent(&self) -> AgentId {
        self.shared.agent
    }

    /// What the bootstrap found in the store.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// Reads the local replica.
    pub async fn read<R>(&self, f: impl FnOnce(&mut SharedKnowledge) -> R) -> R {
        f(&mut self.shared.state.lock().await.knowledge)
    }

    /// The current heads.
    pub async fn heads(&self) -> Vec<automerge::ChangeHash> {
        self.read(SharedKnowledge::heads).await
    }

    /// The sync counters.
    pub async fn stats(&self) -> SyncStats {
        self.shared.state.lock().await.engine.stats()
    }

    /// Known peers and their health.
    pub async fn peers(&self) -> Vec<(AgentId, PeerHealth)> {
        self.shared.state.lock().await.engine.peers()
    }

    /// A receiver that sees a new number whenever this replica's document changed (a local
    /// write or a peer's changes merged): wait on it instead of polling.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.shared.version.subscribe()
    }

    /// Messages that arrived malformed and were dropped.
    pub fn malformed(&self) -> u64 {
        self.shared.malformed.load(Ordering::Relaxed)
    }

    /// Changes not yet confirmed by the store (retried every tick).
    pub async fn unstored(&self) -> usize {
        self.shared.state.lock().await.unstored.len()
    }

    async fn write<R>(
        &self,
        f: impl FnOnce(&mut SharedKnowledge) -> Result<(R, Option<LocalChange>), KnowledgeError>,
    ) -> Result<R, KnowledgeError> {
        let (result, change, outgoing) = {
            let mut state = self.shared.state.lock().await;
            let State {
                knowledge, engine, ..
            } = &mut *state;
            let (result, change) = f(knowledge)?;
            let outgoing = if change.is_some() {
                engine.local_change(knowledge)
            } else {
                Vec::new()
            };
            (result, change, outgoing)
        };
        self.shared.send(outgoing).await;
        if change.is_some() {
            self.shared.version.send_modify(|v| *v += 1);
        }
        if let Some(change) = change {
            self.shared.store_change(change).await;
        }
        Ok(result)
    }

    /// Asserts a fact as this agent (see [`SharedKnowledge::assert_fact`]).
    ///
    /// # Errors
    /// As [`SharedKnowledge::assert_fact`].
    pub async fn assert_fact(
        &self,
        assertion: Assertion,
        at: DateTime<Utc>,
    ) -> Result<Fact, KnowledgeError> {
        self.write(|k| k.assert_fact(assertion, at).map(|(f, c)| (f, Some(c))))
            .await
    }

    /// Retracts a fact (see [`SharedKnowledge::retract`]); whether it existed.
    ///
    /// # Errors
    /// As [`SharedKnowledge::retract`].
    pub async fn retract(&self, id: &FactId, at: DateTime<Utc>) -> Result<bool, KnowledgeError> {
        self.write(|k| k.retract(id, at).map(|c| (c.is_some(), c)))
            .await
    }

    /// Records this agent's belief (see [`SharedKnowledge::believe`]).
    ///
    /// # Errors
    /// As [`SharedKnowledge::believe`].
    pub async fn believe(
        &self,
        fact: &FactId,
        confidence: f64,
        verified: bool,
        at: DateTime<Utc>,
    ) -> Result<(), KnowledgeError> {
        self.write(|k| {
            k.believe(fact, confidence, verified, at)
                .map(|c| ((), Some(c)))
        })
        .await
    }

    /// Records a topic's consensus state (see [`SharedKnowledge::record_consensus`]).
    ///
    /// # Errors
    /// As [`SharedKnowledge::record_consensus`].
    pub async fn record_consensus(
        &self,
        topic: &Topic,
        state: ConsensusState,
        at: DateTime<Utc>,
    ) -> Result<(), KnowledgeError> {
        self.write(|k| k.record_consensus(topic, state, at).map(|c| ((), Some(c))))
            .await
    }

    /// Resolves a conflict (see [`SharedKnowledge::resolve_conflict`]); a chosen value is
    /// settled (written back) at once.
    ///
    /// # Errors
    /// As [`SharedKnowledge::resolve_conflict`].
    pub async fn resolve_conflict(
        &self,
        fact: &FactId,
        strategy: ResolutionStrategy,
        hook: &mut (dyn ConsensusHook + Send),
        at: DateTime<Utc>,
    ) -> Result<Option<Resolution>, KnowledgeError> {
        self.write(|k| match k.resolve_conflict(fact, strategy, hook, at)? {
            None => Ok((None, None)),
            Some((Resolution::Chosen(candidate), _)) => {
                let change = k.settle(&candidate, at)?;
                Ok((Some(Resolution::Chosen(candidate)), Some(change)))
            }
            Some((resolution, change)) => Ok((Some(resolution), change)),
        })
        .await
    }

    /// Writes `chosen` back as the fact's one value (see [`SharedKnowledge::settle`]).
    ///
    /// # Errors
    /// As [`SharedKnowledge::settle`].
    pub async fn settle(
        &self,
        chosen: &Candidate,
        at: DateTime<Utc>,
    ) -> Result<(), KnowledgeError> {
        self.write(|k| k.settle(chosen, at).map(|c| ((), Some(c))))
            .await
    }

    /// Stores a new snapshot covering everything stored so far (see
    /// [`super::bootstrap::compact`]); returns the sequence it covers.
    ///
    /// # Errors
    /// [`KnowledgeError::Store`].
    pub async fn compact(&self) -> Result<u64, KnowledgeError> {
        let mut state = self.shared.state.lock().await;
        compact(&self.shared.store, &mut state.knowledge).await
    }
}

impl<T: Transport, S: KnowledgeStore> Shared<T, S> {
    async fn send(&self, outgoing: Vec<Outgoing>) {
        for message in outgoing {
            let subject = self.subjects.sync(message.from, message.to);
            if let Err(error) = self
                .transport
                .publish(&subject, Bytes::from(message.encode()))
                .await
            {
                tracing::warn!(%error, "knowledge sync message not sent");
            }
        }
    }

    async fn store_change(&self, change: LocalChange) {
        if let Err(error) = self.store.append(self.agent, &change).await {
            tracing::warn!(%error, "knowledge change not stored yet; will retry");
            self.state.lock().await.unstored.push(change);
        }
    }

    async fn hello(&self) {
        let heads = {
            let mut state = self.state.lock().await;
            state.last_hello_ms = self.clock.now_ms();
            state.knowledge.heads()
        };
        let hello = Hello {
            from: self.agent,
            incarnation: self.incarnation,
            heads,
        };
        if let Err(error) = self
            .transport
            .publish(
                &self.subjects.hello(self.agent),
                Bytes::from(hello.encode()),
            )
            .await
        {
            tracing::warn!(%error, "knowledge hello not sent");
        }
    }

    async fn on_message(&self, payload: &[u8]) {
        let message = match WireMessage::decode(payload) {
            Ok(message) => message,
            Err(error) => {
                self.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "malformed knowledge message dropped");
                return;
            }
        };
        let now = self.clock.now_ms();
        let outgoing = {
            let mut state = self.state.lock().await;
            let State {
                knowledge, engine, ..
            } = &mut *state;
            match message {
                WireMessage::Hello(hello) => {
                    engine.peer_seen(knowledge, hello.from, hello.incarnation, now)
                }
                WireMessage::Sync(sync) => match engine.receive(knowledge, &sync, now) {
                    Ok(answer) => {
                        let heads = knowledge.heads();
                        if heads != state.last_heads {
                            state.last_heads = heads;
                            self.version.send_modify(|v| *v += 1);
                        }
                        answer
                    }
                    Err(error) => {
                        self.malformed.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%error, "knowledge sync message refused");
                        None
                    }
                },
            }
        };
        self.send(outgoing.into_iter().collect()).await;
    }

    async fn on_tick(&self) {
        let now = self.clock.now_ms();
        let (outgoing, unstored, hello_due) = {
            let mut state = self.state.lock().await;
            let State {
                knowledge, engine, ..
            } = &mut *state;
            let outgoing = engine.tick(knowledge, now);
            let unstored = std::mem::take(&mut state.unstored);
            let hello_every =
                u64::try_from(self.config.hello_every.as_millis()).unwrap_or(u64::MAX);
            let hello_due = now.saturating_sub(state.last_hello_ms) >= hello_every;
            (outgoing, unstored, hello_due)
        };
        self.send(outgoing).await;
        for change in unstored {
            self.store_change(change).await;
        }
        if hello_due {
            self.hello().await;
        }
    }
}

async fn run<T: Transport, S: KnowledgeStore>(
    shared: Arc<Shared<T, S>>,
    mut inbox: Subscription,
    mut hellos: Subscription,
) {
    let mut ticker = tokio::time::interval(shared.config.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = inbox.next() => match message {
                Some(envelope) => shared.on_message(&envelope.payload).await,
                None => break,
            },
            message = hellos.next() => match message {
                Some(envelope) => shared.on_message(&envelope.payload).await,
                None => break,
            },
            _ = ticker.tick() => shared.on_tick().await,
        }
    }
}
