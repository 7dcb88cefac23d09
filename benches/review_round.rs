//! Criterion bench: one review-and-vote round with ten agents over a real nats-server, the agents
//! being `cim_leaf::runtime::ReviewingAgent`s (what each `cim-leaf agents run` process runs), each
//! on its own NATS connection: the pipeline waits for their registrations (roll call), serves the
//! review material, each agent loads and translates the fleet and runs its reviewers, publishes
//! its findings and votes, the proposal is decided, the files written, and every agent's replica
//! reports the deployment's facts. Baseline in the same run: load, translate, rnix-check and write
//! the same fleet with no agents.
//!
//! Every iteration deploys a new version (the load balancer's server name changes), since a
//! version already decided is not voted on again.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cim_agent_coordination::knowledge::MemoryKnowledgeStore;
use cim_agent_coordination::registry::ROLL_CALL;
use cim_agent_coordination::transport::NatsTransport;
use cim_domain_agent::announce::{AgentRegistration, registered_subject};
use cim_jetstream::testing::NatsServer;
use cim_leaf::pipeline::{
    AgentParticipation, NatsBackend, NixCheck, Pipeline, PipelineOptions, review,
};
use cim_leaf::runtime::{AgentIdentity, ReviewingAgent, ReviewingConfig};
use cim_leaf::{Fleet, FleetOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt as _;

const AGENTS: usize = 10;

const CAPABILITIES: [&str; 5] = [
    review::NIX_CAPABILITY,
    review::NATS_CAPABILITY,
    review::POSTGRES_CAPABILITY,
    review::GPU_CAPABILITY,
    review::NETWORK_CAPABILITY,
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The example fleet with its five agents replaced by ten reviewers (two per built-in
/// capability) on nats-3, definitions written into `dir`.
fn ten_agent_fleet(dir: &Path) -> Result<String, std::io::Error> {
    let example = std::fs::read_to_string(root().join("examples/graphs/fleet.yaml"))?;
    let mut text = String::new();
    for line in example.lines() {
        if line.contains("type: agent") || line.contains("from: sage") || line.contains("-expert,")
        {
            continue;
        }
        text.push_str(line);
        text.push('\n');
        if line.starts_with("nodes:") {
            for i in 0..AGENTS {
                let name = format!("reviewer-{i}");
                let definition = dir.join(format!("{name}.md"));
                std::fs::write(
                    &definition,
                    format!(
                        "---\nname: {name}\ndescription: Reviews the fleet.\nversion: 1.0.0\n\
                         capabilities: [{}]\n---\nYou review.\n",
                        CAPABILITIES[i % CAPABILITIES.len()]
                    ),
                )?;
                text.push_str(&format!(
                    "  - {{ name: {name}, type: agent, host: nats-3, definition: {} }}\n",
                    definition.display()
                ));
            }
        }
    }
    Ok(text)
}

/// The cim-leaf flake the generated hosts import the agent modules from.
const AGENT_FLAKE: &str = "github:example/cim-leaf";

fn fleet_options() -> FleetOptions {
    FleetOptions::default().with_agent_flake(AGENT_FLAKE)
}

fn numbered(dir: &Path, fleet: &str, n: u64) -> Result<PathBuf, std::io::Error> {
    let path = dir.join(format!("fleet-{n}.yaml"));
    std::fs::write(
        &path,
        fleet.replace("fleet.example.org", &format!("fleet-{n}.example.org")),
    )?;
    Ok(path)
}

fn bench(c: &mut Criterion) {
    let (Ok(runtime), Ok(dir)) = (tokio::runtime::Runtime::new(), tempfile::tempdir()) else {
        eprintln!("no tokio runtime or temporary directory; skipping");
        return;
    };
    let Ok(fleet_text) = ten_agent_fleet(dir.path()) else {
        eprintln!("cannot write the fleet; skipping");
        return;
    };
    let out = dir.path().join("out");
    let mut group = c.benchmark_group("review_round_10_agents");
    group.sample_size(10);

    let Ok(baseline_graph) = numbered(dir.path(), &fleet_text, u64::MAX) else {
        return;
    };
    // A bench of a failing run would time the error path: the baseline must work.
    if let Err(error) = Fleet::load(&baseline_graph, fleet_options()) {
        panic!("the ten-agent fleet does not load: {error}");
    }
    group.bench_function("baseline_load_translate_write", |b| {
        b.iter(|| {
            let written = Fleet::load(&baseline_graph, fleet_options())
                .ok()
                .and_then(|fleet| fleet.translate().ok())
                .and_then(|spec| spec.check_syntax().and_then(|()| spec.write_to(&out)).ok());
            black_box(written)
        });
    });

    let server = match runtime.block_on(NatsServer::start()) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("no nats-server ({error}); skipping the NATS bench");
            group.finish();
            return;
        }
    };
    let url = server.url();
    let Ok(fleet) = Fleet::load(&baseline_graph, fleet_options()) else {
        eprintln!("the ten-agent fleet does not load; skipping");
        return;
    };
    // Ten agent runtimes, each on its own connection, registering on every roll call.
    let agents = runtime.block_on(async {
        let mut agents = Vec::new();
        for agent in fleet.agents() {
            let client = async_nats::connect(&url).await.ok()?;
            let definition = agent.source.definition.clone();
            let registration =
                AgentRegistration::new(&definition, None, None, 3600, chrono::Utc::now());
            let mut roll_calls = client.subscribe(ROLL_CALL).await.ok()?;
            let announcer = client.clone();
            tokio::spawn(async move {
                while roll_calls.next().await.is_some() {
                    let payload = serde_json::to_vec(&registration).unwrap_or_default();
                    let _ = announcer
                        .publish(registered_subject(&registration.name), payload.into())
                        .await;
                }
            });
            let identity = AgentIdentity {
                name: agent.node.clone(),
                id: definition.id,
                capabilities: definition.capabilities.clone(),
            };
            let reviewing = ReviewingAgent::start(
                NatsTransport::new(client),
                identity,
                MemoryKnowledgeStore::default(),
                ReviewingConfig::default(),
            )
            .await
            .ok()?;
            agents.push(reviewing);
        }
        Some(agents)
    });
    let backend = runtime.block_on(NatsBackend::connect(&url)).ok();
    if let (Some(_agents), Some(backend)) = (agents, backend) {
        let wait = Duration::from_secs(10);
        let pipeline = Pipeline::new(
            backend,
            PipelineOptions {
                nix: NixCheck::RnixOnly,
                agents: AgentParticipation::Remote { wait },
                replica_timeout: wait,
                fleet: fleet_options(),
                ..PipelineOptions::default()
            },
        );
        let n = AtomicU64::new(0);
        group.bench_function("over_nats_agent_runtimes", |b| {
            b.to_async(&runtime).iter(|| async {
                let graph =
                    numbered(dir.path(), &fleet_text, n.fetch_add(1, Ordering::Relaxed)).ok()?;
                let report = pipeline.deploy(&graph, &out, &()).await;
                if let Err(error) = &report {
                    eprintln!("review round failed: {error}");
                }
                black_box(report.ok())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
