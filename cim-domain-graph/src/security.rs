//! Security settings of the graph and where secrets live (issue 13).
//!
//! Secrets never enter the graph, the Nix store or a generated file: only the paths of files
//! that hold them do. The paths below are the conventions the generated fleet uses; every
//! secret file is provisioned by the operator (sops-nix, agenix, a Kubernetes Secret, or by
//! hand) and read by the service at run time. See `docs/security.md`.

use serde::{Deserialize, Serialize};

/// Directory the generated fleet expects its secret files under (a tmpfs on NixOS, as sops-nix
/// and agenix use).
pub const SECRETS_DIR: &str = "/run/secrets/cim";

/// The NKey seed file of NATS identity `identity` (an agent's or a service node's name) on the
/// machine or container it runs in: `/run/secrets/cim/nats/<identity>.nk`. The file holds the
/// seed (`SU...`) on one line, as `cim-leaf keys generate` writes it. Services should be given
/// it as `NATS_NKEY_SEED_FILE` (the environment variable the lead's connection wiring sets).
pub fn nats_seed_path(identity: &str) -> String {
    format!("{SECRETS_DIR}/nats/{identity}.nk")
}

/// The password file of PostgreSQL user `user`: `/run/secrets/cim/postgres/<user>.password`,
/// one line. The database host reads it when PostgreSQL starts (to set the role's password);
/// a dependent service reads it as its password file (`PGPASSFILE` needs the `.pgpass` format,
/// so the service is given the plain file as `PGPASSWORD_FILE`).
pub fn postgres_password_path(user: &str) -> String {
    format!("{SECRETS_DIR}/postgres/{user}.password")
}

/// TLS of a message bus, from files on its host: one certificate and key for client
/// connections, cluster routes and leaf connections (nats-server's `tls`, `cluster.tls` and
/// `leafnodes.tls`). Only the paths enter the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsTlsSpec {
    /// PEM certificate (chain) of the server, e.g. `/run/secrets/nats/server.crt`.
    pub cert_file: String,
    /// PEM private key of that certificate, e.g. `/run/secrets/nats/server.key`.
    pub key_file: String,
    /// PEM CA bundle that signs the peers' certificates: cluster routes and leaf connections
    /// verify each other with it, and clients are verified with it when `verify_clients`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Whether clients must present a certificate signed by `ca_file` (mutual TLS).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verify_clients: bool,
}

impl NatsTlsSpec {
    /// Every `(field, path)` the spec holds.
    pub fn paths(&self) -> Vec<(&'static str, &str)> {
        let mut paths = vec![
            ("tls.cert_file", self.cert_file.as_str()),
            ("tls.key_file", self.key_file.as_str()),
        ];
        if let Some(ca) = &self.ca_file {
            paths.push(("tls.ca_file", ca.as_str()));
        }
        paths
    }
}

/// What is wrong with `path` as the path of a secret file, if anything: it must be absolute,
/// hold no whitespace, quotes or `$` (it is written into configuration verbatim), and not be
/// in the Nix store (everything there is world-readable).
pub fn secret_path_problem(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        Some("a secret file path must be absolute (e.g. under /run/secrets)")
    } else if path.starts_with("/nix/store") {
        Some("a secret file must not be in the Nix store, which every user can read")
    } else if path
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '$' | '\\'))
    {
        Some("a secret file path may not hold whitespace, quotes, `$` or `\\`")
    } else if path.split('/').any(|part| part == "..") {
        Some("a secret file path may not hold `..`")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions_are_under_the_secrets_directory() {
        assert_eq!(nats_seed_path("alice"), "/run/secrets/cim/nats/alice.nk");
        assert_eq!(
            postgres_password_path("app"),
            "/run/secrets/cim/postgres/app.password"
        );
        assert_eq!(secret_path_problem(&nats_seed_path("alice")), None);
    }

    #[test]
    fn store_relative_and_odd_paths_are_refused() {
        for bad in [
            "run/secrets/x",
            "/nix/store/abc-key",
            "/run/secrets/a b",
            "/run/secrets/${x}",
            "/run/../etc/shadow",
        ] {
            assert!(secret_path_problem(bad).is_some(), "{bad}");
        }
    }
}
