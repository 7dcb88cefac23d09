//! The `cim-leaf` command line: translate deployment graphs, validate and deploy agent
//! definitions, and inspect GPUs. Each subcommand group lives in its own module under `cli/`.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Describe a fleet as a graph, coordinate its agents over NATS, and emit a deployable flake.
#[derive(Debug, Parser)]
#[command(name = "cim-leaf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a deployment graph (YAML or JSON) and translate it into a flake.
    Translate(cli::translate::TranslateArgs),
    /// Validate, show and deploy agent definitions.
    #[command(subcommand)]
    Agents(cli::agents::AgentsCommand),
    /// Inspect the GPUs of this machine.
    #[command(subcommand)]
    Gpu(cli::gpu::GpuCommand),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Translate(args) => cli::translate::run(args),
        Command::Agents(command) => cli::agents::run(command),
        Command::Gpu(command) => cli::gpu::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
