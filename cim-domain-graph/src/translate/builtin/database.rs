//! `database` nodes: PostgreSQL with the databases and roles its dependents need.

use std::collections::BTreeSet;
use std::net::IpAddr;

use cim_domain_nix::{AttrSet, Expr, list};

use super::{limit_resources, wrong_kind};
use crate::edge::DeploymentEdgeType;
use crate::node::{DatabaseSpec, DeploymentNode, DeploymentNodeType};
use crate::translate::{HostModules, NodeTranslator, TranslationContext, TranslationError};

/// Translates `database` nodes into `services.postgresql`.
pub(super) struct DatabaseTranslator;

impl NodeTranslator for DatabaseTranslator {
    fn systemd_unit(&self, _node: &DeploymentNode) -> Option<String> {
        Some("postgresql".to_owned())
    }

    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        let DeploymentNodeType::Database(spec) = &node.node_type else {
            return Err(wrong_kind(node, "database"));
        };
        let mut databases: BTreeSet<&str> = spec.databases.iter().map(String::as_str).collect();
        let mut users: BTreeSet<&str> = spec.users.iter().map(String::as_str).collect();
        // Client hosts other than this one, for TCP access and pg_hba lines.
        let mut remote_clients: BTreeSet<&str> = BTreeSet::new();
        // Nodes on other hosts: they log in with a password (see `database_passwords`).
        let mut remote_nodes: BTreeSet<&str> = BTreeSet::new();
        for view in context.graph().incoming(&node.name) {
            let client = view.from;
            match view.edge {
                // A dependent gets its own database and a role owning it, named after it, which
                // is also the user its unit runs as (DynamicUser), so local peer login works.
                DeploymentEdgeType::DependsOn => {
                    databases.insert(&client.name);
                    users.insert(&client.name);
                }
                DeploymentEdgeType::ConnectsTo { .. } => {}
                _ => continue,
            }
            if !context.same_host(&client.name, &node.name)
                && let Some(host) = context.host_of(&client.name)
            {
                remote_clients.insert(context.address_of_host(host));
                remote_nodes.insert(&client.name);
            }
        }
        // A remote client logs in as the role named after it, when there is one.
        let password_roles: Vec<&str> = remote_nodes
            .iter()
            .copied()
            .filter(|name| {
                context
                    .graph()
                    .node(name)
                    .is_some_and(|client| logs_in_with_password(client, node, spec, context))
            })
            .collect();
        let ensure_users = users.iter().map(|user| {
            let mut entry = AttrSet::new();
            entry.insert("name", *user);
            if databases.contains(user) {
                entry.insert("ensureDBOwnership", true);
            }
            Expr::AttrSet(entry)
        });
        let mut postgres = AttrSet::new();
        postgres.insert("enable", true);
        postgres.insert(["settings", "port"], spec.port);
        postgres.insert("ensureDatabases", list(databases.iter().copied()));
        postgres.insert("ensureUsers", list(ensure_users.collect::<Vec<_>>()));
        if !remote_clients.is_empty() {
            postgres.insert("enableTCPIP", true);
            let lines: String = remote_clients
                .iter()
                .map(|address| format!("host all all {} scram-sha-256\n", hba_address(address)))
                .collect();
            postgres.insert("authentication", lines);
        }
        let module = modules.get_mut(context.host_name(node)?)?;
        module.set(["services", "postgresql"], Expr::AttrSet(postgres));
        limit_resources(module, "postgresql", spec.resources);
        super::database_passwords::set_passwords(module, &password_roles)?;
        Ok(())
    }
}

/// Whether `client` logs in to `database` (whose spec is `spec`) with a password, which the
/// database host sets from its file and the client reads (`PGPASSWORD_FILE`): it runs on another
/// host (pg_hba `scram-sha-256`), has a `depends_on` or `connects_to` edge to the database, and a
/// role there (it depends on the database, or the database lists it in `users`).
pub(super) fn logs_in_with_password(
    client: &DeploymentNode,
    database: &DeploymentNode,
    spec: &DatabaseSpec,
    context: &TranslationContext<'_>,
) -> bool {
    let mut depends = false;
    let mut connects = false;
    for view in context.graph().outgoing(&client.name) {
        if view.to.name == database.name {
            match view.edge {
                DeploymentEdgeType::DependsOn => depends = true,
                DeploymentEdgeType::ConnectsTo { .. } => connects = true,
                _ => {}
            }
        }
    }
    // A dependent has a role of its own; a connecting node only one the database lists.
    (depends || connects && spec.users.contains(&client.name))
        && !context.same_host(&client.name, &database.name)
        && context.host_of(&client.name).is_some()
}

/// A pg_hba address field: an IP as a single-host CIDR, a host name as written.
fn hba_address(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => format!("{ip}/32"),
        Ok(IpAddr::V6(ip)) => format!("{ip}/128"),
        Err(_) => address.to_owned(),
    }
}
