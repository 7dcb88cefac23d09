//! Validating a directory checks every Markdown file in it, in name order, and one broken file
//! among good ones is reported without hiding the others.

use std::path::PathBuf;

use cim_domain_agent::definition::{DefinitionError, validate_paths};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn one_broken_file_among_good_ones_is_reported_alone() -> TestResult {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mixed");
    let reports = validate_paths(&[&dir]);
    let names: Vec<String> = reports
        .iter()
        .map(|r| {
            r.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        names,
        ["alpha.md", "beta.md", "gamma.md"],
        "notes.txt must be skipped"
    );
    assert!(reports[0].result.is_ok());
    assert!(reports[2].result.is_ok());
    match &reports[1].result {
        Err(error @ DefinitionError::Invalid { issues, .. }) => {
            assert_eq!(issues.len(), 1);
            assert_eq!(issues[0].field, "model.parameters.temperature");
            let line = error.lines().join("\n");
            assert!(
                line.contains("beta.md:7:5: model.parameters.temperature"),
                "{line}"
            );
        }
        other => return Err(format!("beta.md should fail validation, got {other:?}").into()),
    }
    Ok(())
}

#[test]
fn files_and_directories_mix_and_missing_paths_are_io_errors() -> TestResult {
    let temp = tempfile::tempdir()?;
    let nested = temp.path().join("team/inner");
    std::fs::create_dir_all(&nested)?;
    std::fs::write(nested.join("z.md"), "---\nname: zed\nversion: 0.0.1\n---\n")?;
    let single = temp.path().join("single.md");
    std::fs::write(&single, "---\nname: solo\nversion: 3.0.0\n---\n")?;
    let missing = temp.path().join("absent.md");
    let reports = validate_paths(&[temp.path().join("team"), single, missing.clone()]);
    assert_eq!(reports.len(), 3);
    assert_eq!(
        reports[0]
            .result
            .as_ref()
            .map(|d| d.name.to_string())
            .ok()
            .as_deref(),
        Some("zed")
    );
    assert_eq!(
        reports[1]
            .result
            .as_ref()
            .map(|d| d.name.to_string())
            .ok()
            .as_deref(),
        Some("solo")
    );
    assert!(
        matches!(&reports[2].result, Err(DefinitionError::Io { file, .. }) if *file == missing)
    );
    Ok(())
}

#[test]
fn a_name_defined_twice_fails_the_later_file() -> TestResult {
    let temp = tempfile::tempdir()?;
    std::fs::write(
        temp.path().join("a.md"),
        "---\nname: twin\nversion: 1.0.0\n---\n",
    )?;
    std::fs::write(
        temp.path().join("b.md"),
        "---\nagent:\n  name: twin\n  version: 2.0.0\n---\n",
    )?;
    let reports = validate_paths(&[temp.path()]);
    assert_eq!(reports.len(), 2);
    assert!(reports[0].result.is_ok());
    match &reports[1].result {
        Err(error @ DefinitionError::DuplicateName { name, first, .. }) => {
            assert_eq!(name, "twin");
            assert_eq!(*first, temp.path().join("a.md"));
            assert!(
                error
                    .to_string()
                    .contains("b.md:3:3: agent.name: agent name \"twin\" is already defined by")
            );
        }
        other => return Err(format!("b.md should be a duplicate, got {other:?}").into()),
    }
    Ok(())
}
