//! `cim-leaf keys generate GRAPH --dir DIR`: an NKey seed file (mode 0600) for every NATS
//! identity of the graph, never overwriting one, and the public keys file the translation reads
//! (`cim-leaf translate GRAPH --nats-keys DIR/nats-public-keys.json`). See
//! [`cim_leaf::nats_keys`] and `docs/security.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cim_domain_graph::GraphDocument;
use cim_domain_graph::translate::nats_auth::nats_clients;
use cim_leaf::nats_keys::{OPERATOR_IDENTITY, PUBLIC_KEYS_FILE, generate};

use super::shown;

/// Subcommands of `cim-leaf keys`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Write a seed file per NATS identity (agents, services with an edge to a message bus)
    /// into DIR, keeping existing ones, and DIR/nats-public-keys.json.
    Generate(GenerateArgs),
}

/// Arguments of `cim-leaf keys generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The deployment graph file (YAML, or JSON when it ends in `.json`).
    pub graph: PathBuf,
    /// Directory for the seeds (created with mode 0700). Keep it out of the flake's directory
    /// and out of version control.
    #[arg(long)]
    pub dir: PathBuf,
}

/// Runs `cim-leaf keys ...`.
pub fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Generate(args) => {
            let document = GraphDocument::from_path(&args.graph)
                .with_context(|| format!("reading {}", shown(&args.graph)))?;
            let (graph, _) = document.to_graph_with_problems();
            let mut identities: Vec<String> =
                nats_clients(&graph).into_iter().map(|c| c.name).collect();
            // The operator tools' own identity, so deploy and serve reach a keyed bus.
            identities.push(OPERATOR_IDENTITY.to_owned());
            let generated = generate(&identities, &args.dir)?;
            println!(
                "{} NATS identities: {} seeds created, {} kept; public keys in {}",
                identities.len(),
                generated.created.len(),
                generated.kept.len(),
                shown(&args.dir.join(PUBLIC_KEYS_FILE)),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
