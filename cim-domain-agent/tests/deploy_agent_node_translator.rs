//! `AgentNodeTranslator` plugs agents into the graph translator: every `agent` node becomes a
//! container on the host the graph places it on, NATS comes from the message bus it talks to,
//! the graph's reservation becomes its limits, the flake gains the `cim-leaf` input, and every
//! emitted file parses with rnix and `nix-instantiate --parse`.

use std::path::{Path, PathBuf};

use cim_domain_agent::deploy::AgentNodeTranslator;
use cim_domain_agent::deploy::nixos::ContainerOptions;
use cim_domain_graph::GraphDocument;
use cim_domain_graph::translate::{
    FlakeTranslator, GraphToNixTranslator, NodeTranslatorRegistry, TranslationError,
};
use cim_domain_nix::NixTool;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn agents_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/agents")
}

fn translator() -> FlakeTranslator {
    let mut registry = NodeTranslatorRegistry::with_builtins();
    registry.register(
        "agent",
        AgentNodeTranslator::new(agents_dir(), ContainerOptions::default())
            .with_flake_url("github:example/cim-leaf"),
    );
    FlakeTranslator::new(registry)
}

const FLEET: &str = r#"
hosts:
  - { name: gpu-1, addresses: [10.0.0.2], gpus: [{ model: L40S }] }
  - { name: host-a, addresses: [10.0.0.3] }
nodes:
  - { name: bus, type: message_bus, host: host-a }
  - { name: sage, type: agent, host: gpu-1, definition: sage.md, gpus: 1 }
  - name: nix-expert
    type: agent
    host: host-a
    definition: nix-expert.md
    resources: { cpu_millis: 1500, memory_mb: 3072 }
edges:
  - { from: sage, to: bus, type: publishes_to }
  - { from: nix-expert, to: bus, type: connects_to }
"#;

#[test]
fn agent_nodes_become_containers_on_their_graph_hosts() -> TestResult {
    let graph = GraphDocument::from_yaml_str(FLEET)?.to_graph()?;
    let spec = translator().translate_graph(&graph)?;
    let gpu = spec.file("hosts/gpu-1.nix").ok_or("no hosts/gpu-1.nix")?;
    let host_a = spec.file("hosts/host-a.nix").ok_or("no hosts/host-a.nix")?;
    assert!(gpu.contains("containers.cim-agent-sage = {"), "{gpu}");
    assert!(!gpu.contains("cim-agent-nix-expert"), "{gpu}");
    assert!(
        host_a.contains("containers.cim-agent-nix-expert = {"),
        "{host_a}"
    );
    assert!(gpu.contains("node = \"/dev/nvidia0\";"), "{gpu}");
    assert!(
        gpu.contains("\"d /var/lib/cim-agents/sage 0750 - - -\""),
        "{gpu}"
    );
    // sage is on another host than the bus: it reaches the bus host's address.
    assert!(gpu.contains("natsUrl = \"nats://10.0.0.3:4222\";"), "{gpu}");
    // nix-expert shares the bus's host: loopback becomes the host end of its veth link.
    let nats_line = host_a
        .lines()
        .find(|l| l.contains("natsUrl"))
        .ok_or("no natsUrl on host-a")?;
    assert!(
        nats_line.contains("nats://10.233.") && nats_line.contains(":4222"),
        "{nats_line}"
    );
    // ...and the host's firewall lets the containers' veth interfaces reach that port.
    assert!(
        host_a.contains("interfaces.\"ve-+\".allowedTCPPorts = [ 4222 ];"),
        "{host_a}"
    );
    assert!(!gpu.contains("\"ve-+\".allowedTCPPorts"), "{gpu}");
    assert!(host_a.contains("cpuQuota = \"150%\";"), "{host_a}");
    assert!(host_a.contains("memoryMax = \"3072M\";"), "{host_a}");
    let flake = spec.file("flake.nix").ok_or("no flake.nix")?;
    assert!(flake.contains("github:example/cim-leaf"), "{flake}");
    Ok(())
}

#[test]
fn every_file_of_a_fleet_with_agents_parses() -> TestResult {
    let graph = GraphDocument::from_yaml_str(FLEET)?.to_graph()?;
    let spec = translator().translate_graph(&graph)?;
    let tool = NixTool::detect()?;
    for (path, text) in spec.files() {
        let name = path.display().to_string();
        if !name.ends_with(".nix") {
            continue;
        }
        cim_domain_nix::check_syntax_named(&name, text)?;
        if let Some(tool) = &tool {
            tool.parse(&name, text)?;
        }
    }
    let again = translator().translate_graph(&graph)?;
    assert_eq!(again.files(), spec.files(), "translation is deterministic");
    Ok(())
}

#[test]
fn graph_placement_contradicting_target_node_is_an_error() -> TestResult {
    let yaml = r#"
hosts:
  - { name: gpu-1 }
  - { name: host-b }
nodes:
  - { name: nix-expert, type: agent, host: host-b, definition: nix-expert.md }
"#;
    let graph = GraphDocument::from_yaml_str(yaml)?.to_graph()?;
    let result = translator().translate_graph(&graph);
    let Err(error @ TranslationError::Node { .. }) = result else {
        return Err(format!("expected a node error, got {result:?}").into());
    };
    assert_eq!(
        error.to_string(),
        "node `nix-expert` (agent): agent nix-expert: deployment.target_node is host-a but the graph runs it on host-b"
    );
    Ok(())
}

#[test]
fn a_missing_definition_file_names_the_node_and_file() -> TestResult {
    let yaml = r#"
hosts: [{ name: host-a }]
nodes:
  - { name: ghost, type: agent, host: host-a, definition: ghost.md }
"#;
    let graph = GraphDocument::from_yaml_str(yaml)?.to_graph()?;
    let message = translator()
        .translate_graph(&graph)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.starts_with("node `ghost` (agent): ") && message.contains("ghost.md"),
        "{message}"
    );
    Ok(())
}

#[test]
fn the_agent_unit_is_its_container_so_dependents_start_after_it() -> TestResult {
    let yaml = r#"
hosts: [{ name: host-a }]
nodes:
  - { name: ddd-expert, type: agent, host: host-a, definition: ddd-expert.md }
  - { name: api, type: service, host: host-a, package: hello }
edges:
  - { from: api, to: ddd-expert, type: depends_on }
"#;
    let graph = GraphDocument::from_yaml_str(yaml)?.to_graph()?;
    let spec = translator().translate_graph(&graph)?;
    let host = spec.file("hosts/host-a.nix").ok_or("no host file")?;
    assert!(
        host.contains("\"container@cim-agent-ddd-expert.service\""),
        "{host}"
    );
    Ok(())
}
