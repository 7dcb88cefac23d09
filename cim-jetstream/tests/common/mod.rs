//! A small aggregate whose `apply` is not idempotent (a running total and a history), so any
//! event applied twice or skipped shows up in equality checks.
#![allow(dead_code)] // each test file uses a different part of this module

use std::collections::HashMap;

use cim_jetstream::testing::NatsServer;
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, DomainEvent, EventEnvelope, View};
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
