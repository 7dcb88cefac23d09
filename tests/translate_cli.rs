//! `cim-leaf translate`: writes the reviewed flake for the example graphs, validates without
//! writing under `--check`, and reports every problem of a bad graph, as text or JSON, with
//! exit status 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn cim_leaf(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .env("CIM_LEAF_AGENT_FLAKE", "github:example/cim-leaf")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn files_under(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.to_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

const BROKEN: &str = r#"
hosts: [{ name: h, cpu_cores: 1 }]
nodes:
  - { name: a, type: service, host: h, command: run, port: 80, resources: { cpu_millis: 2000 } }
  - { name: b, type: service, host: h, command: run, port: 80 }
  - { name: nightly, type: custom, kind: backup, host: h }
edges:
  - { from: a, to: b, type: depends_on }
  - { from: b, to: a, type: depends_on }
  - { from: a, to: ghost, type: connects_to }
"#;

#[test]
fn translate_writes_the_golden_flake_of_each_example() -> TestResult {
    for scenario in [
        "five-services",
        "database-with-services",
        "nats-cluster",
        "load-balanced-web",
    ] {
        let out = tempfile::tempdir()?;
        let graph = format!("examples/graphs/{scenario}.yaml");
        let output = cim_leaf(&["translate", &graph, "--out", &out.path().to_string_lossy()])?;
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(
            text(&output.stdout).contains("wrote"),
            "{}",
            text(&output.stdout)
        );
        let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("cim-domain-graph/tests/golden")
            .join(scenario);
        let manifest = Path::new(".cim-leaf-manifest");
        let mut written = files_under(out.path())?;
        assert!(
            written.iter().any(|p| p == manifest),
            "{scenario}: no manifest"
        );
        written.retain(|p| p != manifest);
        assert_eq!(written, files_under(&golden)?, "{scenario}");
        for file in written {
            assert_eq!(
                std::fs::read_to_string(out.path().join(&file))?,
                std::fs::read_to_string(golden.join(&file))?,
                "{scenario}: {}",
                file.display()
            );
        }
    }
    Ok(())
}

#[test]
fn check_validates_without_writing() -> TestResult {
    let out = tempfile::tempdir()?;
    let target = out.path().join("fleet");
    let output = cim_leaf(&[
        "translate",
        "examples/graphs/nats-cluster.yaml",
        "--check",
        "--out",
        &target.to_string_lossy(),
    ])?;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("valid (4 hosts, 5 nodes, 11 edges)"));
    assert!(!target.exists(), "--check must write nothing");
    Ok(())
}

#[test]
fn a_bad_graph_gets_every_problem_and_exit_status_one() -> TestResult {
    let dir = tempfile::tempdir()?;
    let graph = dir.path().join("broken.yaml");
    std::fs::write(&graph, BROKEN)?;
    let out = dir.path().join("out");
    let output = cim_leaf(&[
        "translate",
        &graph.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ])?;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    for expected in [
        "broken.yaml: the deployment graph has 5 problems",
        "no node is named `ghost`",
        "dependency cycle: a -> b -> a",
        "port 80 on host `h` is used by `a`, `b`",
        "host `h` has 1000 cpu_millis but its nodes reserve 2000",
        "node `nightly` is of kind `backup`, which has no translator registered",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in {stderr}"
        );
    }
    assert!(!out.exists(), "nothing is written for an invalid graph");
    Ok(())
}

#[test]
fn json_output_lists_problems_with_codes_nodes_and_messages() -> TestResult {
    let dir = tempfile::tempdir()?;
    let graph = dir.path().join("broken.yaml");
    std::fs::write(&graph, BROKEN)?;
    let output = cim_leaf(&["translate", &graph.to_string_lossy(), "--check", "--json"])?;
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(report["status"], "invalid");
    let problems = report["problems"].as_array().ok_or("problems is a list")?;
    let codes: Vec<&str> = problems
        .iter()
        .filter_map(|p| p["problem"].as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "dangling_reference",
            "dependency_cycle",
            "port_conflict",
            "overcommit",
            "no_translator"
        ]
    );
    assert_eq!(problems[1]["cycle"], serde_json::json!(["a", "b", "a"]));
    assert_eq!(problems[4]["node"], "nightly");
    assert!(problems.iter().all(|p| p["message"].is_string()));
    Ok(())
}

#[test]
fn an_unreadable_file_is_reported_with_its_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let graph = dir.path().join("typo.yaml");
    std::fs::write(
        &graph,
        "nodes:\n  - name: a\n    type: service\n    prot: 1\n",
    )?;
    let output = cim_leaf(&["translate", &graph.to_string_lossy(), "--check"])?;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("typo.yaml"), "{stderr}");
    assert!(stderr.contains("unknown field `prot`"), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");

    let output = cim_leaf(&["translate", "does/not/exist.yaml", "--check", "--json"])?;
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(report["status"], "unreadable");
    Ok(())
}

#[test]
fn out_is_required_unless_checking() -> TestResult {
    let output = cim_leaf(&["translate", "examples/graphs/nats-cluster.yaml"])?;
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--out"));
    Ok(())
}

#[test]
fn agent_nodes_become_containers_through_the_agent_translator() -> TestResult {
    let out = tempfile::tempdir()?;
    let output = cim_leaf(&[
        "translate",
        "examples/graphs/agent-fleet.yaml",
        "--out",
        &out.path().to_string_lossy(),
    ])?;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let gpu = std::fs::read_to_string(out.path().join("hosts/gpu-1.nix"))?;
    let core = std::fs::read_to_string(out.path().join("hosts/core-1.nix"))?;
    assert!(gpu.contains("containers.cim-agent-sage"), "{gpu}");
    assert!(core.contains("containers.cim-agent-nix-expert"), "{core}");
    // sage publishes to the bus from another host, so the bus host opens the client port.
    assert!(core.contains("allowedTCPPorts = [ 4222 ];"), "{core}");
    let flake = std::fs::read_to_string(out.path().join("flake.nix"))?;
    assert!(flake.contains("cim-leaf.url"), "{flake}");
    Ok(())
}

#[test]
fn check_fails_when_an_agent_definition_cannot_be_read() -> TestResult {
    let dir = tempfile::tempdir()?;
    let graph = dir.path().join("graph.yaml");
    std::fs::write(
        &graph,
        "hosts: [{ name: core-1 }]\nnodes:\n  - { name: scout, type: agent, host: core-1, definition: agents/missing.md }\n",
    )?;
    let output = cim_leaf(&["translate", &graph.to_string_lossy(), "--check"])?;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("scout") && stderr.contains("missing.md"),
        "{stderr}"
    );
    Ok(())
}
