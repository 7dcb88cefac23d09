//! `cim-leaf serve`: the deployment service ([`cim_leaf::service`]) on a NATS server, until
//! SIGTERM or ctrl-c, then it drains (finishes the requests it took) and exits 0.

use cim_naming::redact::redact_url;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use cim_leaf::pipeline::{NatsBackend, Pipeline};
use cim_leaf::service::{Command, DeploymentService, SERVICE_NAME, serve};

use super::deploy::{ProtocolArg, pipeline_options};
use super::flake::FlakeArgs;
use super::nats_auth::NatsAuthArgs;

/// Arguments of `cim-leaf serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The NATS server (JetStream enabled) to serve on and keep state in.
    #[arg(long)]
    nats: String,
    /// The graph file the service starts from (its directory holds the agent definitions).
    #[arg(long)]
    graph: PathBuf,
    /// Directory approved deployments are written into.
    #[arg(long)]
    out: PathBuf,
    /// How the agents' votes decide.
    #[arg(long, value_enum, default_value = "unanimous")]
    protocol: ProtocolArg,
    /// The agents run as their own `cim-leaf agents run` processes: wait up to this many
    /// seconds for them at each step (see `deploy --remote-agents`).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    remote_agents: Option<u64>,
    /// The flake settings.
    #[command(flatten)]
    flake: FlakeArgs,
    /// How to authenticate to the NATS server (the `_operator` seed on a keyed bus).
    #[command(flatten)]
    nats_auth: NatsAuthArgs,
}

/// Runs `cim-leaf serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("installing the SIGTERM handler")?;
        let options = pipeline_options(args.protocol, args.remote_agents, &args.flake);
        let auth = args.nats_auth.auth();
        let backend = NatsBackend::connect_with(&args.nats, &auth).await?;
        let client = auth
            .apply(async_nats::ConnectOptions::new())
            .await?
            .connect(&args.nats)
            .await
            .with_context(|| format!("connecting to NATS at {}", redact_url(&args.nats)))?;
        let service =
            DeploymentService::start(Pipeline::new(backend, options), &args.graph, &args.out)
                .await
                .with_context(|| format!("loading {}", args.graph.display()))?;
        tracing::info!(
            service = SERVICE_NAME,
            subjects = ?Command::ALL.map(Command::subject),
            version = %service.version().await,
            "serving deployments"
        );
        eprintln!(
            "{SERVICE_NAME}: serving {} on {}",
            Command::ALL.map(Command::subject).join(", "),
            redact_url(&args.nats)
        );
        let shutdown = async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        serve(Arc::new(service), client, shutdown).await?;
        eprintln!("{SERVICE_NAME}: drained, exiting");
        Ok(ExitCode::SUCCESS)
    })
}
