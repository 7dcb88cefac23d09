//! `cim-leaf deploy GRAPH --out DIR [--nats URL] [--protocol P] [--json]`: the deployment
//! pipeline (`cim_leaf::pipeline`). The fleet's agents review the graph, vote, and when the
//! proposal passes the GPUs are allocated, the files checked and written, and the deployment
//! recorded in every agent's knowledge replica.
//!
//! Progress goes to stderr: a spinner per step on a terminal, one plain line per step
//! otherwise. The summary (or, with `--json`, one JSON object) goes to stdout. Exit status: 0
//! approved, 2 rejected (nothing written; the blocking findings are listed), 1 failed (the
//! graph has problems, a step failed).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use cim_agent_coordination::consensus::{Protocol, Threshold};
use cim_leaf::pipeline::{
    AgentParticipation, DeployReport, EmbeddedBackend, NatsBackend, Pipeline, PipelineError,
    PipelineOptions, Progress, Step, StepReport,
};
use indicatif::{ProgressBar, ProgressStyle};

use super::flake::FlakeArgs;
use super::nats_auth::NatsAuthArgs;
use serde_json::json;

/// How votes decide.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ProtocolArg {
    /// Every agent votes for (a blocking finding or a missing vote rejects).
    Unanimous,
    /// More for than against.
    Majority,
    /// At least two thirds of the votes cast are for.
    TwoThirds,
}

impl From<ProtocolArg> for Protocol {
    fn from(arg: ProtocolArg) -> Self {
        match arg {
            ProtocolArg::Unanimous => Protocol::Unanimous,
            ProtocolArg::Majority => Protocol::SimpleMajority,
            ProtocolArg::TwoThirds => Protocol::QualifiedMajority(Threshold::at_least(2, 3)),
        }
    }
}

/// Arguments of `cim-leaf deploy`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The deployment graph file (YAML, or JSON when it ends in `.json`).
    pub graph: PathBuf,
    /// Directory to write `flake.nix`, `hosts/` and `modules/` into when approved.
    #[arg(long)]
    pub out: PathBuf,
    /// Run over this NATS server (JetStream) instead of in process.
    #[arg(long)]
    pub nats: Option<String>,
    /// The agents run as their own `cim-leaf agents run` processes on the `--nats` server:
    /// wait up to this many seconds for each to register, send its review and show the
    /// deployment, instead of running them in this process.
    #[arg(long, value_name = "SECS", requires = "nats", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub remote_agents: Option<u64>,
    /// How the agents' votes decide.
    #[arg(long, value_enum, default_value = "unanimous")]
    pub protocol: ProtocolArg,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// The flake settings.
    #[command(flatten)]
    pub flake: FlakeArgs,
    /// How to authenticate to the `--nats` server (the `_operator` seed on a keyed bus).
    #[command(flatten)]
    pub nats_auth: NatsAuthArgs,
}

/// The pipeline's options from the flags `deploy` and `serve` share: the protocol, the flake
/// settings, and with `--remote-agents SECS` agent runtimes in other processes, waited for up
/// to SECS at each step.
pub fn pipeline_options(
    protocol: ProtocolArg,
    remote_agents: Option<u64>,
    flake: &FlakeArgs,
) -> PipelineOptions {
    let mut options = PipelineOptions {
        protocol: protocol.into(),
        ..PipelineOptions::default()
    };
    options.fleet.flake = flake.settings();
    if let Some(secs) = remote_agents {
        let wait = Duration::from_secs(secs);
        options.agents = AgentParticipation::Remote { wait };
        options.replica_timeout = wait;
    }
    options
}

/// Runs `cim-leaf deploy`.
pub fn run(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let options = pipeline_options(args.protocol, args.remote_agents, &args.flake);
    let progress = StepProgress::new(!args.json);
    let result = runtime.block_on(async {
        match &args.nats {
            None => {
                let pipeline = Pipeline::new(EmbeddedBackend::embedded()?, options);
                Ok(pipeline.deploy(&args.graph, &args.out, &progress).await)
            }
            Some(url) => {
                let backend = NatsBackend::connect_with(url, &args.nats_auth.auth()).await?;
                let pipeline = Pipeline::new(backend, options);
                Ok::<_, anyhow::Error>(pipeline.deploy(&args.graph, &args.out, &progress).await)
            }
        }
    })?;
    progress.clear();
    match result {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report_json(&args, &report)?)?
                );
            } else {
                println!("graph {}", args.graph.display());
                println!("{report}");
            }
            Ok(if report.approved() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Err(error) => {
            if args.json {
                let value = json!({
                    "status": "failed",
                    "graph": super::shown(&args.graph),
                    "message": error.to_string(),
                    "step": failed_step(&error),
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                eprintln!("error: {}: {error}", args.graph.display());
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

fn report_json(args: &DeployArgs, report: &DeployReport) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(report)?;
    if let serde_json::Value::Object(fields) = &mut value {
        let status = if report.approved() {
            "approved"
        } else {
            "rejected"
        };
        fields.insert("status".to_owned(), status.into());
        fields.insert("graph".to_owned(), json!(super::shown(&args.graph)));
        fields.insert("out".to_owned(), json!(super::shown(&args.out)));
    }
    Ok(value)
}

/// The step a pipeline error comes from, for `--json`.
fn failed_step(error: &PipelineError) -> &'static str {
    match error {
        PipelineError::Load(_) | PipelineError::NoAgents | PipelineError::Nix(_) => "load",
        PipelineError::Registry(_) | PipelineError::AgentsMissing { .. } => "register",
        PipelineError::Consensus(_) | PipelineError::Undecided(_) => "decide",
        PipelineError::Dialog(_) | PipelineError::Transport(_) => "discuss",
        PipelineError::Gpu(_) | PipelineError::Events(_) => "allocate-gpus",
        PipelineError::Translate(_) => "write",
        PipelineError::Knowledge(_) | PipelineError::NotPropagated { .. } => "record",
    }
}

/// Progress on stderr: a spinner per step on a terminal, plain lines otherwise, nothing when
/// quiet.
struct StepProgress {
    enabled: bool,
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl StepProgress {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            terminal: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    fn clear(&self) {
        if let Some(bar) = self.bar.lock().ok().and_then(|mut bar| bar.take()) {
            bar.finish_and_clear();
        }
    }
}

impl Progress for StepProgress {
    fn started(&self, step: Step) {
        if !self.enabled || !self.terminal {
            return;
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(step.name());
        bar.enable_steady_tick(Duration::from_millis(80));
        if let Ok(mut current) = self.bar.lock() {
            *current = Some(bar);
        }
    }

    fn finished(&self, report: &StepReport) {
        if !self.enabled {
            return;
        }
        let line = format!(
            "{:<14} {:>9.1} ms  {}",
            report.step.name(),
            report.millis,
            report.detail
        );
        match self.bar.lock().ok().and_then(|mut bar| bar.take()) {
            Some(bar) => bar.finish_with_message(line),
            None => eprintln!("{line}"),
        }
    }
}
