//! The registry's typed change feed.

use cim_domain_agent::{AgentId, AgentName};

use super::{AgentRecord, Presence};

/// A change in the registry, derived from the stored records (so every coordinator following
/// the bucket sees the same sequence).
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryEvent {
    /// An agent id appeared in the registry.
    Joined(AgentRecord),
    /// An agent deregistered (its key was deleted).
    Left {
        /// Its id.
        id: AgentId,
        /// Its name.
        name: AgentName,
    },
    /// An agent's presence changed (a re-registration after offline is `Offline -> Online`).
    PresenceChanged {
        /// Its id.
        id: AgentId,
        /// Its name.
        name: AgentName,
        /// The presence before.
        from: Presence,
        /// The presence now.
        to: Presence,
    },
}

/// The events that turn `before` into `after` (both the stored record of one agent).
pub fn diff(before: Option<&AgentRecord>, after: Option<&AgentRecord>) -> Vec<RegistryEvent> {
    match (before, after) {
        (None, Some(record)) => vec![RegistryEvent::Joined(record.clone())],
        (Some(record), None) => vec![RegistryEvent::Left {
            id: record.id,
            name: record.name.clone(),
        }],
        (Some(old), Some(new)) if old.presence != new.presence => {
            vec![RegistryEvent::PresenceChanged {
                id: new.id,
                name: new.name.clone(),
                from: old.presence,
                to: new.presence,
            }]
        }
        _ => Vec::new(),
    }
}
