//! Criterion bench of the JetStream event store against a real local `nats-server`
//! (`. scripts/install-test-tools` first): sequential checked appends to one aggregate,
//! pipelined appends across many aggregates, and loading a 1,000-event aggregate.
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cim_jetstream::testing::NatsServer;
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository, JetStreamEventStore};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, DomainEvent, EventStore};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    total: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum CounterEvent {
    Added { amount: i64 },
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> String {
        "Added".to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

impl Aggregate for Counter {
    const TYPE: &'static str = "counter";
    type Command = i64;
    type Event = CounterEvent;
    type Error = Infallible;
    type Services = ();

    async fn handle(
        &mut self,
        amount: i64,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Infallible> {
        sink.write(CounterEvent::Added { amount }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: CounterEvent) {
        let CounterEvent::Added { amount } = event;
        self.total += amount;
    }
}

fn event(aggregate_id: &str, sequence: usize) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: aggregate_id.to_string(),
        sequence,
        aggregate_type: Counter::TYPE.to_string(),
        event_type: "Added".to_string(),
        event_version: "1".to_string(),
        payload: serde_json::json!({"Added": {"amount": 1}}),
        metadata: serde_json::json!({}),
    }
}

fn jetstream_store(c: &mut Criterion) {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => panic!("tokio runtime: {err}"),
    };
    let setup = runtime.block_on(async {
        let server = NatsServer::start().await?;
        // The configuration names the server's real sync policy (`CIM_NATS_SYNC`, else
        // nats-server's default), so group commit decides from the truth.
        let config = JetStreamConfig {
            sync: server.sync_policy(),
            ..JetStreamConfig::default()
        };
        let repo = JetStreamEventRepository::connect(&server.url(), config).await?;
        Ok::<_, Box<dyn std::error::Error>>((server, repo))
    });
    let (_server, repo) = match setup {
        Ok(setup) => setup,
        Err(err) => panic!("cannot start the bench server: {err}"),
    };

    let mut group = c.benchmark_group("jetstream_store");

    // One event per commit, each checked by the server against the expected subject sequence.
    let next = Arc::new(AtomicUsize::new(1));
    group.throughput(Throughput::Elements(1));
    group.bench_function("sequential_checked_append", |b| {
        b.to_async(&runtime).iter(|| {
            let repo = repo.clone();
            let sequence = next.fetch_add(1, Ordering::Relaxed);
            async move {
                if let Err(err) = repo.append(&[event("seq", sequence)]).await {
                    panic!("append {sequence}: {err}");
                }
            }
        });
    });

    // 100 aggregates, one commit each, all in flight at once.
    const AGGREGATES: usize = 100;
    let ids: Vec<String> = (0..AGGREGATES).map(|i| format!("pipe-{i}")).collect();
    let round = Arc::new(AtomicUsize::new(1));
    group.throughput(Throughput::Elements(AGGREGATES as u64));
    group.bench_function("pipelined_appends_100_aggregates", |b| {
        b.to_async(&runtime).iter(|| {
            let repo = repo.clone();
            let sequence = round.fetch_add(1, Ordering::Relaxed);
            let ids = ids.clone();
            async move {
                let appends = ids.iter().map(|id| {
                    let repo = repo.clone();
                    async move { repo.append(&[event(id, sequence)]).await }
                });
                for result in futures::future::join_all(appends).await {
                    if let Err(err) = result {
                        panic!("pipelined append: {err}");
                    }
                }
            }
        });
    });

    // Worst case for loading: 1,000 single-event commits, decoded into the aggregate.
    let filled = runtime.block_on(async {
        for sequence in 1..=1000 {
            repo.append(&[event("big", sequence)]).await?;
        }
        Ok::<_, cim_jetstream::JetStreamError>(())
    });
    if let Err(err) = filled {
        panic!("filling the 1,000-event aggregate: {err}");
    }
    let store = JetStreamEventStore::<Counter>::new_event_store(repo.clone());
    group.throughput(Throughput::Elements(1000));
    group.bench_function("load_1000_event_aggregate", |b| {
        b.to_async(&runtime).iter(|| async {
            match store.load_aggregate("big").await {
                Ok(context) if context.aggregate.total == 1000 => {}
                Ok(context) => panic!("loaded total {}", context.aggregate.total),
                Err(err) => panic!("load: {err}"),
            }
        });
    });
    group.finish();
}

criterion_group!(benches, jetstream_store);
criterion_main!(benches);
