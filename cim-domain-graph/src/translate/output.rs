//! Writing a [`NixDeploymentSpec`](super::NixDeploymentSpec) to disk, atomically per generation.
//!
//! The rules (documented in `docs/graph-format.md`, "Output directory"):
//! - every file is first written into a staging directory inside the target (so on the same
//!   filesystem); a failure while staging (disk full, permissions) leaves the previous output
//!   untouched and removes the staging directory;
//! - before anything is switched, every target path is checked: no component below the output
//!   directory may be a symlink or a non-directory where a directory must go, and no target may be
//!   a directory; a symlink at a target file is replaced, never followed;
//! - the files are then switched in with `rename(2)`, each atomic, so no file is ever partially
//!   written, and the manifest [`MANIFEST`] is renamed in last;
//! - files the previous manifest lists that this generation does not write are removed, and
//!   nothing else (a user's `flake.lock` stays);
//! - `/`, the home directory, a path that is not a directory, and a directory with no manifest
//!   holding a file this run would overwrite are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// The manifest file in the output directory: the relative paths this tool wrote, one a line.
pub const MANIFEST: &str = ".cim-leaf-manifest";

/// The staging directory inside the output directory, removed after every run.
pub const STAGING: &str = ".cim-leaf-staging";

/// The most bytes of a manifest read back; a larger one is refused.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Why an output directory was refused or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The target is `/` or the home directory.
    #[error("refusing to write generated files into {}: choose a dedicated output directory", path.display())]
    ForbiddenTarget {
        /// The refused directory.
        path: PathBuf,
    },
    /// The target exists and is not a directory.
    #[error("{} is not a directory", path.display())]
    NotADirectory {
        /// The path given as output directory.
        path: PathBuf,
    },
    /// The directory has no manifest but holds files this run would overwrite.
    #[error(
        "{} holds {} not written by cim-leaf (no {MANIFEST}); remove it or choose an empty directory",
        dir.display(), existing.display()
    )]
    Unmanaged {
        /// The output directory.
        dir: PathBuf,
        /// The first file that would be overwritten.
        existing: PathBuf,
    },
    /// A path of the spec or the manifest is not a plain relative path.
    #[error("{} is not a plain relative path", path.display())]
    BadPath {
        /// The offending path.
        path: PathBuf,
    },
    /// A symlink or a non-directory stands where a directory must go, or a directory where a
    /// file must go.
    #[error("{} is in the way: {reason}; nothing was changed", path.display())]
    InTheWay {
        /// The path that is in the way.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The previous manifest is larger than [`MAX_MANIFEST_BYTES`] or not UTF-8.
    #[error("the manifest {} is unreadable: {reason}", path.display())]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file of the previous generation cannot be read.
    #[error("cannot read {} of the previous generation: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An I/O error on a path.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Whether `path` is relative and made only of normal components.
fn plain_relative(path: &Path) -> bool {
    path.components().next().is_some()
        && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Writes `files` (relative path, text) into `dir` by the rules of this module.
pub fn write_generation<'a>(
    dir: &Path,
    files: impl IntoIterator<Item = (&'a Path, &'a str)>,
) -> Result<(), OutputError> {
    let files: Vec<(&Path, &str)> = files.into_iter().collect();
    for (path, _) in &files {
        let reserved = path.starts_with(MANIFEST) || path.starts_with(STAGING);
        if !plain_relative(path) || reserved {
            return Err(OutputError::BadPath {
                path: path.to_path_buf(),
            });
        }
    }
    refuse_target(dir)?;
    fs::create_dir_all(dir).map_err(io(dir))?;
    let previous = read_manifest(dir)?;
    preflight(dir, &files, previous.as_ref())?;
    let staging = dir.join(STAGING);
    remove_staging(&staging)?;
    let staged = stage(&staging, &files);
    let switched = staged.and_then(|()| switch(dir, &staging, &files));
    let cleaned = remove_staging(&staging);
    switched?;
    cleaned?;
    if let Some(previous) = previous {
        let current: BTreeSet<&Path> = files.iter().map(|(p, _)| *p).collect();
        for stale in previous.iter().filter(|p| !current.contains(p.as_path())) {
            remove_stale(dir, stale)?;
        }
    }
    Ok(())
}

fn refuse_target(dir: &Path) -> Result<(), OutputError> {
    let Ok(meta) = fs::metadata(dir) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Err(OutputError::NotADirectory {
            path: dir.to_owned(),
        });
    }
    let real = fs::canonicalize(dir).map_err(io(dir))?;
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .and_then(|h| fs::canonicalize(h).ok());
    if real.parent().is_none() || home.is_some_and(|h| h == real) {
        return Err(OutputError::ForbiddenTarget { path: real });
    }
    Ok(())
}

/// The `system.stateVersion` each host of the previous generation in `dir` was generated with,
/// by host name: read from the `hosts/<host>.nix` files its manifest lists (rnix,
/// [`cim_domain_nix::literal_at`]). Empty when `dir` holds no generation.
///
/// Loading a fleet for `dir` keeps these for hosts whose `state_version` is unset, so an
/// installed host never gets a new stateVersion when the default (or the graph's
/// `flake.state_version`) moves: NixOS keeps state formats by it, and changing it under a
/// running host can break stateful services (NixOS manual, `system.stateVersion`).
///
/// # Errors
/// [`OutputError`] when the manifest or a listed host file exists but cannot be read.
pub fn installed_state_versions(dir: &Path) -> Result<BTreeMap<String, String>, OutputError> {
    let mut versions = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(versions);
    }
    for listed in read_manifest(dir)?.unwrap_or_default() {
        let mut parts = listed.components();
        let (Some(Component::Normal(folder)), Some(Component::Normal(file)), None) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some(host) = file.to_str().and_then(|f| f.strip_suffix(".nix")) else {
            continue;
        };
        if folder != "hosts" {
            continue;
        }
        let path = dir.join(&listed);
        let text = match cim_naming::input::read_input(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(OutputError::Unreadable { path, source }),
        };
        if let Some(version) = cim_domain_nix::literal_at(&text, &["system", "stateVersion"]) {
            versions.insert(host.to_owned(), version);
        }
    }
    Ok(versions)
}

fn read_manifest(dir: &Path) -> Result<Option<Vec<PathBuf>>, OutputError> {
    let path = dir.join(MANIFEST);
    let meta = match fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(OutputError::Io { path, source }),
    };
    if !meta.is_file() {
        return Err(OutputError::InTheWay {
            path,
            reason: "the manifest is not a regular file",
        });
    }
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(OutputError::BadManifest {
            path,
            reason: format!("larger than {MAX_MANIFEST_BYTES} bytes"),
        });
    }
    let bytes = fs::read(&path).map_err(io(&path))?;
    let text = String::from_utf8(bytes).map_err(|_| OutputError::BadManifest {
        path: path.clone(),
        reason: "not UTF-8".to_owned(),
    })?;
    let mut listed = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let entry = PathBuf::from(line);
        if !plain_relative(&entry) {
            return Err(OutputError::BadPath { path: entry });
        }
        listed.push(entry);
    }
    Ok(Some(listed))
}

/// Checks every target before anything is written, so a refusal changes nothing.
fn preflight(
    dir: &Path,
    files: &[(&Path, &str)],
    previous: Option<&Vec<PathBuf>>,
) -> Result<(), OutputError> {
    for (relative, _) in files {
        let mut at = dir.to_path_buf();
        let mut parts = relative.components().peekable();
        while let Some(part) = parts.next() {
            at.push(part);
            let meta = match fs::symlink_metadata(&at) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(source) => return Err(OutputError::Io { path: at, source }),
            };
            let last = parts.peek().is_none();
            if last {
                if meta.is_dir() {
                    return Err(OutputError::InTheWay {
                        path: at,
                        reason: "a directory stands where a file must go",
                    });
                }
                if previous.is_none() && meta.is_file() {
                    return Err(OutputError::Unmanaged {
                        dir: dir.to_owned(),
                        existing: relative.to_path_buf(),
                    });
                }
            } else if !meta.is_dir() {
                let reason = if meta.is_symlink() {
                    "a symlink stands where a directory must go"
                } else {
                    "a file stands where a directory must go"
                };
                return Err(OutputError::InTheWay { path: at, reason });
            }
        }
    }
    Ok(())
}

fn remove_staging(staging: &Path) -> Result<(), OutputError> {
    match fs::symlink_metadata(staging) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(staging).map_err(io(staging)),
        Ok(_) => fs::remove_file(staging).map_err(io(staging)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(OutputError::Io {
            path: staging.to_owned(),
            source,
        }),
    }
}

fn stage(staging: &Path, files: &[(&Path, &str)]) -> Result<(), OutputError> {
    fs::create_dir(staging).map_err(io(staging))?;
    let mut manifest = String::new();
    for (relative, text) in files {
        write_new(&staging.join(relative), text.as_bytes())?;
        manifest.push_str(&relative.to_string_lossy());
        manifest.push('\n');
    }
    write_new(&staging.join(MANIFEST), manifest.as_bytes())
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut file = fs::File::create_new(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

fn switch(dir: &Path, staging: &Path, files: &[(&Path, &str)]) -> Result<(), OutputError> {
    for (relative, _) in files {
        let target = dir.join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        fs::rename(staging.join(relative), &target).map_err(io(&target))?;
    }
    let manifest = dir.join(MANIFEST);
    fs::rename(staging.join(MANIFEST), &manifest).map_err(io(&manifest))
}

/// Removes one file of the previous generation: the file or link itself, only when no component
/// on the way is a symlink.
fn remove_stale(dir: &Path, relative: &Path) -> Result<(), OutputError> {
    let mut at = dir.to_path_buf();
    let mut parts = relative.components().peekable();
    while let Some(part) = parts.next() {
        at.push(part);
        let Ok(meta) = fs::symlink_metadata(&at) else {
            return Ok(());
        };
        if parts.peek().is_none() {
            if !meta.is_dir() {
                fs::remove_file(&at).map_err(io(&at))?;
            }
        } else if !meta.is_dir() {
            return Ok(());
        }
    }
    Ok(())
}
