//! The `cim-leaf` command line: translate and deploy deployment graphs, validate and deploy
//! agent definitions, coordinate tasks, and inspect GPUs. Each subcommand group lives in its own module under `cli/`.

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
    /// Review, agree and deploy a graph: the fleet's agents vote on it; when it passes, GPUs are
    /// allocated, the flake written and the deployment recorded in their shared knowledge.
    Deploy(cli::deploy::DeployArgs),
    /// Serve deployments over NATS (`cim.deployment.{deploy,update,scale,gpu-agent}`): each
    /// request changes the graph and the agents review and approve it like `deploy`.
    Serve(cli::serve::ServeArgs),
    /// Submit, list, show and cancel tasks; `serve` runs the coordinator.
    #[command(subcommand)]
    Tasks(cli::tasks::TasksCommand),
    /// NATS identities' keys: seeds kept as 0600 files, public keys for the translation.
    #[command(subcommand)]
    Keys(cli::keys::KeysCommand),
}

fn main() -> ExitCode {
    init_logging();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    let result = match cli.command {
        Command::Translate(args) => cli::translate::run(args),
        Command::Agents(command) => cli::agents::run(command),
        Command::Gpu(command) => cli::gpu::run(command),
        Command::Tasks(command) => cli::tasks::run(command),
        Command::Deploy(args) => cli::deploy::run(args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Keys(command) => cli::keys::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// A command line clap refuses. With `--json` anywhere on it, the one JSON object promised is
/// printed (`{"status": "usage", "message": ...}`, exit 2); help and version print as usual.
fn usage_error(error: &clap::Error) -> ExitCode {
    let wants_json = std::env::args_os().any(|arg| arg == "--json");
    let help = matches!(
        error.kind(),
        clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayVersion
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !wants_json || help {
        error.exit()
    }
    let message = error.render().to_string();
    let value = serde_json::json!({ "status": "usage", "message": message.trim_end() });
    match serde_json::to_string_pretty(&value) {
        Ok(text) => println!("{text}"),
        Err(_) => println!("{{\"status\": \"usage\"}}"),
    }
    ExitCode::from(2)
}

/// Logs go to stderr, filtered by `RUST_LOG`; `CIM_LOG_FORMAT=json` (what the `services.cim-agent`
/// module and the Kubernetes Deployment set by default) switches to one JSON object per line so
/// journald and log shippers get structured fields.
fn init_logging() {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr);
    match std::env::var("CIM_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().init(),
        _ => builder.init(),
    }
}
