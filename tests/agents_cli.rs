//! `cim-leaf agents validate` prints one line per file (or per problem) and fails when any file
//! is invalid; `cim-leaf agents show --json` prints the normalised definition.

use std::path::PathBuf;
use std::process::Command;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cim-domain-agent/tests/fixtures")
}

fn cim_leaf() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cim-leaf"));
    command.current_dir(fixtures());
    command
}

#[test]
fn validate_good_files_prints_ok_lines_and_succeeds() -> TestResult {
    let out = cim_leaf().args(["agents", "validate", "agents"]).output()?;
    let stdout = String::from_utf8(out.stdout)?;
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        stdout,
        "agents/ddd-expert-flat.md: ok (ddd-expert 1.0.3)\nagents/sage-nested.md: ok (sage 2.1.0)\n"
    );
    Ok(())
}

#[test]
fn validate_reports_each_error_with_location_and_fails() -> TestResult {
    let out = cim_leaf()
        .args(["agents", "validate", "mixed", "agents/sage-nested.md"])
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "mixed/alpha.md: ok (alpha 0.1.0)",
            "mixed/beta.md:7:5: model.parameters.temperature: 2.5 is out of range; allowed is 0 to 2",
            "mixed/gamma.md: ok (gamma 1.0.0)",
            "agents/sage-nested.md: ok (sage 2.1.0)",
        ]
    );
    Ok(())
}

#[test]
fn validate_missing_file_fails_with_its_name() -> TestResult {
    let out = cim_leaf()
        .args(["agents", "validate", "nope.md"])
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    assert!(!out.status.success());
    assert!(stdout.starts_with("nope.md: cannot read:"), "{stdout}");
    Ok(())
}

#[test]
fn show_json_prints_the_normalised_definition() -> TestResult {
    let out = cim_leaf()
        .args(["agents", "show", "agents/sage-nested.md", "--json"])
        .output()?;
    assert!(out.status.success());
    let definition: cim_domain_agent::AgentDefinition = serde_json::from_slice(&out.stdout)?;
    assert_eq!(definition.name.as_str(), "sage");
    assert_eq!(definition.model.name.as_deref(), Some("llama3.1:70b"));
    let again = cim_leaf()
        .args(["agents", "show", "agents/sage-nested.md", "--json"])
        .output()?;
    assert_eq!(out.stdout, again.stdout, "output must be deterministic");
    Ok(())
}

#[test]
fn show_invalid_file_prints_located_errors_and_fails() -> TestResult {
    let out = cim_leaf()
        .args(["agents", "show", "mixed/beta.md"])
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr)?;
    assert!(
        stderr.contains("mixed/beta.md:7:5: model.parameters.temperature"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn shipped_example_agents_validate() -> TestResult {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/agents");
    let out = Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .args(["agents", "validate"])
        .arg(&examples)
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains(": ok (")).count(),
        5,
        "{stdout}"
    );
    Ok(())
}
