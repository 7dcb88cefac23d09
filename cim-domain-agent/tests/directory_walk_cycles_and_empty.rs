//! `validate_paths` on a directory: links to an ancestor do not make the walk loop, and an
//! empty directory is reported as a failure instead of passing silently.

use cim_domain_agent::definition::validate_paths;

#[cfg(unix)]
#[test]
fn two_links_to_an_ancestor_finish_and_list_each_file_once()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested)?;
    std::fs::write(nested.join("x.md"), "---\nname: ex\nversion: 1.0.0\n---\n")?;
    std::os::unix::fs::symlink(dir.path(), nested.join("up1"))?;
    std::os::unix::fs::symlink(dir.path().join("a"), nested.join("up2"))?;
    let reports = validate_paths(&[dir.path()]);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].result.is_ok(), "{reports:?}");
    Ok(())
}

#[test]
fn an_empty_directory_is_a_failure() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("empty"))?;
    let reports = validate_paths(&[dir.path()]);
    assert_eq!(reports.len(), 1);
    assert!(reports[0].result.is_err());
    Ok(())
}
