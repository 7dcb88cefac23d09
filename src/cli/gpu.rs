//! `cim-leaf gpu ...`.

use std::process::ExitCode;

/// Subcommands of `cim-leaf gpu`.
#[derive(Debug, clap::Subcommand)]
pub enum GpuCommand {
    /// Show the GPUs of this machine.
    Inventory,
}

/// Runs `cim-leaf gpu ...`.
pub fn run(command: GpuCommand) -> anyhow::Result<ExitCode> {
    match command {
        GpuCommand::Inventory => anyhow::bail!("gpu inventory is not available yet"),
    }
}
