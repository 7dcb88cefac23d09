//! Why a fleet could not be loaded.

use cim_domain_agent::deploy::DeployError;
use cim_domain_graph::{DocumentError, ValidationErrors};

/// Why [`Fleet::load`](super::Fleet::load) failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The graph file cannot be read or is not a graph document.
    #[error(transparent)]
    Unreadable(DocumentError),
    /// The fleet has problems: every one found in the graph, the agent definitions, the node
    /// translators' checks and the GPU requests, at once.
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// The agents cannot be given container addresses (the subnet is too small).
    #[error(transparent)]
    Agents(DeployError),
    /// The public NATS keys file cannot be read or holds a key that is not a public user NKey.
    #[error("NATS keys: {0}")]
    NatsKeys(crate::nats_keys::KeysError),
    /// Keys were given, but not for every NATS identity of the graph.
    #[error(
        "no public NATS key for {}: run `cim-leaf keys generate GRAPH --dir DIR` and pass DIR/nats-public-keys.json",
        missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
    )]
    MissingNatsKeys {
        /// Every identity (node name) without a key, sorted.
        missing: Vec<String>,
    },
    /// An identity's permissions cannot be derived (its name is not a subject token).
    #[error("NATS identity `{identity}`: {reason}")]
    NatsIdentity {
        /// The identity.
        identity: String,
        /// Why.
        reason: String,
    },
}
