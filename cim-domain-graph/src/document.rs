//! The file format of deployment graphs, in YAML or JSON.
//!
//! A document has an optional `flake` section ([`FlakeSettings`]: the nixpkgs input, the flake
//! of the agent modules, the stateVersion of new hosts) and three lists. `hosts` are NixOS machines (the fields of [`HostSpec`]).
//! `nodes` are everything else: each has a `name`, a `type` (`service`, `database`,
//! `message_bus`, `load_balancer`, `agent`, `storage`, `monitoring` or `custom`) with that
//! type's fields, and optionally `host`, a short form of a `runs_on` edge. `edges` join nodes
//! by name: `from`, `to`, `type` (`depends_on`, `connects_to` with an optional `port`,
//! `data_flow`, `load_balances`, `mounts_volume`, `publishes_to`, `subscribes_to`, `manages`,
//! `runs_on`, `replicates`). Unknown fields are errors, so a misspelt field is not silently
//! ignored.
//!
//! ```
//! use cim_domain_graph::GraphDocument;
//!
//! let yaml = r#"
//! hosts:
//!   - name: web-1
//!     addresses: [10.0.0.10]
//!     cpu_cores: 4
//!     memory_mb: 8192
//! nodes:
//!   - name: db
//!     type: database
//!     host: web-1
//!     databases: [shop]
//!     users: [shop]
//!   - name: shop
//!     type: service
//!     host: web-1
//!     package: hello
//!     port: 8080
//!     resources: { cpu_millis: 500, memory_mb: 512 }
//! edges:
//!   - { from: shop, to: db, type: depends_on }
//! "#;
//! let document = GraphDocument::from_yaml_str(yaml)?;
//! let graph = document.to_graph()?;
//! assert_eq!(graph.node_count(), 3);
//! assert_eq!(graph.to_document(), document);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::edge::DeploymentEdgeType;
use crate::graph::DeploymentGraph;
use crate::node::{DeploymentNode, DeploymentNodeType, HostSpec};
use crate::settings::FlakeSettings;
use crate::validate::{ValidationError, ValidationErrors, collect_problems};

/// Why a graph file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML nests deeper than [`crate::input::MAX_YAML_DEPTH`]; refused before parsing.
    #[error(
        "{}: line {line}: nested deeper than {} levels",
        path.as_deref().map_or("<yaml>".into(), |p| p.display().to_string()),
        crate::input::MAX_YAML_DEPTH
    )]
    TooDeep {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// The 1-based line where the limit is passed.
        line: usize,
    },
    /// The YAML is malformed or does not fit the format; the message gives line and field.
    #[error("{}: {}", path.as_deref().map_or("<yaml>".into(), |p| p.display().to_string()), explain(source.to_string()))]
    Yaml {
        /// The file, when parsing one.
        path: Option<PathBuf>,
        /// The parser's error, with its location.
        source: serde_yaml_ng::Error,
    },
    /// The JSON is malformed or does not fit the format; the message gives line and column.
    #[error("{}: {}", path.as_deref().map_or("<json>".into(), |p| p.display().to_string()), explain(source.to_string()))]
    Json {
        /// The file, when parsing one.
        path: Option<PathBuf>,
        /// The parser's error, with its location.
        source: serde_json::Error,
    },
}

/// The parser's message, completed where serde only knows part of the answer: an unknown field
/// in a node lists the node type's fields, not the three every node takes.
fn explain(message: String) -> String {
    if message.starts_with("nodes[") && message.contains("unknown field") {
        if let Some((head, tail)) = message.split_once(" at line ") {
            return format!("{head}, or `name`, `type`, `host` at line {tail}");
        }
        return format!("{message}, or `name`, `type`, `host`");
    }
    message
}

/// A deployment graph as written in a file. See the [module documentation](self).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a graph document: a mapping with `flake`, `hosts`, `nodes` and `edges`"
)]
pub struct GraphDocument {
    /// Fleet-wide flake settings: the nixpkgs and nix-darwin inputs, the flake of the agent
    /// modules and the stateVersion of new hosts ([`FlakeSettings`]).
    #[serde(default, skip_serializing_if = "FlakeSettings::is_empty")]
    pub flake: FlakeSettings,
    /// NixOS machines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostEntry>,
    /// Every other node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeEntry>,
    /// Edges between nodes, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<EdgeEntry>,
}

/// A host of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawHostEntry")]
pub struct HostEntry {
    /// The host name.
    pub name: String,
    /// What the host declares.
    #[serde(flatten)]
    pub spec: HostSpec,
}

/// Catches fields that `HostSpec` does not know: a flattened struct ignores them otherwise.
#[derive(Deserialize)]
struct RawHostEntry {
    name: String,
    #[serde(flatten)]
    spec: HostSpec,
    #[serde(flatten)]
    unknown: BTreeMap<String, IgnoredAny>,
}

impl TryFrom<RawHostEntry> for HostEntry {
    type Error = String;

    fn try_from(raw: RawHostEntry) -> Result<Self, String> {
        match raw.unknown.keys().next() {
            Some(field) => Err(format!(
                "host `{}`: unknown field `{field}`, expected one of `name`, `system`, \
                 `addresses`, `cpu_cores`, `memory_mb`, `gpus`, `state_version`",
                raw.name
            )),
            None => Ok(Self {
                name: raw.name,
                spec: raw.spec,
            }),
        }
    }
}

/// A non-host node of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawNodeEntry")]
pub struct NodeEntry {
    /// The node name.
    pub name: String,
    /// The host it runs on: a short form of a `runs_on` edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The node type and its fields.
    #[serde(flatten)]
    pub node_type: DeploymentNodeType,
}

/// An edge of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawEdgeEntry")]
pub struct EdgeEntry {
    /// Source node name.
    pub from: String,
    /// Target node name.
    pub to: String,
    /// The edge type and its fields.
    #[serde(flatten)]
    pub edge: DeploymentEdgeType,
}

/// Refuses `type: host`, which the node type alone would accept: hosts belong in `hosts`.
#[derive(Deserialize)]
struct RawNodeEntry {
    name: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(flatten)]
    node_type: DeploymentNodeType,
}

impl TryFrom<RawNodeEntry> for NodeEntry {
    type Error = String;

    fn try_from(raw: RawNodeEntry) -> Result<Self, String> {
        if raw.node_type.is_host() {
            return Err(format!(
                "node `{}`: type `host` is not allowed in `nodes`; declare hosts under `hosts`",
                raw.name
            ));
        }
        Ok(Self {
            name: raw.name,
            host: raw.host,
            node_type: raw.node_type,
        })
    }
}

/// Catches fields next to an edge type that takes none: serde ignores the rest of the map
/// once an internally tagged unit variant is read.
#[derive(Deserialize)]
struct RawEdgeEntry {
    from: String,
    to: String,
    #[serde(flatten)]
    edge: DeploymentEdgeType,
    #[serde(flatten)]
    fields: BTreeMap<String, IgnoredAny>,
}

impl TryFrom<RawEdgeEntry> for EdgeEntry {
    type Error = String;

    fn try_from(raw: RawEdgeEntry) -> Result<Self, String> {
        let takes = |field: &str| {
            field == "type"
                || matches!(raw.edge, DeploymentEdgeType::ConnectsTo { .. }) && field == "port"
        };
        match raw.fields.keys().find(|field| !takes(field)) {
            Some(field) => Err(format!(
                "edge `{}` -> `{}` ({}): unknown field `{field}`, expected only `from`, `to` \
                 and `type` (only `connects_to` also takes `port`)",
                raw.from,
                raw.to,
                raw.edge.name()
            )),
            None => Ok(Self {
                from: raw.from,
                to: raw.to,
                edge: raw.edge,
            }),
        }
    }
}

impl GraphDocument {
    /// Parses YAML.
    pub fn from_yaml_str(text: &str) -> Result<Self, DocumentError> {
        if let Some(line) = crate::input::yaml_too_deep_at(text) {
            return Err(DocumentError::TooDeep { path: None, line });
        }
        serde_yaml_ng::from_str(text).map_err(|source| DocumentError::Yaml { path: None, source })
    }

    /// Parses JSON.
    pub fn from_json_str(text: &str) -> Result<Self, DocumentError> {
        serde_json::from_str(text).map_err(|source| DocumentError::Json { path: None, source })
    }

    /// Reads a file: JSON when its name ends in `.json`, YAML otherwise.
    pub fn from_path(path: &Path) -> Result<Self, DocumentError> {
        let text = cim_naming::input::read_input(path).map_err(|source| DocumentError::Read {
            path: path.to_owned(),
            source,
        })?;
        let with_path = |e: DocumentError| match e {
            DocumentError::Yaml { source, .. } => DocumentError::Yaml {
                path: Some(path.to_owned()),
                source,
            },
            DocumentError::Json { source, .. } => DocumentError::Json {
                path: Some(path.to_owned()),
                source,
            },
            DocumentError::TooDeep { line, .. } => DocumentError::TooDeep {
                path: Some(path.to_owned()),
                line,
            },
            other => other,
        };
        if path.extension().is_some_and(|ext| ext == "json") {
            Self::from_json_str(&text).map_err(with_path)
        } else {
            Self::from_yaml_str(&text).map_err(with_path)
        }
    }

    /// Writes YAML.
    pub fn to_yaml_string(&self) -> Result<String, DocumentError> {
        serde_yaml_ng::to_string(self).map_err(|source| DocumentError::Yaml { path: None, source })
    }

    /// Writes pretty-printed JSON.
    pub fn to_json_string(&self) -> Result<String, DocumentError> {
        serde_json::to_string_pretty(self)
            .map_err(|source| DocumentError::Json { path: None, source })
    }

    /// Builds the graph. Duplicate names, duplicate edges and references to missing nodes are
    /// errors; when there are any, the rest of the graph is validated too, so the error lists
    /// every problem at once. A graph that loads may still fail
    /// [`crate::validate_deployment_graph`].
    pub fn to_graph(&self) -> Result<DeploymentGraph, ValidationErrors> {
        let (graph, mut problems) = self.to_graph_with_problems();
        if problems.is_empty() {
            Ok(graph)
        } else {
            collect_problems(&graph, &mut problems);
            Err(ValidationErrors(problems))
        }
    }

    /// Builds as much of the graph as it can, leaving out second nodes of a name and edges to
    /// missing nodes, and returns it with those problems (duplicates and dangling references
    /// only). A caller that validates the graph further, such as a translator that also checks
    /// for missing node translators, can then report everything at once.
    pub fn to_graph_with_problems(&self) -> (DeploymentGraph, Vec<ValidationError>) {
        let mut graph = DeploymentGraph::new();
        graph.set_settings(self.flake.clone());
        let mut problems = Vec::new();
        let hosts = self
            .hosts
            .iter()
            .map(|h| DeploymentNode::new(&h.name, DeploymentNodeType::Host(h.spec.clone())));
        let nodes = self
            .nodes
            .iter()
            .map(|n| DeploymentNode::new(&n.name, n.node_type.clone()));
        for node in hosts.chain(nodes) {
            let name = node.name.clone();
            if graph.add_node(node).is_err() {
                problems.push(ValidationError::DuplicateName { name });
            }
        }
        let placements = self.nodes.iter().filter_map(|n| {
            let host = n.host.as_ref()?;
            Some((&n.name, host, DeploymentEdgeType::RunsOn))
        });
        let edges = self.edges.iter().map(|e| (&e.from, &e.to, e.edge));
        let mut seen = HashSet::new();
        for (from, to, edge) in placements.chain(edges) {
            let missing = [from, to].into_iter().find(|name| !graph.contains(name));
            if let Some(missing) = missing {
                problems.push(ValidationError::DanglingReference {
                    from: from.clone(),
                    to: to.clone(),
                    edge: edge.name().to_owned(),
                    missing: missing.clone(),
                });
            } else if !seen.insert((from, to, edge)) || graph.connect(from, to, edge).is_err() {
                problems.push(ValidationError::DuplicateEdge {
                    from: from.clone(),
                    to: to.clone(),
                    edge: edge.name().to_owned(),
                });
            }
        }
        (graph, problems)
    }
}

impl DeploymentGraph {
    /// The graph as a document: hosts, then nodes in the order added, a node's single
    /// `runs_on` edge written as its `host`, and the other edges in the order added.
    pub fn to_document(&self) -> GraphDocument {
        let mut document = GraphDocument {
            flake: self.settings().clone(),
            ..GraphDocument::default()
        };
        for node in self.nodes() {
            match &node.node_type {
                DeploymentNodeType::Host(spec) => document.hosts.push(HostEntry {
                    name: node.name.clone(),
                    spec: spec.clone(),
                }),
                other => document.nodes.push(NodeEntry {
                    name: node.name.clone(),
                    host: self.single_placement(&node.name).map(|h| h.name.clone()),
                    node_type: other.clone(),
                }),
            }
        }
        for view in self.edges() {
            let folded = *view.edge == DeploymentEdgeType::RunsOn
                && !view.from.node_type.is_host()
                && self.single_placement(&view.from.name).is_some();
            if !folded {
                document.edges.push(EdgeEntry {
                    from: view.from.name.clone(),
                    to: view.to.name.clone(),
                    edge: *view.edge,
                });
            }
        }
        document
    }

    fn single_placement(&self, name: &str) -> Option<&DeploymentNode> {
        let mut hosts = self.hosts_of(name);
        let first = hosts.next()?;
        hosts.next().is_none().then_some(first)
    }
}

impl From<DeploymentGraph> for GraphDocument {
    fn from(graph: DeploymentGraph) -> Self {
        graph.to_document()
    }
}

impl TryFrom<GraphDocument> for DeploymentGraph {
    type Error = ValidationErrors;

    fn try_from(document: GraphDocument) -> Result<Self, ValidationErrors> {
        document.to_graph()
    }
}

/// A graph serialises as its document.
impl Serialize for DeploymentGraph {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_document().serialize(serializer)
    }
}

/// A graph deserialises from its document; one with problems is refused with all of them.
impl<'de> Deserialize<'de> for DeploymentGraph {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        GraphDocument::deserialize(deserializer)?
            .to_graph()
            .map_err(serde::de::Error::custom)
    }
}
