//! The facts as a graph for navigation: entities are nodes, a fact whose object is an entity is
//! an edge subject → object labelled with the fact's id (petgraph).

use std::collections::BTreeMap;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use super::model::{Fact, FactId, FactObject};

/// A directed graph of entities connected by facts.
#[derive(Debug, Clone, Default)]
pub struct FactGraph {
    /// Nodes are entity names, edges fact ids (subject → object).
    pub graph: DiGraph<String, FactId>,
    index: BTreeMap<String, NodeIndex>,
}

impl FactGraph {
    /// The graph of `facts`: every subject is a node; entity objects are nodes joined by an
    /// edge; text objects add no edge.
    pub fn build<'a>(facts: impl IntoIterator<Item = &'a Fact>) -> Self {
        let mut built = Self::default();
        for fact in facts {
            let from = built.node(&fact.subject);
            if let FactObject::Entity(object) = &fact.object {
                let to = built.node(object);
                built.graph.add_edge(from, to, fact.id.clone());
            }
        }
        built
    }

    fn node(&mut self, name: &str) -> NodeIndex {
        if let Some(index) = self.index.get(name) {
            return *index;
        }
        let index = self.graph.add_node(name.to_owned());
        self.index.insert(name.to_owned(), index);
        index
    }

    /// The node of entity `name`, if present.
    pub fn entity(&self, name: &str) -> Option<NodeIndex> {
        self.index.get(name).copied()
    }

    /// The entities `name` points to, with the fact that links them, sorted.
    pub fn outgoing(&self, name: &str) -> Vec<(String, FactId)> {
        self.linked(name, Direction::Outgoing)
    }

    /// The entities pointing to `name`, with the linking fact, sorted.
    pub fn incoming(&self, name: &str) -> Vec<(String, FactId)> {
        self.linked(name, Direction::Incoming)
    }

    fn linked(&self, name: &str, direction: Direction) -> Vec<(String, FactId)> {
        let Some(node) = self.entity(name) else {
            return Vec::new();
        };
        let mut out: Vec<(String, FactId)> = self
            .graph
            .edges_directed(node, direction)
            .filter_map(|edge| {
                use petgraph::visit::EdgeRef;
                let other = match direction {
                    Direction::Outgoing => edge.target(),
                    Direction::Incoming => edge.source(),
                };
                self.graph
                    .node_weight(other)
                    .map(|n| (n.clone(), edge.weight().clone()))
            })
            .collect();
        out.sort();
        out
    }
}
