//! `AgentNodeTranslator` plugs agents into the graph translator: every `agent` node becomes a
//! container on the host the graph places it on, with the GPUs granted to it, NATS comes from
//! the message bus it talks to, the graph's reservation becomes its limits, the flake gains the
//! `cim-leaf` input, and every emitted file parses with rnix and `nix-instantiate --parse`.
//! Problems the translator can see before translating (a definition that names another agent,
//! a placement contradicting `target_node`) are found by its check phase.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cim_domain_agent::deploy::nixos::ContainerOptions;
use cim_domain_agent::deploy::{AgentNodeTranslator, AgentSource, PlacedAgent};
use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator, NodeTranslatorRegistry};
use cim_domain_graph::{GraphDocument, ValidationError};
use cim_domain_nix::NixTool;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn agents_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/agents")
}

/// A translator for the given agent nodes: (node, definition file, granted GPU numbers).
fn translator(
    agents: &[(&str, &str, &[u32])],
) -> Result<FlakeTranslator, Box<dyn std::error::Error>> {
    let mut placed = BTreeMap::new();
    for (node, file, gpus) in agents {
        let agent = PlacedAgent {
            source: AgentSource::read(agents_dir().join(file))?,
            gpu_devices: gpus.to_vec(),
        };
        placed.insert((*node).to_owned(), agent);
    }
    let mut registry = NodeTranslatorRegistry::with_builtins();
    registry.register(
        "agent",
        AgentNodeTranslator::new(placed, ContainerOptions::default())?,
    );
    Ok(FlakeTranslator::new(registry))
}

fn fleet_translator() -> Result<FlakeTranslator, Box<dyn std::error::Error>> {
    translator(&[
        ("sage", "sage.md", &[1]),
        ("nix-expert", "nix-expert.md", &[]),
    ])
}

const FLEET: &str = r#"
flake: { cim_leaf: "github:example/cim-leaf" }
hosts:
  - { name: gpu-1, addresses: [10.0.0.2], gpus: [{ model: L40S, compute_capability: '8.9', count: 2 }] }
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
    let spec = fleet_translator()?.translate_graph(&graph)?;
    let gpu = spec.file("hosts/gpu-1.nix").ok_or("no hosts/gpu-1.nix")?;
    let host_a = spec.file("hosts/host-a.nix").ok_or("no hosts/host-a.nix")?;
    assert!(gpu.contains("containers.cim-agent-sage = {"), "{gpu}");
    assert!(!gpu.contains("cim-agent-nix-expert"), "{gpu}");
    assert!(
        host_a.contains("containers.cim-agent-nix-expert = {"),
        "{host_a}"
    );
    // The container gets the GPU granted to it, and no other.
    assert!(gpu.contains("node = \"/dev/nvidia1\";"), "{gpu}");
    assert!(!gpu.contains("/dev/nvidia0"), "{gpu}");
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
    // ...and the host's firewall lets the containers' veth interfaces reach that port, spelled
    // for whichever backend the host uses (iptables `ve-+`, nftables `ve-*`).
    for expected in [
        "\"ve-+\".allowedTCPPorts = if !config.networking.nftables.enable then [ 4222 ] else [ ];",
        "\"ve-*\".allowedTCPPorts = if config.networking.nftables.enable then [ 4222 ] else [ ];",
        "internalInterfaces = [ (if config.networking.nftables.enable then \"ve-*\" else \"ve-+\") ];",
    ] {
        assert!(
            host_a.contains(expected),
            "{expected} missing in:\n{host_a}"
        );
    }
    assert!(!gpu.contains("allowedTCPPorts"), "{gpu}");
    assert!(host_a.contains("cpuQuota = \"150%\";"), "{host_a}");
    assert!(host_a.contains("memoryMax = \"3072M\";"), "{host_a}");
    let flake = spec.file("flake.nix").ok_or("no flake.nix")?;
    assert!(flake.contains("github:example/cim-leaf"), "{flake}");
    Ok(())
}

#[test]
fn every_file_of_a_fleet_with_agents_parses() -> TestResult {
    let graph = GraphDocument::from_yaml_str(FLEET)?.to_graph()?;
    let spec = fleet_translator()?.translate_graph(&graph)?;
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
    let again = fleet_translator()?.translate_graph(&graph)?;
    assert_eq!(again.files(), spec.files(), "translation is deterministic");
    Ok(())
}

#[test]
fn graph_placement_contradicting_target_node_is_a_problem_of_the_check() -> TestResult {
    let yaml = r#"
flake: { cim_leaf: "github:example/cim-leaf" }
hosts:
  - { name: gpu-1 }
  - { name: host-b }
nodes:
  - { name: nix-expert, type: agent, host: host-b, definition: nix-expert.md }
"#;
    let graph = GraphDocument::from_yaml_str(yaml)?.to_graph()?;
    let problems = translator(&[("nix-expert", "nix-expert.md", &[])])?
        .check_graph(&graph)
        .err()
        .ok_or("the check should fail")?;
    assert_eq!(
        problems.problems(),
        [ValidationError::InvalidField {
            node: "nix-expert".to_owned(),
            field: "host".to_owned(),
            reason:
                "agent nix-expert: deployment.target_node is host-a but the graph runs it on host-b"
                    .to_owned(),
        }]
    );
    Ok(())
}

#[test]
fn a_node_named_unlike_its_definition_is_a_problem() -> TestResult {
    let yaml = r#"
flake: { cim_leaf: "github:example/cim-leaf" }
hosts: [{ name: host-a }]
nodes:
  - { name: helper, type: agent, host: host-a, definition: nix-expert.md }
  - { name: ghost, type: agent, host: host-a, definition: ghost.md }
"#;
    let graph = GraphDocument::from_yaml_str(yaml)?.to_graph()?;
    let problems = translator(&[("helper", "nix-expert.md", &[])])?
        .check_graph(&graph)
        .err()
        .ok_or("the check should fail")?;
    let text = problems.to_string();
    assert_eq!(problems.problems().len(), 2, "{text}");
    assert!(
        text.contains("node `helper`, field `name`: the node is named `helper` but its definition nix-expert.md names the agent `nix-expert`"),
        "{text}"
    );
    assert!(
        text.contains(
            "node `ghost`, field `definition`: no agent definition was loaded for ghost.md"
        ),
        "{text}"
    );
    Ok(())
}

#[test]
fn the_agent_unit_is_its_container_so_dependents_start_after_it() -> TestResult {
    let yaml = r#"
flake: { cim_leaf: "github:example/cim-leaf" }
hosts: [{ name: host-a }]
nodes:
  - { name: ddd-expert, type: agent, host: host-a, definition: ddd-expert.md }
  - { name: api, type: service, host: host-a, package: hello }
edges:
  - { from: api, to: ddd-expert, type: depends_on }
"#;
    let graph = GraphDocument::from_yaml_str(yaml)?.to_graph()?;
    let spec = translator(&[("ddd-expert", "ddd-expert.md", &[])])?.translate_graph(&graph)?;
    let host = spec.file("hosts/host-a.nix").ok_or("no host file")?;
    assert!(
        host.contains("\"container@cim-agent-ddd-expert.service\""),
        "{host}"
    );
    Ok(())
}

#[test]
fn agents_without_a_cim_leaf_flake_reference_are_one_problem_naming_the_setting() -> TestResult {
    let yaml = FLEET.replace("flake: { cim_leaf: \"github:example/cim-leaf\" }\n", "");
    assert!(!yaml.contains("cim_leaf"));
    let graph = GraphDocument::from_yaml_str(&yaml)?.to_graph()?;
    let problems = fleet_translator()?
        .check_graph(&graph)
        .err()
        .ok_or("the check should fail")?;
    // Two agents, one problem: the setting is the graph's, not a node's.
    let [ValidationError::InvalidSetting { field, reason }] = problems.problems() else {
        panic!("expected one InvalidSetting: {problems}");
    };
    assert_eq!(field, "cim_leaf");
    assert!(reason.contains("--agent-flake"), "{reason}");
    // Nothing is guessed: the flake never gets a placeholder input.
    let reference = "git+https://git.example.org/ops/cim-leaf?ref=v1.0";
    let with = format!("flake: {{ cim_leaf: \"{reference}\" }}\n{yaml}");
    let spec =
        fleet_translator()?.translate_graph(&GraphDocument::from_yaml_str(&with)?.to_graph()?)?;
    let flake = spec.file("flake.nix").ok_or("no flake.nix")?;
    assert!(
        flake.contains(&format!("cim-leaf.url = \"{reference}\";")),
        "{flake}"
    );
    Ok(())
}
