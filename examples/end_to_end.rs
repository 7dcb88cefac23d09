//! The whole pipeline on one fleet: a deployment graph and its agent definitions go in, and a
//! checked, deterministic set of Nix files comes out.
//!
//! 1. Read the graph (`examples/graphs/fleet.yaml` by default) and every agent definition it
//!    references.
//! 2. Register each agent (the Agent aggregate: registered → deployed on its host → active).
//! 3. Build the graph through the `DeploymentGraph` aggregate, one command per node and edge,
//!    then validate and approve it.
//! 4. Plan GPUs: one pool per host with GPUs, whole GPUs granted to the agents that need them.
//! 5. Translate the approved graph (agent nodes by `cim-domain-agent`'s translator), write the
//!    files, and check each with rnix and, where installed, `nix-instantiate --parse`.
//!
//! Every state change is an event. By default the events live in memory
//! (`cim_jetstream::InMemoryEventStore`, which checks versions as JetStream does);
//! with `--nats URL` the same aggregates persist in JetStream instead.
//!
//! ```sh
//! cargo run --release --example end_to_end -- --out target/fleet
//! cargo run --release --example end_to_end -- --out target/fleet --nats nats://127.0.0.1:4222
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use cim_domain_agent::aggregate::{Agent, AgentCommand, Lifecycle};
use cim_domain_agent::deploy::fleet_translator;
use cim_domain_agent::parse_agent_file;
use cim_domain_graph::aggregate::{DeploymentGraphAggregate, DeploymentGraphCommand, GraphStatus};
use cim_domain_graph::translate::GraphToNixTranslator;
use cim_domain_graph::{DeploymentGraph, DeploymentNodeType, GraphDocument};
use cim_domain_nix::NixTool;
use cim_gpu::{
    AllocationId, AllocationOutcome, AllocationRequest, GpuAllocator, GpuPool, GpuRequirements,
    GpuUuid, GpuVendor, GpuView, MemoryRequest, PoolCommand, PoolConfig, Priority,
};
use cim_jetstream::{
    InMemoryEventRepository, InMemoryEventStore, JetStreamConfig, JetStreamEventRepository,
    JetStreamEventStore,
};
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
    let document = GraphDocument::from_path(&args.graph)
        .with_context(|| format!("reading {}", args.graph.display()))?;
    let graph = document
        .to_graph()
        .map_err(|problems| anyhow::anyhow!("{}: {problems}", args.graph.display()))?;
    let graph_dir = args.graph.parent().unwrap_or(Path::new("."));

    let agents = register_agents(&graph, graph_dir, agent_store).await?;
    println!("agents: {agents} registered and active");

    let (approved, recorded) = approve_graph(&graph, graph_store).await?;
    println!(
        "graph: {} nodes, {} edges, approved by {APPROVER} ({recorded} commands recorded this run)",
        approved.node_count(),
        approved.edge_count()
    );

    let grants = plan_gpus(&approved, pool_store).await?;
    for (agent, devices) in &grants {
        println!("gpu: {agent} gets {}", devices.join(", "));
    }

    let spec = fleet_translator(graph_dir).translate_graph(&approved)?;
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

/// Every agent node's definition is read and its Agent aggregate brought to `active` on the
/// node's host, from wherever a previous run left it.
async fn register_agents<AS: EventStore<Agent>>(
    graph: &DeploymentGraph,
    graph_dir: &Path,
    store: impl Fn() -> AS,
) -> anyhow::Result<usize> {
    let cqrs = CqrsFramework::new(store(), vec![], ());
    let mut active = 0;
    for node in graph.nodes() {
        let DeploymentNodeType::Agent(spec) = &node.node_type else {
            continue;
        };
        let path = graph_dir.join(&spec.definition);
        let definition = parse_agent_file(&path)
            .with_context(|| format!("agent node {}: {}", node.name, path.display()))?;
        let host = graph
            .host_of(&node.name)
            .with_context(|| format!("agent node {} is placed on no host", node.name))?;
        let id = definition.id.to_string();
        let deploy = AgentCommand::Deploy {
            node: host.name.clone(),
        };
        let mut context = store().load_aggregate(&id).await?;
        let commands = match context.aggregate().lifecycle() {
            None => vec![
                AgentCommand::register(&definition),
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

/// One pool per host with GPUs; each agent that needs GPUs gets whole ones on its host, so two
/// agents never share a device and a host cannot be promised more GPUs than it has.
async fn plan_gpus<PS>(
    graph: &DeploymentGraph,
    store: impl Fn() -> PS,
) -> anyhow::Result<BTreeMap<String, Vec<String>>>
where
    PS: EventStore<GpuPool>,
{
    let mut pools = BTreeMap::new();
    for node in graph.nodes() {
        let DeploymentNodeType::Host(host) = &node.node_type else {
            continue;
        };
        if host.gpus.is_empty() {
            continue;
        }
        let allocator = GpuAllocator::new(store(), format!("gpu-pool-{}", node.name));
        let existing = allocator.pool().await?;
        if existing.config().is_none() {
            allocator
                .execute(PoolCommand::CreatePool {
                    config: PoolConfig::default(),
                })
                .await?;
        }
        for (index, gpu) in host.gpus.iter().enumerate() {
            let device = GpuView {
                uuid: GpuUuid::new(format!("GPU-{}-{index}", node.name))?,
                vendor: GpuVendor::Nvidia,
                model: gpu.model.clone(),
                memory_bytes: gpu.memory_mb.unwrap_or(0) << 20,
                compute_capability: None,
                tensor_cores: false,
                healthy: true,
            };
            if existing.device_usage(&device.uuid).is_some() {
                continue;
            }
            allocator
                .execute(PoolCommand::RegisterDevice { device })
                .await?;
        }
        pools.insert(node.name.clone(), allocator);
    }

    let mut grants = BTreeMap::new();
    for node in graph.nodes() {
        let DeploymentNodeType::Agent(spec) = &node.node_type else {
            continue;
        };
        if spec.gpus == 0 {
            continue;
        }
        let Some(host) = graph.host_of(&node.name) else {
            bail!("agent {} needs GPUs but is placed on no host", node.name);
        };
        let Some(pool) = pools.get(&host.name) else {
            bail!(
                "agent {} needs GPUs but host {} declares none",
                node.name,
                host.name
            );
        };
        // GPUs granted by an earlier run are kept, not asked for again.
        let mut devices: Vec<String> = pool
            .pool()
            .await?
            .allocations()
            .into_iter()
            .filter(|allocation| allocation.agent == node.name)
            .map(|allocation| allocation.device.to_string())
            .collect();
        while devices.len() < spec.gpus as usize {
            let request = AllocationRequest {
                allocation_id: AllocationId::new(),
                agent: node.name.clone(),
                memory: MemoryRequest::WholeGpu,
                requirements: GpuRequirements::default(),
                priority: Priority(10),
            };
            match pool.allocate(request).await? {
                AllocationOutcome::Allocated { allocation, .. } => {
                    devices.push(allocation.device.to_string());
                }
                AllocationOutcome::Rejected(reason) => {
                    bail!("agent {}: no GPU on {}: {reason}", node.name, host.name);
                }
            }
        }
        grants.insert(node.name.clone(), devices);
    }
    Ok(grants)
}
