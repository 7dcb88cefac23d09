//! Issue 11, items 2 and 3: the flake follows the current NixOS release unless the graph or a
//! flag chooses another, a host's `system.stateVersion` never moves once it was generated (even
//! when the default or `flake.state_version` does), and a fleet with agents never gets a
//! made-up `cim-leaf` flake input: the reference is the user's, or translation says it is
//! missing.

use std::path::Path;
use std::process::{Command, Output};

use cim_domain_nix::literal_at;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `cim-leaf` with no `CIM_LEAF_AGENT_FLAKE` from the caller's environment.
fn cim_leaf(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .env_remove("CIM_LEAF_AGENT_FLAKE")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn state_version(out: &Path, host: &str) -> Result<String, Box<dyn std::error::Error>> {
    let module = std::fs::read_to_string(out.join(format!("hosts/{host}.nix")))?;
    literal_at(&module, &["system", "stateVersion"])
        .ok_or_else(|| format!("no stateVersion in {host}: {module}").into())
}

const ONE_HOST: &str = r#"
hosts:
  - { name: web-1, addresses: [10.0.0.10] }
nodes:
  - { name: api, type: service, host: web-1, package: hello, port: 8080 }
"#;

const TWO_HOSTS: &str = r#"
flake: { state_version: "26.11", nixpkgs: "github:NixOS/nixpkgs/nixos-26.11" }
hosts:
  - { name: web-1, addresses: [10.0.0.10] }
  - { name: web-2, addresses: [10.0.0.11] }
  - { name: old-1, addresses: [10.0.0.12], state_version: "24.11" }
nodes:
  - { name: api, type: service, host: web-1, package: hello, port: 8080 }
"#;

#[test]
fn the_default_is_the_current_release_and_installed_hosts_keep_their_state_version() -> TestResult {
    let dir = tempfile::tempdir()?;
    let graph = dir.path().join("fleet.yaml");
    let out = dir.path().join("out");
    let (graph_arg, out_arg) = (graph.to_string_lossy(), out.to_string_lossy());
    std::fs::write(&graph, ONE_HOST)?;
    let first = cim_leaf(&["translate", &graph_arg, "--out", &out_arg])?;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let flake = std::fs::read_to_string(out.join("flake.nix"))?;
    assert!(
        flake.contains(r#"nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";"#),
        "{flake}"
    );
    assert_eq!(state_version(&out, "web-1")?, "26.05");

    // The team moves to the next release: new hosts get it, the installed one keeps 26.05,
    // and a host that pins its own keeps that.
    std::fs::write(&graph, TWO_HOSTS)?;
    let second = cim_leaf(&["translate", &graph_arg, "--out", &out_arg])?;
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(state_version(&out, "web-1")?, "26.05");
    assert_eq!(state_version(&out, "web-2")?, "26.11");
    assert_eq!(state_version(&out, "old-1")?, "24.11");
    let flake = std::fs::read_to_string(out.join("flake.nix"))?;
    assert!(flake.contains("nixos-26.11"), "{flake}");

    // A flag replaces the graph's setting, for new hosts only; a fresh directory has no
    // installed hosts.
    let fresh = dir.path().join("fresh");
    let third = cim_leaf(&[
        "translate",
        &graph_arg,
        "--out",
        &fresh.to_string_lossy(),
        "--state-version",
        "27.05",
        "--nixpkgs",
        "github:NixOS/nixpkgs/nixos-unstable",
    ])?;
    assert!(third.status.success(), "{}", text(&third.stderr));
    assert_eq!(state_version(&fresh, "web-1")?, "27.05");
    assert_eq!(state_version(&fresh, "old-1")?, "24.11");
    let flake = std::fs::read_to_string(fresh.join("flake.nix"))?;
    assert!(flake.contains("nixos-unstable"), "{flake}");
    Ok(())
}

#[test]
fn bad_flake_settings_are_problems_naming_the_setting() -> TestResult {
    let dir = tempfile::tempdir()?;
    let graph = dir.path().join("fleet.yaml");
    std::fs::write(
        &graph,
        format!("flake: {{ nixpkgs: \"nixos 26.05\", state_version: \"26\" }}\n{ONE_HOST}"),
    )?;
    let output = cim_leaf(&["translate", &graph.to_string_lossy(), "--check"])?;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("flake.nixpkgs: must not contain whitespace"),
        "{stderr}"
    );
    assert!(
        stderr.contains("flake.state_version: must be a NixOS release"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn agents_need_the_users_cim_leaf_flake_and_never_get_a_placeholder() -> TestResult {
    let dir = tempfile::tempdir()?;
    let graph = "examples/graphs/fleet.yaml";
    let out = dir.path().join("out");
    let refused = cim_leaf(&["translate", graph, "--out", &out.to_string_lossy()])?;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("flake.cim_leaf") && stderr.contains("--agent-flake"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written");

    let reference = "github:my-org/cim-leaf/v1.0.0";
    let written = cim_leaf(&[
        "translate",
        graph,
        "--out",
        &out.to_string_lossy(),
        "--agent-flake",
        reference,
    ])?;
    assert!(written.status.success(), "{}", text(&written.stderr));
    let flake = std::fs::read_to_string(out.join("flake.nix"))?;
    assert!(
        flake.contains(&format!("cim-leaf.url = \"{reference}\";")),
        "{flake}"
    );
    assert!(!flake.contains("example.invalid"), "{flake}");
    Ok(())
}

#[test]
fn an_unusable_state_version_flag_is_one_problem_not_one_per_host() -> TestResult {
    let output = cim_leaf(&[
        "translate",
        "examples/graphs/five-services.yaml",
        "--check",
        "--state-version",
        "26",
    ])?;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("has 1 problem"), "{stderr}");
    assert!(stderr.contains("flake.state_version"), "{stderr}");
    Ok(())
}
