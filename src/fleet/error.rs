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
}
