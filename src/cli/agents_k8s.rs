//! `cim-leaf agents k8s FILE... --tier TIER`: Kubernetes manifests for agents, as one YAML stream
//! on stdout (`kubectl apply -f -` ready).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cim_domain_agent::definition::LogLevel;
use cim_domain_agent::deploy::k8s::{
    KubeOptions, TierCatalog, manifests_to_yaml, to_kube_manifests,
};
use cim_domain_agent::deploy::{AgentSource, DeployOverrides};

/// Arguments of `cim-leaf agents k8s`.
#[derive(Debug, clap::Args)]
pub struct K8sArgs {
    /// Agent definition files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Resource tier: small, standard, large or gpu (or one from `--tiers`).
    #[arg(long, default_value = "standard")]
    pub tier: String,
    /// A YAML tier catalog to use instead of the built-in one.
    #[arg(long)]
    pub tiers: Option<PathBuf>,
    /// Container image that provides `cim-leaf`.
    #[arg(long, default_value = concat!("cim-leaf:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// NATS server for every agent, instead of each definition's `nats.url`.
    #[arg(long)]
    pub nats_url: Option<String>,
    /// Ollama endpoint for every agent, instead of each definition's `model.ollama.url`.
    #[arg(long)]
    pub ollama_url: Option<String>,
    /// Log level for every agent (trace, debug, info, warn, error).
    #[arg(long, value_parser = parse_log_level)]
    pub log_level: Option<LogLevel>,
    /// Agents authenticate to NATS with their NKey seeds, from a Secret you create per agent:
    /// `kubectl -n cim-agent-NAME create secret generic cim-agent-NAME-nats
    /// --from-file=seed=KEYS/NAME.nk` (see docs/security.md).
    #[arg(long)]
    pub nats_nkey_seeds: bool,
}

fn parse_log_level(text: &str) -> Result<LogLevel, String> {
    LogLevel::parse(text).ok_or_else(|| format!("expected one of {}", LogLevel::ALLOWED))
}

/// Runs `cim-leaf agents k8s`: invalid agent files are reported one problem per line on stderr
/// and nothing is printed to stdout.
pub fn run(args: K8sArgs) -> anyhow::Result<ExitCode> {
    let mut agents = Vec::new();
    let mut failed = false;
    for file in &args.files {
        match AgentSource::read(file) {
            Ok(agent) => agents.push(agent),
            Err(error) => {
                failed = true;
                for line in error.lines() {
                    eprintln!("{line}");
                }
            }
        }
    }
    if failed {
        return Ok(ExitCode::FAILURE);
    }
    let tiers = match &args.tiers {
        Some(path) => {
            let text = cim_domain_graph::read_input(path)
                .with_context(|| format!("reading tier catalog {}", path.display()))?;
            TierCatalog::from_yaml(&text, &path.display().to_string())?
        }
        None => TierCatalog::builtin()?,
    };
    let options = KubeOptions {
        tier: args.tier,
        image: args.image,
        overrides: DeployOverrides {
            nats_url: args.nats_url,
            ollama_url: args.ollama_url,
            log_level: args.log_level,
            nats_nkey_seeds: args.nats_nkey_seeds,
            ..DeployOverrides::default()
        },
    };
    let manifests = to_kube_manifests(&agents, &tiers, &options)?;
    print!("{}", manifests_to_yaml(&manifests)?);
    Ok(ExitCode::SUCCESS)
}
