//! The view of an agent the router needs, fed by the registry (or by hand in tests).

use cim_domain_agent::AgentId;
use serde::{Deserialize, Serialize};

/// Whether an agent can take a message now. The registry decides it (heartbeats, leases); the
/// router only reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Presence {
    /// Reachable: messages are delivered at once.
    Online,
    /// Not reachable: the router's [`crate::dialog::OfflinePolicy`] decides.
    Offline,
}

/// One agent as the dialog router sees it: the few registry fields routing depends on.
///
/// A registry feeds these with [`crate::dialog::AgentDialogRouter::upsert_agent`] and
/// [`crate::dialog::AgentDialogRouter::set_presence`]; the router keeps no other source of truth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogAgent {
    /// The agent's identity.
    pub id: AgentId,
    /// Its name (for logs and selector functions; routing never depends on it).
    pub name: String,
    /// Capability names, e.g. `nix`, `gpu-planning`; order and duplicates do not matter.
    pub capabilities: Vec<String>,
    /// Online or offline.
    pub presence: Presence,
    /// Preference for priority routing: higher goes first (ties broken by the smaller id).
    pub preference: i32,
}

impl DialogAgent {
    /// An online agent with preference 0.
    pub fn online(
        id: AgentId,
        name: impl Into<String>,
        capabilities: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            id,
            name: name.into(),
            capabilities: capabilities.into_iter().map(Into::into).collect(),
            presence: Presence::Online,
            preference: 0,
        }
    }

    /// The same agent with another preference.
    pub fn with_preference(mut self, preference: i32) -> Self {
        self.preference = preference;
        self
    }

    /// Whether it lists `capability`.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}
