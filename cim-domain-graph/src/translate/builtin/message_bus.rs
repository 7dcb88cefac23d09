//! `message_bus` nodes: a NATS server, as a cluster member and/or leaf node.

use std::collections::{BTreeMap, HashSet};

use cim_domain_nix::darwin::{KNOWN_GROUPS, KNOWN_USERS, POST_ACTIVATION, nats_daemon};
use cim_domain_nix::{Expr, NatsCluster, NatsServer};
use cim_naming::HostPort;

use super::{limit_resources, wrong_kind};
use crate::ValidationError;
use crate::edge::DeploymentEdgeType;
use crate::node::{DeploymentNode, DeploymentNodeType, MessageBusSpec};
use crate::security::secret_path_problem;
use crate::translate::edges::connection_port;
use crate::translate::nats_auth::{self, NatsUser};
use crate::translate::{HostModules, NodeTranslator, TranslationContext, TranslationError, darwin};

/// Translates `message_bus` nodes into `services.nats`; with users, every bus requires NKey
/// authentication ([`nats_auth`](crate::translate::nats_auth)).
#[derive(Debug, Clone, Default)]
pub struct MessageBusTranslator {
    users: Vec<NatsUser>,
}

impl MessageBusTranslator {
    /// A translator whose buses accept exactly `users` (public keys and permissions, resolved
    /// when the fleet is loaded); an empty list leaves the buses open, as the default does.
    pub fn with_users(users: Vec<NatsUser>) -> Self {
        Self { users }
    }

    /// The users every bus accepts.
    pub fn users(&self) -> &[NatsUser] {
        &self.users
    }
}

impl NodeTranslator for MessageBusTranslator {
    fn check(&self, node: &DeploymentNode, _: &TranslationContext<'_>) -> Vec<ValidationError> {
        let DeploymentNodeType::MessageBus(spec) = &node.node_type else {
            return Vec::new();
        };
        let mut paths: Vec<(&str, &str)> = spec.tls.as_ref().map(|t| t.paths()).unwrap_or_default();
        if let Some(creds) = &spec.leaf_credentials {
            paths.push(("leaf_credentials", creds.as_str()));
        }
        paths
            .into_iter()
            .filter_map(|(field, path)| {
                Some(ValidationError::InvalidField {
                    node: node.name.clone(),
                    field: field.to_owned(),
                    reason: format!("{path}: {}", secret_path_problem(path)?),
                })
            })
            .collect()
    }

    fn systemd_unit(&self, _node: &DeploymentNode) -> Option<String> {
        Some("nats".to_owned())
    }

    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        let DeploymentNodeType::MessageBus(spec) = &node.node_type else {
            return Err(wrong_kind(node, "message_bus"));
        };
        let nix = |e| TranslationError::nix(&node.name, e);
        // The typed builder: the option names `services.nats` really has, ports and URLs checked.
        let mut nats = NatsServer::new()
            .server_name(node.name.as_str())
            .port(spec.port)
            .map_err(nix)?;
        if spec.jetstream {
            nats = nats
                .jetstream(None)
                .jetstream_sync_interval(&spec.sync_interval)
                .map_err(nix)?;
        }
        if let Some(port) = spec.monitoring_port {
            nats = nats.monitoring(port).map_err(nix)?;
        }
        let peers = cluster_peers(context, node);
        if !peers.is_empty() {
            let cluster_name = peers
                .keys()
                .next()
                .map_or(node.name.as_str(), |first| first.min(&node.name.as_str()));
            let routes = peers.iter().filter_map(|(name, peer)| {
                let address = context.address_from(&node.name, name)?;
                Some(HostPort::new(address, peer.cluster_port).url("nats-route"))
            });
            nats = nats
                .cluster(NatsCluster {
                    name: cluster_name.to_owned(),
                    port: spec.cluster_port,
                    routes: routes.collect(),
                })
                .map_err(nix)?;
        }
        let is_hub = context.graph().incoming(&node.name).any(|view| {
            matches!(view.edge, DeploymentEdgeType::ConnectsTo { .. })
                && matches!(view.from.node_type, DeploymentNodeType::MessageBus(_))
        });
        if is_hub {
            nats = nats.leaf_listen(spec.leaf_port).map_err(nix)?;
        }
        let remotes = leaf_remotes(context, node, spec);
        for url in &remotes {
            nats = nats.leaf_remote(url).map_err(nix)?;
        }
        let nats = secure(
            nats.to_expr(),
            spec,
            &self.users,
            &remotes,
            !peers.is_empty(),
            is_hub,
        );
        let module = modules.get_mut(context.host_name(node)?)?;
        if darwin::on_darwin(node, context) {
            // nix-darwin has no NATS module: the same settings, as a launchd daemon.
            let (daemon, user) = nats_daemon(&nats).map_err(nix)?;
            module.set(daemon.path(), daemon.to_expr());
            for (path, value) in user.options() {
                module.set(path, value);
            }
            module
                .set(POST_ACTIVATION, user.activation_script())
                .append(KNOWN_USERS, user.name())
                .append(KNOWN_GROUPS, user.name());
            return Ok(());
        }
        module.set(["services", "nats"], nats);
        if !peers.is_empty() {
            // Peers run on other hosts (one NATS server per host), so routes need the port.
            module.open_tcp_port(spec.cluster_port)?;
        }
        limit_resources(module, "nats", spec.resources);
        Ok(())
    }
}

/// The other members of `node`'s cluster: every message bus reachable over `replicates`
/// edges in either direction, by name.
fn cluster_peers<'g>(
    context: &TranslationContext<'g>,
    node: &'g DeploymentNode,
) -> BTreeMap<&'g str, &'g MessageBusSpec> {
    let graph = context.graph();
    let mut seen: HashSet<&str> = HashSet::from([node.name.as_str()]);
    let mut queue = vec![node];
    let mut peers = BTreeMap::new();
    while let Some(current) = queue.pop() {
        let name = current.name.as_str();
        let neighbours = graph
            .outgoing(name)
            .map(|view| (view.to, *view.edge))
            .chain(graph.incoming(name).map(|view| (view.from, *view.edge)));
        for (next, edge) in neighbours {
            if edge != DeploymentEdgeType::Replicates || !seen.insert(next.name.as_str()) {
                continue;
            }
            if let DeploymentNodeType::MessageBus(spec) = &next.node_type {
                peers.insert(next.name.as_str(), spec);
                queue.push(next);
            }
        }
    }
    peers
}

/// Leaf-node remote URLs: the hubs this server `connects_to`, then the declared remotes.
fn leaf_remotes(
    context: &TranslationContext<'_>,
    node: &DeploymentNode,
    spec: &MessageBusSpec,
) -> Vec<String> {
    let mut hubs: Vec<String> = context
        .graph()
        .outgoing(&node.name)
        .filter(|view| {
            matches!(view.edge, DeploymentEdgeType::ConnectsTo { .. })
                && matches!(view.to.node_type, DeploymentNodeType::MessageBus(_))
        })
        .filter_map(|view| {
            let port = connection_port(view.from, view.to, view.edge)?;
            let address = context.address_from(&node.name, &view.to.name)?;
            Some(HostPort::new(address, port).url("nats-leaf"))
        })
        .collect();
    hubs.sort();
    hubs.extend(spec.leaf_remotes.iter().cloned());
    hubs
}

/// `services.nats` with the security settings of [`nats_auth`] merged into its `settings`, and
/// the leaf remotes rewritten with their credentials file and TLS when the bus has either.
fn secure(
    mut nats: Expr,
    spec: &MessageBusSpec,
    users: &[NatsUser],
    remotes: &[String],
    clustered: bool,
    leaf_hub: bool,
) -> Expr {
    let Some(set) = nats.as_attrs_mut() else {
        return nats;
    };
    let security = nats_auth::security_settings(spec, users, clustered, leaf_hub);
    for (key, value) in security {
        // Attribute sets merge key by key into what the builder wrote (`settings.cluster`).
        set.insert(
            ["settings", key.as_str()],
            cim_domain_nix::json::from_json(&value),
        );
    }
    if !remotes.is_empty() && (spec.leaf_credentials.is_some() || spec.tls.is_some()) {
        let remotes = serde_json::Value::Array(nats_auth::leaf_remotes(spec, remotes));
        set.insert(
            ["settings", "leafnodes", "remotes"],
            cim_domain_nix::json::from_json(&remotes),
        );
    }
    nats
}
