//! `cim-leaf agents k8s FILE... --tier T` prints the agents' Kubernetes manifests as YAML; an
//! unknown tier or an invalid agent file fails with a message naming it and prints no YAML.

use std::path::PathBuf;
use std::process::Command;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn agents_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cim-domain-agent/tests/golden")
}

fn cim_leaf() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cim-leaf"));
    command.current_dir(agents_dir());
    command
}

#[test]
fn k8s_prints_the_golden_manifests_for_the_standard_tier() -> TestResult {
    let out = cim_leaf()
        .args([
            "agents",
            "k8s",
            "agents/nix-expert.md",
            "agents/ddd-expert.md",
            "--tier",
            "standard",
            "--image",
            "registry.example/cim-leaf:0.1.0",
        ])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read_to_string(agents_dir().join("k8s-standard.yaml"))?;
    assert_eq!(String::from_utf8(out.stdout)?, expected);
    Ok(())
}

#[test]
fn k8s_overrides_reach_the_deployment() -> TestResult {
    let out = cim_leaf()
        .args([
            "agents",
            "k8s",
            "agents/ddd-expert.md",
            "--tier",
            "small",
            "--nats-url",
            "nats://nats.cim:4222",
            "--ollama-url",
            "http://ollama.cim:11434",
            "--log-level",
            "warn",
        ])
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("        - --nats-url\n        - nats://nats.cim:4222\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("        - --ollama-url\n        - http://ollama.cim:11434\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("        - name: RUST_LOG\n          value: warn\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(concat!("image: cim-leaf:", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
    Ok(())
}

#[test]
fn k8s_unknown_tier_fails_naming_the_known_tiers() -> TestResult {
    let out = cim_leaf()
        .args(["agents", "k8s", "agents/sage.md", "--tier", "huge"])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr)?.trim_end(),
        "error: unknown Kubernetes tier \"huge\"; known tiers: gpu, large, small, standard"
    );
    Ok(())
}

#[test]
fn k8s_invalid_agent_file_fails_with_its_location() -> TestResult {
    let dir = tempfile::tempdir()?;
    let broken = dir.path().join("broken.md");
    std::fs::write(&broken, "---\nname: Bad Name\nversion: 1.0.0\n---\n")?;
    let out = cim_leaf()
        .args(["agents", "k8s", "agents/sage.md"])
        .arg(&broken)
        .args(["--tier", "gpu"])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr)?;
    let expected_prefix = format!("{}:2:1: name:", broken.display());
    assert!(stderr.starts_with(&expected_prefix), "{stderr}");
    Ok(())
}

#[test]
fn k8s_agent_wanting_more_gpus_than_the_tier_grants_fails_naming_both_counts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let sage = std::fs::read_to_string(agents_dir().join("agents/sage.md"))?;
    let two_gpus = dir.path().join("sage.md");
    std::fs::write(&two_gpus, sage.replace("    gpus: 1\n", "    gpus: 2\n"))?;
    let out = cim_leaf()
        .args(["agents", "k8s"])
        .arg(&two_gpus)
        .args(["--tier", "gpu"])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr)?.trim_end(),
        "error: agent sage needs 2 GPU(s) but tier gpu grants 1; use a tier with at least 2 \
         nvidia.com/gpu"
    );
    Ok(())
}
