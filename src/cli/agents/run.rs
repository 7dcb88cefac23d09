//! `cim-leaf agents run`: the agent runtime. It loads and validates the agent file, connects to
//! NATS, publishes the registration, heartbeats at a fixed interval, and on SIGTERM or ctrl-c
//! publishes a deregistration, flushes and exits 0. The NixOS module `services.cim-agent`
//! starts exactly this command, so its flags are part of that module's contract.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use cim_domain_agent::announce::{
    AgentDeregistration, AgentHeartbeat, AgentRegistration, deregistered_subject,
    heartbeat_subject, registered_subject,
};
use cim_domain_agent::definition::{AgentId, parse_agent_file};

/// Arguments of `cim-leaf agents run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The agent definition file.
    #[arg(long)]
    agent_file: PathBuf,
    /// NATS server URL, e.g. `nats://10.0.0.1:4222`.
    #[arg(long)]
    nats_url: String,
    /// Ollama endpoint; overrides the definition's `model.ollama.url`.
    #[arg(long)]
    ollama_url: Option<String>,
    /// Directory the agent may write to; created when missing.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Agent id (UUID); overrides the definition's id. The Kubernetes Deployment passes it as
    /// `CIM_AGENT_ID`.
    #[arg(long, env = "CIM_AGENT_ID")]
    agent_id: Option<AgentId>,
    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    heartbeat_secs: u64,
}

/// Runs the agent until a shutdown signal.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: RunArgs) -> anyhow::Result<ExitCode> {
    let definition = match parse_agent_file(&args.agent_file) {
        Ok(definition) => definition,
        Err(error) => {
            for line in error.lines() {
                eprintln!("{line}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(dir) = &args.data_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    // Install the handlers before announcing, so a SIGTERM right after registration is clean.
    let mut shutdown = Shutdown::install()?;
    let client = async_nats::connect(&args.nats_url)
        .await
        .with_context(|| format!("connecting to NATS at {}", args.nats_url))?;

    let registration = AgentRegistration::new(
        &definition,
        args.agent_id,
        args.ollama_url.clone(),
        args.heartbeat_secs,
        chrono::Utc::now(),
    );
    let agent_id = registration.agent_id;
    let name = definition.name.clone();
    publish(
        &client,
        registered_subject(&name),
        serde_json::to_vec(&registration)?,
    )
    .await?;
    tracing::info!(agent = %name, id = %agent_id, "registered");
    // Also a NATS service ($SRV.PING / INFO / STATS), so `nats micro ls` lists the agent.
    let service = cim_agent_coordination::registry::start_agent_service(&client, &registration)
        .await
        .context("starting the agent's NATS service")?;

    let mut ticker = tokio::time::interval(Duration::from_secs(args.heartbeat_secs));
    let mut sequence = 0u64;
    let reason = loop {
        tokio::select! {
            _ = ticker.tick() => {
                sequence += 1;
                let heartbeat = AgentHeartbeat {
                    agent_id,
                    name: name.clone(),
                    sequence,
                    at: chrono::Utc::now(),
                };
                publish(&client, heartbeat_subject(&name), serde_json::to_vec(&heartbeat)?).await?;
            }
            reason = shutdown.wait() => break reason,
        }
    };
    let goodbye = AgentDeregistration {
        agent_id,
        name: name.clone(),
        reason: reason.to_owned(),
        at: chrono::Utc::now(),
    };
    publish(
        &client,
        deregistered_subject(&name),
        serde_json::to_vec(&goodbye)?,
    )
    .await?;
    tracing::info!(agent = %name, reason, "deregistered");
    if let Err(error) = service.stop().await {
        tracing::warn!(%error, "stopping the agent's NATS service");
    }
    Ok(ExitCode::SUCCESS)
}

async fn publish(
    client: &async_nats::Client,
    subject: String,
    payload: Vec<u8>,
) -> anyhow::Result<()> {
    client
        .publish(subject.clone(), payload.into())
        .await
        .with_context(|| format!("publishing to {subject}"))?;
    // Flush so the message is on the wire before the next step (or before exiting).
    client
        .flush()
        .await
        .with_context(|| format!("flushing {subject}"))
}

/// SIGTERM (systemd stop) and ctrl-c.
struct Shutdown {
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn install() -> anyhow::Result<Self> {
        let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        Ok(Self { terminate })
    }

    /// Resolves with the signal's name when one arrives.
    async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "ctrl-c",
        }
    }
}
