//! The flags every command that connects to NATS takes to authenticate.

use std::path::PathBuf;

use cim_leaf::nats_client::NatsClientAuth;

/// How the command authenticates to NATS (`docs/security.md`): an agent with its own seed,
/// the operator tools (`deploy`, `serve`, `tasks serve`) with the `_operator` seed that
/// `cim-leaf keys generate` writes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NatsAuthArgs {
    /// NKey seed file to authenticate with (`SU...`, as `cim-leaf keys generate` writes it).
    #[arg(long, value_name = "PATH", conflicts_with = "nats_creds")]
    pub nkey_seed: Option<PathBuf>,
    /// NATS credentials file (user JWT and seed) to authenticate with.
    #[arg(long, value_name = "PATH")]
    pub nats_creds: Option<PathBuf>,
    /// PEM CA certificate that signs the NATS server's certificate; TLS is then required.
    #[arg(long, value_name = "PATH")]
    pub nats_ca: Option<PathBuf>,
}

impl NatsAuthArgs {
    /// The credentials these flags name.
    pub fn auth(&self) -> NatsClientAuth {
        NatsClientAuth {
            nkey_seed: self.nkey_seed.clone(),
            creds: self.nats_creds.clone(),
            ca: self.nats_ca.clone(),
        }
    }
}
