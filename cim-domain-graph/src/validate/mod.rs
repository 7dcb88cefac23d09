//! `validate_deployment_graph`: every problem of a graph at once, each naming its nodes.
//!
//! The checks run in one pass over nodes, one over edges and one over per-host tallies, so the
//! cost grows linearly with the graph.

mod cycles;
mod error;
mod fields;
mod tls;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

pub use error::{ValidationError, ValidationErrors};

use crate::edge::DeploymentEdgeType;
use crate::graph::DeploymentGraph;
use crate::name::node_name_problem;
use crate::node::{DeploymentNode, DeploymentNodeType};

/// Checks a graph and reports every problem found, or `Ok(())` when it can be deployed.
///
/// ```
/// use cim_domain_graph::{DeploymentGraph, DeploymentNode, DeploymentNodeType, ServiceSpec,
///     ValidationError, validate_deployment_graph};
///
/// let mut graph = DeploymentGraph::new();
/// let service = ServiceSpec { command: Some("sleep 1".into()), ..ServiceSpec::default() };
/// graph.add_node(DeploymentNode::new("api", DeploymentNodeType::Service(service)))?;
/// let errors = validate_deployment_graph(&graph).unwrap_err();
/// assert_eq!(errors.problems(), [ValidationError::NotPlaced { node: "api".into() }]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn validate_deployment_graph(graph: &DeploymentGraph) -> Result<(), ValidationErrors> {
    let mut problems = Vec::new();
    collect_problems(graph, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(problems))
    }
}

/// Appends the problems of `graph` to `problems`.
pub(crate) fn collect_problems(graph: &DeploymentGraph, problems: &mut Vec<ValidationError>) {
    settings_problems(graph.settings(), problems);
    for node in graph.nodes() {
        if let Some(reason) = node_name_problem(node) {
            problems.push(ValidationError::InvalidName {
                name: node.name.clone(),
                reason,
            });
        }
        fields::check(node, problems);
        let balances = |v: crate::graph::EdgeView<'_>| *v.edge == DeploymentEdgeType::LoadBalances;
        if matches!(node.node_type, DeploymentNodeType::LoadBalancer(_))
            && !graph.outgoing(&node.name).any(balances)
        {
            problems.push(ValidationError::InvalidField {
                node: node.name.clone(),
                field: "load_balances".to_owned(),
                reason: "a load balancer needs a load_balances edge to at least one service"
                    .to_owned(),
            });
        }
    }
    check_edges(graph, problems);
    cycles::check(graph, problems);
    check_hosts(graph, problems);
}

fn check_edges(graph: &DeploymentGraph, problems: &mut Vec<ValidationError>) {
    for view in graph.edges() {
        let (from, to, edge) = (view.from, view.to, view.edge);
        if from.name == to.name {
            problems.push(ValidationError::SelfLoop {
                node: from.name.clone(),
                edge: edge.name().to_owned(),
            });
            continue;
        }
        if let Err(needs) = edge.check_endpoints(&from.node_type, &to.node_type) {
            problems.push(ValidationError::InvalidEndpoints {
                from: from.name.clone(),
                from_type: from.node_type.kind().to_owned(),
                to: to.name.clone(),
                to_type: to.node_type.kind().to_owned(),
                edge: edge.name().to_owned(),
                needs: needs.to_owned(),
            });
            continue;
        }
        let needs_port = matches!(
            edge,
            DeploymentEdgeType::ConnectsTo { port: None } | DeploymentEdgeType::LoadBalances
        );
        if needs_port && to.node_type.primary_port().is_none() {
            problems.push(ValidationError::MissingPort {
                from: from.name.clone(),
                to: to.name.clone(),
                edge: edge.name().to_owned(),
            });
        }
        if *edge == DeploymentEdgeType::MountsVolume
            && let (Some(from_host), Some(to_host)) =
                (graph.host_of(&from.name), graph.host_of(&to.name))
            && from_host.name != to_host.name
        {
            problems.push(ValidationError::NotOnSameHost {
                from: from.name.clone(),
                from_host: from_host.name.clone(),
                to: to.name.clone(),
                to_host: to_host.name.clone(),
                edge: edge.name().to_owned(),
            });
        }
    }
}

/// What the nodes placed on one host use of it.
#[derive(Default)]
struct HostTally<'a> {
    /// Port to the nodes listening on it, with whether each is a load balancer: nginx serves
    /// several virtual hosts on one port, so load balancers may share one.
    ports: BTreeMap<u16, Vec<(&'a str, bool)>>,
    /// Kinds NixOS runs once per machine, to their nodes.
    singletons: BTreeMap<&'a str, Vec<&'a str>>,
    mounts: BTreeMap<&'a str, Vec<&'a str>>,
    cpu_millis: (u64, Vec<&'a str>),
    memory_mb: (u64, Vec<&'a str>),
    gpus: (u64, Vec<&'a str>),
}

fn check_hosts(graph: &DeploymentGraph, problems: &mut Vec<ValidationError>) {
    let mut tallies: FxHashMap<&str, HostTally<'_>> = FxHashMap::default();
    for node in graph.nodes().filter(|n| !n.node_type.is_host()) {
        let hosts: Vec<&DeploymentNode> = graph
            .hosts_of(&node.name)
            .filter(|h| h.node_type.is_host())
            .collect();
        match hosts.as_slice() {
            [] => problems.push(ValidationError::NotPlaced {
                node: node.name.clone(),
            }),
            [host] => tally(tallies.entry(&host.name).or_default(), node),
            many => {
                let mut hosts: Vec<String> = many.iter().map(|h| h.name.clone()).collect();
                hosts.sort();
                problems.push(ValidationError::PlacedOnManyHosts {
                    node: node.name.clone(),
                    hosts,
                });
            }
        }
    }
    for host in graph.nodes() {
        let (DeploymentNodeType::Host(spec), Some(tally)) =
            (&host.node_type, tallies.remove(host.name.as_str()))
        else {
            continue;
        };
        let name = &host.name;
        for (port, nodes) in tally.ports {
            if nodes.len() > 1 && !nodes.iter().all(|(_, shared)| *shared) {
                problems.push(ValidationError::PortConflict {
                    host: name.clone(),
                    port,
                    nodes: nodes.into_iter().map(|(n, _)| n.to_owned()).collect(),
                });
            }
        }
        for (kind, nodes) in tally.singletons.into_iter().filter(|(_, n)| n.len() > 1) {
            problems.push(ValidationError::OnePerHost {
                host: name.clone(),
                kind: kind.to_owned(),
                nodes: owned(nodes),
            });
        }
        for (mount, nodes) in tally.mounts.into_iter().filter(|(_, n)| n.len() > 1) {
            problems.push(ValidationError::MountConflict {
                host: name.clone(),
                mount_point: mount.to_owned(),
                nodes: owned(nodes),
            });
        }
        let capacities = [
            (
                "cpu_millis",
                spec.cpu_cores.map(|c| u64::from(c) * 1000),
                tally.cpu_millis,
            ),
            ("memory_mb", spec.memory_mb, tally.memory_mb),
            ("gpus", Some(spec.gpu_count()), tally.gpus),
        ];
        for (resource, capacity, (requested, nodes)) in capacities {
            if let Some(capacity) = capacity
                && requested > capacity
            {
                problems.push(ValidationError::Overcommit {
                    host: name.clone(),
                    resource: resource.to_owned(),
                    capacity,
                    requested,
                    nodes: owned(nodes),
                });
            }
        }
    }
}

fn tally<'a>(tally: &mut HostTally<'a>, node: &'a DeploymentNode) {
    let name = node.name.as_str();
    let mut ports = node.node_type.listen_ports();
    ports.sort_unstable();
    ports.dedup();
    let shared = matches!(node.node_type, DeploymentNodeType::LoadBalancer(_));
    for port in ports {
        tally.ports.entry(port).or_default().push((name, shared));
    }
    if matches!(
        node.node_type,
        DeploymentNodeType::Database(_)
            | DeploymentNodeType::MessageBus(_)
            | DeploymentNodeType::Monitoring(_)
    ) {
        tally
            .singletons
            .entry(node.node_type.kind())
            .or_default()
            .push(name);
    }
    if let DeploymentNodeType::Storage(spec) = &node.node_type {
        tally
            .mounts
            .entry(spec.mount_point.as_str())
            .or_default()
            .push(name);
    }
    let resources = node.node_type.resources();
    add(&mut tally.cpu_millis, u64::from(resources.cpu_millis), name);
    add(&mut tally.memory_mb, resources.memory_mb, name);
    if let DeploymentNodeType::Agent(spec) = &node.node_type {
        add(&mut tally.gpus, u64::from(spec.gpus), name);
    }
}

fn add<'a>(total: &mut (u64, Vec<&'a str>), amount: u64, node: &'a str) {
    if amount > 0 {
        total.0 = total.0.saturating_add(amount);
        total.1.push(node);
    }
}

fn owned(nodes: Vec<&str>) -> Vec<String> {
    nodes.into_iter().map(str::to_owned).collect()
}

/// The problems of the graph's `flake:` section.
fn settings_problems(settings: &crate::FlakeSettings, problems: &mut Vec<ValidationError>) {
    for (field, reference) in settings.references() {
        if let Some(reason) = crate::settings::flake_reference_problem(reference) {
            problems.push(ValidationError::InvalidSetting {
                field: field.to_owned(),
                reason: reason.to_owned(),
            });
        }
    }
    if let Some(version) = &settings.state_version
        && let Some(reason) = crate::settings::nixos_release_problem(version)
    {
        problems.push(ValidationError::InvalidSetting {
            field: "state_version".to_owned(),
            reason: reason.to_owned(),
        });
    }
}
