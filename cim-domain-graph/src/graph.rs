//! The deployment graph: named, typed nodes joined by typed edges, on a petgraph `StableGraph`.

use petgraph::Direction;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::edge::DeploymentEdgeType;
use crate::node::DeploymentNode;
use crate::settings::FlakeSettings;

/// Why an edit of a [`DeploymentGraph`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum GraphError {
    /// No node has this name.
    #[error("no node is named `{name}`")]
    UnknownNode {
        /// The missing name.
        name: String,
    },
    /// A node with this name already exists.
    #[error("a node named `{name}` already exists")]
    DuplicateNode {
        /// The name in use.
        name: String,
    },
    /// The same edge already joins these nodes.
    #[error("`{from}` already has a {edge} edge to `{to}`")]
    DuplicateEdge {
        /// Source node.
        from: String,
        /// Target node.
        to: String,
        /// Edge type name.
        edge: String,
    },
    /// No such edge joins these nodes.
    #[error("`{from}` has no {edge} edge to `{to}`")]
    EdgeNotFound {
        /// Source node.
        from: String,
        /// Target node.
        to: String,
        /// Edge type name.
        edge: String,
    },
}

/// A deployment graph. Node names are unique; edges are typed and directed; an edit that names
/// a missing node or repeats an edge is refused with a [`GraphError`]. Everything else, such as
/// placement or port conflicts, is checked by [`crate::validate_deployment_graph`], so a graph
/// can be built step by step through invalid states.
///
/// Serialises as its [`GraphDocument`](crate::GraphDocument) (the impls live in `document`, so
/// this module depends on neither the file format nor validation).
#[derive(Debug, Clone, Default)]
pub struct DeploymentGraph {
    graph: StableDiGraph<DeploymentNode, DeploymentEdgeType>,
    index: FxHashMap<String, NodeIndex>,
    settings: FlakeSettings,
}

/// One edge of a graph, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdgeView<'a> {
    /// Source node.
    pub from: &'a DeploymentNode,
    /// Target node.
    pub to: &'a DeploymentNode,
    /// What the edge means.
    pub edge: &'a DeploymentEdgeType,
}

impl DeploymentGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// The fleet-wide flake settings (the document's `flake:` section).
    pub fn settings(&self) -> &FlakeSettings {
        &self.settings
    }

    /// Replaces the fleet-wide flake settings.
    pub fn set_settings(&mut self, settings: FlakeSettings) {
        self.settings = settings;
    }

    /// Number of nodes, hosts included.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Adds a node; its name must be new.
    pub fn add_node(&mut self, node: DeploymentNode) -> Result<(), GraphError> {
        self.check_add(&node.name)?;
        let name = node.name.clone();
        let index = self.graph.add_node(node);
        self.index.insert(name, index);
        Ok(())
    }

    /// Replaces the node with the same name, keeping its edges.
    pub fn update_node(&mut self, node: DeploymentNode) -> Result<(), GraphError> {
        let index = self.index_of(&node.name)?;
        if let Some(slot) = self.graph.node_weight_mut(index) {
            *slot = node;
        }
        Ok(())
    }

    /// Removes a node and every edge that touches it.
    pub fn remove_node(&mut self, name: &str) -> Result<DeploymentNode, GraphError> {
        let index = self.index_of(name)?;
        self.index.remove(name);
        self.graph.remove_node(index).ok_or_else(|| unknown(name))
    }

    /// Adds an edge `from -> to`; both nodes must exist and the same edge must not.
    pub fn connect(
        &mut self,
        from: &str,
        to: &str,
        edge: DeploymentEdgeType,
    ) -> Result<(), GraphError> {
        let (a, b) = self.check_connect(from, to, &edge)?;
        self.graph.add_edge(a, b, edge);
        Ok(())
    }

    /// Removes the edge `from -> to` of exactly this type.
    pub fn disconnect(
        &mut self,
        from: &str,
        to: &str,
        edge: &DeploymentEdgeType,
    ) -> Result<(), GraphError> {
        let found = self.check_disconnect(from, to, edge)?;
        self.graph.remove_edge(found);
        Ok(())
    }

    /// Why [`Self::add_node`] would refuse a node called `name`.
    pub(crate) fn check_add(&self, name: &str) -> Result<(), GraphError> {
        if self.index.contains_key(name) {
            return Err(GraphError::DuplicateNode {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Why [`Self::connect`] would refuse this edge, or the endpoints it would join.
    pub(crate) fn check_connect(
        &self,
        from: &str,
        to: &str,
        edge: &DeploymentEdgeType,
    ) -> Result<(NodeIndex, NodeIndex), GraphError> {
        let (a, b) = (self.index_of(from)?, self.index_of(to)?);
        if self.find_edge(a, b, edge).is_some() {
            return Err(GraphError::DuplicateEdge {
                from: from.to_owned(),
                to: to.to_owned(),
                edge: edge.name().to_owned(),
            });
        }
        Ok((a, b))
    }

    /// Why [`Self::disconnect`] would refuse, or the edge it would remove.
    pub(crate) fn check_disconnect(
        &self,
        from: &str,
        to: &str,
        edge: &DeploymentEdgeType,
    ) -> Result<EdgeIndex, GraphError> {
        let (a, b) = (self.index_of(from)?, self.index_of(to)?);
        self.find_edge(a, b, edge)
            .ok_or_else(|| GraphError::EdgeNotFound {
                from: from.to_owned(),
                to: to.to_owned(),
                edge: edge.name().to_owned(),
            })
    }

    /// Places `node` on `host`, replacing any earlier placement.
    pub fn place_on_host(&mut self, node: &str, host: &str) -> Result<(), GraphError> {
        let (a, b) = (self.index_of(node)?, self.index_of(host)?);
        let old: Vec<_> = self
            .graph
            .edges_directed(a, Direction::Outgoing)
            .filter(|e| *e.weight() == DeploymentEdgeType::RunsOn)
            .map(|e| e.id())
            .collect();
        for edge in old {
            self.graph.remove_edge(edge);
        }
        self.graph.add_edge(a, b, DeploymentEdgeType::RunsOn);
        Ok(())
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&DeploymentNode> {
        self.index
            .get(name)
            .and_then(|index| self.graph.node_weight(*index))
    }

    /// Whether a node is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// All nodes, in the order they were added.
    pub fn nodes(&self) -> impl Iterator<Item = &DeploymentNode> {
        self.graph.node_weights()
    }

    /// All edges, in the order they were added.
    pub fn edges(&self) -> impl Iterator<Item = EdgeView<'_>> {
        self.graph.edge_indices().filter_map(|e| {
            let (a, b) = self.graph.edge_endpoints(e)?;
            Some(EdgeView {
                from: self.graph.node_weight(a)?,
                to: self.graph.node_weight(b)?,
                edge: self.graph.edge_weight(e)?,
            })
        })
    }

    /// Edges leaving `name` (empty when there is no such node).
    pub fn outgoing(&self, name: &str) -> impl Iterator<Item = EdgeView<'_>> {
        self.adjacent(name, Direction::Outgoing)
    }

    /// Edges arriving at `name` (empty when there is no such node).
    pub fn incoming(&self, name: &str) -> impl Iterator<Item = EdgeView<'_>> {
        self.adjacent(name, Direction::Incoming)
    }

    /// The hosts `name` runs on: one for a correctly placed node.
    pub fn hosts_of(&self, name: &str) -> impl Iterator<Item = &DeploymentNode> {
        self.outgoing(name)
            .filter(|view| *view.edge == DeploymentEdgeType::RunsOn)
            .map(|view| view.to)
    }

    /// The first host `name` runs on.
    pub fn host_of(&self, name: &str) -> Option<&DeploymentNode> {
        self.hosts_of(name).next()
    }

    fn adjacent(&self, name: &str, direction: Direction) -> impl Iterator<Item = EdgeView<'_>> {
        let edges = self
            .index
            .get(name)
            .map(|index| self.graph.edges_directed(*index, direction));
        edges.into_iter().flatten().filter_map(move |e| {
            Some(EdgeView {
                from: self.graph.node_weight(e.source())?,
                to: self.graph.node_weight(e.target())?,
                edge: e.weight(),
            })
        })
    }

    fn index_of(&self, name: &str) -> Result<NodeIndex, GraphError> {
        self.index.get(name).copied().ok_or_else(|| unknown(name))
    }

    fn find_edge(
        &self,
        a: NodeIndex,
        b: NodeIndex,
        edge: &DeploymentEdgeType,
    ) -> Option<EdgeIndex> {
        self.graph
            .edges_connecting(a, b)
            .find(|e| e.weight() == edge)
            .map(|e| e.id())
    }

    /// The edges as sorted `(from, to, edge)` triples; equality of graphs compares these.
    fn edge_triples(&self) -> Vec<(&str, &str, &DeploymentEdgeType)> {
        let mut triples: Vec<_> = self
            .edges()
            .map(|v| (v.from.name.as_str(), v.to.name.as_str(), v.edge))
            .collect();
        triples.sort();
        triples
    }
}

/// Two graphs are equal when they have the same settings, nodes and edges, whatever the order
/// the nodes and edges were added in.
impl PartialEq for DeploymentGraph {
    fn eq(&self, other: &Self) -> bool {
        self.settings == other.settings
            && self.node_count() == other.node_count()
            && self
                .nodes()
                .all(|node| other.node(&node.name) == Some(node))
            && self.edge_triples() == other.edge_triples()
    }
}

fn unknown(name: &str) -> GraphError {
    GraphError::UnknownNode {
        name: name.to_owned(),
    }
}
