//! `cim-leaf agents k8s FILE... --tier TIER`: Kubernetes manifests for agents.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `cim-leaf agents k8s`.
#[derive(Debug, clap::Args)]
pub struct K8sArgs {
    /// Agent definition files.
    pub files: Vec<PathBuf>,
}

/// Runs `cim-leaf agents k8s`.
pub fn run(args: K8sArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("agents k8s ({} files) is not available yet", args.files.len())
}
