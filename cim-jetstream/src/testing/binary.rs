use std::path::{Path, PathBuf};

use super::HarnessError;

/// The oldest minor release of 2.x the harness accepts.
const MIN_MINOR: u64 = 11;

/// Finds a new enough `nats-server`: `NATS_SERVER_BIN` first, then `PATH`.
pub(crate) fn find() -> Result<PathBuf, HarnessError> {
    let path = match std::env::var_os("NATS_SERVER_BIN").filter(|v| !v.is_empty()) {
        Some(explicit) => PathBuf::from(explicit),
        None => search_path().ok_or(HarnessError::BinaryNotFound)?,
    };
    if !path.is_file() {
        return Err(HarnessError::BinaryNotFound);
    }
    check_version(&path)?;
    Ok(path)
}

fn search_path() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

fn check_version(path: &Path) -> Result<(), HarnessError> {
    let output = std::process::Command::new(path)
        .arg("--version")
        .output()
        .map_err(|e| HarnessError::io(format!("running {} --version", path.display()), e))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let unreadable = || HarnessError::UnreadableVersion {
        path: path.to_path_buf(),
        output: text.clone(),
    };
    // Output looks like "nats-server: v2.12.8".
    let version = text.rsplit('v').next().ok_or_else(unreadable)?;
    let mut parts = version.split('.').map(str::parse::<u64>);
    let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
        return Err(unreadable());
    };
    if major > 2 || (major == 2 && minor >= MIN_MINOR) {
        Ok(())
    } else {
        Err(HarnessError::BinaryTooOld {
            path: path.to_path_buf(),
            found: version.to_string(),
        })
    }
}
