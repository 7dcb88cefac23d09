//! The PostgreSQL reviewer: every client on another host authenticates over TCP.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;

use cim_domain_graph::{DeploymentEdgeType, DeploymentGraph, DeploymentNode, DeploymentNodeType};

use super::{Finding, ReviewContext, ReviewError, Reviewer, Severity};

/// Reviews `database` nodes against their host's translated module:
/// - each client on another host (a `connects_to` or `depends_on` edge into the database) has a
///   `host all all <address> scram-sha-256` line in `services.postgresql.authentication`, and
///   TCP is enabled; a missing line is blocking (PostgreSQL would refuse the client);
/// - no `host ... trust` line (a network client without a password) — blocking;
/// - a service whose environment holds a `postgres://` / `postgresql://` URL naming the database's
///   host and port, from another host, without an edge to the database, is blocking: nothing
///   gives its host a pg_hba line or an open port, so the connection is refused at run time;
/// - a client host without an address is a warning (pg_hba then names the host, which must
///   resolve).
#[derive(Debug, Clone, Copy, Default)]
pub struct PostgresReviewer;

const NAME: &str = "postgresql";

impl Reviewer for PostgresReviewer {
    fn name(&self) -> &str {
        NAME
    }

    fn review(&self, context: &ReviewContext<'_>) -> Result<Vec<Finding>, ReviewError> {
        let graph = context.fleet.graph();
        let mut databases: Vec<&DeploymentNode> = graph
            .nodes()
            .filter(|n| matches!(n.node_type, DeploymentNodeType::Database(_)))
            .collect();
        databases.sort_by(|a, b| a.name.cmp(&b.name));
        let mut findings = Vec::new();
        for database in databases {
            let Some(host) = graph.host_of(&database.name) else {
                continue;
            };
            let path = PathBuf::from("hosts").join(format!("{}.nix", host.name));
            let module = context.spec.file(&path).unwrap_or_default();
            review_database(graph, database, host, module, &mut findings);
        }
        Ok(findings)
    }
}

fn review_database(
    graph: &DeploymentGraph,
    database: &DeploymentNode,
    host: &DeploymentNode,
    module: &str,
    findings: &mut Vec<Finding>,
) {
    let DeploymentNodeType::Database(spec) = &database.node_type else {
        return;
    };
    let name = database.name.as_str();
    let lines = hba_lines(module);
    for line in &lines {
        if line.first().map(String::as_str) == Some("host")
            && line.last().map(String::as_str) == Some("trust")
        {
            findings.push(Finding::new(
                Severity::Blocking,
                NAME,
                Some(name),
                format!(
                    "pg_hba line `{}` lets network clients in without a password",
                    line.join(" ")
                ),
            ));
        }
    }
    let mut clients: BTreeSet<&str> = BTreeSet::new();
    for view in graph.incoming(name) {
        if !matches!(
            view.edge,
            DeploymentEdgeType::ConnectsTo { .. } | DeploymentEdgeType::DependsOn
        ) {
            continue;
        }
        clients.insert(view.from.name.as_str());
        let Some(client_host) = graph.host_of(&view.from.name) else {
            continue;
        };
        if client_host.name == host.name {
            continue;
        }
        let address = match &client_host.node_type {
            DeploymentNodeType::Host(h) => h.addresses.first(),
            _ => None,
        };
        let Some(address) = address else {
            findings.push(Finding::new(
                Severity::Warning,
                NAME,
                Some(&view.from.name),
                format!(
                    "host {} declares no address, so pg_hba for {name} names the host, which \
                     must resolve",
                    client_host.name
                ),
            ));
            continue;
        };
        let wanted = hba_address(address);
        let authenticated = lines.iter().any(|line| {
            line.len() == 5
                && line[0] == "host"
                && line[3] == wanted
                && matches!(line[4].as_str(), "scram-sha-256" | "md5" | "cert")
        });
        if !authenticated || !module.contains("enableTCPIP = true") {
            findings.push(Finding::new(
                Severity::Blocking,
                NAME,
                Some(&view.from.name),
                format!(
                    "connects to {name} from host {} but {} has no TCP authentication for \
                     {wanted} (host all all {wanted} scram-sha-256)",
                    client_host.name, host.name
                ),
            ));
        }
    }
    let addresses: Vec<&str> = match &host.node_type {
        DeploymentNodeType::Host(h) => h.addresses.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    };
    let mut services: Vec<&DeploymentNode> = graph.nodes().collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    for service in services {
        let DeploymentNodeType::Service(service_spec) = &service.node_type else {
            continue;
        };
        if clients.contains(service.name.as_str())
            || graph.host_of(&service.name).map(|h| h.name.as_str()) == Some(host.name.as_str())
        {
            continue;
        }
        for (key, value) in &service_spec.environment {
            let Some((target, port)) = postgres_target(value) else {
                continue;
            };
            let names_database =
                target == host.name || target == name || addresses.contains(&target.as_str());
            if names_database && port == spec.port {
                findings.push(Finding::new(
                    Severity::Blocking,
                    NAME,
                    Some(&service.name),
                    format!(
                        "{key} reaches {name} at {target}:{port} but there is no connects_to \
                         edge to {name}, so its host gets no pg_hba line and PostgreSQL refuses it"
                    ),
                ));
            }
        }
    }
}

/// The pg_hba lines in a module's text (inside the Nix string, lines end in `\n`), as words.
fn hba_lines(module: &str) -> Vec<Vec<String>> {
    module
        .split(['\n', '"'])
        .flat_map(|segment| segment.split("\\n"))
        .map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|words| {
            matches!(
                words.first().map(String::as_str),
                Some("host" | "hostssl" | "hostnossl" | "local")
            ) && words.len() >= 4
        })
        .collect()
}

/// An IP as a single-host CIDR, a name as written (as the translator writes pg_hba).
fn hba_address(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => format!("{ip}/32"),
        Ok(IpAddr::V6(ip)) => format!("{ip}/128"),
        Err(_) => address.to_owned(),
    }
}

/// Host and port of a `postgres://` or `postgresql://` URL (port 5432 when absent).
fn postgres_target(value: &str) -> Option<(String, u16)> {
    let rest = value
        .strip_prefix("postgresql://")
        .or_else(|| value.strip_prefix("postgres://"))?;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    match host_port.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((host_port.to_owned(), 5432)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls() {
        assert_eq!(
            postgres_target("postgresql://orders@10.0.2.10:5432/orders"),
            Some(("10.0.2.10".to_owned(), 5432))
        );
        assert_eq!(
            postgres_target("postgres://db-1/x"),
            Some(("db-1".to_owned(), 5432))
        );
        assert_eq!(postgres_target("http://db-1/x"), None);
    }

    #[test]
    fn hba_lines_are_read_from_the_nix_string() {
        let module = "authentication = \"host all all 10.0.3.11/32 scram-sha-256\\nhost all all 0.0.0.0/0 trust\\n\";";
        let lines = hba_lines(module);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].last().map(String::as_str), Some("trust"));
    }
}
