//! `cim-leaf deploy` and `examples/end_to_end.rs` as users run them: the example fleet is
//! approved and written (exit 0), the two-member NATS cluster is rejected (exit 2, nothing
//! written, the finding named), and the example gives the same files and the same decisions in
//! process and over a real nats-server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cim_jetstream::testing::NatsServer;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn example_graph(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/graphs")
        .join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn cim_leaf(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .env("CIM_LEAF_AGENT_FLAKE", "github:example/cim-leaf")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
}

/// The example binary, built by `cargo test` next to this test's directory.
fn example_binary() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("test binary outside a target directory")?;
    let binary = profile.join("examples").join("end_to_end");
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!(
            "{} not built (cargo test builds examples)",
            binary.display()
        )
        .into())
    }
}

#[test]
fn deploy_approves_the_example_fleet_and_reports_json() -> TestResult {
    let out = tempfile::tempdir()?;
    let graph = example_graph("fleet.yaml");
    let output = cim_leaf(&[
        "deploy",
        &graph.to_string_lossy(),
        "--out",
        &out.path().to_string_lossy(),
        "--json",
    ])?;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(report["status"], "approved");
    assert_eq!(report["outcome"], "Passed");
    assert_eq!(report["votes"].as_array().map(Vec::len), Some(5));
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["step"].as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "load",
            "register",
            "propose",
            "discuss",
            "decide",
            "approve",
            "allocate-gpus",
            "write",
            "record"
        ]
    );
    for file in report["files"].as_array().into_iter().flatten() {
        let path = out.path().join(file["path"].as_str().unwrap_or_default());
        assert!(path.is_file(), "{}", path.display());
    }
    assert_eq!(report["replicas_showing_deployment"], 5);
    Ok(())
}

#[test]
fn deploy_rejects_a_two_member_nats_cluster_and_writes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out");
    let graph = example_graph("nats-pair.yaml");
    let output = cim_leaf(&[
        "deploy",
        &graph.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ])?;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(!out.exists());
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(
            "finding by nats-expert: [blocking] nats on bus-1: NATS cluster of 2 members (bus-1, bus-2)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("outcome: rejected; nothing written"),
        "{stdout}"
    );
    // Progress, one plain line per step, went to stderr.
    let progress = text(&output.stderr);
    assert!(
        progress.lines().any(|l| l.starts_with("discuss ")),
        "{progress}"
    );
    Ok(())
}

#[test]
fn a_graph_with_problems_fails_with_every_problem() -> TestResult {
    let dir = tempfile::tempdir()?;
    let graph = dir.path().join("bad.yaml");
    std::fs::write(
        &graph,
        "nodes:\n  - { name: api, type: service, host: nowhere }\n",
    )?;
    let output = cim_leaf(&["deploy", &graph.to_string_lossy(), "--out", "unused"])?;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("nowhere"),
        "{}",
        text(&output.stderr)
    );
    Ok(())
}

/// The lines of the example's output that do not depend on time or ids.
fn stable_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|line| {
            ["vote ", "gpu ", "file ", "events:", "outcome:", "finding "]
                .iter()
                .any(|prefix| line.starts_with(prefix))
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_example_runs_the_same_in_process_and_over_nats() -> TestResult {
    let binary = example_binary()?;
    let dir = tempfile::tempdir()?;
    let embedded = dir.path().join("embedded");
    let output = Command::new(&binary)
        .args(["--out", &embedded.to_string_lossy()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()?;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let in_process = stable_lines(&text(&output.stdout));
    assert!(
        in_process.contains(
            &"outcome: approved; 10 files written; the deployment is in 5 agents' knowledge"
                .to_owned()
        ),
        "{in_process:#?}"
    );
    for agent in [
        "db-expert",
        "nats-expert",
        "network-expert",
        "nix-expert",
        "sage",
    ] {
        assert!(
            in_process.contains(&format!("vote {agent:<16} for")),
            "{in_process:#?}"
        );
    }

    let server = NatsServer::start().await?;
    let over_nats = dir.path().join("nats");
    let output = Command::new(&binary)
        .args([
            "--out",
            &over_nats.to_string_lossy(),
            "--nats",
            &server.url(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()?;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(stable_lines(&text(&output.stdout)), in_process);
    for file in ["flake.nix", "hosts/gpu-1.nix", "hosts/db-1.nix"] {
        assert_eq!(
            std::fs::read(embedded.join(file))?,
            std::fs::read(over_nats.join(file))?,
            "{file}"
        );
    }

    // The rejecting example: exit 2, nothing written, the finding named.
    let rejected = dir.path().join("rejected");
    let graph = example_graph("nats-pair.yaml");
    let output = Command::new(&binary)
        .args([
            "--graph",
            &graph.to_string_lossy(),
            "--out",
            &rejected.to_string_lossy(),
        ])
        .args(["--nats", &server.url()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()?;
    assert_eq!(output.status.code(), Some(2));
    assert!(!rejected.exists());
    assert!(text(&output.stdout).contains("finding by nats-expert: [blocking] nats on bus-1"));
    Ok(())
}
