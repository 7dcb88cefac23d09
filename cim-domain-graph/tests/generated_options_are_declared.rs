//! The generated host modules set only options that exist, with values of their types: each
//! `hosts/<host>.nix` (and `modules/common.nix`) is evaluated with `nix-instantiate` and checked
//! against option declarations written with the types nixpkgs (`tests/options/nixos.nix`) or,
//! for Macs, nix-darwin (`tests/options/darwin.nix`) gives them. The checker (`tests/options/types.nix`) is shown to refuse undeclared options and
//! wrongly typed values, so a pass means something.

use std::path::{Path, PathBuf};

use cim_domain_graph::GraphDocument;
use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator, NixDeploymentSpec};
use cim_domain_nix::{NixTool, REQUIRE_NIX_INSTANTIATE_ENV};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn options_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/options")
}

fn tool() -> Result<Option<NixTool>, Box<dyn std::error::Error>> {
    match NixTool::from_path() {
        Some(tool) => Ok(Some(tool.working_dir(options_dir()))),
        None if std::env::var_os(REQUIRE_NIX_INSTANTIATE_ENV).is_some() => {
            Err("nix-instantiate is required but not on PATH".into())
        }
        None => {
            eprintln!("skipping: nix-instantiate is not on PATH");
            Ok(None)
        }
    }
}

fn translate(scenario: &str) -> Result<NixDeploymentSpec, Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/graphs")
        .join(format!("{scenario}.yaml"));
    let graph = GraphDocument::from_path(&path)?.to_graph()?;
    Ok(FlakeTranslator::default().translate_graph(&graph)?)
}

/// The problems `checker` finds in the module `text` against the declarations in
/// `declarations` (a file of `tests/options`). A module that is a function gets stub arguments.
fn problems(
    tool: &NixTool,
    declarations: &str,
    text: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let expr = format!(
        r#"let
  t = import ./types.nix;
  module = ({text});
  config = if builtins.isFunction module
    then module {{ config = {{ }}; lib = t.lib; pkgs = t.pkgs; inputs = {{ }}; }}
    else module;
in t.check "" (import ./{declarations}) (builtins.removeAttrs config [ "imports" ])"#
    );
    let value = tool.eval_json(declarations, &expr)?;
    let list = value.as_array().ok_or("the checker returned no list")?;
    Ok(list
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect())
}

#[test]
fn the_checker_refuses_undeclared_options_and_wrong_types() -> TestResult {
    let Some(tool) = tool()? else {
        return Ok(());
    };
    let found = problems(
        &tool,
        "nixos.nix",
        r#"{ lib, ... }: {
          hardware.nvidia.open = "yes";
          hardware.nvidia.openKernel = true;
          services.xserver.videoDrivers = "nvidia";
          nixpkgs.config.allowUnfreePredicate = pkg: lib.getName pkg;
        }"#,
    )?;
    assert_eq!(found.len(), 4, "{found:#?}");
    for path in [
        "hardware.nvidia.open:",
        "hardware.nvidia.openKernel: no such option",
        "services.xserver.videoDrivers: not a list",
        "nixpkgs.config.allowUnfreePredicate <sample>: not a boolean",
    ] {
        assert!(
            found.iter().any(|p| p.starts_with(path)),
            "{path} in {found:#?}"
        );
    }
    Ok(())
}

#[test]
fn nvidia_and_monitoring_hosts_set_only_declared_nixos_options() -> TestResult {
    let Some(tool) = tool()? else {
        return Ok(());
    };
    let spec = translate("gpu-hosts")?;
    let mut checked = 0;
    for (path, text) in spec.files() {
        if path.starts_with("hosts") || path.starts_with("modules") {
            let found = problems(&tool, "nixos.nix", text)?;
            assert!(found.is_empty(), "{}: {found:#?}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 5, "four hosts and the common module");
    Ok(())
}

#[test]
fn the_unfree_predicate_allows_the_nvidia_driver_and_nothing_else() -> TestResult {
    let Some(tool) = tool()? else {
        return Ok(());
    };
    let spec = translate("gpu-hosts")?;
    for (host, datacenter) in [("infer-1", false), ("train-1", true)] {
        let text = spec
            .file(format!("hosts/{host}.nix"))
            .ok_or("host not rendered")?;
        let expr = format!(
            r#"let
  t = import ./types.nix;
  config = ({text}) {{ config = {{ }}; lib = t.lib; pkgs = t.pkgs; inputs = {{ }}; }};
  allowed = config.nixpkgs.config.allowUnfreePredicate;
in map allowed [
  {{ name = "nvidia-x11-570.86.16-6.12.10"; }}
  {{ pname = "nvidia-persistenced"; version = "570.86.16"; }}
  {{ name = "nvidia-dc-570.86.16-6.12.10"; }}
  {{ pname = "cuda_cudart"; }}
  {{ pname = "steam"; }}
  {{ name = "vscode-1.96.0"; }}
]"#
        );
        let value = tool.eval_json(host, &expr)?;
        let expected = serde_json::json!([true, true, datacenter, false, false, false]);
        assert_eq!(value, expected, "{host}");
    }
    Ok(())
}

#[test]
fn a_mac_sets_only_declared_nix_darwin_options_and_its_hub_only_nixos_ones() -> TestResult {
    let Some(tool) = tool()? else {
        return Ok(());
    };
    let spec = translate("mac-studio")?;
    let mac = spec
        .file("hosts/studio-1.nix")
        .ok_or("studio-1 not rendered")?;
    let found = problems(&tool, "darwin.nix", mac)?;
    assert!(found.is_empty(), "{found:#?}");
    // The Mac's module is not a NixOS one: checked as NixOS it fails on launchd.
    let as_nixos = problems(&tool, "nixos.nix", mac)?;
    assert!(
        as_nixos
            .iter()
            .any(|p| p.starts_with("launchd: no such option")),
        "{as_nixos:#?}"
    );
    for nixos in ["hosts/hub-1.nix", "modules/common.nix"] {
        let text = spec.file(nixos).ok_or("not rendered")?;
        let found = problems(&tool, "nixos.nix", text)?;
        assert!(found.is_empty(), "{nixos}: {found:#?}");
    }
    Ok(())
}

#[test]
fn the_shipped_darwin_agent_module_renders_options_nix_darwin_declares() -> TestResult {
    let Some(tool) = tool()? else {
        return Ok(());
    };
    let expr = r#"let
  t = import ./types.nix;
  module = import ../../../nix/darwin/agent.nix {
    lib = t.lib;
    config.services.cim-agent = {
      package = "/nix/store/0000-cim-leaf";
      agents.sage = {
        agentFile = "/nix/store/0000-sage.md";
        agentId = null;
        natsUrl = "nats://127.0.0.1:4222";
        ollamaUrl = "http://127.0.0.1:11434";
        natsNkeySeedFile = null;
        natsCredsFile = null;
        natsCaFile = null;
        uid = 541;
        dataDir = "/var/lib/cim-agent/sage";
        logLevel = "info";
        logFormat = "json";
        extraEnv = { };
      };
    };
  };
  config = module.config.content;
in {
  condition = module.config.condition;
  problems = t.check "" (builtins.removeAttrs (import ./darwin.nix) [ "services" ]) config;
  daemon = config.launchd.daemons.cim-agent-sage.serviceConfig;
  user = config.users.users._cim-agent-sage;
  known = config.users.knownUsers;
  activation = config.system.activationScripts.postActivation.text;
}"#;
    let value = tool.eval_json("darwin agent module", expr)?;
    assert_eq!(value["condition"], Value::Bool(true));
    assert_eq!(value["problems"], serde_json::json!([]), "{value:#}");
    let daemon = &value["daemon"];
    assert_eq!(
        daemon["ProgramArguments"],
        serde_json::json!([
            "/nix/store/0000-cim-leaf/bin/cim-leaf",
            "agents",
            "run",
            "--agent-file",
            "/nix/store/0000-sage.md",
            "--nats-url",
            "nats://127.0.0.1:4222",
            "--data-dir",
            "/var/lib/cim-agent/sage",
            "--ollama-url",
            "http://127.0.0.1:11434"
        ])
    );
    assert_eq!(daemon["UserName"], "_cim-agent-sage");
    assert_eq!(daemon["KeepAlive"], true);
    assert_eq!(value["user"]["uid"], 541);
    assert_eq!(value["user"]["home"], "/var/lib/cim-agent/sage");
    assert_eq!(value["known"], serde_json::json!(["_cim-agent-sage"]));
    assert_eq!(
        value["activation"],
        "mkdir -p '/var/lib/cim-agent/sage'\nchown '_cim-agent-sage:_cim-agent-sage' \
         '/var/lib/cim-agent/sage'\nchmod 0750 '/var/lib/cim-agent/sage'\n"
    );
    Ok(())
}

#[test]
fn a_tls_load_balancer_sets_only_declared_nixos_options() -> TestResult {
    let Some(tool) = tool()? else {
        return Ok(());
    };
    let spec = translate("load-balanced-web")?;
    let text = spec.file("hosts/lb-1.nix").ok_or("lb-1 not rendered")?;
    let found = problems(&tool, "nixos.nix", text)?;
    assert!(found.is_empty(), "{found:#?}");
    // A TLS setting of the wrong type is caught: the declarations are real.
    let wrong = text.replace("forceSSL = true;", "forceSSL = \"yes\";");
    let found = problems(&tool, "nixos.nix", &wrong)?;
    assert!(found.iter().any(|p| p.contains("forceSSL")), "{found:#?}");
    Ok(())
}
