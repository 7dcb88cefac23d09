//! Criterion bench of dialog routing (`cim_agent_coordination::dialog`):
//! - one routing decision per strategy among 1,000 registered agents (goal < 10 µs), on a
//!   dialog whose participant list the router has seen, and the first decision over a new list;
//! - delivery of one turn over a real local `nats-server` to 1 and to 10 recipients through a
//!   `DialogChannel` (route, record the turn, filter the context, publish, and the recipients'
//!   mailboxes receive it), beside a bare async-nats publish/subscribe of the same payload to the
//!   same number of subjects on the same server in the same run. Each delivery is timed alone, and
//!   p50/p99 are printed after each group (criterion reports the mean and median).
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cim_agent_coordination::dialog::{
    AgentDialogRouter, ChannelConfig, DialogAgent, DialogChannel, DialogContext, DialogId, Message,
    Priority, RouterConfig, Strategy, create_agent_channel,
};
use cim_agent_coordination::transport::NatsTransport;
use cim_domain_agent::AgentId;
use cim_jetstream::testing::NatsServer;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures::StreamExt;

const AGENTS: usize = 1_000;
const CAPS: [&str; 20] = [
    "nix",
    "gpu",
    "review",
    "plan",
    "db",
    "net",
    "k8s",
    "security",
    "docs",
    "ops",
    "ml",
    "llm",
    "storage",
    "monitoring",
    "billing",
    "frontend",
    "backend",
    "rust",
    "python",
    "go",
];

fn id(n: usize) -> AgentId {
    match format!("{:032x}", n + 1).parse() {
        Ok(id) => id,
        Err(err) => panic!("agent id {n}: {err}"),
    }
}

/// 1,000 online agents, three capabilities each, preferences spread over 0..50.
fn router() -> (AgentDialogRouter, Vec<AgentId>) {
    let mut router = AgentDialogRouter::new(RouterConfig {
        max_turns: u32::MAX,
        max_handoff_chain: u32::MAX,
        ..RouterConfig::default()
    });
    let ids: Vec<AgentId> = (0..AGENTS).map(id).collect();
    for (n, &agent) in ids.iter().enumerate() {
        let caps = [CAPS[n % 20], CAPS[(n / 20) % 20], CAPS[(n * 7 + 3) % 20]];
        router.upsert_agent(
            DialogAgent::online(agent, format!("agent-{n}"), caps).with_preference((n % 50) as i32),
        );
    }
    router.set_selector(Arc::new(|input| {
        input
            .participants
            .get(input.turn as usize % input.participants.len())
            .copied()
    }));
    (router, ids)
}

fn routing(c: &mut Criterion) {
    let (mut router, ids) = router();
    let from = id(AGENTS + 10);
    router.upsert_agent(DialogAgent::online(from, "orchestrator", ["orchestration"]));
    let dialog = DialogId::new_v7();
    let cases = [
        ("broadcast", Strategy::Broadcast, Priority::Normal),
        ("round_robin", Strategy::RoundRobin, Priority::Normal),
        (
            "capability_one_of_20",
            Strategy::Capability {
                required: vec!["gpu".into()],
                preferred: vec!["nix".into()],
                limit: Some(3),
            },
            Priority::Normal,
        ),
        (
            "capability_two_of_20",
            Strategy::Capability {
                required: vec!["gpu".into(), "rust".into()],
                preferred: vec![],
                limit: None,
            },
            Priority::Normal,
        ),
        ("priority", Strategy::Priority, Priority::Normal),
        (
            "priority_urgent_fanout_3",
            Strategy::Priority,
            Priority::Urgent,
        ),
        (
            "direct",
            Strategy::Direct { to: id(AGENTS - 1) },
            Priority::Normal,
        ),
        (
            "hand_off",
            Strategy::HandOff {
                to: id(AGENTS - 1),
                reason: "yours".into(),
            },
            Priority::Normal,
        ),
        ("selector", Strategy::Selector, Priority::Normal),
    ];
    let mut group = c.benchmark_group("dialog_route_1000_agents");
    for (name, strategy, priority) in cases {
        // A hand-off needs its speaker among the participants.
        let (speaker, participants) = match strategy {
            Strategy::HandOff { .. } => (ids[0], ids.clone()),
            _ => (from, ids.clone()),
        };
        let message = Message::new(dialog, speaker, strategy, "?").with_priority(priority);
        group.bench_function(name, |b| {
            b.iter(
                || match router.route_message(black_box(&message), black_box(&participants)) {
                    Ok(recipients) => black_box(recipients),
                    Err(err) => panic!("{name}: {err}"),
                },
            );
        });
    }
    // The first decision over a participant list (nothing cached for the dialog yet): one hash
    // lookup per participant.
    let cold = DialogId::new_v7();
    for (name, strategy) in [
        ("broadcast_first_turn", Strategy::Broadcast),
        (
            "capability_one_of_20_first_turn",
            Strategy::Capability {
                required: vec!["gpu".into()],
                preferred: vec!["nix".into()],
                limit: Some(3),
            },
        ),
    ] {
        let message = Message::new(cold, from, strategy, "?");
        group.bench_function(name, |b| {
            b.iter(|| match router.plan(black_box(&message), black_box(&ids)) {
                Ok(plan) => black_box(plan),
                Err(err) => panic!("{name}: {err}"),
            });
        });
    }
    group.finish();
}

fn percentiles(label: &str, samples: &Mutex<Vec<Duration>>) {
    let mut samples = match samples.lock() {
        Ok(samples) => samples.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    if samples.is_empty() {
        return;
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{label}: n={} p50={:.1?} p99={:.1?}",
        samples.len(),
        at(0.50),
        at(0.99)
    );
}

async fn channel_turn(
    channel: &DialogChannel<NatsTransport>,
    message: &Message,
    recipients: &[AgentId],
) {
    if let Err(err) = channel.send(message).await {
        panic!("send: {err}");
    }
    for &agent in recipients {
        if let Err(err) = channel.recv(agent).await {
            panic!("recv: {err}");
        }
    }
}

fn delivery(c: &mut Criterion) {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => panic!("tokio runtime: {err}"),
    };
    let setup = runtime.block_on(async {
        let server = NatsServer::start().await?;
        let client = server.client().await?;
        Ok::<_, Box<dyn std::error::Error>>((server, client))
    });
    let (_server, client) = match setup {
        Ok(setup) => setup,
        Err(err) => panic!("cannot start the bench server: {err}"),
    };
    let speaker = id(0);
    let agents: Vec<AgentId> = (0..=10).map(id).collect();
    let mut router = AgentDialogRouter::new(RouterConfig {
        max_turns: u32::MAX,
        ..RouterConfig::default()
    });
    for &agent in &agents {
        router.upsert_agent(DialogAgent::online(agent, "a", ["chat"]));
    }
    let router = Arc::new(Mutex::new(router));
    let channel = runtime.block_on(create_agent_channel(
        NatsTransport::new(client.clone()),
        Arc::clone(&router),
        &agents,
        ChannelConfig::default(),
    ));
    let channel = match channel {
        Ok(channel) => channel,
        Err(err) => panic!("channel: {err}"),
    };
    let mut context = DialogContext::default();
    context.set("goal", "deploy ollama on gpu-1".into(), speaker, 1);
    context.references.graph_version = Some(7);

    let mut group = c.benchmark_group("dialog_delivery_nats");
    for fanout in [1usize, 10] {
        let recipients: Vec<AgentId> = agents[1..=fanout].to_vec();
        let strategy = if fanout == 1 {
            Strategy::Direct { to: agents[1] }
        } else {
            Strategy::Broadcast
        };
        let message = Message::new(channel.id(), speaker, strategy, "can we deploy?")
            .with_context(context.clone());
        // The bare baseline sends the same bytes a recipient gets, one subject per recipient.
        let payload = match serde_json::to_vec(&serde_json::json!({
            "dialog": channel.id(), "seq": 1, "from": speaker,
            "strategy": message.strategy, "priority": "Normal", "content": message.content,
            "context": context,
        })) {
            Ok(bytes) => bytes,
            Err(err) => panic!("payload: {err}"),
        };
        let subjects: Vec<String> = (1..=fanout).map(|i| format!("bench.bare.{i}")).collect();
        let subscribers = runtime.block_on(async {
            let mut subs = Vec::new();
            for subject in &subjects {
                subs.push(client.subscribe(subject.clone()).await?);
            }
            client.flush().await?;
            Ok::<_, Box<dyn std::error::Error>>(subs)
        });
        let subscribers = Arc::new(tokio::sync::Mutex::new(match subscribers {
            Ok(subs) => subs,
            Err(err) => panic!("bare subscribe: {err}"),
        }));

        let bare_samples = Arc::new(Mutex::new(Vec::new()));
        group.bench_function(BenchmarkId::new("bare_async_nats", fanout), |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let client = client.clone();
                let subjects = subjects.clone();
                let payload = payload.clone();
                let subscribers = Arc::clone(&subscribers);
                let samples = Arc::clone(&bare_samples);
                async move {
                    let mut subs = subscribers.lock().await;
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        for subject in &subjects {
                            if let Err(err) = client
                                .publish(subject.clone(), payload.clone().into())
                                .await
                            {
                                panic!("bare publish: {err}");
                            }
                        }
                        for sub in subs.iter_mut() {
                            if sub.next().await.is_none() {
                                panic!("bare subscription ended");
                            }
                        }
                        let took = start.elapsed();
                        total += took;
                        if let Ok(mut s) = samples.lock() {
                            s.push(took);
                        }
                    }
                    total
                }
            });
        });

        let channel_samples = Arc::new(Mutex::new(Vec::new()));
        group.bench_function(BenchmarkId::new("dialog_channel", fanout), |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let samples = Arc::clone(&channel_samples);
                let channel = &channel;
                let message = &message;
                let recipients = &recipients;
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        channel_turn(channel, message, recipients).await;
                        let took = start.elapsed();
                        total += took;
                        if let Ok(mut s) = samples.lock() {
                            s.push(took);
                        }
                    }
                    total
                }
            });
        });
        percentiles(&format!("bare_async_nats/{fanout}"), &bare_samples);
        percentiles(&format!("dialog_channel/{fanout}"), &channel_samples);
    }
    group.finish();
}

criterion_group!(benches, routing, delivery);
criterion_main!(benches);
