//! What a running agent announces on NATS: its registration when it starts, a heartbeat at a
//! fixed interval, and a deregistration when it stops. The runtime binary publishes these;
//! registries (the coordination crate) subscribe to `cim.agents.*.>` and decode them.
//!
//! Only the subjects and payloads live here; the crate opens no connection itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::definition::{AgentDefinition, AgentId, AgentName};

/// Subject prefix shared by every agent announcement.
pub const SUBJECT_PREFIX: &str = "cim.agents";

/// `cim.agents.<name>.registered`
pub fn registered_subject(name: &AgentName) -> String {
    format!("{SUBJECT_PREFIX}.{name}.registered")
}

/// `cim.agents.<name>.heartbeat`
pub fn heartbeat_subject(name: &AgentName) -> String {
    format!("{SUBJECT_PREFIX}.{name}.heartbeat")
}

/// `cim.agents.<name>.deregistered`
pub fn deregistered_subject(name: &AgentName) -> String {
    format!("{SUBJECT_PREFIX}.{name}.deregistered")
}

/// Published once when an agent runtime starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRegistration {
    /// The agent's id (the definition's, or the runtime's `--agent-id` override).
    pub agent_id: AgentId,
    /// The agent's name.
    pub name: AgentName,
    /// Human-facing name.
    pub display_name: String,
    /// Definition version.
    pub version: semver::Version,
    /// Capability names.
    pub capabilities: Vec<String>,
    /// Model name, when the definition names one.
    pub model: Option<String>,
    /// Model endpoint in use (the `--ollama-url` override or the definition's).
    pub model_endpoint: Option<String>,
    /// Seconds between heartbeats; a registry may mark the agent offline after missing a few.
    pub heartbeat_secs: u64,
    /// When the runtime started.
    pub started_at: DateTime<Utc>,
    /// The host the runtime runs on, when it says (absent in announcements from older runtimes).
    #[serde(default)]
    pub host: Option<String>,
    /// How many tasks the agent takes at once; 1 when an older runtime does not say.
    #[serde(default = "one_task")]
    pub max_concurrent_tasks: u32,
}

fn one_task() -> u32 {
    1
}

impl AgentRegistration {
    /// The registration for `definition`, with the runtime's overrides applied.
    pub fn new(
        definition: &AgentDefinition,
        agent_id: Option<AgentId>,
        model_endpoint: Option<String>,
        heartbeat_secs: u64,
        started_at: DateTime<Utc>,
    ) -> Self {
        Self {
            agent_id: agent_id.unwrap_or(definition.id),
            name: definition.name.clone(),
            display_name: definition.display_name.clone(),
            version: definition.version.clone(),
            capabilities: definition.capabilities.clone(),
            model: definition
                .model
                .name
                .clone()
                .or(definition.model.alias.clone()),
            model_endpoint: model_endpoint.or(definition.model.endpoint.clone()),
            heartbeat_secs,
            started_at,
            host: None,
            max_concurrent_tasks: 1,
        }
    }

    /// The same registration naming the host it runs on.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The same registration taking up to `tasks` tasks at once (at least 1).
    pub fn with_max_concurrent_tasks(mut self, tasks: u32) -> Self {
        self.max_concurrent_tasks = tasks.max(1);
        self
    }
}

/// Published every heartbeat interval while the runtime is alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHeartbeat {
    /// The agent's id.
    pub agent_id: AgentId,
    /// The agent's name.
    pub name: AgentName,
    /// 1 for the first heartbeat, then counting up; a gap tells a registry it missed some.
    pub sequence: u64,
    /// When it was sent.
    pub at: DateTime<Utc>,
}

/// Published when the runtime shuts down cleanly (SIGTERM or ctrl-c).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDeregistration {
    /// The agent's id.
    pub agent_id: AgentId,
    /// The agent's name.
    pub name: AgentName,
    /// Why it stopped (`SIGTERM`, `ctrl-c`).
    pub reason: String,
    /// When it stopped.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::NameError;

    #[test]
    fn subjects_use_the_agent_name_as_one_token() -> Result<(), NameError> {
        let name = AgentName::new("sage")?;
        assert_eq!(registered_subject(&name), "cim.agents.sage.registered");
        assert_eq!(heartbeat_subject(&name), "cim.agents.sage.heartbeat");
        assert_eq!(deregistered_subject(&name), "cim.agents.sage.deregistered");
        Ok(())
    }

    #[test]
    fn a_registration_from_an_older_runtime_still_decodes() -> Result<(), serde_json::Error> {
        let old = r#"{"agent_id":"6a1c5e0e-2f4b-4f6e-9c3d-8b1a7e2f0c41","name":"sage",
            "display_name":"Sage","version":"1.0.0","capabilities":["plan"],"model":null,
            "model_endpoint":null,"heartbeat_secs":10,"started_at":"2026-11-30T09:00:00Z"}"#;
        let registration: AgentRegistration = serde_json::from_str(old)?;
        assert_eq!(registration.host, None);
        assert_eq!(registration.max_concurrent_tasks, 1);
        Ok(())
    }
}
