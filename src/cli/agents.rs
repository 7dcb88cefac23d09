//! `cim-leaf agents ...`: validate and show agent definitions, print their Kubernetes
//! manifests, and run one agent (the runtime the NixOS module's `ExecStart` starts).

mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cim_domain_agent::definition::{parse_agent_file, validate_paths};

use super::{agents_k8s, agents_ls};

/// Subcommands of `cim-leaf agents`.
#[derive(Debug, clap::Subcommand)]
pub enum AgentsCommand {
    /// Validate agent definition files or directories (every `.md` below a directory); prints
    /// one line per file, or one per problem, and fails if any file is invalid.
    Validate {
        /// Files or directories of agent definitions.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the normalised definition of one agent file.
    Show {
        /// The agent definition file.
        file: PathBuf,
        /// Print the full normalised definition as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Print Kubernetes manifests (YAML) for agents.
    K8s(agents_k8s::K8sArgs),
    /// Run one agent: load its file, connect to NATS, register and heartbeat until SIGTERM.
    Run(run::RunArgs),
    /// List the registered agents with their presence (the registry bucket on NATS).
    Ls(agents_ls::LsArgs),
}

/// Runs `cim-leaf agents ...`.
pub fn run(command: AgentsCommand) -> anyhow::Result<ExitCode> {
    match command {
        AgentsCommand::Validate { paths } => Ok(validate(&paths)),
        AgentsCommand::Show { file, json } => show(&file, json),
        AgentsCommand::K8s(args) => agents_k8s::run(args),
        AgentsCommand::Run(args) => run::run(args),
        AgentsCommand::Ls(args) => agents_ls::run(args),
    }
}

fn validate(paths: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for report in validate_paths(paths) {
        match report.result {
            Ok(definition) => println!(
                "{}: ok ({} {})",
                report.path.display(),
                definition.name,
                definition.version
            ),
            Err(error) => {
                failed = true;
                for line in error.lines() {
                    println!("{line}");
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn show(file: &PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let definition = match parse_agent_file(file) {
        Ok(definition) => definition,
        Err(error) => {
            for line in error.lines() {
                eprintln!("{line}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    if json {
        let text = serde_json::to_string_pretty(&definition)
            .context("serialising the normalised definition")?;
        println!("{text}");
    } else {
        println!("name:         {}", definition.name);
        println!("id:           {}", definition.id);
        println!("display name: {}", definition.display_name);
        println!("version:      {}", definition.version);
        println!("capabilities: {}", definition.capabilities.join(", "));
        let model = definition
            .model
            .name
            .as_ref()
            .or(definition.model.alias.as_ref());
        println!("model:        {}", model.map_or("-", String::as_str));
        let node = definition.deployment.target_node.as_deref();
        println!("target node:  {}", node.unwrap_or("-"));
        let sections: Vec<&str> = definition
            .system_prompt
            .sections
            .iter()
            .map(|s| s.heading.as_str())
            .collect();
        println!("sections:     {}", sections.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
