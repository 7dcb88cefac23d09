//! Output directory rules (issue 12, item 4): symlinks are not written through, removed hosts
//! disappear, a failure leaves the previous output intact, and `/` is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cim_domain_graph::translate::output::MANIFEST;
use cim_domain_graph::translate::{NixDeploymentSpec, TranslationError};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn spec(files: &[(&str, &str)]) -> NixDeploymentSpec {
    NixDeploymentSpec::new(
        files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("<unreadable: {e}>"))
}

#[test]
fn a_symlink_at_a_host_file_is_replaced_not_followed() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("out");
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious")?;
    std::fs::create_dir_all(out.join("hosts"))?;
    std::os::unix::fs::symlink(&victim, out.join("hosts/h1.nix"))?;
    spec(&[("flake.nix", "{ }\n"), ("hosts/h1.nix", "{ h1 = 1; }\n")]).write_to(&out)?;
    assert_eq!(read(&victim), "precious");
    let meta = std::fs::symlink_metadata(out.join("hosts/h1.nix"))?;
    assert!(
        meta.is_file(),
        "the link itself is replaced by a regular file"
    );
    assert_eq!(read(&out.join("hosts/h1.nix")), "{ h1 = 1; }\n");
    Ok(())
}

#[test]
fn a_symlinked_directory_on_the_way_is_refused() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("out");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere)?;
    std::fs::create_dir_all(&out)?;
    std::os::unix::fs::symlink(&elsewhere, out.join("hosts"))?;
    let result = spec(&[("hosts/h1.nix", "{ }\n")]).write_to(&out);
    assert!(
        matches!(result, Err(TranslationError::Output(_))),
        "{result:?}"
    );
    assert_eq!(std::fs::read_dir(&elsewhere)?.count(), 0);
    Ok(())
}

#[test]
fn a_host_removed_from_the_graph_loses_its_file_and_user_files_stay() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("out");
    spec(&[
        ("flake.nix", "gen1\n"),
        ("hosts/a.nix", "a\n"),
        ("hosts/b.nix", "b\n"),
    ])
    .write_to(&out)?;
    std::fs::write(out.join("flake.lock"), "user lock")?;
    std::fs::write(out.join("hosts/notes.txt"), "user notes")?;
    spec(&[("flake.nix", "gen2\n"), ("hosts/a.nix", "a2\n")]).write_to(&out)?;
    assert!(!out.join("hosts/b.nix").exists(), "stale host file removed");
    assert_eq!(read(&out.join("hosts/a.nix")), "a2\n");
    assert_eq!(read(&out.join("flake.lock")), "user lock");
    assert_eq!(read(&out.join("hosts/notes.txt")), "user notes");
    assert_eq!(read(&out.join(MANIFEST)), "flake.nix\nhosts/a.nix\n");
    assert!(!out.join(".cim-leaf-staging").exists());
    Ok(())
}

#[test]
fn a_failed_write_leaves_the_previous_output_intact() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("out");
    spec(&[("flake.nix", "gen1\n"), ("hosts/a.nix", "a1\n")]).write_to(&out)?;
    // A file where the new generation needs a directory.
    std::fs::write(out.join("modules"), "in the way")?;
    let result = spec(&[
        ("flake.nix", "gen2\n"),
        ("hosts/a.nix", "a2\n"),
        ("modules/common.nix", "common\n"),
    ])
    .write_to(&out);
    assert!(
        matches!(result, Err(TranslationError::Output(_))),
        "{result:?}"
    );
    assert_eq!(read(&out.join("flake.nix")), "gen1\n");
    assert_eq!(read(&out.join("hosts/a.nix")), "a1\n");
    assert_eq!(read(&out.join(MANIFEST)), "flake.nix\nhosts/a.nix\n");
    assert!(!out.join(".cim-leaf-staging").exists());
    Ok(())
}

#[test]
fn a_directory_of_foreign_files_is_refused() -> TestResult {
    let tmp = tempfile::tempdir()?;
    std::fs::write(tmp.path().join("flake.nix"), "the user's own flake")?;
    let result = spec(&[("flake.nix", "ours\n")]).write_to(tmp.path());
    assert!(
        matches!(result, Err(TranslationError::Output(_))),
        "{result:?}"
    );
    assert_eq!(read(&tmp.path().join("flake.nix")), "the user's own flake");
    Ok(())
}

#[test]
fn the_root_directory_is_refused() {
    let result = spec(&[("cim-leaf-test-must-not-exist.nix", "{ }\n")]).write_to(Path::new("/"));
    assert!(
        matches!(result, Err(TranslationError::Output(_))),
        "{result:?}"
    );
    assert!(!Path::new("/cim-leaf-test-must-not-exist.nix").exists());
}
