//! `cim-leaf translate GRAPH --out DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `cim-leaf translate`.
#[derive(Debug, clap::Args)]
pub struct TranslateArgs {
    /// The deployment graph file (YAML or JSON).
    pub graph: PathBuf,
}

/// Runs `cim-leaf translate`.
pub fn run(args: TranslateArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("translate {} is not available yet", args.graph.display())
}
