//! The shipped `services.cim-agent` NixOS module (`nix/modules/agent.nix`) and the repository's
//! `flake.nix`: both parse with `nix-instantiate --parse`, and the module, evaluated against a small
//! stand-in for nixpkgs' `lib`, declares every option and renders a hardened unit whose `ExecStart`
//! runs `cim-leaf agents run` with the configured flags.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Just the parts of nixpkgs' `lib` the module touches, with `escapeShellArg` following nixpkgs'
/// rule (safe characters stay bare, anything else is single-quoted) so `ExecStart` is realistic.
const STUB_LIB: &str = r#"
  lib = rec {
    mkOption = o: o // { _isOption = true; };
    mkEnableOption = d: { _isOption = true; type = "bool"; default = false; description = d; };
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    types = {
      path = "path"; package = "package"; str = "str"; int = "int";
      nullOr = t: "nullOr ${t}"; listOf = t: "listOf ${t}"; attrsOf = t: "attrsOf ${t}";
      enum = vs: "enum ${builtins.concatStringsSep "," vs}";
    };
    optionals = c: l: if c then l else [ ];
    optionalAttrs = c: a: if c then a else { };
    escapeShellArg = a:
      if builtins.match "[[:alnum:],._+:@%/-]+" a != null then a
      else "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] a + "'";
    escapeShellArgs = args: builtins.concatStringsSep " " (map escapeShellArg args);
  };
"#;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `nix-instantiate`, or `None` (with the reason printed) when it is missing and CI does not
/// require it.
fn nix_instantiate() -> Option<Command> {
    let probe = Command::new("nix-instantiate").arg("--version").output();
    match probe {
        Ok(out) if out.status.success() => Some(Command::new("nix-instantiate")),
        _ => {
            assert!(
                std::env::var("CIM_REQUIRE_NIX_INSTANTIATE").as_deref() != Ok("1"),
                "nix-instantiate is required (CIM_REQUIRE_NIX_INSTANTIATE=1) but not on PATH"
            );
            eprintln!(
                "skipping: nix-instantiate is not on PATH (source scripts/install-test-tools)"
            );
            None
        }
    }
}

fn parses(path: &Path) -> TestResult {
    let Some(mut cmd) = nix_instantiate() else {
        return Ok(());
    };
    let out = cmd.arg("--parse").arg(path).output()?;
    assert!(
        out.status.success(),
        "nix-instantiate --parse {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Evaluates the module with `settings` merged over its option defaults and returns
/// `{ optionNames, condition, config }` as JSON, or `None` when nix-instantiate is unavailable.
fn evaluate_module(settings: &str) -> Result<Option<Value>, Box<dyn std::error::Error>> {
    let Some(mut cmd) = nix_instantiate() else {
        return Ok(None);
    };
    let module = repo_root().join("nix/modules/agent.nix").canonicalize()?;
    let expr = format!(
        r#"let
  {STUB_LIB}
  module = import {module} {{ inherit lib; config = {{ services.cim-agent = cfg; }}; }};
  opts = module.options.services.cim-agent;
  defaults = builtins.mapAttrs (n: o: o.default)
    (builtins.removeAttrs opts (builtins.filter (n: !(opts.${{n}} ? default)) (builtins.attrNames opts)));
  cfg = defaults // ({settings});
in {{
  optionNames = builtins.attrNames opts;
  condition = module.config.condition;
  config = if module.config.condition then module.config.content else null;
}}"#,
        module = module.display()
    );
    let out = cmd
        .args(["--eval", "--strict", "--json", "--expr", &expr])
        .output()?;
    assert!(
        out.status.success(),
        "evaluating agent.nix failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(Some(serde_json::from_slice(&out.stdout)?))
}

#[test]
fn agent_module_and_flake_parse_with_nix_instantiate() -> TestResult {
    parses(&repo_root().join("nix/modules/agent.nix"))?;
    parses(&repo_root().join("flake.nix"))
}

#[test]
fn agent_module_declares_every_option_the_issue_names() -> TestResult {
    let Some(eval) = evaluate_module("{ }")? else {
        return Ok(());
    };
    let names: Vec<&str> = eval["optionNames"]
        .as_array()
        .ok_or("optionNames is not a list")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for wanted in [
        "enable",
        "agentFile",
        "package",
        "agentId",
        "natsUrl",
        "ollamaUrl",
        "dataDir",
        "memoryMax",
        "cpuQuota",
        "tasksMax",
        "restartPolicy",
        "restartSec",
        "maxRetries",
        "logLevel",
        "logFormat",
        "extraEnv",
    ] {
        assert!(
            names.contains(&wanted),
            "option {wanted} missing from {names:?}"
        );
    }
    assert_eq!(
        eval["condition"],
        Value::Bool(false),
        "enable must default to false"
    );
    Ok(())
}

#[test]
fn enabled_agent_gets_a_hardened_unit_running_cim_leaf_agents_run() -> TestResult {
    let Some(eval) = evaluate_module(
        r#"{
          enable = true;
          package = "/nix/store/0000-cim-leaf";
          agentFile = "/etc/cim/agents/sage.md";
          natsUrl = "nats://10.0.0.1:4222";
          ollamaUrl = "http://gpu-1:11434";
          dataDir = "/var/lib/cim-agent/sage";
          memoryMax = "16G";
          cpuQuota = "400%";
          tasksMax = 1024;
          restartPolicy = "on-failure";
          restartSec = 5;
          maxRetries = 3;
          logLevel = "debug";
          extraEnv = { CIM_ZONE = "lab"; };
        }"#,
    )?
    else {
        return Ok(());
    };
    assert_eq!(eval["condition"], Value::Bool(true));
    let config = &eval["config"];
    let service = &config["systemd"]["services"]["cim-agent"];
    let unit = &service["serviceConfig"];
    assert_eq!(
        unit["ExecStart"],
        "/nix/store/0000-cim-leaf/bin/cim-leaf agents run \
         --agent-file /etc/cim/agents/sage.md --nats-url nats://10.0.0.1:4222 \
         --data-dir /var/lib/cim-agent/sage --ollama-url http://gpu-1:11434"
    );
    assert_eq!(unit["User"], "cim-agent");
    assert_eq!(unit["NoNewPrivileges"], true);
    assert_eq!(unit["ProtectSystem"], "strict");
    assert_eq!(unit["ProtectHome"], true);
    assert_eq!(unit["PrivateTmp"], true);
    assert_eq!(unit["PrivateDevices"], true);
    assert_eq!(unit["MemoryMax"], "16G");
    assert_eq!(unit["CPUQuota"], "400%");
    assert_eq!(unit["TasksMax"], 1024);
    assert_eq!(unit["Restart"], "on-failure");
    assert_eq!(unit["RestartSec"], 5);
    // restart.max_retries = 3: four starts (the first and three restarts) within the window.
    assert_eq!(service["startLimitBurst"], 4);
    assert_eq!(service["startLimitIntervalSec"], 4 * (5 + 60));
    assert_eq!(
        unit["ReadWritePaths"],
        serde_json::json!(["/var/lib/cim-agent/sage"])
    );
    assert_eq!(service["environment"]["RUST_LOG"], "debug");
    assert_eq!(service["environment"]["CIM_ZONE"], "lab");
    assert_eq!(config["users"]["users"]["cim-agent"]["isSystemUser"], true);
    assert_eq!(config["users"]["users"]["cim-agent"]["group"], "cim-agent");
    Ok(())
}

#[test]
fn flake_exports_the_agent_module_with_its_package_and_builds_cim_leaf_from_the_lock_file()
-> TestResult {
    let Some(mut cmd) = nix_instantiate() else {
        return Ok(());
    };
    let root = repo_root().canonicalize()?;
    // nixpkgs is stubbed down to what the flake calls, so this runs without a store or network.
    let expr = format!(
        r#"let
  flake = import {root}/flake.nix;
  pkgsFor = system: {{
    rustPlatform.buildRustPackage = args: args // {{ outPath = "/nix/store/0000-${{args.pname}}"; inherit system; }};
  }};
  nixpkgs = {{
    lib.genAttrs = names: f: builtins.listToAttrs (map (n: {{ name = n; value = f n; }}) names);
    legacyPackages = {{ x86_64-linux = pkgsFor "x86_64-linux"; aarch64-linux = pkgsFor "aarch64-linux"; }};
  }};
  self = flake.outputs {{ inherit self nixpkgs; }};
  pkg = self.packages.aarch64-linux.cim-leaf;
  agent = self.nixosModules.agent {{
    lib.mkDefault = value: {{ mkDefault = value; }};
    pkgs.stdenv.hostPlatform.system = "aarch64-linux";
  }};
in {{
  inherit (pkg) pname version cargoBuildFlags system;
  lockFile = toString pkg.cargoLock.lockFile;
  defaultPackage = self.packages.x86_64-linux.default.pname;
  imports = map toString agent.imports;
  packageDefault = agent.services.cim-agent.package.mkDefault.outPath;
}}"#,
        root = root.display()
    );
    let out = cmd
        .args(["--eval", "--strict", "--json", "--expr", &expr])
        .output()?;
    assert!(
        out.status.success(),
        "evaluating flake.nix failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let eval: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(eval["pname"], "cim-leaf");
    assert_eq!(eval["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(eval["system"], "aarch64-linux");
    assert_eq!(
        eval["cargoBuildFlags"],
        serde_json::json!(["--package", "cim-leaf", "--bin", "cim-leaf"])
    );
    assert_eq!(eval["lockFile"], format!("{}/Cargo.lock", root.display()));
    assert_eq!(eval["defaultPackage"], "cim-leaf");
    assert_eq!(
        eval["imports"],
        serde_json::json!([format!("{}/nix/modules/agent.nix", root.display())])
    );
    assert_eq!(eval["packageDefault"], "/nix/store/0000-cim-leaf");
    Ok(())
}

#[test]
fn shell_unsafe_settings_are_quoted_and_gpu_devices_lift_private_devices() -> TestResult {
    let Some(eval) = evaluate_module(
        r#"{
          enable = true;
          package = "/nix/store/0000-cim-leaf";
          agentFile = "/etc/cim/agents/it's here.md";
          agentId = "5f0c9a8e-3b1d-4c2a-9e7f-1a2b3c4d5e6f";
          deviceAllow = [ "/dev/nvidia0 rw" ];
        }"#,
    )?
    else {
        return Ok(());
    };
    let unit = &eval["config"]["systemd"]["services"]["cim-agent"]["serviceConfig"];
    let exec = unit["ExecStart"]
        .as_str()
        .ok_or("ExecStart is not a string")?;
    assert!(
        exec.contains(r#"--agent-file '/etc/cim/agents/it'\''s here.md'"#),
        "{exec}"
    );
    assert!(
        !exec.contains("--ollama-url"),
        "unset ollamaUrl must not be passed: {exec}"
    );
    assert_eq!(unit["PrivateDevices"], false);
    assert_eq!(unit["DeviceAllow"], serde_json::json!(["/dev/nvidia0 rw"]));
    let service = &eval["config"]["systemd"]["services"]["cim-agent"];
    assert!(
        service.get("startLimitBurst").is_none() && service.get("startLimitIntervalSec").is_none(),
        "no maxRetries keeps systemd's default start limit: {service}"
    );
    Ok(())
}

#[test]
fn the_nats_seed_reaches_the_runtime_as_a_systemd_credential() -> TestResult {
    let Some(eval) = evaluate_module(
        r#"{
          enable = true;
          package = "/nix/store/0000-cim-leaf";
          agentFile = "/etc/cim/agents/sage.md";
          natsNkeySeedFile = "/run/secrets/cim/nats/sage.nk";
          natsCaFile = "/run/secrets/nats/ca.crt";
        }"#,
    )?
    else {
        return Ok(());
    };
    let unit = &eval["config"]["systemd"]["services"]["cim-agent"]["serviceConfig"];
    let exec = unit["ExecStart"]
        .as_str()
        .ok_or("ExecStart is not a string")?;
    // `%d` is systemd's credentials directory: the seed is never on the command line.
    assert!(exec.contains("--nkey-seed %d/nats-nkey-seed"), "{exec}");
    assert!(
        exec.contains("--nats-ca /run/secrets/nats/ca.crt"),
        "{exec}"
    );
    assert!(!exec.contains("sage.nk"), "{exec}");
    assert_eq!(
        unit["LoadCredential"],
        serde_json::json!(["nats-nkey-seed:/run/secrets/cim/nats/sage.nk"])
    );
    Ok(())
}
