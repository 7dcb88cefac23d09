//! `cim-leaf agents ls`: the registry (JetStream KV bucket `cim-agents`) with presence evaluated
//! now, optionally only the agents with a capability.

use cim_naming::redact::redact_url;
use std::process::ExitCode;

use anyhow::Context;
use cim_agent_coordination::registry::{
    AgentRecord, Clock, PresenceConfig, Registry, Scope, SystemClock,
};
use cim_agent_coordination::transport::kv::JetStreamKeyValue;

use super::tasks::{NatsArgs, REGISTRY_BUCKET};

/// Arguments of `cim-leaf agents ls`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    #[command(flatten)]
    nats: NatsArgs,
    /// Only agents declaring this capability.
    #[arg(long)]
    capability: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Lists the registry.
pub fn run(args: LsArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(list(args))
}

async fn list(args: LsArgs) -> anyhow::Result<ExitCode> {
    let client = async_nats::connect(&args.nats.nats_url)
        .await
        .with_context(|| format!("connecting to NATS at {}", redact_url(&args.nats.nats_url)))?;
    let kv = JetStreamKeyValue::open(client, REGISTRY_BUCKET, 1).await?;
    let config = PresenceConfig::default();
    let registry = Registry::open(kv, config).await?;
    let now = SystemClock.now();
    let agents: Vec<AgentRecord> = match &args.capability {
        Some(capability) => registry.find_by_capability(capability, Scope::All),
        None => registry.list(),
    }
    .into_iter()
    .map(|mut record| {
        // The stored presence may be stale when no coordinator ticks; evaluate it now.
        record.presence = config.presence_at(record.heartbeat_secs, record.last_seen, now);
        record
    })
    .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&agents)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20} {:<8} {:<36} {:>5} {:<12} CAPABILITIES",
        "NAME", "PRESENCE", "ID", "TASKS", "HOST"
    );
    for agent in agents {
        println!(
            "{:<20} {:<8} {:<36} {:>5} {:<12} {}",
            agent.name,
            agent.presence.as_str(),
            agent.id,
            agent.max_concurrent_tasks,
            agent.host.as_deref().unwrap_or("-"),
            agent.capabilities.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}
