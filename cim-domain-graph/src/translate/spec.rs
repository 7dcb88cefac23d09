//! `NixDeploymentSpec`: the rendered files of a translated graph.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cim_domain_nix::{NixTool, check_syntax_named};

use crate::translate::TranslationError;

/// The files a graph translates to, by path relative to the output directory: `flake.nix`,
/// `hosts/<host>.nix` and `modules/<name>.nix`. Rendering is deterministic, so the same graph
/// gives byte-identical files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NixDeploymentSpec {
    files: BTreeMap<PathBuf, String>,
}

impl NixDeploymentSpec {
    /// A spec of the given files.
    pub fn new(files: BTreeMap<PathBuf, String>) -> Self {
        Self { files }
    }

    /// Every file, sorted by path.
    pub fn files(&self) -> &BTreeMap<PathBuf, String> {
        &self.files
    }

    /// The text of one file.
    pub fn file(&self, path: impl AsRef<Path>) -> Option<&str> {
        self.files.get(path.as_ref()).map(String::as_str)
    }

    /// The hosts that have a `hosts/<host>.nix`, sorted.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.files.keys().filter_map(|path| {
            let rest = path.strip_prefix("hosts").ok()?;
            rest.to_str()?.strip_suffix(".nix")
        })
    }

    /// Writes every file under `dir` as one generation: staged inside `dir`, checked, switched in
    /// with renames, recorded in the manifest, and the previous generation's leftovers removed.
    /// Symlinks are never written through; `/`, the home directory and a directory of files not
    /// written by this tool are refused. The rules are in [`crate::translate::output`].
    pub fn write_to(&self, dir: &Path) -> Result<(), TranslationError> {
        let files = self
            .files
            .iter()
            .map(|(path, text)| (path.as_path(), text.as_str()));
        Ok(crate::translate::output::write_generation(dir, files)?)
    }

    /// Parses every file with rnix; the error names the file, line and column.
    pub fn check_syntax(&self) -> Result<(), TranslationError> {
        for (path, text) in &self.files {
            check_syntax_named(&path.display().to_string(), text)?;
        }
        Ok(())
    }

    /// Parses every file with `nix-instantiate --parse`.
    pub fn check_with(&self, tool: &NixTool) -> Result<(), TranslationError> {
        for (path, text) in &self.files {
            tool.parse(&path.display().to_string(), text)?;
        }
        Ok(())
    }
}
