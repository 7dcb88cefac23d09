//! The main job: a fleet graph is reviewed and agreed by its agents, then becomes Nix.
//!
//! A thin showcase of `cim_leaf::pipeline`: the graph (`examples/graphs/fleet.yaml` by default)
//! and its five agents' definitions (`examples/agents/`: the Nix, NATS, network and database
//! experts and the orchestrator, two of them on GPUs) are loaded; every agent is registered,
//! a consensus proposal is opened for this exact graph version, each agent reviews the part its
//! capabilities cover and posts its findings to the proposal's dialog, and votes from them. When
//! the proposal passes, GPUs are granted from the hosts' declared GPUs, the files are checked
//! (rnix, and `nix-instantiate --parse` where installed) and written, and the deployment (graph
//! version, file hashes, GPU grants, votes) is recorded in the shared knowledge base, visible in
//! every agent's replica. A rejected graph writes nothing and exits non-zero; try
//! `--graph examples/graphs/nats-pair.yaml` (a two-member NATS cluster the NATS expert rejects).
//!
//! The hosts import the agent modules from this repository's own flake (`git+file://` of this
//! checkout, so `nix flake lock` in the output directory takes the committed files, not
//! `target/`); `--agent-flake` names another, such as the released one.
//!
//! Everything runs in this process by default; with `--nats URL` the same pipeline runs over a
//! NATS server (core NATS between the agents, JetStream for events, the registry and the
//! knowledge base).
//!
//! ```sh
//! cargo run --release --example end_to_end -- --out target/fleet
//! cargo run --release --example end_to_end -- --out target/fleet --nats nats://127.0.0.1:4222
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cim_leaf::pipeline::{EmbeddedBackend, NatsBackend, Pipeline, PipelineOptions};
use clap::Parser;

/// Review, agree and deploy a fleet graph.
#[derive(Debug, Parser)]
struct Args {
    /// The deployment graph (YAML or JSON).
    #[arg(long, default_value = "examples/graphs/fleet.yaml")]
    graph: PathBuf,
    /// Where the flake and host modules are written when approved.
    #[arg(long, default_value = "target/fleet")]
    out: PathBuf,
    /// Run over this NATS server instead of in process.
    #[arg(long)]
    nats: Option<String>,
    /// Flake reference of the cim-leaf flake the hosts import the agent modules from
    /// (default: this checkout).
    #[arg(long, value_name = "FLAKE_REF")]
    agent_flake: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let mut options = PipelineOptions::default();
    let this_repository = concat!("git+file://", env!("CARGO_MANIFEST_DIR"));
    options.fleet.flake.cim_leaf = Some(args.agent_flake.clone().unwrap_or(this_repository.into()));
    let report = match &args.nats {
        None => {
            println!("back end: in process");
            let pipeline = Pipeline::new(EmbeddedBackend::embedded()?, options);
            pipeline.deploy(&args.graph, &args.out, &()).await
        }
        Some(url) => {
            println!("back end: NATS at {url}");
            let backend = NatsBackend::connect(url).await?;
            let pipeline = Pipeline::new(backend, options);
            pipeline.deploy(&args.graph, &args.out, &()).await
        }
    }
    .with_context(|| format!("deploying {}", args.graph.display()))?;
    println!("graph {}", args.graph.display());
    println!("{report}");
    if report.approved() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("the agents did not approve {}", args.graph.display());
        Ok(ExitCode::from(2))
    }
}
