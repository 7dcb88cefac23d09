//! Commands of the `DeploymentGraph` aggregate and why one is refused.

use serde::{Deserialize, Serialize};

use crate::edge::DeploymentEdgeType;
use crate::graph::{DeploymentGraph, GraphError};
use crate::node::DeploymentNode;
use crate::validate::ValidationErrors;

/// What a caller asks the aggregate to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DeploymentGraphCommand {
    /// Add a node with a new, valid name.
    AddNode {
        /// The node.
        node: DeploymentNode,
    },
    /// Replace the node with the same name.
    UpdateNode {
        /// The node's new content.
        node: DeploymentNode,
    },
    /// Remove a node and its edges.
    RemoveNode {
        /// The node.
        name: String,
    },
    /// Add an edge.
    Connect {
        /// Source node.
        from: String,
        /// Target node.
        to: String,
        /// What the edge means.
        edge: DeploymentEdgeType,
    },
    /// Remove an edge.
    Disconnect {
        /// Source node.
        from: String,
        /// Target node.
        to: String,
        /// The edge's type.
        edge: DeploymentEdgeType,
    },
    /// Place a node on a host, replacing its earlier placement.
    PlaceOnHost {
        /// The node.
        node: String,
        /// The host.
        host: String,
    },
    /// Check the whole graph; refused with every problem when there are any.
    Validate,
    /// Approve a validated graph for deployment.
    Approve {
        /// Who approves it.
        approved_by: String,
    },
}

impl DeploymentGraphCommand {
    /// The commands that build `graph` in an empty aggregate: every node, then every edge
    /// (placements included), so a graph read from a file enters the event log one fact at a time.
    pub fn build(graph: &DeploymentGraph) -> Vec<Self> {
        let nodes = graph
            .nodes()
            .map(|node| Self::AddNode { node: node.clone() });
        let edges = graph.edges().map(|edge| Self::Connect {
            from: edge.from.name.clone(),
            to: edge.to.name.clone(),
            edge: *edge.edge,
        });
        nodes.chain(edges).collect()
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphCommandError {
    /// The edit does not fit the graph (unknown node, duplicate name or edge, missing edge).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A new node's name cannot become a NixOS attribute, systemd unit or container name.
    #[error("node name `{name}` cannot be used: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A node can only be placed on a host.
    #[error("`{name}` is not a host")]
    NotAHost {
        /// The node that is not a host.
        name: String,
    },
    /// The graph has problems.
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// Only a graph validated since its last change can be approved.
    #[error("the graph changed since it was last validated; validate it before approving")]
    NotValidated,
    /// The graph is approved already.
    #[error("the graph is already approved by `{approved_by}`")]
    AlreadyApproved {
        /// Who approved it.
        approved_by: String,
    },
    /// An approval must say who gives it.
    #[error("an approval needs a non-empty `approved_by`")]
    NoApprover,
}
