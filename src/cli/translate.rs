//! `cim-leaf translate GRAPH --out DIR [--check] [--json]`: validate a deployment graph and write
//! its flake.
//!
//! Exit status 0 when the graph is valid (and written), 1 when it cannot be read, has problems
//! or cannot be written. With `--json` one JSON object goes to stdout whatever happens:
//! `status` is `valid`, `translated`, `unreadable`, `invalid` or `failed`; `invalid` carries
//! `problems`, each with a `problem` code, the nodes involved and a `message`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use cim_domain_graph::translate::TranslationError;
use cim_domain_graph::translate::nats_auth::nats_clients;
use cim_domain_graph::{DeploymentGraph, DeploymentNodeType, ValidationErrors};
use cim_leaf::{Fleet, FleetError, FleetOptions, NatsKeys};
use serde_json::{Value, json};

use super::flake::FlakeArgs;
use super::shown;

/// Arguments of `cim-leaf translate`.
#[derive(Debug, clap::Args)]
pub struct TranslateArgs {
    /// The deployment graph file (YAML, or JSON when it ends in `.json`).
    pub graph: PathBuf,
    /// Directory to write `flake.nix`, `hosts/` and `modules/` into.
    #[arg(long, required_unless_present = "check")]
    pub out: Option<PathBuf>,
    /// Only validate the graph; write nothing.
    #[arg(long)]
    pub check: bool,
    /// Print the outcome, problems included, as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Public NATS keys (`nats-public-keys.json` from `cim-leaf keys generate`): every message
    /// bus then requires NKey authentication, with permissions generated per identity. Without
    /// it the buses are open and a warning says so.
    #[arg(long, value_name = "FILE")]
    pub nats_keys: Option<PathBuf>,
    /// The flake settings.
    #[command(flatten)]
    pub flake: FlakeArgs,
}

/// Why the command did not succeed, kept apart so `--json` and text output report alike.
enum Failure {
    Unreadable(String),
    Invalid(ValidationErrors),
    Failed(String),
}

/// Runs `cim-leaf translate`.
pub fn run(args: TranslateArgs) -> anyhow::Result<ExitCode> {
    match translate(&args) {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", summary(&report));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            report_failure(&args, failure)?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn translate(args: &TranslateArgs) -> Result<Value, Failure> {
    // The graph, its agent definitions (relative to the graph file), the translators' checks
    // and GPU requests are all checked here, every problem at once.
    let mut options = FleetOptions {
        flake: args.flake.settings(),
        nats_keys: args
            .nats_keys
            .clone()
            .map_or(NatsKeys::Open, NatsKeys::File),
        ..FleetOptions::default()
    };
    if let Some(out) = args.out.as_deref() {
        options = options
            .for_output(out)
            .map_err(|error| Failure::Failed(error.to_string()))?;
    }
    let fleet = Fleet::load(&args.graph, options).map_err(|error| match error {
        FleetError::Unreadable(error) => Failure::Unreadable(error.to_string()),
        FleetError::Invalid(errors) => Failure::Invalid(errors),
        other => Failure::Failed(other.to_string()),
    })?;
    let has_bus = fleet
        .graph()
        .nodes()
        .any(|n| matches!(n.node_type, DeploymentNodeType::MessageBus(_)));
    if args.nats_keys.is_none() && has_bus && !nats_clients(fleet.graph()).is_empty() {
        eprintln!(
            "warning: no --nats-keys: the message buses accept any client that reaches them \
             (run `cim-leaf keys generate`, see docs/security.md)"
        );
    }
    let counts = counts(fleet.graph());
    // `--check` translates too, in memory, so a problem only translation finds fails the
    // check, not the later deploy.
    let spec = fleet.translate().map_err(failure)?;
    spec.check_syntax().map_err(failure)?;
    let Some(out) = args.out.as_deref().filter(|_| !args.check) else {
        return Ok(json!({ "status": "valid", "graph": shown(&args.graph), "counts": counts }));
    };
    spec.write_to(out).map_err(failure)?;
    let files: Vec<String> = spec.files().keys().map(|p| shown(&out.join(p))).collect();
    Ok(json!({
        "status": "translated",
        "graph": shown(&args.graph),
        "counts": counts,
        "out": shown(out),
        "files": files,
    }))
}

fn failure(error: TranslationError) -> Failure {
    match error {
        TranslationError::Invalid(errors) => Failure::Invalid(errors),
        other => Failure::Failed(other.to_string()),
    }
}

fn counts(graph: &DeploymentGraph) -> Value {
    let hosts = graph.nodes().filter(|n| n.node_type.is_host()).count();
    json!({
        "hosts": hosts,
        "nodes": graph.node_count() - hosts,
        "edges": graph.edge_count(),
    })
}

fn summary(report: &Value) -> String {
    let count = |key: &str| report["counts"][key].as_u64().unwrap_or_default();
    let shape = format!(
        "{} hosts, {} nodes, {} edges",
        count("hosts"),
        count("nodes"),
        count("edges")
    );
    let graph = report["graph"].as_str().unwrap_or_default();
    match report["files"].as_array() {
        Some(files) => {
            let out = report["out"].as_str().unwrap_or_default();
            format!("{graph}: {shape}; wrote {} files to {out}", files.len())
        }
        None => format!("{graph}: valid ({shape})"),
    }
}

fn report_failure(args: &TranslateArgs, failure: Failure) -> anyhow::Result<()> {
    let graph = args.graph.as_path();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&failure_json(graph, failure)?)?
        );
        return Ok(());
    }
    match failure {
        Failure::Unreadable(message) | Failure::Failed(message) => {
            eprintln!("error: {message}");
        }
        Failure::Invalid(errors) => eprintln!("error: {}: {errors}", graph.display()),
    }
    Ok(())
}

fn failure_json(graph: &Path, failure: Failure) -> anyhow::Result<Value> {
    Ok(match failure {
        Failure::Unreadable(message) => {
            json!({ "status": "unreadable", "graph": shown(graph), "message": message })
        }
        Failure::Failed(message) => {
            json!({ "status": "failed", "graph": shown(graph), "message": message })
        }
        Failure::Invalid(errors) => {
            let mut problems = Vec::new();
            for problem in errors.problems() {
                let mut value = serde_json::to_value(problem).context("serialising a problem")?;
                if let Value::Object(fields) = &mut value {
                    fields.insert("message".to_owned(), problem.to_string().into());
                }
                problems.push(value);
            }
            json!({ "status": "invalid", "graph": shown(graph), "problems": problems })
        }
    })
}
