//! Property tests: random valid graphs translate to files that parse; the output depends only on
//! the graph, not on the order it was built in; random (mostly invalid) input is rejected with
//! errors, never a panic.

use std::collections::BTreeMap;

use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator, TranslationError};
use cim_domain_graph::{
    AgentSpec, DatabaseSpec, DeploymentEdgeType, DeploymentGraph, DeploymentNode,
    DeploymentNodeType, EdgeEntry, Exporter, GraphDocument, HostSpec, LoadBalancerSpec,
    MessageBusSpec, MonitoringSpec, NodeEntry, ServiceSpec, StorageSource, StorageSpec,
    validate_deployment_graph,
};
use proptest::prelude::*;

/// Text that stresses Nix escaping: quotes, `${`, backslashes, newlines and non-ASCII.
/// (No newline: validation refuses line breaks in values NixOS writes into unit files, issue 12.)
fn awkward_text() -> impl Strategy<Value = String> {
    r#"[a-zA-Z0-9 "'$\\{}/é-]{0,12}"#
}

/// One node on a host, before names and edges are chosen.
#[derive(Debug, Clone)]
enum Kind {
    Service {
        env: Option<String>,
        command: Option<String>,
    },
    Database,
    Bus,
    Balancer,
    Storage,
    Monitoring,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => (proptest::option::of(awkward_text()), proptest::option::of(awkward_text()))
            .prop_map(|(env, command)| Kind::Service { env, command }),
        1 => Just(Kind::Database),
        1 => Just(Kind::Bus),
        1 => Just(Kind::Balancer),
        1 => Just(Kind::Storage),
        1 => Just(Kind::Monitoring),
    ]
}

/// A plan for a valid graph: per host, the kinds of its nodes; plus edge choices as indexes
/// that the builder resolves to valid endpoints.
#[derive(Debug, Clone)]
struct Plan {
    prefix: String,
    hosts: Vec<Vec<Kind>>,
    picks: Vec<(usize, usize)>,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        "[a-z][a-z0-9]{0,5}",
        proptest::collection::vec(proptest::collection::vec(kind(), 0..6), 1..5),
        proptest::collection::vec((any::<usize>(), any::<usize>()), 0..30),
    )
        .prop_map(|(prefix, hosts, picks)| Plan {
            prefix,
            hosts,
            picks,
        })
}

/// Builds a valid document from a plan: one database, bus and monitoring per host at most,
/// distinct ports, `depends_on` only towards earlier nodes (so no cycles), and edges only
/// between endpoint types that make sense.
fn build(plan: &Plan) -> GraphDocument {
    let mut document = GraphDocument::default();
    let mut nodes: Vec<(String, &'static str, usize)> = Vec::new();
    for (h, kinds) in plan.hosts.iter().enumerate() {
        let host = format!("{}-h{h}", plan.prefix);
        let addresses = if h % 2 == 0 {
            vec![format!("10.0.0.{}", h + 1)]
        } else {
            vec![]
        };
        document.hosts.push(cim_domain_graph::HostEntry {
            name: host.clone(),
            spec: HostSpec {
                addresses,
                ..HostSpec::default()
            },
        });
        let mut seen = BTreeMap::new();
        for (i, kind) in kinds.iter().enumerate() {
            let name = format!("{}-n{h}x{i}", plan.prefix);
            let port = 8000 + u16::try_from(i).unwrap_or(0);
            let (tag, node_type) = match kind {
                Kind::Service { env, command } => {
                    let mut spec = ServiceSpec {
                        package: Some("hello".into()),
                        command: command.clone().filter(|c| !c.trim().is_empty()),
                        port: Some(port),
                        ..ServiceSpec::default()
                    };
                    if let Some(value) = env {
                        spec.environment.insert("VALUE".into(), value.clone());
                    }
                    ("service", DeploymentNodeType::Service(spec))
                }
                Kind::Database => (
                    "database",
                    DeploymentNodeType::Database(DatabaseSpec::default()),
                ),
                Kind::Bus => (
                    "bus",
                    DeploymentNodeType::MessageBus(MessageBusSpec::default()),
                ),
                Kind::Balancer => (
                    "balancer",
                    DeploymentNodeType::LoadBalancer(LoadBalancerSpec {
                        port,
                        server_name: None,
                        tls: None,
                    }),
                ),
                Kind::Storage => (
                    "storage",
                    DeploymentNodeType::Storage(StorageSpec {
                        mount_point: format!("/srv/{name}"),
                        source: StorageSource::Bind {
                            path: format!("/data/{name}"),
                        },
                        read_only: i % 2 == 0,
                    }),
                ),
                Kind::Monitoring => (
                    "monitoring",
                    DeploymentNodeType::Monitoring(MonitoringSpec {
                        port: 9090,
                        exporters: vec![Exporter::Node, Exporter::Postgres],
                    }),
                ),
            };
            let singleton = matches!(tag, "database" | "bus" | "monitoring");
            if singleton && seen.insert(tag, ()).is_some() {
                continue;
            }
            document.nodes.push(NodeEntry {
                name: name.clone(),
                host: Some(host.clone()),
                node_type,
            });
            nodes.push((name, tag, h));
        }
    }
    let services: Vec<&(String, &str, usize)> = nodes.iter().filter(|n| n.1 == "service").collect();
    // Every load balancer needs a service; drop the ones that cannot have one.
    if services.is_empty() {
        document
            .nodes
            .retain(|n| !matches!(n.node_type, DeploymentNodeType::LoadBalancer(_)));
        nodes.retain(|n| n.1 != "balancer");
    } else {
        for (name, _, _) in nodes.iter().filter(|n| n.1 == "balancer") {
            edge(
                &mut document,
                name,
                &services[name.len() % services.len()].0,
                DeploymentEdgeType::LoadBalances,
            );
        }
    }
    if nodes.is_empty() {
        return document;
    }
    for &(a, b) in &plan.picks {
        let (from, to) = (&nodes[a % nodes.len()], &nodes[b % nodes.len()]);
        if from.0 == to.0 {
            continue;
        }
        let (earlier, later) = if a % nodes.len() < b % nodes.len() {
            (from, to)
        } else {
            (to, from)
        };
        let chosen = match (later.1, earlier.1, a % 5) {
            (_, "storage", _) if later.1 != "storage" && later.2 == earlier.2 => {
                Some(DeploymentEdgeType::MountsVolume)
            }
            ("bus", "bus", 0) => Some(DeploymentEdgeType::ConnectsTo { port: None }),
            ("bus", "bus", _) => Some(DeploymentEdgeType::Replicates),
            ("storage", _, _) | (_, "storage", _) => None,
            ("monitoring", _, _) => Some(DeploymentEdgeType::Manages),
            (_, "bus", 1) => Some(DeploymentEdgeType::PublishesTo),
            (_, _, 2) => Some(DeploymentEdgeType::ConnectsTo { port: None }),
            (_, _, 3) => Some(DeploymentEdgeType::DataFlow),
            _ => Some(DeploymentEdgeType::DependsOn),
        };
        if let Some(kind) = chosen {
            let duplicate = document
                .edges
                .iter()
                .any(|e| e.from == later.0 && e.to == earlier.0 && e.edge == kind);
            if !duplicate {
                edge(&mut document, &later.0, &earlier.0, kind);
            }
        }
    }
    document
}

fn edge(document: &mut GraphDocument, from: &str, to: &str, edge: DeploymentEdgeType) {
    document.edges.push(EdgeEntry {
        from: from.into(),
        to: to.into(),
        edge,
    });
}

/// The same graph built in the reverse order: nodes, then edges, last first.
fn reversed(graph: &DeploymentGraph) -> Result<DeploymentGraph, cim_domain_graph::GraphError> {
    let mut rebuilt = DeploymentGraph::new();
    let nodes: Vec<&DeploymentNode> = graph.nodes().collect();
    for node in nodes.into_iter().rev() {
        rebuilt.add_node(node.clone())?;
    }
    let edges: Vec<_> = graph.edges().collect();
    for view in edges.into_iter().rev() {
        rebuilt.connect(&view.from.name, &view.to.name, *view.edge)?;
    }
    Ok(rebuilt)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn valid_graphs_translate_to_files_that_parse_and_do_not_depend_on_build_order(plan in plan()) {
        let document = build(&plan);
        let graph = document.to_graph().map_err(|e| TestCaseError::fail(e.to_string()))?;
        validate_deployment_graph(&graph).map_err(|e| TestCaseError::fail(format!("{e}\n{document:#?}")))?;
        let translator = FlakeTranslator::default();
        let spec = translator.translate_graph(&graph).map_err(|e| TestCaseError::fail(e.to_string()))?;
        spec.check_syntax().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(spec.hosts().count(), plan.hosts.len());
        for node in &document.nodes {
            let (DeploymentNodeType::Service(_), Some(host)) = (&node.node_type, &node.host) else {
                continue;
            };
            let text = spec.file(format!("hosts/{host}.nix")).unwrap_or_default();
            let description = format!("\"{} (deployment graph service)\"", node.name);
            prop_assert!(text.contains(&description), "{} missing from {}", node.name, text);
        }
        let again = translator.translate_graph(&graph).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&spec, &again);
        let rebuilt = reversed(&graph).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let from_rebuilt = translator.translate_graph(&rebuilt).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&spec, &from_rebuilt);
    }

    #[test]
    fn random_edits_keep_output_deterministic(
        plan in plan(),
        edits in proptest::collection::vec((0usize..4, any::<usize>(), any::<usize>()), 0..12),
    ) {
        let Ok(mut graph) = build(&plan).to_graph() else {
            return Err(TestCaseError::fail("planned graphs load"));
        };
        for (op, a, b) in edits {
            let names: Vec<String> = graph.nodes().map(|n| n.name.clone()).collect();
            if names.is_empty() {
                break;
            }
            let (x, y) = (&names[a % names.len()], &names[b % names.len()]);
            // Edits may make the graph invalid; they must be refused or applied, never panic.
            let _edited = match op {
                0 => graph.remove_node(x).map(|_| ()),
                1 => graph.connect(x, y, DeploymentEdgeType::DependsOn),
                2 => graph.disconnect(x, y, &DeploymentEdgeType::DependsOn),
                _ => graph.add_node(DeploymentNode::new(
                    format!("{x}-agent"),
                    DeploymentNodeType::Agent(AgentSpec { definition: "agents/a.md".into(), ..AgentSpec::default() }),
                )),
            };
        }
        let translator = FlakeTranslator::default();
        let first = translator.translate_graph(&graph);
        let rebuilt = reversed(&graph).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let second = translator.translate_graph(&rebuilt);
        match (first, second) {
            (Ok(a), Ok(b)) => {
                a.check_syntax().map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(a, b);
            }
            (Err(TranslationError::Invalid(a)), Err(TranslationError::Invalid(b))) => {
                prop_assert!(!a.problems().is_empty());
                prop_assert_eq!(a.problems().len(), b.problems().len());
            }
            (a, b) => prop_assert!(false, "outcomes differ: {:?} vs {:?}", a.is_ok(), b.is_ok()),
        }
    }

    #[test]
    fn random_documents_are_rejected_with_errors_never_a_panic(yaml in random_document()) {
        let document = GraphDocument::from_yaml_str(&yaml)
            .map_err(|e| TestCaseError::fail(format!("generated YAML must parse: {e}\n{yaml}")))?;
        let (graph, structural) = document.to_graph_with_problems();
        let translator = FlakeTranslator::default();
        match translator.translate_graph(&graph) {
            Ok(spec) => {
                prop_assert!(structural.is_empty() || document.to_graph().is_err());
                spec.check_syntax().map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Err(TranslationError::Invalid(errors)) => {
                prop_assert!(!errors.problems().is_empty());
                prop_assert!(!errors.to_string().is_empty());
            }
            Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
        }
    }
}

/// YAML documents built from random names, types, fields and edges: mostly invalid.
fn random_document() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        "[a-c]{1,2}",
        "[A-Za-z_.-]{1,4}",
        Just(String::new()),
        Just("a".repeat(70)),
    ];
    let node_type = prop_oneof![
        Just("service"),
        Just("database"),
        Just("message_bus"),
        Just("load_balancer"),
        Just("agent"),
        Just("storage"),
        Just("monitoring"),
        Just("custom"),
    ];
    let edge_type = prop_oneof![
        Just("depends_on"),
        Just("connects_to"),
        Just("data_flow"),
        Just("load_balances"),
        Just("mounts_volume"),
        Just("publishes_to"),
        Just("subscribes_to"),
        Just("manages"),
        Just("runs_on"),
        Just("replicates"),
    ];
    (
        proptest::collection::vec((name.clone(), 0u32..3), 0..3),
        proptest::collection::vec(
            (
                name.clone(),
                node_type,
                proptest::option::of(name.clone()),
                0u16..3,
            ),
            0..8,
        ),
        proptest::collection::vec((name.clone(), name, edge_type), 0..10),
    )
        .prop_map(|(hosts, nodes, edges)| {
            let mut yaml = String::from("hosts:\n");
            for (name, cpus) in hosts {
                yaml.push_str(&format!("  - {{ name: \"{name}\", cpu_cores: {cpus} }}\n"));
            }
            yaml.push_str("nodes:\n");
            for (name, kind, host, port) in nodes {
                let extra = match kind {
                    "service" => {
                        format!("command: run, port: {port}, resources: {{ cpu_millis: 1500 }}")
                    }
                    "agent" => "definition: a.md, gpus: 1".to_owned(),
                    "storage" => "mount_point: /x, source: { kind: bind, path: /y }".to_owned(),
                    "custom" => "kind: thing".to_owned(),
                    "database" => format!("port: {port}"),
                    _ => String::new(),
                };
                let host = host.map(|h| format!(", host: \"{h}\"")).unwrap_or_default();
                yaml.push_str(&format!(
                    "  - {{ name: \"{name}\", type: {kind}{host}, {extra} }}\n"
                ));
            }
            yaml.push_str("edges:\n");
            for (from, to, kind) in edges {
                yaml.push_str(&format!(
                    "  - {{ from: \"{from}\", to: \"{to}\", type: {kind} }}\n"
                ));
            }
            yaml
        })
}
