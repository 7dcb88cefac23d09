//! Events of the `DeploymentGraph` aggregate: what happened, in the past tense.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::edge::DeploymentEdgeType;
use crate::node::DeploymentNode;
use crate::settings::FlakeSettings;

/// Something that happened to a deployment graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DeploymentGraphEvent {
    /// A node was added.
    NodeAdded {
        /// The node.
        node: DeploymentNode,
    },
    /// A node's content was replaced.
    NodeUpdated {
        /// Its new content.
        node: DeploymentNode,
    },
    /// A node and its edges were removed.
    NodeRemoved {
        /// The node.
        name: String,
    },
    /// An edge was added.
    NodesConnected {
        /// Source node.
        from: String,
        /// Target node.
        to: String,
        /// What the edge means.
        edge: DeploymentEdgeType,
    },
    /// An edge was removed.
    NodesDisconnected {
        /// Source node.
        from: String,
        /// Target node.
        to: String,
        /// The edge's type.
        edge: DeploymentEdgeType,
    },
    /// A node was placed on a host, replacing its earlier placement.
    NodePlaced {
        /// The node.
        node: String,
        /// The host.
        host: String,
    },
    /// The fleet-wide flake settings were replaced.
    FlakeConfigured {
        /// The new settings.
        settings: FlakeSettings,
    },
    /// The graph was validated and had no problems.
    GraphValidated,
    /// The graph was approved for deployment.
    GraphApproved {
        /// Who approved it.
        approved_by: String,
    },
}

impl DomainEvent for DeploymentGraphEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::NodeAdded { .. } => "NodeAdded",
            Self::NodeUpdated { .. } => "NodeUpdated",
            Self::NodeRemoved { .. } => "NodeRemoved",
            Self::NodesConnected { .. } => "NodesConnected",
            Self::NodesDisconnected { .. } => "NodesDisconnected",
            Self::NodePlaced { .. } => "NodePlaced",
            Self::FlakeConfigured { .. } => "FlakeConfigured",
            Self::GraphValidated => "GraphValidated",
            Self::GraphApproved { .. } => "GraphApproved",
        };
        name.to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
