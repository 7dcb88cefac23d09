//! Criterion bench of the shared knowledge base (`cim-agent-coordination::knowledge`): local
//! write and merge cost, the size of a 10,000-fact document, and propagation latency of one
//! edit to nine other replicas over a real local `nats-server`, beside publishing the same change
//! bytes to nine subscribers over bare NATS in the same run (`. scripts/install-test-tools`
//! first). p50/p99 are printed from their own samples, on one monotonic clock.
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use cim_agent_coordination::knowledge::{
    Assertion, FactId, FactObject, JetStreamKnowledgeStore, JetStreamStoreConfig, KnowledgeReplica,
    KnowledgeSubjects, MonotonicClock, PeerHealth, ReplicaConfig, SharedKnowledge,
};
use cim_agent_coordination::transport::NatsTransport;
use cim_domain_agent::AgentId;
use cim_jetstream::testing::NatsServer;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures::StreamExt;

type Failure = Box<dyn std::error::Error + Send + Sync>;
type Replica = KnowledgeReplica<NatsTransport, JetStreamKnowledgeStore>;

fn fail(what: &str, error: impl std::fmt::Display) -> ! {
    panic!("{what}: {error}")
}

/// Whether criterion runs as a benchmark (`cargo bench`) rather than once as a test.
fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn assertion(n: usize) -> Assertion {
    Assertion {
        id: FactId::new(format!("host/{}/fact-{n}", n % 100))
            .unwrap_or_else(|e| fail("fact id", e)),
        subject: format!("host/{}", n % 100),
        predicate: "reports".into(),
        object: FactObject::Text(format!("value {n}")),
        source: "bench".into(),
    }
}

fn at(n: usize) -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(1_700_000_000_000 + n as i64)
        .single()
        .unwrap_or_default()
}

fn document(agent: AgentId, facts: usize) -> SharedKnowledge {
    let mut doc = SharedKnowledge::new(agent, 1);
    for n in 0..facts {
        if let Err(e) = doc.assert_fact(assertion(n), at(n)) {
            fail("assert", e);
        }
    }
    doc
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn local(c: &mut Criterion) {
    let mut group = c.benchmark_group("knowledge_local");
    let agent = AgentId::new_v7();
    let mut doc = document(agent, 1_000);
    let mut n = 1_000;
    group.bench_function("assert_fact_into_1k_fact_doc", |b| {
        b.iter(|| {
            n += 1;
            if let Err(e) = doc.assert_fact(assertion(n), at(n)) {
                fail("assert", e);
            }
        });
    });
    let base = document(agent, 1_000).save();
    group.bench_function("merge_100_remote_changes_into_1k_fact_doc", |b| {
        b.iter_batched(
            || {
                let a = SharedKnowledge::load(AgentId::new_v7(), 1, &base)
                    .unwrap_or_else(|e| fail("load", e));
                let mut other = SharedKnowledge::load(AgentId::new_v7(), 2, &base)
                    .unwrap_or_else(|e| fail("load", e));
                for n in 5_000..5_100 {
                    if let Err(e) = other.assert_fact(assertion(n), at(n)) {
                        fail("assert", e);
                    }
                }
                (a, other)
            },
            |(mut a, mut other)| {
                if let Err(e) = a.merge(&mut other) {
                    fail("merge", e);
                }
                a
            },
            BatchSize::LargeInput,
        );
    });

    let before = resident_bytes();
    let mut big = document(agent, 10_000);
    let after = resident_bytes();
    let saved = big.save();
    eprintln!(
        "knowledge: 10,000 facts: saved document {} bytes ({:.1} bytes/fact); resident memory grew by {} KiB while building it",
        saved.len(),
        saved.len() as f64 / 10_000.0,
        match (before, after) {
            (Some(b), Some(a)) => (a.saturating_sub(b) / 1024).to_string(),
            _ => "?".into(),
        }
    );
    group.sample_size(10);
    group.bench_function("save_10k_fact_doc", |b| b.iter(|| big.save()));
    group.bench_function("load_10k_fact_doc", |b| {
        b.iter(|| SharedKnowledge::load(agent, 2, &saved).unwrap_or_else(|e| fail("load", e)))
    });
    group.finish();
}

struct Network {
    _server: NatsServer,
    replicas: Vec<Arc<Replica>>,
    bare_publisher: async_nats::Client,
    bare_subscribers: Vec<async_nats::Subscriber>,
    change_bytes: Vec<u8>,
}

async fn network() -> Result<Network, Failure> {
    let server = NatsServer::start().await?;
    let subjects = KnowledgeSubjects::new("bench")?;
    let mut replicas = Vec::new();
    for _ in 0..10 {
        let client = server.client().await?;
        let store = JetStreamKnowledgeStore::open(
            client.clone(),
            subjects.clone(),
            JetStreamStoreConfig::default(),
        )
        .await?;
        let config = ReplicaConfig {
            hello_every: Duration::from_millis(200),
            ..ReplicaConfig::default()
        };
        replicas.push(Arc::new(
            KnowledgeReplica::start(
                AgentId::new_v7(),
                NatsTransport::new(client),
                store,
                subjects.clone(),
                config,
                Arc::new(MonotonicClock::default()),
            )
            .await?,
        ));
    }
    // Wait until every pair has synced once (the steady state the latency is about).
    replicas[0].assert_fact(assertion(0), at(0)).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut ready = true;
        for r in &replicas {
            let peers = r.peers().await;
            ready &= peers.len() == 9 && peers.iter().all(|(_, h)| *h == PeerHealth::InSync);
        }
        if ready {
            break;
        }
        if Instant::now() > deadline {
            return Err("replicas did not sync".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bare_publisher = server.client().await?;
    let mut bare_subscribers = Vec::new();
    for _ in 0..9 {
        let client = server.client().await?;
        bare_subscribers.push(client.subscribe("bench.bare").await?);
        client.flush().await?;
    }
    let mut scratch = SharedKnowledge::new(AgentId::new_v7(), 1);
    let (_, change) = scratch.assert_fact(assertion(1), at(1))?;
    Ok(Network {
        _server: server,
        replicas,
        bare_publisher,
        bare_subscribers,
        change_bytes: change.bytes,
    })
}

/// One edit on replica 0; the time until each of the nine others holds it.
async fn edit(net: &Network, n: usize) -> Vec<Duration> {
    let id = assertion(n).id;
    let start = Instant::now();
    let waits: Vec<_> = net.replicas[1..]
        .iter()
        .map(|r| {
            let r = Arc::clone(r);
            let id = id.clone();
            let mut watch = r.watch();
            tokio::spawn(async move {
                loop {
                    if r.read(|k| k.fact(&id).is_some()).await {
                        return start.elapsed();
                    }
                    if watch.changed().await.is_err() {
                        return Duration::MAX;
                    }
                }
            })
        })
        .collect();
    if let Err(e) = net.replicas[0].assert_fact(assertion(n), at(n)).await {
        fail("edit", e);
    }
    let mut out = Vec::new();
    for wait in waits {
        out.push(wait.await.unwrap_or(Duration::MAX));
    }
    out
}

/// The same change bytes published once over bare NATS; the time until each of nine
/// subscribers has them.
async fn bare(net: &mut Network) -> Vec<Duration> {
    let start = Instant::now();
    if let Err(e) = net
        .bare_publisher
        .publish("bench.bare", net.change_bytes.clone().into())
        .await
    {
        fail("bare publish", e);
    }
    let _ = net.bare_publisher.flush().await;
    let receives = net.bare_subscribers.iter_mut().map(|s| async move {
        s.next().await;
        start.elapsed()
    });
    futures::future::join_all(receives).await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn propagation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail("tokio runtime", e));
    let mut net = runtime
        .block_on(network())
        .unwrap_or_else(|e| fail("bench network", e));
    let mut n = 10_000;

    // p50 / p99 from their own samples: every replica's latency and the last of the nine.
    let samples = if benchmarking() { 300 } else { 3 };
    let (mut each, mut all, mut bare_each, mut bare_all) = (vec![], vec![], vec![], vec![]);
    for _ in 0..samples {
        n += 1;
        let got = runtime.block_on(edit(&net, n));
        all.push(got.iter().copied().max().unwrap_or_default());
        each.extend(got);
        let got = runtime.block_on(bare(&mut net));
        bare_all.push(got.iter().copied().max().unwrap_or_default());
        bare_each.extend(got);
    }
    for v in [&mut each, &mut all, &mut bare_each, &mut bare_all] {
        v.sort();
    }
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    eprintln!(
        "knowledge propagation to nine replicas ({samples} edits): each p50 {:?} p99 {:?}; all nine p50 {:?} p99 {:?}",
        percentile(&each, 0.5),
        percentile(&each, 0.99),
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    eprintln!(
        "bare NATS, same {} bytes to nine subscribers: each p50 {:?} p99 {:?}; all nine p50 {:?} p99 {:?}; ratio all-nine p50 {:.1}x p99 {:.1}x",
        net.change_bytes.len(),
        percentile(&bare_each, 0.5),
        percentile(&bare_each, 0.99),
        percentile(&bare_all, 0.5),
        percentile(&bare_all, 0.99),
        ratio(percentile(&all, 0.5), percentile(&bare_all, 0.5)),
        ratio(percentile(&all, 0.99), percentile(&bare_all, 0.99)),
    );

    let mut group = c.benchmark_group("knowledge_propagation");
    group.sample_size(20);
    group.bench_function("edit_visible_on_nine_replicas", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let got = runtime.block_on(edit(&net, n));
                total += got.into_iter().max().unwrap_or_default();
            }
            total
        });
    });
    group.bench_function("bare_nats_same_bytes_to_nine", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let got = runtime.block_on(bare(&mut net));
                total += got.into_iter().max().unwrap_or_default();
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, local, propagation);
criterion_main!(benches);
