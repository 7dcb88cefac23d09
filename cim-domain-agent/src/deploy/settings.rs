//! The settings one agent is deployed with: what its definition says, overridden by the operator
//! (NATS URL, Ollama URL, limits, log level), with defaults for the rest.

use crate::definition::{AgentDefinition, CpuQuota, LogLevel, MemoryMax, RestartPolicy};

use super::endpoint::Endpoint;
use super::error::DeployError;

/// NATS server used when neither the definition nor an override names one; the same default as
/// the `services.cim-agent` module's `natsUrl`.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// Operator settings that win over every definition's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeployOverrides {
    /// NATS server for every agent.
    pub nats_url: Option<String>,
    /// Ollama endpoint for every agent.
    pub ollama_url: Option<String>,
    /// Memory limit for every agent.
    pub memory_max: Option<MemoryMax>,
    /// CPU quota for every agent.
    pub cpu_quota: Option<CpuQuota>,
    /// Task limit for every agent.
    pub tasks_max: Option<u32>,
    /// Log level for every agent.
    pub log_level: Option<LogLevel>,
    /// Whether every agent authenticates to NATS with its NKey seed file at
    /// [`nats_seed_path`](cim_domain_graph::security::nats_seed_path) (on Kubernetes, from the
    /// Secret [`nats_seed_secret`](crate::deploy::k8s::nats_seed_secret) names).
    pub nats_nkey_seeds: bool,
}

/// The resolved settings of one agent. `None` leaves the deployment target's default in place.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    /// NATS server.
    pub nats: Endpoint,
    /// Ollama endpoint, when the agent or the operator names one.
    pub ollama: Option<Endpoint>,
    /// Memory limit.
    pub memory_max: Option<MemoryMax>,
    /// CPU quota.
    pub cpu_quota: Option<CpuQuota>,
    /// Task limit.
    pub tasks_max: Option<u32>,
    /// Log level.
    pub log_level: Option<LogLevel>,
    /// Log format (`json`, `text`).
    pub log_format: Option<String>,
    /// Restart policy.
    pub restart_policy: Option<RestartPolicy>,
    /// Seconds between restarts.
    pub restart_sec: Option<u32>,
    /// Restarts before systemd gives up (`restart.max_retries`, the unit's start limit).
    pub max_retries: Option<u32>,
    /// GPUs the agent needs (0 for none).
    pub gpus: u32,
    /// The agent's NKey seed file, when its NATS servers require authentication (set by the
    /// fleet, never by the definition): a path such as `/run/secrets/cim/nats/<agent>.nk`,
    /// bound read-only into its container and passed as `--nkey-seed`.
    pub nats_seed_file: Option<String>,
}

impl AgentSettings {
    /// Resolves `definition`'s settings under `overrides`.
    pub fn resolve(
        definition: &AgentDefinition,
        overrides: &DeployOverrides,
    ) -> Result<Self, DeployError> {
        let agent = definition.name.as_str();
        let (nats_field, nats_url) = match (&overrides.nats_url, &definition.nats.url) {
            (Some(url), _) => ("--nats-url", url.as_str()),
            (None, Some(url)) => ("nats.url", url.as_str()),
            (None, None) => ("default NATS URL", DEFAULT_NATS_URL),
        };
        if crate::definition::nats_url_problem(nats_url).is_some() {
            return Err(DeployError::BadUrl {
                agent: agent.to_owned(),
                field: nats_field,
                url: nats_url.to_owned(),
                example: "nats://host:4222",
            });
        }
        let nats = endpoint(agent, nats_field, nats_url, "nats://host:4222")?;
        let ollama = match (&overrides.ollama_url, &definition.model.endpoint) {
            (Some(url), _) => Some(endpoint(agent, "--ollama-url", url, "http://host:11434")?),
            (None, Some(url)) => Some(endpoint(
                agent,
                "model.ollama.url",
                url,
                "http://host:11434",
            )?),
            (None, None) => None,
        };
        let deployment = &definition.deployment;
        Ok(Self {
            nats,
            ollama,
            memory_max: overrides
                .memory_max
                .clone()
                .or_else(|| deployment.resources.memory_max.clone()),
            cpu_quota: overrides.cpu_quota.or(deployment.resources.cpu_quota),
            tasks_max: overrides.tasks_max.or(deployment.resources.tasks_max),
            log_level: overrides.log_level.or(deployment.logging.level),
            log_format: deployment.logging.format.clone(),
            restart_policy: deployment.restart.policy,
            restart_sec: deployment.restart.interval_sec,
            max_retries: deployment.restart.max_retries,
            gpus: definition.deployment.resources.gpus.unwrap_or(0),
            nats_seed_file: overrides
                .nats_nkey_seeds
                .then(|| cim_domain_graph::security::nats_seed_path(agent)),
        })
    }
}

fn endpoint(
    agent: &str,
    field: &'static str,
    url: &str,
    example: &'static str,
) -> Result<Endpoint, DeployError> {
    Endpoint::parse(url).ok_or_else(|| DeployError::BadUrl {
        agent: agent.to_owned(),
        field,
        url: url.to_owned(),
        example,
    })
}
