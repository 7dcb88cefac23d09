//! The problems validation reports, each naming the nodes involved.

use std::fmt;

use serde::Serialize;

/// One problem of a deployment graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ValidationError {
    /// Two nodes share a name.
    #[error("two nodes are named `{name}`")]
    DuplicateName {
        /// The shared name.
        name: String,
    },
    /// An edge or placement names a node that does not exist.
    #[error("{edge} edge from `{from}` to `{to}`: no node is named `{missing}`")]
    DanglingReference {
        /// Source node.
        from: String,
        /// Target node.
        to: String,
        /// Edge type name.
        edge: String,
        /// The name that matches no node.
        missing: String,
    },
    /// The same edge is listed twice.
    #[error("{edge} edge from `{from}` to `{to}` is listed more than once")]
    DuplicateEdge {
        /// Source node.
        from: String,
        /// Target node.
        to: String,
        /// Edge type name.
        edge: String,
    },
    /// A name cannot become a NixOS attribute, systemd unit or container name.
    #[error("node name `{name}` cannot be used: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field of a node has a value that cannot be deployed.
    #[error("node `{node}`, field `{field}`: {reason}")]
    InvalidField {
        /// The node.
        node: String,
        /// The field path within the node.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting of the graph's `flake:` section cannot be used, or one the graph needs is
    /// missing.
    #[error("flake.{field}: {reason}")]
    InvalidSetting {
        /// The setting, as written under `flake:`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An edge joins a node to itself.
    #[error("{edge} edge from `{node}` to itself")]
    SelfLoop {
        /// The node.
        node: String,
        /// Edge type name.
        edge: String,
    },
    /// An edge joins node types it cannot join.
    #[error(
        "{edge} edge from `{from}` ({from_type}) to `{to}` ({to_type}) makes no sense: it needs {needs}"
    )]
    InvalidEndpoints {
        /// Source node.
        from: String,
        /// Source node type.
        from_type: String,
        /// Target node.
        to: String,
        /// Target node type.
        to_type: String,
        /// Edge type name.
        edge: String,
        /// What the edge needs.
        needs: String,
    },
    /// A `connects_to` edge names no port, or a `load_balances` edge reaches a service, and the
    /// target listens on no port.
    #[error("{edge} edge from `{from}` to `{to}` needs a port: `{to}` declares none")]
    MissingPort {
        /// Source node.
        from: String,
        /// Target node.
        to: String,
        /// Edge type name.
        edge: String,
    },
    /// An edge that only works within one machine joins nodes on different hosts.
    #[error(
        "{edge} edge from `{from}` (on `{from_host}`) to `{to}` (on `{to_host}`) needs both on one host"
    )]
    NotOnSameHost {
        /// Source node.
        from: String,
        /// Its host.
        from_host: String,
        /// Target node.
        to: String,
        /// Its host.
        to_host: String,
        /// Edge type name.
        edge: String,
    },
    /// A host runs two nodes of a kind NixOS runs once per machine (one PostgreSQL, one NATS
    /// server, one Prometheus).
    #[error(
        "host `{host}` runs more than one {kind} node ({}); NixOS runs one per machine",
        quoted(nodes)
    )]
    OnePerHost {
        /// The host.
        host: String,
        /// The node kind.
        kind: String,
        /// The nodes of that kind.
        nodes: Vec<String>,
    },
    /// `depends_on` edges form a cycle; the path starts and ends at the same node.
    #[error("dependency cycle: {}", cycle.join(" -> "))]
    DependencyCycle {
        /// The nodes of the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// A node is placed on no host.
    #[error("node `{node}` is not placed on a host (add a runs_on edge or `host:`)")]
    NotPlaced {
        /// The node.
        node: String,
    },
    /// A node is placed on more than one host.
    #[error("node `{node}` is placed on more than one host: {}", hosts.join(", "))]
    PlacedOnManyHosts {
        /// The node.
        node: String,
        /// The hosts.
        hosts: Vec<String>,
    },
    /// Nodes on one host listen on the same port.
    #[error("port {port} on host `{host}` is used by {}", quoted(nodes))]
    PortConflict {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The nodes that listen on it.
        nodes: Vec<String>,
    },
    /// Storage nodes on one host mount at the same place.
    #[error(
        "mount point `{mount_point}` on host `{host}` is used by {}",
        quoted(nodes)
    )]
    MountConflict {
        /// The host.
        host: String,
        /// The mount point.
        mount_point: String,
        /// The storage nodes.
        nodes: Vec<String>,
    },
    /// No translator is registered for a node's kind.
    #[error(
        "node `{node}` is of kind `{kind}`, which has no translator registered \
         (agent nodes need cim-domain-agent's translator; custom kinds their tool's)"
    )]
    NoTranslator {
        /// The node.
        node: String,
        /// Its kind.
        kind: String,
    },
    /// Nodes on a host reserve more of a resource than the host declares.
    #[error(
        "host `{host}` has {capacity} {resource} but its nodes reserve {requested}: {}",
        quoted(nodes)
    )]
    Overcommit {
        /// The host.
        host: String,
        /// `cpu_millis`, `memory_mb` or `gpus`.
        resource: String,
        /// What the host declares.
        capacity: u64,
        /// What its nodes reserve together.
        requested: u64,
        /// The nodes that reserve some.
        nodes: Vec<String>,
    },
    /// A node whose kind has no nix-darwin form is placed on a Darwin host.
    #[error(
        "node `{node}` ({kind}) is placed on host `{host}`, which runs nix-darwin ({system}): \
         only message_bus and agent nodes run on a Mac; place it on a NixOS host"
    )]
    NotOnDarwin {
        /// The node.
        node: String,
        /// Its kind.
        kind: String,
        /// The Darwin host.
        host: String,
        /// The host's `system`.
        system: String,
    },
}

fn quoted(nodes: &[String]) -> String {
    nodes
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every problem found in a graph, in the order found (nodes, then edges, then hosts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// The problems.
    pub fn problems(&self) -> &[ValidationError] {
        &self.0
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(
            f,
            "the deployment graph has {count} problem{}:",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}
