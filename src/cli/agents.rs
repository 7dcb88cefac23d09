//! `cim-leaf agents ...`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Subcommands of `cim-leaf agents`.
#[derive(Debug, clap::Subcommand)]
pub enum AgentsCommand {
    /// Validate agent definition files or directories.
    Validate {
        /// Files or directories of agent definitions.
        paths: Vec<PathBuf>,
    },
}

/// Runs `cim-leaf agents ...`.
pub fn run(command: AgentsCommand) -> anyhow::Result<ExitCode> {
    match command {
        AgentsCommand::Validate { paths } => {
            anyhow::bail!("agents validate ({} paths) is not available yet", paths.len())
        }
    }
}
