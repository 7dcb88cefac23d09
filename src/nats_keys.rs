//! NATS identities' keys: NKey seeds in files only their owner reads, and the public keys the
//! translation writes into every bus's `authorization.users` (issue 13, `docs/security.md`).
//!
//! `cim-leaf keys generate GRAPH --dir DIR` ([`generate`]) writes, for every identity of the
//! graph ([`nats_clients`](cim_domain_graph::translate::nats_auth::nats_clients)):
//! - `DIR/<identity>.nk`: the user seed (`SU...`) on one line, created with mode 0600 and never
//!   overwritten: an existing seed file is kept as it is and its public key used;
//! - `DIR/nats-public-keys.json` ([`PUBLIC_KEYS_FILE`]): `{ "<identity>": "U..." }`, the only
//!   file the translation reads ([`PublicKeys::read`]). It holds no secret.
//!
//! The seeds are then installed on the machines at
//! [`nats_seed_path`](cim_domain_graph::security::nats_seed_path) (sops-nix, agenix, a
//! Kubernetes Secret); they never enter the graph, the Nix store or a generated file.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use nkeys::{KeyPair, KeyPairType};

/// The identity of the fleet's operator tools (`cim-leaf deploy`, `serve`, `tasks serve`): the
/// process that opens proposals, counts the votes and records deployments. `keys generate`
/// always writes its seed (`DIR/_operator.nk`); with its key, every bus accepts it with full
/// permissions (it administers the coordination streams). The leading `_` keeps it apart from
/// node names, which start with a letter.
pub const OPERATOR_IDENTITY: &str = "_operator";

/// The public keys file inside a keys directory.
pub const PUBLIC_KEYS_FILE: &str = "nats-public-keys.json";

/// The most bytes of a public keys or seed file read back; larger ones are refused.
pub const MAX_KEY_FILE_BYTES: u64 = 4 << 20;

/// Why keys could not be generated or read.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// A file could not be read, created or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The public keys file is not a JSON object of identity names to strings.
    #[error("{}: not a public keys file ({reason})", path.display())]
    NotKeysFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key is not a public user NKey (`U...`).
    #[error("the NATS key of `{identity}` is not a public user NKey (U...): {reason}")]
    BadPublicKey {
        /// The identity.
        identity: String,
        /// What is wrong.
        reason: String,
    },
    /// An existing seed file does not hold a user seed; it is left untouched.
    #[error(
        "{} exists but does not hold a NATS user seed (SU...); it is left as it is: remove it to generate a new one",
        path.display()
    )]
    BadSeedFile {
        /// The file.
        path: PathBuf,
    },
    /// An identity name cannot be a file name.
    #[error("`{identity}` cannot name a seed file")]
    BadIdentity {
        /// The identity.
        identity: String,
    },
    /// Generating a key pair failed.
    #[error("generating the NKey of `{identity}`: {reason}")]
    Generate {
        /// The identity.
        identity: String,
        /// What failed.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeysError + '_ {
    move |source| KeysError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The public user NKeys of a fleet's NATS identities, by identity name. Holds no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicKeys(BTreeMap<String, String>);

impl PublicKeys {
    /// Keys from `identity -> public key`, each checked to be a valid public user NKey (so a
    /// seed given by mistake is refused, not written into the configuration).
    ///
    /// # Errors
    /// [`KeysError::BadPublicKey`] for the first key that is not one.
    pub fn new(keys: BTreeMap<String, String>) -> Result<Self, KeysError> {
        for (identity, key) in &keys {
            check_public_user_key(key).map_err(|reason| KeysError::BadPublicKey {
                identity: identity.clone(),
                reason,
            })?;
        }
        Ok(Self(keys))
    }

    /// Reads a public keys file ([`PUBLIC_KEYS_FILE`] as [`generate`] writes it).
    ///
    /// # Errors
    /// [`KeysError::Io`], [`KeysError::NotKeysFile`] or [`KeysError::BadPublicKey`].
    pub fn read(path: &Path) -> Result<Self, KeysError> {
        let text = read_bounded(path)?;
        let keys: BTreeMap<String, String> =
            serde_json::from_str(&text).map_err(|e| KeysError::NotKeysFile {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        Self::new(keys)
    }

    /// The public key of `identity`.
    pub fn get(&self, identity: &str) -> Option<&str> {
        self.0.get(identity).map(String::as_str)
    }

    /// Every identity and its key, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(i, k)| (i.as_str(), k.as_str()))
    }

    /// The file's JSON text: `{ "<identity>": "U..." }`, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.0).unwrap_or_default()
    }
}

fn check_public_user_key(key: &str) -> Result<(), String> {
    if !key.starts_with('U') {
        return Err("it does not start with U".to_owned());
    }
    let pair = KeyPair::from_public_key(key).map_err(|e| e.to_string())?;
    if pair.key_pair_type() != KeyPairType::User {
        return Err("it is not a user key".to_owned());
    }
    Ok(())
}

fn read_bounded(path: &Path) -> Result<String, KeysError> {
    use std::io::Read as _;
    let file = fs::File::open(path).map_err(io(path))?;
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io(path))?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(KeysError::NotKeysFile {
            path: path.to_owned(),
            reason: format!("larger than {MAX_KEY_FILE_BYTES} bytes"),
        });
    }
    Ok(text)
}

/// The seed file of `identity` in the keys directory `dir`: `dir/<identity>.nk`.
pub fn seed_file(dir: &Path, identity: &str) -> PathBuf {
    dir.join(format!("{identity}.nk"))
}

/// What [`generate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    /// Identities whose seed file was created.
    pub created: Vec<String>,
    /// Identities whose existing seed file was kept as it is.
    pub kept: Vec<String>,
    /// The public keys of every identity, as written to [`PUBLIC_KEYS_FILE`].
    pub keys: PublicKeys,
}

/// Makes sure every identity in `identities` has a seed file in `dir` (created with mode
/// 0600; an existing one is kept and must hold a user seed), then writes the public keys of
/// exactly these identities to `dir/`[`PUBLIC_KEYS_FILE`]. `dir` is created (mode 0700) when
/// missing.
///
/// # Errors
/// [`KeysError`]: an identity that cannot name a file, an existing seed file that is not a
/// user seed, or an I/O failure. Seed files created before the failure stay.
pub fn generate(identities: &[String], dir: &Path) -> Result<Generated, KeysError> {
    create_private_dir(dir)?;
    let mut generated = Generated::default();
    let mut keys = BTreeMap::new();
    for identity in identities {
        let bad_name = identity.is_empty()
            || identity.starts_with('.')
            || identity.contains(['/', '\\', '\0']);
        if bad_name {
            return Err(KeysError::BadIdentity {
                identity: identity.clone(),
            });
        }
        let path = seed_file(dir, identity);
        let public = match fs::symlink_metadata(&path) {
            Ok(_) => {
                let text = read_bounded(&path)?;
                let pair = KeyPair::from_seed(text.trim())
                    .ok()
                    .filter(|p| p.key_pair_type() == KeyPairType::User)
                    .ok_or_else(|| KeysError::BadSeedFile { path: path.clone() })?;
                generated.kept.push(identity.clone());
                pair.public_key()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pair = KeyPair::new_user();
                let seed = pair.seed().map_err(|e| KeysError::Generate {
                    identity: identity.clone(),
                    reason: e.to_string(),
                })?;
                write_new_private(&path, format!("{seed}\n").as_bytes())?;
                generated.created.push(identity.clone());
                pair.public_key()
            }
            Err(e) => return Err(io(&path)(e)),
        };
        keys.insert(identity.clone(), public);
    }
    generated.keys = PublicKeys::new(keys)?;
    let public_path = dir.join(PUBLIC_KEYS_FILE);
    let staged = dir.join(format!(".{PUBLIC_KEYS_FILE}.tmp"));
    fs::write(&staged, generated.keys.to_json() + "\n").map_err(io(&staged))?;
    fs::rename(&staged, &public_path).map_err(io(&public_path))?;
    Ok(generated)
}

fn create_private_dir(dir: &Path) -> Result<(), KeysError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io(dir))
}

/// Creates `path` (failing if anything is there, a symlink included) with mode 0600 and
/// writes `bytes`.
fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), KeysError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_refused_as_public_keys() {
        let pair = KeyPair::new_user();
        let seed = pair.seed().unwrap_or_default();
        let keys = BTreeMap::from([("a".to_owned(), seed)]);
        assert!(matches!(
            PublicKeys::new(keys),
            Err(KeysError::BadPublicKey { .. })
        ));
        let server = KeyPair::new_server().public_key();
        let keys = BTreeMap::from([("a".to_owned(), server)]);
        assert!(PublicKeys::new(keys).is_err());
    }
}
