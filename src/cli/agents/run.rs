//! `cim-leaf agents run`: the agent runtime. It loads and validates the agent file, connects to
//! NATS, publishes the registration, heartbeats at a fixed interval, takes part in deployment
//! decisions ([`cim_leaf::runtime`]: reviews proposals, votes, keeps a knowledge replica), and
//! on SIGTERM or ctrl-c publishes a deregistration and exits 0. The NixOS module
//! `services.cim-agent` starts exactly this command, so its flags are part of that module's
//! contract.
//!
//! Shutdown wins in every state: no step waits on the server without also waiting for the
//! signal, and the goodbye is given [`GOODBYE_WAIT`] to reach a server that may be gone. The
//! agent registers again after every reconnect and on every roll call
//! (`cim.agents.roll-call`), so a registry that started later still sees it.

use cim_naming::redact::redact_url;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use cim_agent_coordination::knowledge::{
    JetStreamKnowledgeStore, JetStreamStoreConfig, KnowledgeStore, KnowledgeSubjects,
    MemoryKnowledgeStore,
};
use cim_agent_coordination::registry::ROLL_CALL;
use cim_agent_coordination::transport::NatsTransport;
use cim_domain_agent::announce::{
    AgentDeregistration, AgentHeartbeat, AgentRegistration, deregistered_subject,
    heartbeat_subject, registered_subject,
};
use cim_domain_agent::definition::{AgentDefinition, AgentId, AgentName, parse_agent_file};
use cim_leaf::pipeline::KNOWLEDGE_SPACE;
use cim_leaf::runtime::{AgentIdentity, ReviewingAgent, ReviewingConfig};
use futures::StreamExt as _;

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
    /// How the agent authenticates (its seed is mounted at `/run/secrets/cim/nats/<agent>.nk`
    /// in deployed fleets).
    #[command(flatten)]
    nats_auth: crate::cli::nats_auth::NatsAuthArgs,
}

/// How long each message may take to be confirmed by the server before the runtime moves on
/// (it keeps running; the client reconnects on its own).
const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// How long the deregistration may take to reach the server after a shutdown signal.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

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
    // Install the handlers before connecting, so a SIGTERM at any point is clean.
    let mut shutdown = Shutdown::install()?;
    let (connected_tx, mut connected) = tokio::sync::mpsc::unbounded_channel();
    // The client reports its first connection too; only the later ones are reconnects.
    let first_connection = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let options = async_nats::ConnectOptions::new().event_callback(move |event| {
        let connected_tx = connected_tx.clone();
        let first_connection = std::sync::Arc::clone(&first_connection);
        async move {
            match event {
                async_nats::Event::Connected => {
                    if !first_connection.swap(false, std::sync::atomic::Ordering::SeqCst) {
                        let _ = connected_tx.send(());
                    }
                }
                async_nats::Event::Disconnected => {
                    tracing::warn!("NATS connection lost; reconnecting");
                }
                // A permissions violation (this identity may not use a subject) lands here.
                async_nats::Event::ServerError(error) => {
                    tracing::warn!(%error, "NATS server error");
                }
                other => tracing::debug!(event = %other, "NATS client event"),
            }
        }
    });
    let client = tokio::select! {
        client = async {
            let options = args.nats_auth.auth().apply(options).await?;
            anyhow::Ok(options.connect(&args.nats_url).await?)
        } => {
            client.with_context(|| format!("connecting to NATS at {}", redact_url(&args.nats_url)))?
        }
        reason = shutdown.wait() => {
            tracing::info!(reason, "shutdown before connecting to NATS");
            return Ok(ExitCode::SUCCESS);
        }
    };

    let registration = AgentRegistration::new(
        &definition,
        args.agent_id,
        args.ollama_url.clone(),
        args.heartbeat_secs,
        chrono::Utc::now(),
    );
    let agent_id = registration.agent_id;
    let name = definition.name.clone();
    let registration_bytes = serde_json::to_vec(&registration)?;
    publish(
        &client,
        registered_subject(&name),
        registration_bytes.clone(),
        FLUSH_WAIT,
    )
    .await;
    tracing::info!(agent = %name, id = %agent_id, "registered");
    let mut roll_calls = client
        .subscribe(ROLL_CALL)
        .await
        .context("subscribing to the roll call")?;
    // Also a NATS service ($SRV.PING / INFO / STATS), so `nats micro ls` lists the agent.
    let service = tokio::select! {
        service = cim_agent_coordination::registry::start_agent_service(&client, &registration) => {
            service.context("starting the agent's NATS service")?
        }
        reason = shutdown.wait() => {
            goodbye(&client, agent_id, &name, reason).await;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let reviewing = tokio::select! {
        reviewing = take_part(&client, &definition, agent_id) => reviewing?,
        reason = shutdown.wait() => {
            goodbye(&client, agent_id, &name, reason).await;
            return Ok(ExitCode::SUCCESS);
        }
    };

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
                // Not awaited beyond a short wait: a server that is gone must not stop the loop.
                publish(&client, heartbeat_subject(&name), serde_json::to_vec(&heartbeat)?, Duration::ZERO).await;
            }
            Some(()) = connected.recv() => {
                tracing::info!(agent = %name, "reconnected to NATS; registering again");
                publish(&client, registered_subject(&name), registration_bytes.clone(), Duration::ZERO).await;
            }
            Some(_) = roll_calls.next() => {
                publish(&client, registered_subject(&name), registration_bytes.clone(), Duration::ZERO).await;
            }
            reason = shutdown.wait() => break reason,
        }
    };
    drop(reviewing);
    goodbye(&client, agent_id, &name, reason).await;
    if tokio::time::timeout(GOODBYE_WAIT, service.stop())
        .await
        .is_err()
    {
        tracing::warn!("stopping the agent's NATS service timed out");
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts reviewing and voting, with a knowledge replica kept in JetStream when the server
/// has it (so a restarted agent still knows what was deployed), in memory otherwise.
async fn take_part(
    client: &async_nats::Client,
    definition: &AgentDefinition,
    agent_id: AgentId,
) -> anyhow::Result<Box<dyn std::any::Any + Send>> {
    let identity = AgentIdentity {
        name: definition.name.to_string(),
        id: agent_id,
        capabilities: definition.capabilities.clone(),
    };
    let config = ReviewingConfig {
        nix_tool: cim_domain_nix::NixTool::detect()?,
        ..ReviewingConfig::default()
    };
    let subjects = KnowledgeSubjects::new(KNOWLEDGE_SPACE)?;
    let transport = NatsTransport::new(client.clone());
    match JetStreamKnowledgeStore::open(client.clone(), subjects, JetStreamStoreConfig::default())
        .await
    {
        Ok(store) => start_reviewing(transport, identity, store, config).await,
        Err(error) => {
            tracing::warn!(%error, "no JetStream for the knowledge replica; keeping it in memory");
            start_reviewing(transport, identity, MemoryKnowledgeStore::default(), config).await
        }
    }
}

async fn start_reviewing<S: KnowledgeStore>(
    transport: NatsTransport,
    identity: AgentIdentity,
    store: S,
    config: ReviewingConfig,
) -> anyhow::Result<Box<dyn std::any::Any + Send>> {
    let name = identity.name.clone();
    let agent = ReviewingAgent::start(transport, identity, store, config)
        .await
        .context("joining deployment reviews")?;
    tracing::info!(agent = %name, "reviewing deployment proposals");
    Ok(Box::new(agent))
}

/// Publishes the deregistration and gives it [`GOODBYE_WAIT`] to reach the server.
async fn goodbye(client: &async_nats::Client, agent_id: AgentId, name: &AgentName, reason: &str) {
    let goodbye = AgentDeregistration {
        agent_id,
        name: name.clone(),
        reason: reason.to_owned(),
        at: chrono::Utc::now(),
    };
    let payload = serde_json::to_vec(&goodbye).unwrap_or_default();
    if publish(client, deregistered_subject(name), payload, GOODBYE_WAIT).await {
        tracing::info!(agent = %name, reason, "deregistered");
    } else {
        tracing::warn!(agent = %name, reason, "NATS unreachable: the deregistration was not confirmed; exiting anyway");
    }
}

/// Publishes and waits up to `wait` for the server to confirm (flush); a zero `wait` does not
/// wait. Returns whether it was confirmed; failures are logged, never fatal.
async fn publish(
    client: &async_nats::Client,
    subject: String,
    payload: Vec<u8>,
    wait: Duration,
) -> bool {
    // `publish` only queues the message; with the server gone the queue can fill, so bound it.
    let queued =
        tokio::time::timeout(FLUSH_WAIT, client.publish(subject.clone(), payload.into())).await;
    if !matches!(queued, Ok(Ok(()))) {
        tracing::warn!(%subject, "could not queue the message for NATS");
        return false;
    }
    if wait.is_zero() {
        return true;
    }
    match tokio::time::timeout(wait, client.flush()).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%subject, %error, "NATS did not confirm the message");
            false
        }
        Err(_) => {
            tracing::warn!(%subject, ?wait, "NATS did not confirm the message in time");
            false
        }
    }
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
