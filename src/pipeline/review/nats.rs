//! The NATS reviewer: cluster sizes, JetStream placement and leaf-node remotes.

use std::collections::{BTreeMap, BTreeSet};

use cim_domain_graph::{DeploymentEdgeType, DeploymentGraph, DeploymentNodeType, MessageBusSpec};

use super::{Finding, ReviewContext, ReviewError, Reviewer, Severity};

/// Reviews the graph's `message_bus` nodes:
/// - a cluster (message buses joined by `replicates` edges) of two members is blocking: NATS
///   JetStream's Raft groups need a majority, so losing either member stops the cluster, which
///   is worse than one server; four or six members are a warning (no more failures tolerated
///   than with one fewer);
/// - JetStream placement: JetStream on some members of a cluster but not others is blocking
///   (the meta group and stream replicas live only on the JetStream members, so the cluster's
///   tolerance is not what its size suggests); two members on one host never get here (graph
///   validation allows one message bus per host);
/// - leaf remotes: every declared `leaf_remotes` URL must be
///   `nats-leaf|nats|tls|ws|wss://[user@]host:port` with a port from 1 to 65535.
#[derive(Debug, Clone, Copy, Default)]
pub struct NatsReviewer;

const NAME: &str = "nats";

impl Reviewer for NatsReviewer {
    fn name(&self) -> &str {
        NAME
    }

    fn review(&self, context: &ReviewContext<'_>) -> Result<Vec<Finding>, ReviewError> {
        Ok(review_nats(context.fleet.graph()))
    }
}

/// The NATS findings for `graph` (see [`NatsReviewer`]), clusters in order of their first
/// member's name.
pub(super) fn review_nats(graph: &DeploymentGraph) -> Vec<Finding> {
    let buses: BTreeMap<&str, &MessageBusSpec> = graph
        .nodes()
        .filter_map(|node| match &node.node_type {
            DeploymentNodeType::MessageBus(spec) => Some((node.name.as_str(), spec)),
            _ => None,
        })
        .collect();
    let mut findings = Vec::new();
    for cluster in clusters(graph, &buses) {
        review_cluster(&buses, &cluster, &mut findings);
    }
    for (name, spec) in &buses {
        for url in &spec.leaf_remotes {
            if let Err(why) = check_leaf_url(url) {
                findings.push(Finding::new(
                    Severity::Blocking,
                    NAME,
                    Some(name),
                    format!("leaf remote `{url}` is not well formed: {why}"),
                ));
            }
        }
    }
    findings
}

/// Message buses joined by `replicates` edges (either direction), each sorted, only those of
/// two or more members.
fn clusters<'g>(
    graph: &'g DeploymentGraph,
    buses: &BTreeMap<&'g str, &MessageBusSpec>,
) -> Vec<Vec<&'g str>> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut clusters = Vec::new();
    for &start in buses.keys() {
        if !seen.insert(start) {
            continue;
        }
        let mut members = vec![start];
        let mut queue = vec![start];
        while let Some(current) = queue.pop() {
            let neighbours = graph
                .outgoing(current)
                .map(|view| (view.to.name.as_str(), *view.edge))
                .chain(
                    graph
                        .incoming(current)
                        .map(|view| (view.from.name.as_str(), *view.edge)),
                );
            for (next, edge) in neighbours {
                if edge == DeploymentEdgeType::Replicates
                    && buses.contains_key(next)
                    && seen.insert(next)
                {
                    members.push(next);
                    queue.push(next);
                }
            }
        }
        if members.len() > 1 {
            members.sort_unstable();
            clusters.push(members);
        }
    }
    clusters
}

fn review_cluster(
    buses: &BTreeMap<&str, &MessageBusSpec>,
    members: &[&str],
    findings: &mut Vec<Finding>,
) {
    let first = members.first().copied();
    let listed = members.join(", ");
    let size = members.len();
    if size == 2 {
        findings.push(Finding::new(
            Severity::Blocking,
            NAME,
            first,
            format!(
                "NATS cluster of 2 members ({listed}): a JetStream/Raft majority of 2 is 2, so \
                 losing either server stops the cluster; use 1, 3 or 5 members"
            ),
        ));
    } else if size.is_multiple_of(2) {
        findings.push(Finding::new(
            Severity::Warning,
            NAME,
            first,
            format!(
                "NATS cluster of {size} members ({listed}) tolerates no more failures than one \
                 of {}; an odd size is better",
                size - 1
            ),
        ));
    }
    let with_jetstream: Vec<&str> = members
        .iter()
        .copied()
        .filter(|m| buses.get(m).is_some_and(|spec| spec.jetstream))
        .collect();
    if !with_jetstream.is_empty() && with_jetstream.len() != size {
        findings.push(Finding::new(
            Severity::Blocking,
            NAME,
            first,
            format!(
                "JetStream is enabled on {} of the cluster {listed}: enable it on every member \
                 or none, so stream replicas and the meta group can be placed on any member",
                with_jetstream.join(", ")
            ),
        ));
    }
}

/// `Ok` for `scheme://[user[:password]@]host:port` with a leaf-capable scheme.
pub(super) fn check_leaf_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "no `scheme://`".to_owned())?;
    if !matches!(scheme, "nats-leaf" | "nats" | "tls" | "ws" | "wss") {
        return Err(format!(
            "scheme `{scheme}` is not one of nats-leaf, nats, tls, ws, wss"
        ));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = host_port
        .rsplit_once(':')
        .ok_or_else(|| "no `:port`".to_owned())?;
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("host `{host}` is empty or has spaces"));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(()),
        _ => Err(format!("port `{port}` is not a number from 1 to 65535")),
    }
}

#[cfg(test)]
mod tests {
    use super::check_leaf_url;

    #[test]
    fn leaf_urls() {
        assert_eq!(check_leaf_url("nats-leaf://10.0.0.1:7422"), Ok(()));
        assert_eq!(check_leaf_url("tls://user:pw@hub.example.org:7422"), Ok(()));
        assert!(check_leaf_url("10.0.0.1:7422").is_err());
        assert!(check_leaf_url("http://hub:7422").is_err());
        assert!(check_leaf_url("nats-leaf://hub").is_err());
        assert!(check_leaf_url("nats-leaf://hub:0").is_err());
        assert!(check_leaf_url("nats-leaf://:7422").is_err());
        assert!(check_leaf_url("nats-leaf://hub:99999").is_err());
    }
}
