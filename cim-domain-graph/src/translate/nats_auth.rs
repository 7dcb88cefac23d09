//! The security part of a message bus's `services.nats.settings`: the NKey users with their
//! permissions (`authorization.users`), TLS for clients, routes and leaf connections, and the
//! leaf remotes' credentials. Pure functions of the graph and the users given: the users'
//! public keys are resolved when the fleet is loaded, never here.
//!
//! # Who is a NATS client
//! Every `agent` node, and every other node (service, database, custom...) with a
//! `connects_to`, `publishes_to` or `subscribes_to` edge to a message bus, is one NATS
//! identity named after its node ([`nats_clients`]).
//!
//! # What a service may do
//! Edges carry no subjects, so a service's subjects follow one convention
//! ([`service_permissions`]): it publishes under its own prefix `cim.services.<name>.>` when it
//! `publishes_to` or `connects_to` a bus, and subscribes to every service's subjects
//! (`cim.services.>`) when it `subscribes_to` or `connects_to` one. Every identity may use
//! reply inboxes (`_INBOX.>`). Agents' permissions come from
//! `cim_agent_coordination::permissions`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::edge::DeploymentEdgeType;
use crate::graph::DeploymentGraph;
use crate::node::{DeploymentNodeType, MessageBusSpec};
use crate::security::NatsTlsSpec;

/// The subject prefix of services' own messages: `cim.services.<name>.>`.
pub const SERVICE_SUBJECTS: &str = "cim.services";

/// Prefix of reply inboxes (`_INBOX.<nuid>`), allowed to every identity.
pub const REPLY_INBOXES: &str = "_INBOX.>";

/// What kind of node a NATS identity belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientKind {
    /// An `agent` node: permissions from the coordination subject table.
    Agent,
    /// Any other node with an edge to a message bus: permissions from its edges.
    Service,
}

/// One NATS identity of the graph: a node that connects to a message bus.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NatsClient {
    /// The node's name, which is also the identity's name.
    pub name: String,
    /// Agent or service.
    pub kind: ClientKind,
}

/// Every NATS identity of `graph`, sorted by name (see the [module documentation](self)).
pub fn nats_clients(graph: &DeploymentGraph) -> Vec<NatsClient> {
    let mut clients = BTreeSet::new();
    for node in graph.nodes() {
        let kind = match node.node_type {
            DeploymentNodeType::Agent(_) => ClientKind::Agent,
            DeploymentNodeType::Host(_) | DeploymentNodeType::MessageBus(_) => continue,
            _ if bus_edges(graph, &node.name).next().is_some() => ClientKind::Service,
            _ => continue,
        };
        clients.insert(NatsClient {
            name: node.name.clone(),
            kind,
        });
    }
    clients.into_iter().collect()
}

/// The client edges (`connects_to`, `publishes_to`, `subscribes_to`) from `node` to message
/// buses.
fn bus_edges<'g>(
    graph: &'g DeploymentGraph,
    node: &'g str,
) -> impl Iterator<Item = DeploymentEdgeType> + 'g {
    graph
        .outgoing(node)
        .filter(|view| matches!(view.to.node_type, DeploymentNodeType::MessageBus(_)))
        .map(|view| *view.edge)
        .filter(|edge| {
            matches!(
                edge,
                DeploymentEdgeType::ConnectsTo { .. }
                    | DeploymentEdgeType::PublishesTo
                    | DeploymentEdgeType::SubscribesTo
            )
        })
}

/// What one NATS user may publish and subscribe to (allow lists of subject filters).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowed {
    /// `permissions.publish.allow`
    pub publish: Vec<String>,
    /// `permissions.subscribe.allow`
    pub subscribe: Vec<String>,
}

/// The permissions of service node `node` from its edges to message buses (see the
/// [module documentation](self)); reply inboxes are always allowed.
pub fn service_permissions(graph: &DeploymentGraph, node: &str) -> Allowed {
    let (mut publishes, mut subscribes) = (false, false);
    for edge in bus_edges(graph, node) {
        match edge {
            DeploymentEdgeType::PublishesTo => publishes = true,
            DeploymentEdgeType::SubscribesTo => subscribes = true,
            _ => (publishes, subscribes) = (true, true),
        }
    }
    let mut allowed = Allowed::default();
    if publishes {
        allowed.publish.push(format!("{SERVICE_SUBJECTS}.{node}.>"));
    }
    if subscribes {
        allowed.subscribe.push(format!("{SERVICE_SUBJECTS}.>"));
    }
    allowed.publish.push(REPLY_INBOXES.to_owned());
    allowed.subscribe.push(REPLY_INBOXES.to_owned());
    allowed
}

/// One entry of nats-server's `authorization.users`: a public NKey (never a seed) and what
/// it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsUser {
    /// The identity (node name) the key belongs to; not written to the configuration.
    pub identity: String,
    /// The public user NKey (`U` followed by 55 base32 characters).
    pub nkey: String,
    /// Its permissions.
    pub allowed: Allowed,
}

impl NatsUser {
    /// The entry as nats-server reads it: `{ nkey, permissions: { publish: { allow },
    /// subscribe: { allow } } }`.
    pub fn to_json(&self) -> Value {
        json!({
            "nkey": self.nkey,
            "permissions": {
                "publish": { "allow": self.allowed.publish },
                "subscribe": { "allow": self.allowed.subscribe },
            }
        })
    }
}

/// The security settings of one message bus, as a JSON object to merge into its
/// `services.nats.settings`: `authorization.users` when `users` is not empty (every bus of a
/// fleet accepts every identity, so a client may fail over to any cluster member or leaf),
/// `tls`, `cluster.tls` (when `clustered`) and `leafnodes.tls` (when `leaf_hub`) from the
/// bus's TLS spec.
pub fn security_settings(
    spec: &MessageBusSpec,
    users: &[NatsUser],
    clustered: bool,
    leaf_hub: bool,
) -> Map<String, Value> {
    let mut settings = Map::new();
    if !users.is_empty() {
        let users: Vec<Value> = users.iter().map(NatsUser::to_json).collect();
        settings.insert("authorization".to_owned(), json!({ "users": users }));
    }
    if let Some(tls) = &spec.tls {
        let block = tls_block(tls);
        let mut client = block.clone();
        if tls.verify_clients {
            client.insert("verify".to_owned(), json!(true));
        }
        settings.insert("tls".to_owned(), Value::Object(client));
        if clustered {
            settings.insert("cluster".to_owned(), json!({ "tls": block }));
        }
        if leaf_hub {
            settings.insert("leafnodes".to_owned(), json!({ "tls": block }));
        }
    }
    settings
}

/// nats-server's `tls` block of `tls`'s files: `{ cert_file, key_file, ca_file? }`.
fn tls_block(tls: &NatsTlsSpec) -> Map<String, Value> {
    let mut block = Map::new();
    block.insert("cert_file".to_owned(), json!(tls.cert_file));
    block.insert("key_file".to_owned(), json!(tls.key_file));
    if let Some(ca) = &tls.ca_file {
        block.insert("ca_file".to_owned(), json!(ca));
    }
    block
}

/// The leaf remotes of a bus with its credentials file and TLS: `{ url, credentials?, tls? }`
/// per URL. The remote presents the bus's own certificate and verifies the hub with its CA.
pub fn leaf_remotes(spec: &MessageBusSpec, urls: &[String]) -> Vec<Value> {
    urls.iter()
        .map(|url| {
            let mut remote = Map::new();
            remote.insert("url".to_owned(), json!(url));
            if let Some(creds) = &spec.leaf_credentials {
                remote.insert("credentials".to_owned(), json!(creds));
            }
            if let Some(tls) = &spec.tls {
                remote.insert("tls".to_owned(), Value::Object(tls_block(tls)));
            }
            Value::Object(remote)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{DeploymentNode, ServiceSpec};

    fn graph() -> Result<DeploymentGraph, Box<dyn std::error::Error>> {
        let mut graph = DeploymentGraph::new();
        graph.add_node(DeploymentNode::new(
            "bus",
            DeploymentNodeType::MessageBus(MessageBusSpec::default()),
        ))?;
        for name in ["ingest", "reader", "both", "idle"] {
            graph.add_node(DeploymentNode::new(
                name,
                DeploymentNodeType::Service(ServiceSpec::default()),
            ))?;
        }
        graph.connect("ingest", "bus", DeploymentEdgeType::PublishesTo)?;
        graph.connect("reader", "bus", DeploymentEdgeType::SubscribesTo)?;
        graph.connect("both", "bus", DeploymentEdgeType::ConnectsTo { port: None })?;
        Ok(graph)
    }

    #[test]
    fn services_with_bus_edges_are_clients() -> Result<(), Box<dyn std::error::Error>> {
        let names: Vec<String> = nats_clients(&graph()?)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["both", "ingest", "reader"]);
        Ok(())
    }

    #[test]
    fn service_permissions_follow_edges() -> Result<(), Box<dyn std::error::Error>> {
        let graph = graph()?;
        let ingest = service_permissions(&graph, "ingest");
        assert_eq!(ingest.publish, ["cim.services.ingest.>", "_INBOX.>"]);
        assert_eq!(ingest.subscribe, ["_INBOX.>"]);
        let reader = service_permissions(&graph, "reader");
        assert_eq!(reader.publish, ["_INBOX.>"]);
        assert_eq!(reader.subscribe, ["cim.services.>", "_INBOX.>"]);
        let both = service_permissions(&graph, "both");
        assert_eq!(both.publish, ["cim.services.both.>", "_INBOX.>"]);
        assert_eq!(both.subscribe, ["cim.services.>", "_INBOX.>"]);
        Ok(())
    }

    #[test]
    fn tls_covers_clients_routes_and_leaves() {
        let spec = MessageBusSpec {
            tls: Some(NatsTlsSpec {
                cert_file: "/run/secrets/nats.crt".to_owned(),
                key_file: "/run/secrets/nats.key".to_owned(),
                ca_file: Some("/run/secrets/ca.crt".to_owned()),
                verify_clients: true,
            }),
            leaf_credentials: Some("/run/secrets/leaf.creds".to_owned()),
            ..MessageBusSpec::default()
        };
        let settings = security_settings(&spec, &[], true, true);
        assert_eq!(settings["tls"]["verify"], json!(true));
        assert_eq!(
            settings["cluster"]["tls"]["key_file"],
            "/run/secrets/nats.key"
        );
        assert_eq!(
            settings["leafnodes"]["tls"]["ca_file"],
            "/run/secrets/ca.crt"
        );
        assert!(settings.get("authorization").is_none());
        let remotes = leaf_remotes(&spec, &["nats-leaf://hub:7422".to_owned()]);
        assert_eq!(remotes[0]["credentials"], "/run/secrets/leaf.creds");
        assert_eq!(remotes[0]["tls"]["cert_file"], "/run/secrets/nats.crt");
    }
}
