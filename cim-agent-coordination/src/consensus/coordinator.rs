//! The coordinator: opens proposals, collects votes and vetoes over a [`Transport`], decides
//! through the [`Proposal`] aggregate on any cqrs-es event store, and publishes outcomes.
//!
//! The coordinator holds no state of its own that matters: every accepted vote is an event in
//! the store before its receipt is sent, so a restarted coordinator (same store) continues
//! where the last one stopped. The only in-memory state is the set of proposals the deadline
//! driver watches, refilled by [`Coordinator::track`] and by every vote that arrives.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventStore};
use futures::StreamExt;
use serde::Serialize;
use thiserror::Error;
use tokio::task::JoinHandle;

use super::clock::Clock;
use super::command::ProposalCommand;
use super::error::{ProposalError, Refusal};
use super::event::ProposalEvent;
use super::ids::{ProposalId, ProposalSubject};
use super::proposal::Proposal;
use super::rules::{Electorate, Rules};
use super::wire::{
    Announcement, Ballot, OutcomeMessage, Receipt, VETOES_FILTER, VOTES_FILTER, opened_subject,
    outcome_subject, read_ballot,
};
use crate::transport::{Envelope, Transport, TransportError};

/// Queue group of coordinators: several coordinators on one bus share the votes, so they must
/// share one event store (its optimistic concurrency keeps them consistent); a coordinator on
/// another store would receive votes for proposals it does not know and refuse them.
pub const QUEUE_GROUP: &str = "cim-consensus-coordinator";

/// How often a command is retried when another writer committed first.
const CONFLICT_RETRIES: usize = 8;

/// What went wrong in the coordinator.
#[derive(Debug, Error)]
pub enum CoordinatorError {
    /// The aggregate refused the command.
    #[error(transparent)]
    Proposal(#[from] ProposalError),
    /// The event store failed.
    #[error("event store: {0}")]
    Store(String),
    /// Other writers kept committing first.
    #[error("proposal {0}: gave up after repeated write conflicts")]
    Conflict(ProposalId),
    /// Publishing or subscribing failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A message could not be encoded.
    #[error("encoding: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Counters of what the coordinator handled, for logs and tests.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    refused: AtomicU64,
    malformed: AtomicU64,
    failed: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Votes and vetoes recorded.
    pub accepted: u64,
    /// Votes and vetoes the aggregate refused (typed errors).
    pub refused: u64,
    /// Messages that could not be read (oversized, malformed, wrong subject or agent).
    pub malformed: u64,
    /// Messages the store could not record.
    pub failed: u64,
}

struct Inner<T, ES> {
    transport: T,
    store: ES,
    clock: Arc<dyn Clock>,
    watched: Mutex<BTreeSet<ProposalId>>,
    counters: Counters,
}

/// Opens, collects, decides and publishes. Cheap to clone (one shared state).
pub struct Coordinator<T, ES> {
    inner: Arc<Inner<T, ES>>,
}

impl<T, ES> Clone for Coordinator<T, ES> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// A running vote collector; dropping it (or [`ServeHandle::stop`]) stops it.
pub struct ServeHandle {
    task: JoinHandle<()>,
}

impl ServeHandle {
    /// Stops collecting (like a crash: nothing is flushed, nothing is needed).
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn store_error(error: AggregateError<ProposalError>) -> CoordinatorError {
    match error {
        AggregateError::UserError(e) => CoordinatorError::Proposal(e),
        other => CoordinatorError::Store(other.to_string()),
    }
}

impl<T, ES> Coordinator<T, ES>
where
    T: Transport,
    ES: EventStore<Proposal> + 'static,
    ES::AC: Send,
{
    /// A coordinator publishing on `transport`, keeping proposals in `store`, reading time from
    /// `clock`.
    pub fn new(transport: T, store: ES, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport,
                store,
                clock,
                watched: Mutex::new(BTreeSet::new()),
                counters: Counters::default(),
            }),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        Stats {
            accepted: c.accepted.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            malformed: c.malformed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }

    /// The proposal as stored now.
    ///
    /// # Errors
    /// [`CoordinatorError::Store`] when the store cannot load it.
    pub async fn load(&self, proposal: ProposalId) -> Result<Proposal, CoordinatorError> {
        let mut context = self
            .inner
            .store
            .load_aggregate(&proposal.to_string())
            .await
            .map_err(store_error)?;
        Ok(context.aggregate().clone())
    }

    /// Runs `command` through the aggregate and commits its events, retrying on write
    /// conflicts; publishes the outcome when the events decide the proposal. Returns the events.
    ///
    /// # Errors
    /// [`CoordinatorError::Proposal`] when refused, [`CoordinatorError::Store`] or
    /// [`CoordinatorError::Conflict`] when it cannot be stored, transport errors when the
    /// outcome cannot be published (it is stored nonetheless).
    pub async fn execute(
        &self,
        proposal: ProposalId,
        command: ProposalCommand,
    ) -> Result<Vec<ProposalEvent>, CoordinatorError> {
        let id = proposal.to_string();
        for _ in 0..CONFLICT_RETRIES {
            let mut context = self
                .inner
                .store
                .load_aggregate(&id)
                .await
                .map_err(store_error)?;
            let sink = EventSink::default();
            context
                .aggregate()
                .handle(command.clone(), &(), &sink)
                .await?;
            let events = sink.collect().await;
            if events.is_empty() {
                return Ok(events);
            }
            match self
                .inner
                .store
                .commit(events.clone(), context, HashMap::new())
                .await
            {
                Ok(_) => {
                    self.after_commit(proposal, &events).await?;
                    return Ok(events);
                }
                Err(AggregateError::AggregateConflict) => continue,
                Err(other) => return Err(store_error(other)),
            }
        }
        Err(CoordinatorError::Conflict(proposal))
    }

    async fn after_commit(
        &self,
        proposal: ProposalId,
        events: &[ProposalEvent],
    ) -> Result<(), CoordinatorError> {
        for event in events {
            if let ProposalEvent::Decided {
                proposal,
                subject,
                outcome,
                tally,
                at,
            } = event
            {
                self.unwatch(*proposal);
                let message = OutcomeMessage {
                    proposal: *proposal,
                    subject: subject.clone(),
                    outcome: *outcome,
                    tally: *tally,
                    at: *at,
                };
                tracing::info!(%proposal, ?outcome, "consensus decided");
                self.publish(&outcome_subject(*proposal), &message).await?;
                return Ok(());
            }
        }
        self.watch(proposal);
        Ok(())
    }

    async fn publish(
        &self,
        subject: &str,
        message: &impl Serialize,
    ) -> Result<(), CoordinatorError> {
        let payload = Bytes::from(serde_json::to_vec(message)?);
        self.inner.transport.publish(subject, payload).await?;
        Ok(())
    }

    fn watch(&self, proposal: ProposalId) {
        self.inner
            .watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(proposal);
    }

    fn unwatch(&self, proposal: ProposalId) {
        self.inner
            .watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&proposal);
    }

    /// Adds a proposal to those the deadline driver closes (after a restart, for proposals no
    /// vote has touched yet).
    pub fn track(&self, proposal: ProposalId) {
        self.watch(proposal);
    }

    /// The proposals the deadline driver watches.
    pub fn watched(&self) -> Vec<ProposalId> {
        self.inner
            .watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }

    /// Opens a proposal now and announces it on `cim.consensus.<proposal>.opened`.
    ///
    /// # Errors
    /// As [`Coordinator::execute`]: invalid rules and a second opening are refused.
    pub async fn open(
        &self,
        proposal: ProposalId,
        subject: ProposalSubject,
        electorate: Electorate,
        rules: Rules,
    ) -> Result<Announcement, CoordinatorError> {
        let now = self.inner.clock.now();
        let events = self
            .execute(
                proposal,
                ProposalCommand::Open {
                    proposal,
                    subject,
                    electorate,
                    rules,
                    now,
                },
            )
            .await?;
        let Some(ProposalEvent::Opened {
            proposal,
            subject,
            electorate,
            rules,
            voting_opens_at,
            deadline,
            ..
        }) = events.into_iter().next()
        else {
            return Err(CoordinatorError::Store("opening produced no event".into()));
        };
        let announcement = Announcement {
            proposal,
            subject,
            electorate,
            rules,
            voting_opens_at,
            deadline,
        };
        self.publish(&opened_subject(proposal), &announcement)
            .await?;
        self.inner.transport.flush().await?;
        Ok(announcement)
    }

    /// Withdraws a proposal.
    ///
    /// # Errors
    /// As [`Coordinator::execute`].
    pub async fn cancel(&self, proposal: ProposalId, reason: &str) -> Result<(), CoordinatorError> {
        let now = self.inner.clock.now();
        self.execute(
            proposal,
            ProposalCommand::Cancel {
                reason: reason.to_owned(),
                now,
            },
        )
        .await
        .map(drop)
    }

    /// Sends every watched proposal a `Tick` at the clock's time: closes those past their
    /// deadline, enforces passes whose time lock ended. Returns the proposals decided now.
    ///
    /// # Errors
    /// The first store or transport error (the other proposals are still ticked).
    pub async fn tick(&self) -> Result<Vec<ProposalId>, CoordinatorError> {
        let now = self.inner.clock.now();
        let mut decided = Vec::new();
        let mut first_error = None;
        for proposal in self.watched() {
            match self.execute(proposal, ProposalCommand::Tick { now }).await {
                Ok(events) => {
                    if events
                        .iter()
                        .any(|e| matches!(e, ProposalEvent::Decided { .. }))
                    {
                        decided.push(proposal);
                    }
                }
                Err(CoordinatorError::Proposal(ProposalError::NotOpened)) => {
                    self.unwatch(proposal);
                }
                Err(error) => {
                    tracing::warn!(%proposal, %error, "deadline tick failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(decided),
        }
    }

    /// Subscribes (queue group [`QUEUE_GROUP`]) to every vote and veto and handles them in a
    /// task until the handle is dropped. Subscriptions are in place when this returns.
    ///
    /// # Errors
    /// Transport errors while subscribing.
    pub async fn serve(&self) -> Result<ServeHandle, CoordinatorError> {
        let votes = self
            .inner
            .transport
            .queue_subscribe(VOTES_FILTER, QUEUE_GROUP)
            .await?;
        let vetoes = self
            .inner
            .transport
            .queue_subscribe(VETOES_FILTER, QUEUE_GROUP)
            .await?;
        self.inner.transport.flush().await?;
        let mut incoming = futures::stream::select(votes, vetoes);
        let me = self.clone();
        let task = tokio::spawn(async move {
            while let Some(envelope) = incoming.next().await {
                me.handle(envelope).await;
            }
        });
        Ok(ServeHandle { task })
    }

    /// Handles one incoming message; never fails, never panics: every message ends counted
    /// (accepted, refused, malformed or failed) and, when it asked for one, answered.
    pub async fn handle(&self, envelope: Envelope) {
        let counters = &self.inner.counters;
        let receipt = match read_ballot(&envelope) {
            Err(error) => {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(subject = %envelope.subject, %error, "malformed consensus message");
                Receipt::Refused {
                    refusal: Refusal::Malformed,
                }
            }
            Ok(ballot) => {
                let proposal = ballot.proposal();
                let now = self.inner.clock.now();
                let command = match ballot {
                    Ballot::Vote(_, vote) => ProposalCommand::Vote {
                        voter: vote.voter,
                        choice: vote.choice,
                        now,
                    },
                    Ballot::Veto(_, veto) => ProposalCommand::Veto {
                        by: veto.by,
                        reason: veto.reason,
                        now,
                    },
                };
                match self.execute(proposal, command).await {
                    Ok(_) => {
                        counters.accepted.fetch_add(1, Ordering::Relaxed);
                        Receipt::Accepted
                    }
                    Err(CoordinatorError::Proposal(error)) => {
                        counters.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%proposal, %error, "ballot refused");
                        Receipt::Refused {
                            refusal: Refusal::from(&error),
                        }
                    }
                    Err(error) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%proposal, %error, "ballot not recorded");
                        Receipt::Refused {
                            refusal: Refusal::Unavailable,
                        }
                    }
                }
            }
        };
        if let Some(reply) = envelope.reply {
            match serde_json::to_vec(&receipt) {
                Ok(bytes) => {
                    if let Err(error) = self
                        .inner
                        .transport
                        .publish(&reply, Bytes::from(bytes))
                        .await
                    {
                        tracing::warn!(%error, "could not send a ballot receipt");
                    }
                }
                Err(error) => tracing::warn!(%error, "could not encode a ballot receipt"),
            }
        }
    }

    /// Spawns the deadline driver: [`Coordinator::tick`] every `period` until the handle is
    /// dropped or aborted.
    pub fn spawn_deadline_driver(&self, period: Duration) -> ServeHandle {
        let me = self.clone();
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if let Err(error) = me.tick().await {
                    tracing::warn!(%error, "deadline driver tick failed");
                }
            }
        });
        ServeHandle { task }
    }
}
