//! What the registry keeps per agent: one KV key, `agents.<agent id>`, holding an [`AgentRecord`].

use chrono::{DateTime, Utc};
use cim_domain_agent::announce::AgentRegistration;
use cim_domain_agent::{AgentId, AgentName};
use serde::{Deserialize, Serialize};

use super::Presence;

/// The KV key of an agent: `agents.<agent id>` (a UUID is a valid KV token).
pub fn key_of(id: AgentId) -> String {
    format!("agents.{id}")
}

/// One registered agent as stored in the bucket and as discovery returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// The agent's id.
    pub id: AgentId,
    /// The agent's name (unique among live agents with this id).
    pub name: AgentName,
    /// Human-facing name.
    pub display_name: String,
    /// Definition version.
    pub version: semver::Version,
    /// Capability names, sorted and de-duplicated.
    pub capabilities: Vec<String>,
    /// Model name, when the agent names one.
    pub model: Option<String>,
    /// The host it runs on, when it says.
    pub host: Option<String>,
    /// How many tasks it takes at once (at least 1).
    pub max_concurrent_tasks: u32,
    /// Seconds between its heartbeats.
    pub heartbeat_secs: u64,
    /// When the registry accepted its latest registration.
    pub registered_at: DateTime<Utc>,
    /// When the registry last heard from it (registration or heartbeat).
    pub last_seen: DateTime<Utc>,
    /// The sequence of its latest heartbeat (0 before the first).
    pub last_sequence: u64,
    /// Its presence as last written.
    pub presence: Presence,
}

impl AgentRecord {
    /// The record a registration received at `now` creates.
    pub fn from_registration(registration: &AgentRegistration, now: DateTime<Utc>) -> Self {
        let mut capabilities = registration.capabilities.clone();
        capabilities.sort();
        capabilities.dedup();
        Self {
            id: registration.agent_id,
            name: registration.name.clone(),
            display_name: registration.display_name.clone(),
            version: registration.version.clone(),
            capabilities,
            model: registration.model.clone(),
            host: registration.host.clone(),
            max_concurrent_tasks: registration.max_concurrent_tasks.max(1),
            heartbeat_secs: registration.heartbeat_secs,
            registered_at: now,
            last_seen: now,
            last_sequence: 0,
            presence: Presence::Online,
        }
    }

    /// Whether it declares `capability`.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities
            .binary_search_by(|c| c.as_str().cmp(capability))
            .is_ok()
    }
}
