//! Agent definitions of a fleet: each file read once, problems kept per node.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cim_domain_agent::deploy::AgentSource;
use cim_domain_graph::{DeploymentGraph, DeploymentNodeType, ValidationError};

use super::FleetAgent;

/// The definitions of a graph's agent nodes.
pub(super) struct ReadDefinitions {
    /// By agent node name, for the nodes whose definition was read and is valid.
    pub sources: BTreeMap<String, AgentSource>,
    /// One problem per node whose definition could not be read or is invalid.
    pub problems: Vec<ValidationError>,
}

impl ReadDefinitions {
    /// Whether `problem` is the agent translator finding no definition for a node whose file
    /// failed to read (reported once, by the read problem).
    pub fn failed(&self, problem: &ValidationError) -> bool {
        matches!(problem, ValidationError::InvalidField { node, field, .. }
            if field == "definition"
                && self.problems.iter().any(|read| matches!(read,
                    ValidationError::InvalidField { node: failed, .. } if failed == node)))
    }
}

/// Reads the definition of every agent node, relative to `dir` unless absolute. A file named
/// by several nodes is read once.
pub(super) fn read_definitions(graph: &DeploymentGraph, dir: &Path) -> ReadDefinitions {
    let mut files: BTreeMap<PathBuf, Result<AgentSource, String>> = BTreeMap::new();
    resolve_definitions(graph, |_node, definition| {
        let path = dir.join(definition);
        files
            .entry(path.clone())
            .or_insert_with(|| AgentSource::read(&path).map_err(|error| error.to_string()))
            .clone()
    })
}

/// The definition of every agent node from `texts` (agent node name to the file's text), as
/// another process read them: parsed exactly as files are.
pub(super) fn parse_definitions(
    graph: &DeploymentGraph,
    texts: &BTreeMap<String, String>,
) -> ReadDefinitions {
    resolve_definitions(graph, |node, definition| match texts.get(node) {
        Some(text) => AgentSource::from_markdown(text, definition).map_err(|e| e.to_string()),
        None => Err(format!(
            "no text was given for the definition `{definition}`"
        )),
    })
}

/// Resolves each agent node's definition with `resolve(node, definition path)`, in node order.
fn resolve_definitions(
    graph: &DeploymentGraph,
    mut resolve: impl FnMut(&str, &str) -> Result<AgentSource, String>,
) -> ReadDefinitions {
    let mut read = ReadDefinitions {
        sources: BTreeMap::new(),
        problems: Vec::new(),
    };
    let mut nodes: Vec<_> = graph
        .nodes()
        .filter_map(|node| match &node.node_type {
            DeploymentNodeType::Agent(spec) => Some((node.name.as_str(), spec)),
            _ => None,
        })
        .collect();
    nodes.sort_by_key(|(name, _)| *name);
    for (node, spec) in nodes {
        match resolve(node, &spec.definition) {
            Ok(source) => {
                read.sources.insert(node.to_owned(), source);
            }
            Err(message) => read.problems.push(ValidationError::InvalidField {
                node: node.to_owned(),
                field: "definition".to_owned(),
                reason: message,
            }),
        }
    }
    read
}

/// The agents of a valid fleet with their hosts, sorted by name.
pub(super) fn fleet_agents(
    graph: &DeploymentGraph,
    sources: BTreeMap<String, AgentSource>,
) -> Vec<FleetAgent> {
    sources
        .into_iter()
        .filter_map(|(node, source)| {
            let host = graph.host_of(&node)?.name.clone();
            Some(FleetAgent { node, host, source })
        })
        .collect()
}
