//! Validating many files at once: every `.md` file under the given directories (recursively,
//! in sorted order so output is stable) and every file named directly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::DefinitionError;
use super::model::AgentDefinition;
use super::parse_agent_file;

/// The outcome for one file.
#[derive(Debug)]
pub struct FileReport {
    /// The file (or the directory that could not be listed).
    pub path: PathBuf,
    /// Its definition, or why it has none.
    pub result: Result<AgentDefinition, DefinitionError>,
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
            report.result = Err(DefinitionError::DuplicateName {
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
            match collect_markdown(path, &mut files) {
                Ok(()) => {
                    files.sort();
                    reports.extend(files.into_iter().map(|file| FileReport {
                        result: parse_agent_file(&file),
                        path: file,
                    }));
                }
                Err((dir, source)) => reports.push(FileReport {
                    result: Err(DefinitionError::Io {
                        file: dir.clone(),
                        source,
                    }),
                    path: dir,
                }),
            }
        } else {
            reports.push(FileReport {
                path: path.to_owned(),
                result: parse_agent_file(path),
            });
        }
    }
    reports
}

/// Gathers `.md` files below `dir`; the error names the directory that could not be listed.
fn collect_markdown(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), (PathBuf, std::io::Error)> {
    let io_error = |source| (dir.to_owned(), source);
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let path = entry.map_err(io_error)?.path();
        if path.is_dir() {
            collect_markdown(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "md") {
            files.push(path);
        }
    }
    Ok(())
}
