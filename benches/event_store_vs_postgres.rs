//! cim-jetstream against postgres-es, side by side in one run, on the three paths a cqrs-es
//! user feels: a sequential checked append (one event per commit), 100 commits in flight over 100
//! aggregates, and `get_events` of a 1,000-event aggregate (1,000 single-event commits).
//!
//! The stores, each with fresh servers started by the bench: postgres-es on a private
//! PostgreSQL (default settings: every commit waits for the WAL flush), and cim-jetstream on a
//! nats-server with its default sync (every two minutes), on one with `sync_interval: always`
//! and on an R3 cluster of three `always` servers on this machine; on both `always`
//! deployments the default configuration (`GroupCommit::Auto`: under `SyncPolicy::Always`,
//! concurrent commits as atomic batches on nats-server 2.15+) and a second stream with
//! `GroupCommit::Off` (every commit published alone). Everything goes through `PersistedEventRepository`, the trait cqrs-es calls.
//!
//! Two baselines run in the same rounds: `bare-async-nats-always`, plain JetStream publishes of
//! the same payload on the `always` server, awaited one by one or 100 in flight (the floor any
//! store on that server has), and for loads `decode-only`, decoding the same 1,000 events from a
//! buffer in memory into the `SerializedEvent`s `get_events` returns (the floor any store that
//! returns them has, PostgreSQL's included).
//!
//! The machine is shared and noisy, so the stores are interleaved: each path is measured in
//! `CIM_BENCH_ROUNDS` rounds (default 3, 1 in test mode), every round measuring every store, and
//! the summary at the end gives each store's median over all rounds and its ratio to postgres-es.
//! Without PostgreSQL the bench says why and measures nothing.
//!
//! `cargo bench --bench event_store_vs_postgres -- --warm-up-time 1 --measurement-time 3`
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cim_jetstream::testing::{NatsCluster, NatsServer};
use cim_jetstream::{GroupCommit, JetStreamConfig, JetStreamEventRepository, SyncPolicy};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent};
use criterion::{Criterion, criterion_group, criterion_main};
use postgres_es::PostgresEventRepository;
use serde::{Deserialize, Serialize};

#[path = "support/postgres.rs"]
mod postgres;

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
        metadata: serde_json::json!({"correlation_id": "bench"}),
    }
}

const SCHEMA: &str = "CREATE TABLE events (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    sequence bigint CHECK (sequence >= 0) NOT NULL,
    event_type text NOT NULL, event_version text NOT NULL,
    payload json NOT NULL, metadata json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence));
CREATE TABLE snapshots (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));";

/// An event as a row: every field of a `SerializedEvent` (which has no serde impls).
#[derive(Serialize, Deserialize)]
struct Row {
    aggregate_type: String,
    aggregate_id: String,
    sequence: usize,
    event_type: String,
    event_version: String,
    payload: serde_json::Value,
    metadata: serde_json::Value,
}

impl From<Row> for SerializedEvent {
    fn from(row: Row) -> Self {
        SerializedEvent {
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            aggregate_type: row.aggregate_type,
            event_type: row.event_type,
            event_version: row.event_version,
            payload: row.payload,
            metadata: row.metadata,
        }
    }
}

impl From<SerializedEvent> for Row {
    fn from(event: SerializedEvent) -> Self {
        Row {
            aggregate_type: event.aggregate_type,
            aggregate_id: event.aggregate_id,
            sequence: event.sequence,
            event_type: event.event_type,
            event_version: event.event_version,
            payload: event.payload,
            metadata: event.metadata,
        }
    }
}

/// One store under test, with its own next sequence per path, or a baseline.
#[derive(Clone)]
enum Store {
    Postgres(Arc<PostgresEventRepository>),
    JetStream(JetStreamEventRepository),
    /// Plain publishes on a plain stream, and a decode of `history` (the 1,000 events as JSON).
    Baseline {
        jetstream: Arc<async_nats::jetstream::Context>,
        history: Arc<Vec<u8>>,
    },
}

impl Store {
    async fn persist(&self, events: &[SerializedEvent]) {
        let result = match self {
            Self::Postgres(repo) => repo.persist::<Counter>(events, None).await,
            Self::JetStream(repo) => repo.persist::<Counter>(events, None).await,
            Self::Baseline { jetstream, .. } => {
                let publish = async {
                    let rows: Vec<Row> = events.iter().cloned().map(Row::from).collect();
                    let payload = serde_json::to_vec(&rows)?;
                    let subject = format!("bare.{}", events[0].aggregate_id);
                    jetstream.publish(subject, payload.into()).await?.await?;
                    Ok::<_, Box<dyn std::error::Error>>(())
                };
                match publish.await {
                    Ok(()) => Ok(()),
                    Err(err) => panic!("bare publish: {err}"),
                }
            }
        };
        if let Err(err) = result {
            panic!("persist: {err}");
        }
    }

    async fn get_events(&self, id: &str) -> usize {
        let result = match self {
            Self::Postgres(repo) => repo.get_events::<Counter>(id).await,
            Self::JetStream(repo) => repo.get_events::<Counter>(id).await,
            Self::Baseline { history, .. } => match serde_json::from_slice::<Vec<Row>>(history) {
                Ok(rows) => Ok(rows.into_iter().map(SerializedEvent::from).collect()),
                Err(err) => panic!("decode: {err}"),
            },
        };
        match result {
            Ok(events) => events.len(),
            Err(err) => panic!("get_events: {err}"),
        }
    }
}

struct Contestant {
    name: &'static str,
    store: Store,
    sequential: Arc<AtomicUsize>,
    concurrent: Arc<AtomicUsize>,
}

/// Per-iteration times recorded by every measurement, for the summary.
type Samples = Arc<Mutex<BTreeMap<(&'static str, &'static str), Vec<f64>>>>;

fn record(samples: &Samples, path: &'static str, store: &'static str, total: Duration, iters: u64) {
    let per_iter = total.as_secs_f64() / iters.max(1) as f64;
    if let Ok(mut map) = samples.lock() {
        map.entry((path, store)).or_default().push(per_iter);
    }
}

const AGGREGATES: usize = 100;
const LOADED_EVENTS: usize = 1000;

fn event_store_vs_postgres(c: &mut Criterion) {
    let postgres = match postgres::Postgres::start().and_then(|pg| pg.psql(SCHEMA).map(|()| pg)) {
        Ok(pg) => pg,
        Err(why) => {
            eprintln!("event_store_vs_postgres: skipped, PostgreSQL is not available: {why}");
            return;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => panic!("tokio runtime: {err}"),
    };
    let setup = runtime.block_on(async {
        let pool = postgres_es::default_postgress_pool(&postgres.url()).await;
        let interval = NatsServer::start_with_sync(SyncPolicy::SERVER_DEFAULT).await?;
        let always = NatsServer::start_with_sync(SyncPolicy::Always).await?;
        let cluster = NatsCluster::start_with_sync(3, SyncPolicy::Always).await?;
        let connect = |server: &NatsServer, sync| {
            let url = server.url();
            async move {
                let config = JetStreamConfig {
                    sync,
                    ..JetStreamConfig::default()
                };
                JetStreamEventRepository::connect(&url, config).await
            }
        };
        // What group commit changes, measured in the same run: on the `always` server and on
        // the cluster a second stream that publishes every commit alone (the default groups on
        // nats-server 2.15+).
        let alone = JetStreamConfig {
            group_commit: GroupCommit::Off,
            ..JetStreamConfig::named("ALONE")
        };
        let r3 = JetStreamConfig {
            replicas: 3,
            ..JetStreamConfig::default()
        };
        let r3_alone = JetStreamConfig {
            replicas: 3,
            group_commit: GroupCommit::Off,
            ..JetStreamConfig::named("ALONE")
        };
        let bare = async_nats::jetstream::new(always.client().await?);
        bare.create_stream(async_nats::jetstream::stream::Config {
            name: "BARE".to_string(),
            subjects: vec!["bare.>".to_string()],
            ..Default::default()
        })
        .await?;
        let history: Vec<Row> = (1..=LOADED_EVENTS)
            .map(|sequence| Row::from(event("big", sequence)))
            .collect();
        let contestants = vec![
            (
                "postgres-es",
                Store::Postgres(Arc::new(PostgresEventRepository::new(pool))),
            ),
            (
                "jetstream-sync-2m",
                Store::JetStream(connect(&interval, SyncPolicy::SERVER_DEFAULT).await?),
            ),
            (
                "jetstream-sync-always",
                Store::JetStream(connect(&always, SyncPolicy::Always).await?),
            ),
            (
                "jetstream-always-alone",
                Store::JetStream(JetStreamEventRepository::connect(&always.url(), alone).await?),
            ),
            (
                "jetstream-r3-always",
                Store::JetStream(JetStreamEventRepository::new(cluster.client().await?, r3).await?),
            ),
            (
                "jetstream-r3-always-alone",
                Store::JetStream(
                    JetStreamEventRepository::new(cluster.client().await?, r3_alone).await?,
                ),
            ),
            (
                "bare-async-nats-always",
                Store::Baseline {
                    jetstream: Arc::new(bare),
                    history: Arc::new(serde_json::to_vec(&history)?),
                },
            ),
        ];
        // The 1,000-event aggregate, as 1,000 single-event commits (the worst case for a load).
        for (_, store) in &contestants {
            if matches!(store, Store::Baseline { .. }) {
                continue;
            }
            for sequence in 1..=LOADED_EVENTS {
                store.persist(&[event("big", sequence)]).await;
            }
        }
        Ok::<_, Box<dyn std::error::Error>>((interval, always, cluster, contestants))
    });
    let (_interval, _always, _cluster, contestants) = match setup {
        Ok(setup) => setup,
        Err(err) => panic!("setting up the stores: {err}"),
    };
    let contestants: Vec<Contestant> = contestants
        .into_iter()
        .map(|(name, store)| Contestant {
            name,
            store,
            sequential: Arc::new(AtomicUsize::new(1)),
            concurrent: Arc::new(AtomicUsize::new(1)),
        })
        .collect();
    let rounds: usize = std::env::var("CIM_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if test_mode() { 1 } else { 3 });
    let samples: Samples = Arc::default();
    let ids: Arc<Vec<String>> = Arc::new((0..AGGREGATES).map(|i| format!("many-{i}")).collect());

    let mut group = c.benchmark_group("event_store_vs_postgres");
    for round in 1..=rounds {
        for who in &contestants {
            let samples = samples.clone();
            let store = who.store.clone();
            let next = who.sequential.clone();
            let name = who.name;
            group.bench_function(format!("sequential_append/{name}/round{round}"), |b| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let (store, next, samples) = (store.clone(), next.clone(), samples.clone());
                    async move {
                        let started = Instant::now();
                        for _ in 0..iters {
                            let sequence = next.fetch_add(1, Ordering::Relaxed);
                            store.persist(&[event("one", sequence)]).await;
                        }
                        let total = started.elapsed();
                        record(&samples, "sequential_append", name, total, iters);
                        total
                    }
                });
            });
        }
        for who in &contestants {
            let samples = samples.clone();
            let store = who.store.clone();
            let next = who.concurrent.clone();
            let ids = ids.clone();
            let name = who.name;
            group.bench_function(format!("100_in_flight/{name}/round{round}"), |b| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let (store, next, ids, samples) =
                        (store.clone(), next.clone(), ids.clone(), samples.clone());
                    async move {
                        let started = Instant::now();
                        for _ in 0..iters {
                            let sequence = next.fetch_add(1, Ordering::Relaxed);
                            let commits = ids.iter().map(|id| {
                                let store = store.clone();
                                async move { store.persist(&[event(id, sequence)]).await }
                            });
                            futures::future::join_all(commits).await;
                        }
                        let total = started.elapsed();
                        record(&samples, "100_in_flight", name, total, iters);
                        total
                    }
                });
            });
        }
        for who in &contestants {
            let samples = samples.clone();
            let store = who.store.clone();
            // The baseline decodes the same events from memory: the floor of any load.
            let name = match who.store {
                Store::Baseline { .. } => "decode-only",
                _ => who.name,
            };
            group.bench_function(format!("get_events_1000/{name}/round{round}"), |b| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let (store, samples) = (store.clone(), samples.clone());
                    async move {
                        let started = Instant::now();
                        for _ in 0..iters {
                            let loaded = store.get_events("big").await;
                            assert_eq!(loaded, LOADED_EVENTS, "{name}");
                        }
                        let total = started.elapsed();
                        record(&samples, "get_events_1000", name, total, iters);
                        total
                    }
                });
            });
        }
    }
    group.finish();
    summarize(&samples);
    drop(postgres);
}

/// Criterion runs each bench once, without measuring, when not given `--bench`.
fn test_mode() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// Prints each store's median per-iteration time per path and its ratio to postgres-es.
fn summarize(samples: &Samples) {
    let Ok(map) = samples.lock() else { return };
    let median = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
    };
    println!(
        "\nevent_store_vs_postgres summary (median per iteration over all rounds; ratio to postgres-es, < 1 is faster):"
    );
    for path in ["sequential_append", "100_in_flight", "get_events_1000"] {
        let Some(base) = map.get(&(path, "postgres-es")).map(|v| median(v)) else {
            continue;
        };
        for ((p, store), values) in map.iter() {
            if *p == path {
                let m = median(values);
                println!(
                    "  {path:<18} {store:<22} {:>10.1} µs  {:.2}x",
                    m * 1e6,
                    m / base
                );
            }
        }
    }
}

criterion_group!(benches, event_store_vs_postgres);
criterion_main!(benches);
