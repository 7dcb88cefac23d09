//! A small aggregate whose `apply` is not idempotent (a running total and a history), so any
//! event applied twice or skipped shows up in equality checks.
#![allow(dead_code)] // each test file uses a different part of this module

use std::collections::HashMap;

use cim_jetstream::testing::NatsServer;
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore, SerializedEvent};
use cqrs_es::{Aggregate, CqrsFramework, DomainEvent, EventEnvelope, EventStore, View};
use serde::{Deserialize, Serialize};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub total: i64,
    pub history: Vec<i64>,
}

#[derive(Debug, Clone)]
pub enum LedgerCommand {
    /// One event per amount, all in one commit.
    Add(Vec<i64>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum LedgerEvent {
    Added { amount: i64 },
}

impl DomainEvent for LedgerEvent {
    fn event_type(&self) -> String {
        "Added".to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("ledger error: {0}")]
pub struct LedgerError(pub String);

impl Aggregate for Ledger {
    const TYPE: &'static str = "ledger";
    type Command = LedgerCommand;
    type Event = LedgerEvent;
    type Error = LedgerError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _service: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            LedgerCommand::Add(amounts) => {
                if amounts.is_empty() {
                    return Err(LedgerError("nothing to add".to_string()));
                }
                for amount in amounts {
                    sink.write(LedgerEvent::Added { amount }, self).await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            LedgerEvent::Added { amount } => {
                self.total += amount;
                self.history.push(amount);
            }
        }
    }
}

/// A view counting events and summing amounts per ledger.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerSummary {
    pub events: usize,
    pub sum: i64,
    pub last_sequence: usize,
}

impl View<Ledger> for LedgerSummary {
    fn update(&mut self, event: &EventEnvelope<Ledger>) {
        let LedgerEvent::Added { amount } = event.payload;
        self.events += 1;
        self.sum += amount;
        self.last_sequence = event.sequence;
    }
}

/// Serialized `Added` events for `aggregate_id` with sequences `first..first+amounts.len()`.
pub fn added_events(aggregate_id: &str, first: usize, amounts: &[i64]) -> Vec<SerializedEvent> {
    amounts
        .iter()
        .enumerate()
        .map(|(offset, amount)| SerializedEvent {
            aggregate_id: aggregate_id.to_string(),
            sequence: first + offset,
            aggregate_type: Ledger::TYPE.to_string(),
            event_type: "Added".to_string(),
            event_version: "1".to_string(),
            payload: serde_json::json!({"type": "Added", "amount": amount}),
            metadata: serde_json::to_value(HashMap::<String, String>::new()).unwrap_or_default(),
        })
        .collect()
}

/// A fresh server and a repository on it with the default configuration.
pub async fn server_and_repo()
-> Result<(NatsServer, JetStreamEventRepository), Box<dyn std::error::Error>> {
    let server = NatsServer::start().await?;
    let repo = JetStreamEventRepository::connect(&server.url(), JetStreamConfig::default()).await?;
    Ok((server, repo))
}

/// The amounts of serialized `Added` events, in order.
pub fn amounts(events: &[SerializedEvent]) -> Vec<i64> {
    events
        .iter()
        .filter_map(|e| e.payload.get("amount").and_then(serde_json::Value::as_i64))
        .collect()
}

pub fn sequences(events: &[SerializedEvent]) -> Vec<usize> {
    events.iter().map(|e| e.sequence).collect()
}

/// A varied, deterministic command script: commits of one to four events.
pub fn script() -> Vec<Vec<i64>> {
    (0..30_i64)
        .map(|i| (0..(i % 4 + 1)).map(|j| i * 7 - j * 3 + 1).collect())
        .collect()
}

/// The aggregate built by applying every event once, in order, in memory.
pub fn incremental(script: &[Vec<i64>]) -> Ledger {
    let mut ledger = Ledger::default();
    for amount in script.iter().flatten() {
        ledger.apply(LedgerEvent::Added { amount: *amount });
    }
    ledger
}

/// Executes one `Add` command per commit of `script` on aggregate `id`.
pub async fn run_script<S: EventStore<Ledger>>(
    store: S,
    id: &str,
    script: &[Vec<i64>],
) -> TestResult {
    let cqrs = CqrsFramework::new(store, vec![], ());
    for amounts in script {
        cqrs.execute(id, LedgerCommand::Add(amounts.clone()))
            .await?;
    }
    Ok(())
}

/// Runs [`script`] through an event store, a snapshot store (every 4 events) and an aggregate
/// store, each on its own `(repository, id)`, and checks that all three load, and all their
/// stored events replay to, the aggregate [`incremental`] application builds, and that both
/// snapshot modes really loaded from a snapshot (this is not three full replays).
pub async fn assert_store_modes_agree<R>(
    [(full, full_id), (snap, snap_id), (aggr, aggr_id)]: [(&R, &str); 3],
) -> TestResult
where
    R: PersistedEventRepository + Clone,
{
    let script = script();
    let expected = incremental(&script);
    let events: usize = script.iter().map(Vec::len).sum();
    let event_store = || PersistedEventStore::<R, Ledger>::new_event_store(full.clone());
    let snapshot_store = || PersistedEventStore::<R, Ledger>::new_snapshot_store(snap.clone(), 4);
    let aggregate_store = || PersistedEventStore::<R, Ledger>::new_aggregate_store(aggr.clone());
    run_script(event_store(), full_id, &script).await?;
    run_script(snapshot_store(), snap_id, &script).await?;
    run_script(aggregate_store(), aggr_id, &script).await?;

    let from_full = event_store().load_aggregate(full_id).await?;
    let from_snap = snapshot_store().load_aggregate(snap_id).await?;
    let from_aggr = aggregate_store().load_aggregate(aggr_id).await?;
    assert_eq!(from_full.aggregate, expected, "full replay");
    assert_eq!(from_snap.aggregate, expected, "snapshot + tail");
    assert_eq!(from_aggr.aggregate, expected, "aggregate snapshots");
    for context in [&from_full, &from_snap, &from_aggr] {
        assert_eq!(context.current_sequence, events);
    }
    assert!(
        from_snap.current_snapshot.is_some_and(|v| v > 1),
        "{:?}",
        from_snap.current_snapshot
    );
    assert!(
        from_aggr.current_snapshot.is_some_and(|v| v > 1),
        "{:?}",
        from_aggr.current_snapshot
    );

    for (repo, id) in [(full, full_id), (snap, snap_id), (aggr, aggr_id)] {
        let mut replayed = Ledger::default();
        for event in repo.get_events::<Ledger>(id).await? {
            replayed.apply(serde_json::from_value(event.payload)?);
        }
        assert_eq!(replayed, expected, "{id}");
    }
    Ok(())
}
