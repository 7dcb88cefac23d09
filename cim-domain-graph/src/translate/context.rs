//! What a node translator may ask about the graph, precomputed once per translation.

use rustc_hash::FxHashMap;

use crate::graph::DeploymentGraph;
use crate::node::{DeploymentNode, DeploymentNodeType};
use crate::translate::{NodeTranslatorRegistry, TranslationError};

/// The graph being translated with indexes for the questions translators ask, so each answer
/// costs a hash lookup instead of a scan.
pub struct TranslationContext<'g> {
    graph: &'g DeploymentGraph,
    registry: &'g NodeTranslatorRegistry,
    host_of: FxHashMap<&'g str, &'g DeploymentNode>,
    nodes_on: FxHashMap<&'g str, Vec<&'g DeploymentNode>>,
}

impl<'g> TranslationContext<'g> {
    /// Indexes a validated graph.
    pub fn new(graph: &'g DeploymentGraph, registry: &'g NodeTranslatorRegistry) -> Self {
        let mut host_of = FxHashMap::default();
        host_of.reserve(graph.node_count());
        let mut nodes_on: FxHashMap<&str, Vec<&DeploymentNode>> = FxHashMap::default();
        for view in graph.edges() {
            if *view.edge == crate::DeploymentEdgeType::RunsOn {
                host_of.insert(view.from.name.as_str(), view.to);
                nodes_on
                    .entry(view.to.name.as_str())
                    .or_default()
                    .push(view.from);
            }
        }
        for nodes in nodes_on.values_mut() {
            nodes.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Self {
            graph,
            registry,
            host_of,
            nodes_on,
        }
    }

    /// The graph.
    pub fn graph(&self) -> &'g DeploymentGraph {
        self.graph
    }

    /// The host a node runs on.
    pub fn host_of(&self, node: &str) -> Option<&'g DeploymentNode> {
        self.host_of.get(node).copied()
    }

    /// The name of the host `node` runs on; an error for an unplaced node.
    pub fn host_name(&self, node: &DeploymentNode) -> Result<&'g str, TranslationError> {
        self.host_of(&node.name)
            .map(|h| h.name.as_str())
            .ok_or_else(|| TranslationError::NotPlaced {
                node: node.name.clone(),
            })
    }

    /// The nodes placed on `host`, sorted by name.
    pub fn nodes_on(&self, host: &str) -> &[&'g DeploymentNode] {
        self.nodes_on.get(host).map_or(&[], Vec::as_slice)
    }

    /// Whether two nodes run on one host (a host counts as running on itself).
    pub fn same_host(&self, a: &str, b: &str) -> bool {
        self.placement(a) == self.placement(b)
    }

    fn placement<'a>(&self, node: &'a str) -> &'a str
    where
        'g: 'a,
    {
        self.host_of.get(node).map_or(node, |h| h.name.as_str())
    }

    /// The address other hosts use for `host`: its first address, or its name.
    pub fn address_of_host(&self, host: &'g DeploymentNode) -> &'g str {
        match &host.node_type {
            DeploymentNodeType::Host(spec) => spec.addresses.first().unwrap_or(&host.name),
            _ => &host.name,
        }
    }

    /// The address `from` uses to reach node or host `to`: loopback when both are on one host,
    /// else the address of `to`'s host; `None` when `to` is unknown.
    pub fn address_from(&self, from: &str, to: &str) -> Option<&'g str> {
        if self.same_host(from, to) {
            return Some("127.0.0.1");
        }
        let host = self.host_of(to).or_else(|| self.graph.node(to))?;
        Some(self.address_of_host(host))
    }

    /// The systemd service a node runs as, asked of its kind's translator.
    pub fn systemd_unit(&self, node: &DeploymentNode) -> Option<String> {
        self.registry.get(node.node_type.kind())?.systemd_unit(node)
    }
}
