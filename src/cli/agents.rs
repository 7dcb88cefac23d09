//! `cim-leaf agents ...`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::agents_k8s;

/// Subcommands of `cim-leaf agents`.
#[derive(Debug, clap::Subcommand)]
pub enum AgentsCommand {
    /// Validate agent definition files or directories.
    Validate {
        /// Files or directories of agent definitions.
        paths: Vec<PathBuf>,
    },
    /// Print Kubernetes manifests (YAML) for agents.
    K8s(agents_k8s::K8sArgs),
}

/// Runs `cim-leaf agents ...`.
pub fn run(command: AgentsCommand) -> anyhow::Result<ExitCode> {
    match command {
        AgentsCommand::Validate { paths } => {
            anyhow::bail!("agents validate ({} paths) is not available yet", paths.len())
        }
        AgentsCommand::K8s(args) => agents_k8s::run(args),
    }
}
