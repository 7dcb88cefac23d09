//! Commands of the `DeploymentGraph` aggregate and why one is refused.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::edge::DeploymentEdgeType;
use crate::graph::{DeploymentGraph, EdgeView, GraphError};
use crate::node::DeploymentNode;
use crate::settings::FlakeSettings;
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
    /// Replace the fleet-wide flake settings (the document's `flake:` section).
    ConfigureFlake {
        /// The new settings.
        settings: FlakeSettings,
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
        Self::sync(&DeploymentGraph::new(), graph)
    }

    /// The commands that turn `current` into `wanted`, touching only what differs: changed
    /// flake settings first, then edges that
    /// went away are disconnected and nodes that went away removed, then new nodes are
    /// added, changed ones updated, and new edges connected. Running them against an aggregate
    /// holding `current` leaves it holding `wanted`; for equal graphs there are none, so
    /// applying a file again to a stored graph records nothing.
    pub fn sync(current: &DeploymentGraph, wanted: &DeploymentGraph) -> Vec<Self> {
        let current_edges = edge_keys(current);
        let wanted_edges = edge_keys(wanted);
        let mut commands = Vec::new();
        if current.settings() != wanted.settings() {
            commands.push(Self::ConfigureFlake {
                settings: wanted.settings().clone(),
            });
        }
        for edge in current.edges() {
            // Edges of removed nodes go with their node.
            if !wanted_edges.contains(&edge_key(&edge))
                && wanted.contains(&edge.from.name)
                && wanted.contains(&edge.to.name)
            {
                commands.push(Self::Disconnect {
                    from: edge.from.name.clone(),
                    to: edge.to.name.clone(),
                    edge: *edge.edge,
                });
            }
        }
        for node in current.nodes() {
            if !wanted.contains(&node.name) {
                commands.push(Self::RemoveNode {
                    name: node.name.clone(),
                });
            }
        }
        for node in wanted.nodes() {
            match current.node(&node.name) {
                None => commands.push(Self::AddNode { node: node.clone() }),
                Some(existing) if existing != node => {
                    commands.push(Self::UpdateNode { node: node.clone() });
                }
                Some(_) => {}
            }
        }
        for edge in wanted.edges() {
            if !current_edges.contains(&edge_key(&edge)) {
                commands.push(Self::Connect {
                    from: edge.from.name.clone(),
                    to: edge.to.name.clone(),
                    edge: *edge.edge,
                });
            }
        }
        commands
    }
}

/// An edge by what identifies it: its endpoints and its type.
type EdgeKey<'a> = (&'a str, &'a str, DeploymentEdgeType);

fn edge_key<'a>(edge: &EdgeView<'a>) -> EdgeKey<'a> {
    (edge.from.name.as_str(), edge.to.name.as_str(), *edge.edge)
}

fn edge_keys(graph: &DeploymentGraph) -> HashSet<EdgeKey<'_>> {
    graph.edges().map(|edge| edge_key(&edge)).collect()
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
