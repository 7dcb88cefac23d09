//! On a Mac (a Darwin host, run by nix-darwin) agent nodes are not NixOS containers: each is
//! `services.cim-agent.agents.<name>` of the shipped nix-darwin module (a launchd daemon of its
//! own user), the host imports `inputs.cim-leaf.darwinModules.agent`, and the host module sets
//! only options nix-darwin (and the shipped module) declare.

use std::collections::BTreeMap;
use std::path::Path;

use cim_domain_agent::deploy::nixos::ContainerOptions;
use cim_domain_agent::deploy::{AgentNodeTranslator, AgentSource, PlacedAgent};
use cim_domain_graph::GraphDocument;
use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator, NodeTranslatorRegistry};
use cim_domain_nix::{NixTool, REQUIRE_NIX_INSTANTIATE_ENV};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MAC_FLEET: &str = r#"
flake: { cim_leaf: "github:example/cim-leaf" }
hosts:
  - name: studio-1
    system: aarch64-darwin
    addresses: [10.0.6.1]
    gpus: [{ vendor: apple, model: Apple M2 Ultra, gpu_family: apple8, memory_mb: 147456 }]
nodes:
  - { name: bus, type: message_bus, host: studio-1 }
  - { name: sage, type: agent, host: studio-1, definition: sage.md, gpus: 1 }
  - { name: nix-expert, type: agent, host: studio-1, definition: nix-expert.md }
edges:
  - { from: sage, to: bus, type: publishes_to }
  - { from: nix-expert, to: bus, type: subscribes_to }
  - { from: nix-expert, to: sage, type: depends_on }
"#;

fn translate() -> Result<cim_domain_graph::translate::NixDeploymentSpec, Box<dyn std::error::Error>>
{
    let mut placed = BTreeMap::new();
    for node in ["sage", "nix-expert"] {
        let text = format!("---\nname: {node}\nversion: 1.0.0\n---\nAn agent on a Mac.\n");
        let agent = PlacedAgent {
            source: AgentSource::from_markdown(&text, &format!("{node}.md"))?,
            gpu_devices: Vec::new(),
        };
        placed.insert(node.to_owned(), agent);
    }
    let mut registry = NodeTranslatorRegistry::with_builtins();
    registry.register(
        "agent",
        AgentNodeTranslator::new(placed, ContainerOptions::default())?,
    );
    let graph = GraphDocument::from_yaml_str(MAC_FLEET)?.to_graph()?;
    Ok(FlakeTranslator::new(registry).translate_graph(&graph)?)
}

#[test]
fn agents_on_a_mac_become_daemons_of_the_darwin_module_not_containers() -> TestResult {
    let spec = translate()?;
    spec.check_syntax()?;
    let mac = spec
        .file("hosts/studio-1.nix")
        .ok_or("no hosts/studio-1.nix")?;
    assert!(!mac.contains("containers"), "{mac}");
    assert!(!mac.contains("systemd"), "{mac}");
    assert!(
        mac.contains("imports = [ inputs.cim-leaf.darwinModules.agent ];"),
        "{mac}"
    );
    // uids follow the agents' names on the host: nix-expert, then sage.
    assert!(mac.contains("nix-expert = {"), "{mac}");
    let sage = mac.find("sage = {").ok_or("no sage agent")?;
    let nix_expert = mac.find("nix-expert = {").ok_or("no nix-expert agent")?;
    assert!(mac[nix_expert..].contains("uid = 541;"), "{mac}");
    assert!(mac[sage..].contains("uid = 542;"), "{mac}");
    // The bus is on the Mac itself: loopback stays loopback (no container network).
    assert!(
        mac.contains(r#"natsUrl = "nats://127.0.0.1:4222";"#),
        "{mac}"
    );
    assert!(mac.contains("launchd.daemons.nats"), "{mac}");
    let flake = spec.file("flake.nix").ok_or("no flake.nix")?;
    assert!(
        flake.contains(r#"cim-leaf.url = "github:example/cim-leaf";"#),
        "{flake}"
    );
    assert!(
        flake.contains("darwinConfigurations.studio-1 = inputs.nix-darwin.lib.darwinSystem"),
        "{flake}"
    );
    assert!(!flake.contains("nixosConfigurations"), "{flake}");
    Ok(())
}

#[test]
fn the_mac_host_module_sets_only_options_nix_darwin_and_the_agent_module_declare() -> TestResult {
    let tool = match NixTool::from_path() {
        Some(tool) => tool,
        None if std::env::var_os(REQUIRE_NIX_INSTANTIATE_ENV).is_some() => {
            return Err("nix-instantiate is required but not on PATH".into());
        }
        None => {
            eprintln!("skipping: nix-instantiate is not on PATH");
            return Ok(());
        }
    };
    let options = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cim-domain-graph/tests/options");
    let tool = tool.working_dir(options.canonicalize()?);
    let spec = translate()?;
    spec.check_with(&tool)?;
    let mac = spec
        .file("hosts/studio-1.nix")
        .ok_or("no hosts/studio-1.nix")?;
    let expr = format!(
        r#"let
  t = import ./types.nix;
  config = ({mac}) {{ config = {{ }}; lib = t.lib; pkgs = t.pkgs; inputs = {{ }}; }};
in {{
  problems = t.check "" (import ./darwin.nix) (builtins.removeAttrs config [ "imports" ]);
  agents = builtins.attrNames config.services.cim-agent.agents;
}}"#
    );
    let value = tool.eval_json("studio-1", &expr)?;
    assert_eq!(value["problems"], serde_json::json!([]), "{value:#}");
    assert_eq!(value["agents"], serde_json::json!(["nix-expert", "sage"]));
    Ok(())
}
