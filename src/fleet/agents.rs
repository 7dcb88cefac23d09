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
        let path = dir.join(&spec.definition);
        let outcome = files
            .entry(path.clone())
            .or_insert_with(|| AgentSource::read(&path).map_err(|error| error.to_string()));
        match outcome {
            Ok(source) => {
                read.sources.insert(node.to_owned(), source.clone());
            }
            Err(message) => read.problems.push(ValidationError::InvalidField {
                node: node.to_owned(),
                field: "definition".to_owned(),
                reason: message.clone(),
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
