//! Agents as NixOS containers: one module per `deployment.target_node`, each container on a
//! private network with its own addresses, its data bound to a per-agent host directory created by
//! tmpfiles, GPU devices passed through for GPU agents, and the agent file embedded byte for byte.
//! The golden modules parse with rnix and `nix-instantiate --parse`, and evaluate to what the
//! definitions say.

use std::path::{Path, PathBuf};

use cim_domain_agent::deploy::nixos::{
    AgentModuleSource, ContainerOptions, HostContainers, Ipv4Subnet, to_nixos_containers,
};
use cim_domain_agent::deploy::{AgentSource, DeployError};
use cim_domain_nix::NixTool;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn agent(name: &str) -> Result<AgentSource, Box<dyn std::error::Error>> {
    Ok(AgentSource::read(
        golden().join("agents").join(format!("{name}.md")),
    )?)
}

fn fleet() -> Result<Vec<AgentSource>, Box<dyn std::error::Error>> {
    Ok(vec![
        agent("sage")?,
        agent("nix-expert")?,
        agent("ddd-expert")?,
    ])
}

fn options() -> ContainerOptions {
    ContainerOptions {
        default_host: Some("host-a".to_owned()),
        ..ContainerOptions::default()
    }
}

fn host<'a>(hosts: &'a [HostContainers], name: &str) -> Result<&'a HostContainers, String> {
    hosts
        .iter()
        .find(|h| h.host == name)
        .ok_or_else(|| format!("no module for host {name}"))
}

/// Evaluates a generated host module with `builtins.toFile` replaced by a function returning
/// its text (nothing is written to a store), and each container's `config` applied, so the
/// whole result is plain data.
/// Evaluates a host module with `config.networking.nftables.enable = nftables` (the firewall
/// backend the module's veth rules depend on).
fn evaluate_on(
    tool: &NixTool,
    file: &Path,
    nftables: bool,
) -> Result<Value, Box<dyn std::error::Error>> {
    let expr = format!(
        r#"let
  stubs = {{ builtins = builtins // {{ toFile = name: text: {{ inherit name text; }}; }}; }};
  module = scopedImport stubs {file} {{
    config.networking.nftables.enable = {nftables}; lib = {{ }}; pkgs = {{ }};
    inputs.cim-leaf.nixosModules.agent = "cim-leaf agent module";
  }};
  # `toString` keeps an imported path a path name instead of copying it into a store.
  configOf = c:
    let config = c.config {{ config = {{ }}; lib = {{ }}; pkgs = {{ }}; }};
    in config // {{ imports = map toString config.imports; }};
in module // {{
  containers = builtins.mapAttrs (n: c: c // {{ config = configOf c; }}) module.containers;
}}"#,
        file = file.display(),
    );
    Ok(tool.eval_json("evaluate host module", &expr)?)
}

/// [`evaluate_on`] the iptables backend (NixOS's default).
fn evaluate(tool: &NixTool, file: &Path) -> Result<Value, Box<dyn std::error::Error>> {
    evaluate_on(tool, file, false)
}

#[test]
fn placement_follows_target_node_with_the_default_host_for_the_rest() -> TestResult {
    let hosts = to_nixos_containers(&fleet()?, &options())?;
    let placed: Vec<(&str, Vec<&str>)> = hosts
        .iter()
        .map(|h| {
            (
                h.host.as_str(),
                h.containers.iter().map(|c| c.agent()).collect(),
            )
        })
        .collect();
    assert_eq!(
        placed,
        [
            ("gpu-1", vec!["sage"]),
            ("host-a", vec!["ddd-expert", "nix-expert"])
        ]
    );
    Ok(())
}

#[test]
fn golden_host_modules_match_and_parse_with_rnix_and_nix_instantiate() -> TestResult {
    let hosts = to_nixos_containers(&fleet()?, &options())?;
    let tool = NixTool::detect()?;
    if tool.is_none() {
        eprintln!("nix-instantiate not on PATH: checking with rnix only");
    }
    for host in &hosts {
        let text = host.render()?;
        let file = format!("nixos/{}.nix", host.host);
        cim_domain_nix::check_syntax_named(&file, &text)?;
        if let Some(tool) = &tool {
            tool.parse(&file, &text)?;
        }
        let path = golden().join(&file);
        if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
            std::fs::write(&path, &text)?;
        }
        let expected = std::fs::read_to_string(&path)?;
        assert!(
            expected == text,
            "{file} differs from the generated module; review and rerun with UPDATE_GOLDEN=1"
        );
    }
    let reversed: Vec<AgentSource> = fleet()?.into_iter().rev().collect();
    assert_eq!(to_nixos_containers(&reversed, &options())?, hosts);
    Ok(())
}

#[test]
fn gpu_host_module_evaluates_to_a_private_gpu_container_running_the_agent() -> TestResult {
    let Some(tool) = NixTool::detect()? else {
        eprintln!("skipping: nix-instantiate not on PATH");
        return Ok(());
    };
    let module = evaluate(&tool, &golden().join("nixos/gpu-1.nix"))?;
    let sage = &module["containers"]["cim-agent-sage"];
    assert_eq!(sage["privateNetwork"], true);
    assert_eq!(sage["autoStart"], true);
    let host_address = sage["hostAddress"].as_str().ok_or("no hostAddress")?;
    let subnet = Ipv4Subnet::DEFAULT;
    assert!(subnet.contains(host_address.parse()?), "{host_address}");
    assert_eq!(
        sage["bindMounts"]["/var/lib/cim-agent"],
        json!({ "hostPath": "/var/lib/cim-agents/sage", "isReadOnly": false })
    );
    assert_eq!(
        sage["bindMounts"]["/dev/nvidia0"],
        json!({ "hostPath": "/dev/nvidia0", "isReadOnly": false })
    );
    assert_eq!(sage["bindMounts"]["/run/opengl-driver"]["isReadOnly"], true);
    let devices: Vec<&str> = sage["allowedDevices"]
        .as_array()
        .ok_or("no allowedDevices")?
        .iter()
        .filter_map(|d| d["node"].as_str())
        .collect();
    assert_eq!(
        devices,
        [
            "/dev/nvidia0",
            "/dev/nvidiactl",
            "/dev/nvidia-modeset",
            "/dev/nvidia-uvm",
            "/dev/nvidia-uvm-tools"
        ]
    );

    let config = &sage["config"];
    assert_eq!(config["imports"], json!(["cim-leaf agent module"]));
    let service = &config["services"]["cim-agent"];
    let text = std::fs::read_to_string(golden().join("agents/sage.md"))?;
    assert_eq!(
        service["agentFile"],
        json!({ "name": "cim-agent-sage.md", "text": text }),
        "the agent file must survive Nix string escaping byte for byte"
    );
    assert_eq!(service["agentId"], "5f0c9a8e-3b1d-4c2a-9e7f-1a2b3c4d5e6f");
    assert_eq!(service["natsUrl"], "nats://10.0.0.1:4222");
    assert_eq!(service["ollamaUrl"], "http://gpu-1:11434");
    assert_eq!(service["dataDir"], "/var/lib/cim-agent");
    assert_eq!(service["memoryMax"], "16G");
    assert_eq!(service["cpuQuota"], "400%");
    assert_eq!(service["tasksMax"], 1024);
    assert_eq!(service["restartPolicy"], "on-failure");
    assert_eq!(service["restartSec"], 10);
    assert_eq!(
        service["maxRetries"], 5,
        "restart.max_retries reaches the module"
    );
    assert_eq!(service["logLevel"], "info");
    assert_eq!(service["logFormat"], "json");
    assert_eq!(service["deviceAllow"][0], "/dev/nvidia0 rw");

    assert_eq!(
        module["systemd"]["tmpfiles"]["rules"],
        json!(["d /var/lib/cim-agents/sage 0750 - - -"])
    );
    assert_eq!(module["networking"]["nat"]["enable"], true);
    assert_eq!(
        module["networking"]["nat"]["internalInterfaces"],
        json!(["ve-+"])
    );
    Ok(())
}

#[test]
fn containers_on_one_host_get_distinct_addresses_and_directories() -> TestResult {
    let hosts = to_nixos_containers(&fleet()?, &options())?;
    let host_a = host(&hosts, "host-a")?;
    let [ddd, nix] = &host_a.containers[..] else {
        return Err("host-a should run two containers".into());
    };
    let all = [
        ddd.addresses().host,
        ddd.addresses().container,
        nix.addresses().host,
        nix.addresses().container,
    ];
    for (i, a) in all.iter().enumerate() {
        assert!(!all[i + 1..].contains(a), "{a} used twice in {all:?}");
    }
    assert_eq!(ddd.host_dir(), "/var/lib/cim-agents/ddd-expert");
    assert_eq!(nix.host_dir(), "/var/lib/cim-agents/nix-expert");
    assert_eq!(ddd.container_name(), "cim-agent-ddd-expert");
    Ok(())
}

#[test]
fn overrides_win_and_loopback_services_point_at_the_host_end_of_the_link() -> TestResult {
    let Some(tool) = NixTool::detect()? else {
        eprintln!("skipping: nix-instantiate not on PATH");
        return Ok(());
    };
    let mut opts = options();
    opts.overrides.nats_url = Some("nats://127.0.0.1:4222".to_owned());
    opts.overrides.ollama_url = Some("http://localhost:11434".to_owned());
    opts.overrides.memory_max = Some(cim_domain_agent::definition::MemoryMax::parse("2G")?);
    opts.overrides.log_level = Some(cim_domain_agent::definition::LogLevel::Warn);
    opts.agent_module = AgentModuleSource::Path("../nix/modules/agent.nix".to_owned());
    let hosts = to_nixos_containers(&[agent("nix-expert")?], &opts)?;
    let host_a = host(&hosts, "host-a")?;
    let container = host_a.containers.first().ok_or("no container")?;
    let gateway = container.addresses().host.to_string();

    let text = host_a.render()?;
    assert!(
        text.starts_with("{ config, lib, pkgs, ... }:"),
        "a path import needs no flake inputs: {text}"
    );
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("host-a.nix");
    std::fs::write(&file, text)?;
    let module = evaluate(&tool, &file)?;
    let config = &module["containers"]["cim-agent-nix-expert"]["config"];
    let service = &config["services"]["cim-agent"];
    assert_eq!(service["natsUrl"], format!("nats://{gateway}:4222"));
    assert_eq!(service["ollamaUrl"], format!("http://{gateway}:11434"));
    assert_eq!(service["memoryMax"], "2G");
    assert_eq!(service["cpuQuota"], "200%");
    assert_eq!(service["logLevel"], "warn");
    let import = config["imports"][0]
        .as_str()
        .ok_or("import is not a path")?;
    assert!(import.ends_with("/nix/modules/agent.nix"), "{import}");
    assert_eq!(service.get("deviceAllow"), None);
    Ok(())
}

#[test]
fn the_host_firewall_lets_containers_reach_nats_on_their_own_host_and_nothing_else() -> TestResult {
    let Some(tool) = NixTool::detect()? else {
        eprintln!("skipping: nix-instantiate not on PATH");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let mut opts = options();
    opts.overrides.nats_url = Some("nats://localhost:4333".to_owned());
    opts.overrides.ollama_url = Some("http://localhost:11434".to_owned());
    let hosts = to_nixos_containers(&fleet()?, &opts)?;
    let evaluate_host = |name: &str, nftables: bool| -> Result<Value, Box<dyn std::error::Error>> {
        let file = dir.path().join(format!("{name}.nix"));
        std::fs::write(&file, host(&hosts, name)?.render()?)?;
        evaluate_on(&tool, &file, nftables)
    };
    // Each backend's interface wildcard gets the port (iptables `ve-+`, nftables `ve-*`); the
    // other backend's spelling gets none, so it adds no rule (`ve-+` is not even valid nft).
    for (nftables, open, closed) in [(false, "ve-+", "ve-*"), (true, "ve-*", "ve-+")] {
        for name in ["host-a", "gpu-1"] {
            let module = evaluate_host(name, nftables)?;
            let firewall = &module["networking"]["firewall"];
            // Only the NATS port, only on the containers' veth interfaces: not Ollama's, and
            // nothing opened on every interface.
            assert_eq!(
                firewall,
                &json!({ "interfaces": {
                    open: { "allowedTCPPorts": [4333] },
                    closed: { "allowedTCPPorts": [] },
                } }),
                "{name}, nftables: {nftables}"
            );
            assert_eq!(
                module["networking"]["nat"]["internalInterfaces"],
                json!([open]),
                "{name}, nftables: {nftables}"
            );
        }
    }

    // NATS elsewhere: the containers connect out through NAT and the host opens nothing.
    let remote = to_nixos_containers(&fleet()?, &options())?;
    let gpu = host(&remote, "gpu-1")?.render()?;
    assert!(!gpu.contains("firewall"), "{gpu}");
    Ok(())
}

#[test]
fn placement_and_allocation_errors_name_the_agent() -> TestResult {
    let no_host = to_nixos_containers(&[agent("ddd-expert")?], &ContainerOptions::default());
    assert_eq!(
        no_host.err().map(|e| e.to_string()).as_deref(),
        Some("agent ddd-expert has no deployment.target_node and no default host was given")
    );

    let text = "---\nname: odd\nversion: 1.0.0\ndeployment:\n  target_node: \"bad host\"\n---\n";
    let odd = AgentSource::from_markdown(text, "odd.md")?;
    let bad_host = to_nixos_containers(&[odd], &options());
    assert!(
        matches!(&bad_host, Err(DeployError::InvalidHost { agent, host }) if agent == "odd" && host == "bad host"),
        "{bad_host:?}"
    );

    let mut tiny = options();
    tiny.subnet = "10.9.0.0/30".parse()?;
    let full = to_nixos_containers(&fleet()?, &tiny);
    assert_eq!(
        full.err().map(|e| e.to_string()).as_deref(),
        Some("subnet 10.9.0.0/30 holds 1 agent containers but 3 were asked for")
    );

    let twice = to_nixos_containers(&[agent("sage")?, agent("sage")?], &options());
    assert!(matches!(twice, Err(DeployError::DuplicateAgent { .. })));

    Ok(())
}
