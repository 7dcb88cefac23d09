//! The Nix reviewer: every file the fleet translates to parses (rnix) and, where
//! `nix-instantiate` is installed, Nix itself parses it too.

use std::path::Path;

use cim_domain_nix::check_syntax_named;

use super::{Finding, ReviewContext, ReviewError, Reviewer, Severity};

/// Checks the translated files: rnix always, `nix-instantiate --parse` where installed.
/// A file that does not parse is a blocking finding naming the file, line and column, about its
/// host when the file is `hosts/<host>.nix`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NixReviewer;

const NAME: &str = "nix";

impl Reviewer for NixReviewer {
    fn name(&self) -> &str {
        NAME
    }

    fn review(&self, context: &ReviewContext<'_>) -> Result<Vec<Finding>, ReviewError> {
        let mut findings = Vec::new();
        for (path, text) in context.spec.files() {
            let name = path.display().to_string();
            let node = host_of(path);
            if let Err(error) = check_syntax_named(&name, text) {
                findings.push(Finding::new(
                    Severity::Blocking,
                    NAME,
                    node,
                    error.to_string(),
                ));
                continue;
            }
            if let Some(tool) = context.nix_tool
                && let Err(error) = tool.parse(&name, text)
            {
                findings.push(Finding::new(
                    Severity::Blocking,
                    NAME,
                    node,
                    format!("nix-instantiate --parse rejects {name}: {error}"),
                ));
            }
        }
        Ok(findings)
    }
}

/// `db-1` for `hosts/db-1.nix`.
fn host_of(path: &Path) -> Option<&str> {
    let parent = path.parent()?;
    (parent == Path::new("hosts"))
        .then(|| path.file_stem()?.to_str())
        .flatten()
}
