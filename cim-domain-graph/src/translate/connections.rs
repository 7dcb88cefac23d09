//! Where a service's dependencies are: the connection settings a `service` node is given as
//! environment variables, from its outgoing edges (documented in `docs/graph-format.md`,
//! "Connection settings").
//!
//! - `depends_on` a `database`: libpq's own variables (PostgreSQL manual, "Environment
//!   Variables"), so `psql` and every libpq-based driver connect with no configuration:
//!   `PGHOST` (the socket directory `/run/postgresql` on the same host, where peer
//!   authentication maps the service's user to its role; else the database host's address),
//!   `PGPORT`, and `PGDATABASE` / `PGUSER`: the database and role named after the service that
//!   the database translator creates for it. `connects_to` a database gives `PGHOST`/`PGPORT`.
//! - `connects_to`, `publishes_to` or `subscribes_to` a `message_bus`: `NATS_URL`, the
//!   variable the NATS CLI and the official clients' examples read (`nats://host:port`, IPv6 in
//!   brackets; several buses as the comma-separated server list NATS clients accept).
//! - every `connects_to`, whatever the target: `<TARGET>_HOST` and `<TARGET>_PORT`, the target
//!   node's name in upper case with `-` as `_` (`connects_to: search-api` gives
//!   `SEARCH_API_HOST`, `SEARCH_API_PORT`).
//!
//! When a service depends on several databases, the `PG*` variables name the first by name (the
//! others are reachable through their `<TARGET>_*` variables when the edge is `connects_to`).
//! Variables the node sets itself in `environment` win over these.

use std::collections::BTreeMap;

use cim_naming::HostPort;

use crate::edge::DeploymentEdgeType;
use crate::graph::EdgeView;
use crate::node::{DeploymentNode, DeploymentNodeType};
use crate::translate::TranslationContext;
use crate::translate::edges::connection_port;

/// The socket directory of NixOS' PostgreSQL (`services.postgresql`), where local clients
/// connect with peer authentication.
pub const POSTGRESQL_SOCKET_DIR: &str = "/run/postgresql";

/// The connection settings of `node` by variable name; see the [module documentation](self).
/// Pure: the same graph gives the same map.
pub fn connection_environment(
    node: &DeploymentNode,
    context: &TranslationContext<'_>,
) -> BTreeMap<String, String> {
    let mut edges: Vec<EdgeView<'_>> = context.graph().outgoing(&node.name).collect();
    edges.sort_by(|a, b| (&a.to.name, a.edge).cmp(&(&b.to.name, b.edge)));
    let mut environment = BTreeMap::new();
    let mut nats_urls: Vec<String> = Vec::new();
    let mut postgres_done = false;
    for view in &edges {
        let target = view.to;
        let Some(address) = context.address_from(&node.name, &target.name) else {
            continue;
        };
        let port = connection_port(view.from, target, view.edge);
        match (&target.node_type, view.edge) {
            (DeploymentNodeType::Database(database), DeploymentEdgeType::DependsOn)
                if !postgres_done =>
            {
                postgres_done = true;
                let local = context.same_host(&node.name, &target.name);
                let host = if local {
                    POSTGRESQL_SOCKET_DIR
                } else {
                    address
                };
                environment.insert("PGHOST".to_owned(), host.to_owned());
                environment.insert("PGPORT".to_owned(), database.port.to_string());
                environment.insert("PGDATABASE".to_owned(), node.name.clone());
                environment.insert("PGUSER".to_owned(), node.name.clone());
            }
            (DeploymentNodeType::Database(_), DeploymentEdgeType::ConnectsTo { .. })
                if !postgres_done =>
            {
                postgres_done = true;
                environment.insert("PGHOST".to_owned(), address.to_owned());
                if let Some(port) = port {
                    environment.insert("PGPORT".to_owned(), port.to_string());
                }
            }
            (
                DeploymentNodeType::MessageBus(_),
                DeploymentEdgeType::ConnectsTo { .. }
                | DeploymentEdgeType::PublishesTo
                | DeploymentEdgeType::SubscribesTo,
            ) => {
                if let Some(port) = port {
                    let url = HostPort::new(address, port).url("nats");
                    if !nats_urls.contains(&url) {
                        nats_urls.push(url);
                    }
                }
            }
            _ => {}
        }
        if let (DeploymentEdgeType::ConnectsTo { .. }, Some(port)) = (view.edge, port) {
            let prefix = variable_prefix(&target.name);
            environment.insert(format!("{prefix}_HOST"), address.to_owned());
            environment.insert(format!("{prefix}_PORT"), port.to_string());
        }
    }
    if !nats_urls.is_empty() {
        environment.insert("NATS_URL".to_owned(), nats_urls.join(","));
    }
    environment
}

/// `search-api` → `SEARCH_API`: a node name (lowercase letters, digits and `-`, starting with a
/// letter; see `cim_naming::fleet_name_problem`) as the start of an environment variable.
pub fn variable_prefix(node: &str) -> String {
    node.chars()
        .map(|c| match c {
            '-' => '_',
            other => other.to_ascii_uppercase(),
        })
        .collect()
}
