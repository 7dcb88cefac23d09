//! The network and security reviewer: each host's firewall opens exactly the ports that the
//! graph's edges need.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cim_domain_graph::translate::{connection_port, darwin, nvidia};
use cim_domain_graph::{DeploymentEdgeType, DeploymentGraph, DeploymentNode, DeploymentNodeType};

use super::firewall::opened_tcp_ports;
use super::{Finding, ReviewContext, ReviewError, Reviewer, Severity};

/// Compares the TCP ports each translated host module opens (`networking.firewall.
/// allowedTCPPorts`, read with rnix) with the ports the graph needs reachable from other hosts:
/// - the port a connection from another host reaches (`connects_to` — its own port, the hub's
///   leaf port between message buses, else the target's main port — `load_balances`,
///   `publishes_to`, `subscribes_to`);
/// - a load balancer's port (the fleet's way in);
/// - a clustered message bus's cluster port;
/// - the exporter ports of hosts a monitoring node on another host `manages` (with the NVIDIA
///   GPU exporter's on hosts with NVIDIA GPUs).
///
/// A port opened that nothing needs is blocking (an exposed service no edge accounts for); a
/// port needed but closed is blocking (the connection would be refused). Macs (nix-darwin
/// hosts) are not reviewed: they have no port firewall.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetworkReviewer;

const NAME: &str = "network";

impl Reviewer for NetworkReviewer {
    fn name(&self) -> &str {
        NAME
    }

    fn review(&self, context: &ReviewContext<'_>) -> Result<Vec<Finding>, ReviewError> {
        let graph = context.fleet.graph();
        let needed = needed_ports(graph);
        let mut hosts: Vec<&str> = graph
            .nodes()
            .filter(|n| n.node_type.is_host())
            // A Mac (nix-darwin) has no port firewall to open or close.
            .filter(|n| darwin::darwin_spec(n).is_none())
            .map(|n| n.name.as_str())
            .collect();
        hosts.sort_unstable();
        let mut findings = Vec::new();
        for host in hosts {
            let path = PathBuf::from("hosts").join(format!("{host}.nix"));
            let Some(text) = context.spec.file(&path) else {
                continue;
            };
            let opened = match opened_tcp_ports(text) {
                Ok(opened) => opened,
                Err(error) => {
                    let reason = format!("cannot read the firewall of {}: {error}", path.display());
                    findings.push(Finding::new(Severity::Blocking, NAME, Some(host), reason));
                    continue;
                }
            };
            let wanted = needed.get(host).cloned().unwrap_or_default();
            for port in &opened {
                if !wanted.contains_key(port) {
                    findings.push(Finding::new(
                        Severity::Blocking,
                        NAME,
                        Some(host),
                        format!("TCP port {port} is open on host {host} but no edge needs it"),
                    ));
                }
            }
            for (port, why) in &wanted {
                if !opened.contains(port) {
                    findings.push(Finding::new(
                        Severity::Blocking,
                        NAME,
                        Some(host),
                        format!("TCP port {port} is closed on host {host} but {why} needs it"),
                    ));
                }
            }
        }
        Ok(findings)
    }
}

/// For each host, the ports other hosts must reach, each with the first reason found (edges
/// in name order).
fn needed_ports(graph: &DeploymentGraph) -> BTreeMap<String, BTreeMap<u16, String>> {
    let mut needed: BTreeMap<String, BTreeMap<u16, String>> = BTreeMap::new();
    let host_name = |node: &str| graph.host_of(node).map(|h| h.name.clone());
    let mut need = |host: String, port: u16, why: String| {
        needed.entry(host).or_default().entry(port).or_insert(why);
    };
    let mut nodes: Vec<&DeploymentNode> = graph.nodes().collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    for node in &nodes {
        let name = node.name.as_str();
        match &node.node_type {
            DeploymentNodeType::LoadBalancer(spec) => {
                if let Some(host) = host_name(name) {
                    need(host, spec.port, format!("load balancer {name}"));
                }
            }
            DeploymentNodeType::MessageBus(spec) => {
                let clustered = graph
                    .outgoing(name)
                    .chain(graph.incoming(name))
                    .any(|view| *view.edge == DeploymentEdgeType::Replicates);
                if let (true, Some(host)) = (clustered, host_name(name)) {
                    need(
                        host,
                        spec.cluster_port,
                        format!("the cluster routes of {name}"),
                    );
                }
            }
            DeploymentNodeType::Monitoring(spec) => {
                let own = host_name(name);
                for view in graph.outgoing(name) {
                    if *view.edge != DeploymentEdgeType::Manages {
                        continue;
                    }
                    let watched = if view.to.node_type.is_host() {
                        Some(view.to.name.clone())
                    } else {
                        host_name(&view.to.name)
                    };
                    let Some(watched) = watched.filter(|w| Some(w) != own.as_ref()) else {
                        continue;
                    };
                    let runs_database = graph.nodes().any(|n| {
                        matches!(n.node_type, DeploymentNodeType::Database(_))
                            && host_name(&n.name).as_deref() == Some(watched.as_str())
                    });
                    for exporter in &spec.exporters {
                        if exporter.attribute() == "postgres" && !runs_database {
                            continue;
                        }
                        let why = format!("{name} scraping {watched}");
                        need(watched.clone(), exporter.port(), why);
                    }
                    let gpu_host = graph.node(&watched).is_some_and(|host| {
                        matches!(&host.node_type, DeploymentNodeType::Host(spec)
                            if nvidia::has_driver_stack(&watched, spec))
                    });
                    if gpu_host {
                        let why = format!("{name} scraping the GPU metrics of {watched}");
                        need(watched.clone(), nvidia::NVIDIA_GPU_EXPORTER_PORT, why);
                    }
                }
            }
            _ => {}
        }
        for view in graph.outgoing(name) {
            let (from, to) = (view.from, view.to);
            let (Some(from_host), Some(to_host)) = (host_name(&from.name), host_name(&to.name))
            else {
                continue;
            };
            if from_host == to_host {
                continue;
            }
            if let Some(port) = connection_port(from, to, view.edge) {
                let why = format!("{} {} {}", from.name, view.edge.name(), to.name);
                need(to_host, port, why);
            }
        }
    }
    needed
}
