//! `cim-leaf agents ...`: validate and show agent definitions, print their Kubernetes
//! manifests, and run one agent (the runtime the NixOS module's `ExecStart` starts).

mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cim_domain_agent::definition::{AgentDefinition, Loaded, load_agent_file, validate_paths};

use super::{agents_k8s, agents_ls};

/// Subcommands of `cim-leaf agents`.
#[derive(Debug, clap::Subcommand)]
pub enum AgentsCommand {
    /// Validate agent definition files or directories (every `.md` below a directory); prints
    /// one line per file, or one per problem, and fails if any file is invalid. Files with no
    /// front matter at all (READMEs, notes) are listed as skipped.
    Validate {
        /// Files or directories of agent definitions.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Count files with no front matter as failures instead of skipping them.
        #[arg(long)]
        strict: bool,
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
        AgentsCommand::Validate { paths, strict } => Ok(validate(&paths, strict)),
        AgentsCommand::Show { file, json } => show(&file, json),
        AgentsCommand::K8s(args) => agents_k8s::run(args),
        AgentsCommand::Run(args) => run::run(args),
        AgentsCommand::Ls(args) => agents_ls::run(args),
    }
}

fn validate(paths: &[PathBuf], strict: bool) -> ExitCode {
    let mut failed = false;
    for report in validate_paths(paths) {
        for warning in &report.warnings {
            println!("{warning}");
        }
        let skipped = report.is_skipped();
        match report.result {
            Ok(definition) => println!(
                "{}: ok ({} {})",
                report.path.display(),
                definition.name,
                definition.version_text()
            ),
            Err(_) if skipped && !strict => println!(
                "{}: skipped (no front matter; not an agent file)",
                report.path.display()
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
    let definition = match load_agent_file(file) {
        Ok(Loaded {
            definition,
            warnings,
        }) => {
            for warning in warnings {
                eprintln!("{warning}");
            }
            definition
        }
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
        println!("version:      {}", definition.version_text());
        println!("capabilities: {}", definition.capabilities.join(", "));
        println!("model:        {}", model_line(&definition));
        if let Some(preference) = preference_line(&definition) {
            println!("preference:   {preference}");
        }
        let tools = match &definition.tools {
            None => "all (no `tools` key)".to_owned(),
            Some(tools) if tools.is_empty() => "none (`tools` is empty)".to_owned(),
            Some(tools) => tools.join(", "),
        };
        println!("tools:        {tools}");
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

/// What `model:` says: the alias (`opus`), or the model named by a `model:` mapping with its
/// provider; `model_preferences` are shown on their own line.
fn model_line(definition: &AgentDefinition) -> String {
    let model = &definition.model;
    if let Some(alias) = &model.alias {
        return alias.clone();
    }
    let from_preferences =
        model.preferences.model.is_some() && model.name == model.preferences.model;
    match (&model.name, &model.provider) {
        (Some(name), Some(provider)) if !from_preferences => format!("{name} ({provider})"),
        (Some(name), None) if !from_preferences => name.clone(),
        _ => "-".to_owned(),
    }
}

/// `model_preferences` as written: `sonnet (provider anthropic)`.
fn preference_line(definition: &AgentDefinition) -> Option<String> {
    let preferences = &definition.model.preferences;
    match (&preferences.model, &preferences.provider) {
        (Some(model), Some(provider)) => Some(format!("{model} (provider {provider})")),
        (Some(model), None) => Some(model.clone()),
        (None, Some(provider)) => Some(format!("provider {provider}")),
        (None, None) => None,
    }
}
