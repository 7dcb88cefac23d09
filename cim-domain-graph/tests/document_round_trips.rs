//! The YAML and JSON file format round-trips, and malformed files get errors naming the place.

use cim_domain_graph::{
    DeploymentEdgeType, DeploymentNodeType, DocumentError, GraphDocument, StorageSource,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const EVERY_KIND: &str = r#"
hosts:
  - name: core-1
    system: aarch64-linux
    addresses: [10.0.0.1, fd00::1]
    cpu_cores: 8
    memory_mb: 16384
    gpus: [{ model: nvidia-l4, compute_capability: '8.9', memory_mb: 24576 }]
    state_version: "24.11"
nodes:
  - { name: api, type: service, host: core-1, package: hello, command: "hello --port 8080", port: 8080,
      environment: { RUST_LOG: info }, resources: { cpu_millis: 500, memory_mb: 256 } }
  - { name: pg, type: database, host: core-1, port: 5433, databases: [api], users: [api] }
  - { name: nats, type: message_bus, host: core-1, monitoring_port: 8222, jetstream: false,
      leaf_remotes: ["nats-leaf://hub.example:7422"] }
  - { name: web, type: load_balancer, host: core-1, port: 443, server_name: shop.example }
  - { name: planner, type: agent, host: core-1, definition: agents/planner.md, gpus: 1 }
  - { name: data, type: storage, host: core-1, mount_point: /var/lib/data, read_only: true,
      source: { kind: volume, device: /dev/disk/by-label/data, fs_type: ext4 } }
  - { name: prom, type: monitoring, host: core-1, exporters: [node, postgres] }
  - { name: tool, type: custom, host: core-1, kind: backup, config: { every: daily }, ports: [9999] }
edges:
  - { from: api, to: pg, type: depends_on }
  - { from: api, to: pg, type: connects_to, port: 5433 }
  - { from: api, to: pg, type: data_flow }
  - { from: web, to: api, type: load_balances }
  - { from: api, to: data, type: mounts_volume }
  - { from: api, to: nats, type: publishes_to }
  - { from: planner, to: nats, type: subscribes_to }
  - { from: prom, to: core-1, type: manages }
"#;

#[test]
fn every_node_and_edge_kind_round_trips_through_yaml_and_json() -> TestResult {
    let document = GraphDocument::from_yaml_str(EVERY_KIND)?;
    let graph = document.to_graph()?;
    assert_eq!(graph.node_count(), 9);
    assert_eq!(graph.edge_count(), 16);
    assert_eq!(graph.to_document(), document);

    let yaml = document.to_yaml_string()?;
    assert_eq!(GraphDocument::from_yaml_str(&yaml)?, document);
    let json = document.to_json_string()?;
    assert_eq!(GraphDocument::from_json_str(&json)?, document);
    assert_eq!(GraphDocument::from_json_str(&json)?.to_graph()?, graph);

    // The graph itself serialises as its document.
    let through_serde: cim_domain_graph::DeploymentGraph =
        serde_json::from_str(&serde_json::to_string(&graph)?)?;
    assert_eq!(through_serde, graph);
    Ok(())
}

#[test]
fn fields_left_out_take_their_documented_defaults() -> TestResult {
    let graph = GraphDocument::from_yaml_str(
        r#"
hosts: [{ name: h }]
nodes:
  - { name: bus, type: message_bus, host: h }
  - { name: pg, type: database, host: h }
edges: [{ from: pg, to: bus, type: connects_to }]
"#,
    )?
    .to_graph()?;
    let Some(DeploymentNodeType::Host(host)) = graph.node("h").map(|n| &n.node_type) else {
        return Err("h is a host".into());
    };
    assert_eq!(
        (host.system.as_str(), host.state_version.as_deref()),
        ("x86_64-linux", None)
    );
    let Some(DeploymentNodeType::MessageBus(bus)) = graph.node("bus").map(|n| &n.node_type) else {
        return Err("bus is a message bus".into());
    };
    assert_eq!(
        (bus.port, bus.cluster_port, bus.leaf_port),
        (4222, 6222, 7422)
    );
    assert!(bus.jetstream);
    let edge = graph
        .outgoing("pg")
        .find(|e| e.to.name == "bus")
        .map(|e| *e.edge);
    assert_eq!(edge, Some(DeploymentEdgeType::ConnectsTo { port: None }));
    Ok(())
}

#[test]
fn a_misspelt_field_is_an_error_naming_it_and_its_line() {
    let yaml = "hosts: [{ name: h }]\nnodes:\n  - name: api\n    type: service\n    prot: 80\n";
    let Err(error) = GraphDocument::from_yaml_str(yaml) else {
        panic!("an unknown field must be refused");
    };
    let message = error.to_string();
    assert!(message.contains("unknown field `prot`"), "{message}");
    assert!(message.contains("line 3"), "{message}");

    let Err(error) = GraphDocument::from_yaml_str("hosts: [{ name: h, cpus: 4 }]") else {
        panic!("an unknown host field must be refused");
    };
    let message = error.to_string();
    assert!(
        message.contains("host `h`: unknown field `cpus`"),
        "{message}"
    );
}

#[test]
fn extra_fields_on_edges_and_custom_nodes_are_errors_naming_them_and_their_line() {
    let edge = "nodes:\n  - { name: a, type: service }\n  - { name: b, type: service }\n\
                edges:\n  - { from: a, to: b, type: depends_on, port: 80 }\n";
    let Err(error) = GraphDocument::from_yaml_str(edge) else {
        panic!("a port on a depends_on edge must be refused");
    };
    let message = error.to_string();
    assert!(
        message.contains("edge `a` -> `b` (depends_on): unknown field `port`"),
        "{message}"
    );
    assert!(message.contains("line 5"), "{message}");

    let Err(error) = GraphDocument::from_json_str(
        r#"{"nodes": [{"name": "a", "type": "service"}, {"name": "b", "type": "service"}],
            "edges": [{"from": "a", "to": "b", "type": "manages", "weight": 2}]}"#,
    ) else {
        panic!("an unknown field on a JSON edge must be refused");
    };
    let message = error.to_string();
    assert!(message.contains("unknown field `weight`"), "{message}");
    assert!(message.contains("line 2"), "{message}");

    let custom =
        "nodes:\n  - name: tool\n    type: custom\n    kind: backup\n    schedule: daily\n";
    let Err(error) = GraphDocument::from_yaml_str(custom) else {
        panic!("an unknown field on a custom node must be refused");
    };
    let message = error.to_string();
    assert!(message.contains("unknown field `schedule`"), "{message}");
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn a_host_inside_nodes_is_an_error_naming_it_and_its_line() {
    let yaml = "hosts: [{ name: h }]\nnodes:\n  - { name: box, type: host, cpu_cores: 4 }\n";
    let Err(error) = GraphDocument::from_yaml_str(yaml) else {
        panic!("a host in nodes must be refused");
    };
    let message = error.to_string();
    assert!(
        message.contains("node `box`: type `host` is not allowed in `nodes`"),
        "{message}"
    );
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn an_unknown_node_type_and_bad_json_are_errors_with_a_location() {
    let Err(error) = GraphDocument::from_yaml_str("nodes: [{ name: x, type: router }]") else {
        panic!("an unknown node type must be refused");
    };
    assert!(
        error.to_string().contains("unknown variant `router`"),
        "{error}"
    );

    let Err(error) = GraphDocument::from_json_str("{\"hosts\": [}") else {
        panic!("malformed JSON must be refused");
    };
    assert!(matches!(error, DocumentError::Json { .. }));
    assert!(error.to_string().contains("line 1"), "{error}");
}

#[test]
fn files_are_read_by_extension_and_errors_name_the_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let yaml_path = dir.path().join("fleet.yaml");
    std::fs::write(&yaml_path, EVERY_KIND)?;
    let json_path = dir.path().join("fleet.json");
    std::fs::write(
        &json_path,
        GraphDocument::from_yaml_str(EVERY_KIND)?.to_json_string()?,
    )?;
    assert_eq!(
        GraphDocument::from_path(&yaml_path)?,
        GraphDocument::from_path(&json_path)?
    );

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "nodes: [{ name: x }]")?;
    let Err(error) = GraphDocument::from_path(&broken) else {
        return Err("a node without a type must be refused".into());
    };
    assert!(error.to_string().contains("broken.yaml"), "{error}");

    let missing = dir.path().join("missing.yaml");
    let Err(DocumentError::Read { path, .. }) = GraphDocument::from_path(&missing) else {
        return Err("a missing file must be a read error".into());
    };
    assert_eq!(path, missing);
    Ok(())
}

#[test]
fn storage_sources_keep_their_kind() -> TestResult {
    let document = GraphDocument::from_yaml_str(
        "nodes: [{ name: s, type: storage, mount_point: /srv, source: { kind: bind, path: /data } }]",
    )?;
    let Some(DeploymentNodeType::Storage(spec)) = document.nodes.first().map(|n| &n.node_type)
    else {
        return Err("s is storage".into());
    };
    assert_eq!(
        spec.source,
        StorageSource::Bind {
            path: "/data".into()
        }
    );
    Ok(())
}
