//! The whole pipeline on one fleet: a deployment graph and its agent definitions go in, and a
//! checked, deterministic set of Nix files comes out.
//!
//! 1. Load the fleet (`cim_leaf::Fleet`): the graph (`examples/graphs/fleet.yaml` by default)
//!    and every agent definition it references, read once and checked together; container
//!    addresses and GPU grants resolved from the hosts' declared GPUs.
//! 2. Register each agent (the Agent aggregate: registered → deployed on its host → active).
//! 3. Build the graph through the `DeploymentGraph` aggregate, one command per node and edge,
//!    then validate and approve it.
//! 4. Record the fleet's GPU grants in one pool per GPU host: grants the graph no longer needs
//!    are released, new ones made, so the pool always matches the devices the containers get.
//! 5. Translate the fleet (no I/O), write the files, and check each with rnix and, where
//!    installed, `nix-instantiate --parse`.
//!
//! Every state change is an event. By default the events live in memory
//! (`cim_jetstream::InMemoryEventStore`, which checks versions as JetStream does);
//! with `--nats URL` the same aggregates persist in JetStream instead.
//!
//! ```sh
//! cargo run --release --example end_to_end -- --out target/fleet
//! cargo run --release --example end_to_end -- --out target/fleet --nats nats://127.0.0.1:4222
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use cim_domain_agent::aggregate::{Agent, AgentCommand, Lifecycle};
use cim_domain_graph::DeploymentGraph;
use cim_domain_graph::aggregate::{DeploymentGraphAggregate, DeploymentGraphCommand, GraphStatus};
use cim_domain_nix::NixTool;
use cim_gpu::GpuPool;
use cim_jetstream::{
    InMemoryEventRepository, InMemoryEventStore, JetStreamConfig, JetStreamEventRepository,
    JetStreamEventStore,
};
use cim_leaf::{Fleet, FleetOptions};
use clap::Parser;
use cqrs_es::{AggregateContext, CqrsFramework, EventStore};

/// Deploy a fleet graph end to end: agents registered, graph approved, GPUs planned, flake written.
#[derive(Debug, Parser)]
struct Args {
    /// The deployment graph (YAML or JSON).
    #[arg(long, default_value = "examples/graphs/fleet.yaml")]
    graph: PathBuf,
    /// Where the flake and host modules are written.
    #[arg(long, default_value = "target/fleet")]
    out: PathBuf,
    /// Keep events in JetStream on this NATS server instead of in memory.
    #[arg(long)]
    nats: Option<String>,
}

const GRAPH_ID: &str = "fleet";
const APPROVER: &str = "end-to-end example";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match &args.nats {
        None => {
            println!("event store: in memory");
            let repo = InMemoryEventRepository::new();
            run(
                &args,
                || InMemoryEventStore::new_event_store(repo.clone()),
                || InMemoryEventStore::new_event_store(repo.clone()),
                || InMemoryEventStore::new_event_store(repo.clone()),
            )
            .await
        }
        Some(url) => {
            println!("event store: JetStream at {url}");
            let repo = JetStreamEventRepository::connect(url, JetStreamConfig::default())
                .await
                .with_context(|| format!("connecting to NATS at {url}"))?;
            run(
                &args,
                || JetStreamEventStore::<DeploymentGraphAggregate>::new_event_store(repo.clone()),
                || JetStreamEventStore::<Agent>::new_event_store(repo.clone()),
                || JetStreamEventStore::<GpuPool>::new_event_store(repo.clone()),
            )
            .await
        }
    }
}

/// Runs the pipeline; each store is opened more than once (a reader of what earlier runs left,
/// then a writer), so they come as factories over one backing store.
async fn run<GS, AS, PS>(
    args: &Args,
    graph_store: impl Fn() -> GS,
    agent_store: impl Fn() -> AS,
    pool_store: impl Fn() -> PS,
) -> anyhow::Result<()>
where
    GS: EventStore<DeploymentGraphAggregate>,
    AS: EventStore<Agent>,
    PS: EventStore<GpuPool>,
{
    let started = Instant::now();
    let fleet = Fleet::load(&args.graph, FleetOptions::default())
        .with_context(|| format!("loading {}", args.graph.display()))?;

    let agents = register_agents(&fleet, agent_store).await?;
    println!("agents: {agents} registered and active");

    let (approved, recorded) = approve_graph(fleet.graph(), graph_store).await?;
    println!(
        "graph: {} nodes, {} edges, approved by {APPROVER} ({recorded} commands recorded this run)",
        approved.node_count(),
        approved.edge_count()
    );

    fleet.record_gpu_grants(pool_store).await?;
    for (agent, grants) in fleet.gpu_grants() {
        let granted: Vec<String> = grants
            .iter()
            .map(|grant| match grant.device {
                Some(device) => format!("{} (/dev/nvidia{device})", grant.uuid),
                None => grant.uuid.to_string(),
            })
            .collect();
        println!("gpu: {agent} gets {}", granted.join(", "));
    }

    let spec = fleet.translate()?;
    spec.check_syntax()?;
    let checked_by_nix = match NixTool::detect()? {
        Some(tool) => {
            spec.check_with(&tool)?;
            true
        }
        None => false,
    };
    spec.write_to(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;

    for (path, text) in spec.files() {
        println!(
            "wrote {} ({} bytes)",
            args.out.join(path).display(),
            text.len()
        );
    }
    println!(
        "checked: rnix{} — done in {:.1} ms",
        if checked_by_nix {
            " and nix-instantiate --parse"
        } else {
            " (nix-instantiate not installed)"
        },
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// Every agent of the fleet (its definition read once, when the fleet was loaded) is brought to
/// `active` on its host, from wherever a previous run left it.
async fn register_agents<AS: EventStore<Agent>>(
    fleet: &Fleet,
    store: impl Fn() -> AS,
) -> anyhow::Result<usize> {
    let cqrs = CqrsFramework::new(store(), vec![], ());
    let mut active = 0;
    for agent in fleet.agents() {
        let definition = &agent.source.definition;
        let id = definition.id.to_string();
        let deploy = AgentCommand::Deploy {
            node: agent.host.clone(),
        };
        let mut context = store().load_aggregate(&id).await?;
        let commands = match context.aggregate().lifecycle() {
            None => vec![
                AgentCommand::register(definition),
                deploy,
                AgentCommand::Activate,
            ],
            Some(Lifecycle::Registered) => vec![deploy, AgentCommand::Activate],
            Some(Lifecycle::Deployed | Lifecycle::Suspended) => vec![AgentCommand::Activate],
            Some(Lifecycle::Active) => vec![],
            Some(Lifecycle::Decommissioned) => {
                bail!(
                    "agent {} was decommissioned; give it a new name",
                    definition.name
                )
            }
        };
        for command in commands {
            cqrs.execute(&id, command)
                .await
                .with_context(|| format!("agent {}", definition.name))?;
        }
        active += 1;
    }
    Ok(active)
}

/// The stored graph is brought to the file's through the aggregate (every node and edge that
/// differs is an event), then validated and approved; what is translated is the graph the
/// events rebuild. A second run with the same file records nothing.
async fn approve_graph<GS>(
    graph: &DeploymentGraph,
    store: impl Fn() -> GS,
) -> anyhow::Result<(DeploymentGraph, usize)>
where
    GS: EventStore<DeploymentGraphAggregate>,
{
    let cqrs = CqrsFramework::new(store(), vec![], ());
    let mut stored = store().load_aggregate(GRAPH_ID).await?;
    let mut commands = DeploymentGraphCommand::sync(stored.aggregate().graph(), graph);
    let status = stored.aggregate().status().clone();
    if !commands.is_empty() || status == GraphStatus::Draft {
        commands.push(DeploymentGraphCommand::Validate);
    }
    if !commands.is_empty() || !matches!(status, GraphStatus::Approved { .. }) {
        commands.push(DeploymentGraphCommand::Approve {
            approved_by: APPROVER.to_owned(),
        });
    }
    let recorded = commands.len();
    for command in commands {
        cqrs.execute(GRAPH_ID, command).await?;
    }
    let mut context = store().load_aggregate(GRAPH_ID).await?;
    Ok((context.aggregate().graph().clone(), recorded))
}
