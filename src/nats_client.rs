//! How a process of the fleet authenticates to NATS: with its NKey seed file or a credentials
//! file, over TLS when given the CA that signs the servers' certificates. `cim-leaf agents run`
//! takes these as `--nkey-seed`, `--nats-creds` and `--nats-ca`; the seed's file path follows
//! [`nats_seed_path`](cim_domain_graph::security::nats_seed_path) in deployed fleets.

use std::path::{Path, PathBuf};

use async_nats::ConnectOptions;

use crate::nats_keys::MAX_KEY_FILE_BYTES;

/// A client's NATS credentials: file paths only, read when connecting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatsClientAuth {
    /// NKey seed file (`SU...` on one line, as `cim-leaf keys generate` writes it).
    pub nkey_seed: Option<PathBuf>,
    /// Credentials file (a user JWT and its seed, as `nsc` writes it).
    pub creds: Option<PathBuf>,
    /// PEM CA certificate(s) that sign the server's certificate; TLS is then required.
    pub ca: Option<PathBuf>,
}

/// Why the credentials cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NatsClientAuthError {
    /// Both a seed and a credentials file were given.
    #[error("give an NKey seed file or a credentials file, not both")]
    Both,
    /// A file cannot be read.
    #[error("{}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The seed file does not hold a user seed (its content is never shown).
    #[error("{} does not hold a NATS user seed (SU...)", path.display())]
    NotASeed {
        /// The file.
        path: PathBuf,
    },
}

impl NatsClientAuth {
    /// `options` with these credentials: the seed signs the server's nonce (the seed stays in
    /// this process), or the credentials file is used; with a CA, TLS is required and the
    /// server verified against it.
    ///
    /// # Errors
    /// [`NatsClientAuthError`] when both are given, a file cannot be read, or the seed file
    /// holds no user seed.
    pub async fn apply(
        &self,
        mut options: ConnectOptions,
    ) -> Result<ConnectOptions, NatsClientAuthError> {
        match (&self.nkey_seed, &self.creds) {
            (Some(_), Some(_)) => return Err(NatsClientAuthError::Both),
            (Some(path), None) => options = options.nkey(read_seed(path)?),
            (None, Some(path)) => {
                options = options.credentials_file(path).await.map_err(|source| {
                    NatsClientAuthError::Unreadable {
                        path: path.clone(),
                        source,
                    }
                })?;
            }
            (None, None) => {}
        }
        if let Some(ca) = &self.ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        Ok(options)
    }
}

/// The user seed in `path` (trimmed), checked to be one.
fn read_seed(path: &Path) -> Result<String, NatsClientAuthError> {
    use std::io::Read as _;
    let unreadable = |source| NatsClientAuthError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    let seed = text.trim();
    let valid = seed.starts_with("SU")
        && nkeys::KeyPair::from_seed(seed)
            .is_ok_and(|pair| pair.key_pair_type() == nkeys::KeyPairType::User);
    if valid {
        Ok(seed.to_owned())
    } else {
        Err(NatsClientAuthError::NotASeed {
            path: path.to_owned(),
        })
    }
}
