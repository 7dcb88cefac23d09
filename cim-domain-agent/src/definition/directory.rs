//! Validating many files at once: every `.md` file under the given directories (recursively,
//! in sorted order so output is stable) and every file named directly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::{DefinitionError, Warning};
use super::front_matter;
use super::locate::{Locator, Position};
use super::model::{AgentDefinition, DefinitionShape};
use super::{Loaded, load_agent_file};

/// The outcome for one file.
#[derive(Debug)]
pub struct FileReport {
    /// The file (or the directory that could not be listed).
    pub path: PathBuf,
    /// Its definition, or why it has none.
    pub result: Result<AgentDefinition, DefinitionError>,
    /// What the file got away with (only when it was read).
    pub warnings: Vec<Warning>,
}

impl FileReport {
    fn load(path: PathBuf) -> Self {
        match load_agent_file(&path) {
            Ok(Loaded {
                definition,
                warnings,
            }) => Self {
                path,
                result: Ok(definition),
                warnings,
            },
            Err(error) => Self {
                path,
                result: Err(error),
                warnings: Vec::new(),
            },
        }
    }

    /// Whether the file has no front matter at all (a README or a note among agent files).
    pub fn is_skipped(&self) -> bool {
        self.result
            .as_ref()
            .is_err_and(DefinitionError::is_missing_front_matter)
    }
}

/// Validates every agent file in `paths`; a directory contributes its `.md` files, recursively.
/// One broken file does not stop the others. A name defined by an earlier file makes a later
/// file fail with [`DefinitionError::DuplicateName`].
pub fn validate_paths<P: AsRef<Path>>(paths: &[P]) -> Vec<FileReport> {
    let mut reports = parse_all(paths);
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for report in &mut reports {
        let Ok(definition) = &report.result else {
            continue;
        };
        let name = definition.name.to_string();
        if let Some(first) = seen.get(&name) {
            let field = match definition.shape {
                DefinitionShape::Nested => "agent.name",
                DefinitionShape::Flat => "name",
            };
            report.result = Err(DefinitionError::DuplicateName {
                position: key_position(&report.path, field),
                field: field.to_owned(),
                file: report.path.clone(),
                name,
                first: first.clone(),
            });
        } else {
            seen.insert(name, report.path.clone());
        }
    }
    reports
}

fn parse_all<P: AsRef<Path>>(paths: &[P]) -> Vec<FileReport> {
    let mut reports = Vec::new();
    for path in paths {
        let path = path.as_ref();
        if path.is_dir() {
            let mut files = Vec::new();
            let mut visited = std::collections::HashSet::new();
            match collect_markdown(path, &mut files, &mut visited) {
                Ok(()) if files.is_empty() => reports.push(FileReport {
                    // An empty directory is a failure, not a silent pass in CI.
                    result: Err(DefinitionError::Io {
                        file: path.to_owned(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "no agent definition files (*.md) below this directory",
                        ),
                    }),
                    path: path.to_owned(),
                    warnings: Vec::new(),
                }),
                Ok(()) => {
                    files.sort();
                    reports.extend(files.into_iter().map(FileReport::load));
                }
                Err((dir, source)) => reports.push(FileReport {
                    result: Err(DefinitionError::Io {
                        file: dir.clone(),
                        source,
                    }),
                    path: dir,
                    warnings: Vec::new(),
                }),
            }
        } else {
            reports.push(FileReport::load(path.to_owned()));
        }
    }
    reports
}

/// Gathers `.md` files below `dir`; the error names the directory that could not be listed.
/// Symbolic links are followed, but each directory (by its canonical path) is listed once, so
/// links to an ancestor cannot make the walk loop.
fn collect_markdown(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    visited: &mut std::collections::HashSet<PathBuf>,
) -> Result<(), (PathBuf, std::io::Error)> {
    let io_error = |source| (dir.to_owned(), source);
    if !visited.insert(std::fs::canonicalize(dir).map_err(io_error)?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let path = entry.map_err(io_error)?.path();
        if path.is_dir() {
            collect_markdown(&path, files, visited)?;
        } else if path.extension().is_some_and(|ext| ext == "md") {
            files.push(path);
        }
    }
    Ok(())
}

/// Where `field` is written in the agent file at `path` (1:1 if the file cannot be read again).
fn key_position(path: &Path, field: &str) -> Position {
    let start = Position { line: 1, column: 1 };
    let Ok(text) = cim_naming::input::read_input(path) else {
        return start;
    };
    match front_matter::split(&text) {
        Ok(split) => Locator::new(split.yaml, split.yaml_first_line).find(field),
        Err(_) => start,
    }
}
