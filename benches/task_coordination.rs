//! Criterion benches of task coordination.
//!
//! - `assignment_decision/*`: one dispatch decision (which queued task goes to which agent)
//!   with 1,000 registered agents and 10,000 queued tasks, in process, per strategy; and a
//!   contract-net award over 100 bids. Goal: under 10 µs.
//! - `task_round_trip_nats/*`: submit over the task API (core NATS request/reply) → the
//!   coordinator commits the submission and the assignment (JetStream event store) and puts it
//!   in the agent's durable inbox (JetStream work queue) → the agent receives it and reports its
//!   acknowledgement → the coordinator records it; the round trip ends when the `Acknowledged`
//!   commit is seen. Beside it, in the same run on the same server, a bare async-nats
//!   request/reply. p50 and p99 of every iteration are printed at the end (criterion reports
//!   medians). Goal: p99 under 2 ms. Needs `nats-server` (`. scripts/install-test-tools`).
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use cim_agent_coordination::registry::{AgentRecord, ManualClock, Presence, RegistryEvent};
use cim_agent_coordination::subject::{TASKS_API, task_stream_subjects};
use cim_agent_coordination::tasks::{
    Bid, Candidate, CoordinatorConfig, InboxItem, Strategy, Task, TaskCoordinator, TaskId,
    TaskQueue, TaskReply, TaskRequest, TaskService, TaskSpec, TaskWorker, award, next_assignment,
};
use cim_agent_coordination::transport::NatsTransport;
use cim_agent_coordination::transport::work_queue::{ConsumerConfig, JetStreamWorkQueue};
use cim_domain_agent::announce::AgentRegistration;
use cim_domain_agent::{AgentId, AgentName};
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository, JetStreamEventStore};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt;

const CAPABILITIES: [&str; 10] = [
    "plan", "code", "review", "search", "test", "deploy", "write", "math", "vision", "speech",
];

fn name(i: usize) -> AgentName {
    match AgentName::new(format!("agent-{i:04}")) {
        Ok(name) => name,
        Err(e) => panic!("bench name: {e}"),
    }
}

/// 1,000 agents with 3 capabilities each, 2 slots, about half busy, 5% offline.
fn candidates() -> Vec<Candidate> {
    (0..1000)
        .map(|i| {
            let mut capabilities: Vec<String> = (0..3)
                .map(|k| CAPABILITIES[(i * 7 + k * 3) % CAPABILITIES.len()].to_owned())
                .collect();
            capabilities.sort();
            capabilities.dedup();
            Candidate::new(
                name(i),
                capabilities,
                u32::try_from(i % 3).unwrap_or(0).min(2),
                2,
                i % 20 != 0,
            )
        })
        .collect()
}

/// 10,000 queued tasks over 10 priorities, each requiring 1 or 2 capabilities.
fn queue() -> TaskQueue {
    let mut queue = TaskQueue::new();
    for i in 0..10_000u64 {
        let n = usize::try_from(i).unwrap_or(0);
        let mut required = vec![CAPABILITIES[n % CAPABILITIES.len()].to_owned()];
        if i % 2 == 0 {
            required.push(CAPABILITIES[(n / 3) % CAPABILITIES.len()].to_owned());
        }
        required.sort();
        required.dedup();
        let id = match TaskId::new(format!("task-{i}")) {
            Ok(id) => id,
            Err(e) => panic!("bench id: {e}"),
        };
        queue.push(id, u8::try_from(i % 10).unwrap_or(0), i, required);
    }
    queue
}

fn decisions(c: &mut Criterion) {
    let candidates = candidates();
    let queue = queue();
    let mut group = c.benchmark_group("assignment_decision");
    for (label, strategy) in [
        ("round_robin", Strategy::RoundRobin),
        ("capability_match", Strategy::CapabilityMatch),
        ("least_loaded", Strategy::LeastLoaded),
    ] {
        group.bench_function(format!("{label}_1000_agents_10000_queued"), |b| {
            let mut cursor = 0usize;
            b.iter(|| {
                let decision =
                    next_assignment(black_box(&queue), black_box(&candidates), strategy, cursor);
                cursor = decision.map_or(0, |(_, i)| i + 1);
                decision.map(|(task, i)| (task.as_str().len(), i))
            })
        });
    }
    let at = Utc
        .with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .unwrap_or_default();
    let bids: Vec<Bid> = (0..100)
        .map(|i| Bid {
            agent: name(i),
            round: 1,
            cost: f64::from(u32::try_from((i * 37) % 101).unwrap_or(0)),
            estimated_secs: u64::try_from(i % 13).unwrap_or(0),
            at,
        })
        .collect();
    let eligible: Vec<AgentName> = (0..100).step_by(2).map(name).collect();
    group.bench_function("contract_net_award_100_bids", |b| {
        b.iter(|| award(black_box(&bids), black_box(&eligible)).map(|b| b.cost))
    });
    group.finish();
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    let rank = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

fn record(samples: &Arc<Mutex<Vec<Duration>>>, took: Duration) {
    if let Ok(mut all) = samples.lock() {
        all.push(took);
    }
}

fn report(label: &str, samples: &Arc<Mutex<Vec<Duration>>>) {
    if let Ok(mut all) = samples.lock() {
        let n = all.len();
        let p50 = percentile(&mut all, 0.50);
        let p99 = percentile(&mut all, 0.99);
        eprintln!("{label}: n={n} p50={p50:?} p99={p99:?}");
    }
}

fn round_trip(c: &mut Criterion) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => panic!("tokio runtime: {err}"),
    };
    let setup = runtime.block_on(async {
        let server = NatsServer::start().await?;
        let client = server.client().await?;
        let repo = JetStreamEventRepository::new(client.clone(), JetStreamConfig::named("benchrt"))
            .await?;
        let queue = JetStreamWorkQueue::open(
            client.clone(),
            "BENCH_DELIVERY",
            task_stream_subjects(),
            Duration::from_secs(120),
        )
        .await?;
        let clock = ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
                .single()
                .unwrap_or_default(),
        );
        let config = CoordinatorConfig {
            ack_wait: chrono::Duration::seconds(30),
            progress_wait: chrono::Duration::seconds(60),
            strategy: Strategy::LeastLoaded,
        };
        let service = TaskService::new(
            TaskCoordinator::new(JetStreamEventStore::<Task>::new_event_store(repo), config),
            queue.clone(),
            clock.clone(),
        );
        let agent = name(1);
        let registration = AgentRegistration {
            agent_id: AgentId::from_name(&agent),
            name: agent.clone(),
            display_name: "bench".into(),
            version: serde_json::from_str("\"1.0.0\"")?,
            capabilities: vec!["code".into()],
            model: None,
            model_endpoint: None,
            heartbeat_secs: 10,
            started_at: Utc::now(),
            host: None,
            max_concurrent_tasks: 1_000_000,
        };
        let record = AgentRecord {
            presence: Presence::Online,
            ..AgentRecord::from_registration(&registration, Utc::now())
        };
        service
            .on_registry_event(&RegistryEvent::Joined(record.clone()), Some(&record))
            .await?;
        let consumer = ConsumerConfig {
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
        };
        let worker = TaskWorker::new(queue, agent, consumer);
        let mut inbox = Box::pin(worker.inbox().await?);
        tokio::spawn(async move {
            while let Some(item) = inbox.next().await {
                if let InboxItem::Assigned(job) = item {
                    let _ = worker.acknowledge(&job).await;
                    let _ = worker.finish(job, Ok(String::new())).await;
                }
            }
        });
        let serving = service.clone();
        let bus = NatsTransport::new(client.clone());
        let server_bus = bus.clone();
        tokio::spawn(async move {
            serving
                .run(
                    server_bus,
                    futures::stream::pending(),
                    Duration::from_secs(3600),
                    consumer,
                )
                .await
        });
        // Bare request/reply baseline: an echo responder on the same server.
        let mut echo = client.subscribe("bench.echo").await?;
        let responder = client.clone();
        tokio::spawn(async move {
            while let Some(message) = echo.next().await {
                if let Some(reply) = message.reply {
                    let _ = responder.publish(reply, message.payload).await;
                }
            }
        });
        let commits = client.subscribe("benchrt.events.task.>").await?;
        client.flush().await?;
        Ok::<_, Box<dyn std::error::Error>>((server, client, commits))
    });
    let (_server, client, commits) = match setup {
        Ok(setup) => setup,
        Err(err) => panic!("bench setup: {err}"),
    };
    let commits = Arc::new(tokio::sync::Mutex::new(commits));
    let bare_samples = Arc::new(Mutex::new(Vec::new()));
    let task_samples = Arc::new(Mutex::new(Vec::new()));
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut group = c.benchmark_group("task_round_trip_nats");
    group.bench_function("bare_async_nats_request_reply", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let client = client.clone();
            let samples = Arc::clone(&bare_samples);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    if let Err(err) = client
                        .request("bench.echo", Bytes::from_static(b"ping"))
                        .await
                    {
                        panic!("bare request: {err}");
                    }
                    let took = started.elapsed();
                    record(&samples, took);
                    total += took;
                }
                total
            }
        })
    });
    group.bench_function("submit_deliver_acknowledge", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let client = client.clone();
            let samples = Arc::clone(&task_samples);
            let commits = Arc::clone(&commits);
            let counter = Arc::clone(&counter);
            async move {
                let mut commits = commits.lock().await;
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let id = match TaskId::new(format!("rt-{n}")) {
                        Ok(id) => id,
                        Err(err) => panic!("{err}"),
                    };
                    let request = TaskRequest::Submit {
                        id: id.clone(),
                        spec: TaskSpec::new("x").requiring(["code"]),
                    };
                    let payload = match serde_json::to_vec(&request) {
                        Ok(payload) => Bytes::from(payload),
                        Err(err) => panic!("{err}"),
                    };
                    let acknowledged = format!("benchrt.events.task.{id}");
                    let started = Instant::now();
                    let reply = match client.request(TASKS_API, payload).await {
                        Ok(reply) => reply,
                        Err(err) => panic!("submit: {err}"),
                    };
                    if !matches!(
                        serde_json::from_slice(&reply.payload),
                        Ok(TaskReply::Submitted { .. })
                    ) {
                        panic!(
                            "submit refused: {}",
                            String::from_utf8_lossy(&reply.payload)
                        );
                    }
                    loop {
                        let Some(commit) = commits.next().await else {
                            panic!("commit feed ended")
                        };
                        if commit.subject.as_str() == acknowledged
                            && commit.payload.windows(12).any(|w| w == b"Acknowledged")
                        {
                            break;
                        }
                    }
                    let took = started.elapsed();
                    record(&samples, took);
                    total += took;
                }
                total
            }
        })
    });
    group.finish();
    report(
        "task_round_trip_nats/bare_async_nats_request_reply",
        &bare_samples,
    );
    report(
        "task_round_trip_nats/submit_deliver_acknowledge",
        &task_samples,
    );
}

criterion_group!(benches, decisions, round_trip);
criterion_main!(benches);
