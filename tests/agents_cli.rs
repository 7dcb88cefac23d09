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

/// `cim-domain-agent/tests/fixtures/wild/`: Claude Code subagent files as written in the wild,
/// with a README and a design note beside them.
#[test]
fn validate_accepts_claude_code_files_and_skips_notes() -> TestResult {
    let out = cim_leaf().args(["agents", "validate", "wild"]).output()?;
    let stdout = String::from_utf8(out.stdout)?;
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "wild/README.md: skipped (no front matter; not an agent file)",
            "wild/all-tools.md: ok (all-tools unversioned)",
            "wild/architect.md: ok (architect unversioned)",
            "wild/code-reviewer.md: ok (code-reviewer unversioned)",
            "wild/design-notes.md: skipped (no front matter; not an agent file)",
            "wild/inherits-model.md: ok (inherits-model unversioned)",
            "wild/no-tools.md: ok (no-tools unversioned)",
            "wild/privacy-checker.md:3:14: warning: description: the value contains `: `, which YAML reads as another key, so it was read as plain text; quote it (`description: \"...\"`) or write it as a block (`description: |` with the text indented below)",
            "wild/privacy-checker.md: ok (privacy-checker unversioned)",
            "wild/team-lead.md: ok (team-lead unversioned)",
        ]
    );
    Ok(())
}

#[test]
fn validate_strict_fails_on_files_without_front_matter() -> TestResult {
    let out = cim_leaf()
        .args(["agents", "validate", "--strict", "wild"])
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "wild/README.md:1:1: no YAML front matter: the file must start with a `---` line"
        ),
        "{stdout}"
    );
    Ok(())
}

#[test]
fn validate_still_fails_on_broken_front_matter() -> TestResult {
    let out = cim_leaf()
        .args(["agents", "validate", "wild-broken/broken-front-matter.md"])
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("never closed by a `---` line"), "{stdout}");
    Ok(())
}

#[test]
fn show_prints_the_alias_and_the_preference_as_written() -> TestResult {
    let out = cim_leaf()
        .args(["agents", "show", "wild/architect.md"])
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("\nmodel:        opus\n"), "{stdout}");
    assert!(stdout.contains("\npreference:   sonnet\n"), "{stdout}");
    assert!(stdout.contains("\nversion:      unversioned\n"), "{stdout}");
    assert!(
        stdout.contains("\ntools:        all (no `tools` key)\n"),
        "{stdout}"
    );
    Ok(())
}

#[test]
fn show_json_keeps_absent_tools_apart_from_no_tools() -> TestResult {
    let tools = |file: &str| -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let out = cim_leaf()
            .args(["agents", "show", file, "--json"])
            .output()?;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        Ok(json["tools"].clone())
    };
    assert_eq!(tools("wild/all-tools.md")?, serde_json::json!(null));
    assert_eq!(tools("wild/no-tools.md")?, serde_json::json!([]));
    assert_eq!(
        tools("wild/team-lead.md")?,
        serde_json::json!(["Read", "Agent(scout, fixer)", "Bash(git diff:*, git log:*)"])
    );
    Ok(())
}
