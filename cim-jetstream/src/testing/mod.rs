//! Real `nats-server` processes for tests: one server or a three-node JetStream cluster on
//! loopback, each node with its own temporary store directory, killed when dropped.
//!
//! The binary comes from `NATS_SERVER_BIN`, else from `PATH`; it must be 2.11 or newer (the batch
//! direct get that loads aggregates quickly arrived in 2.11). `scripts/install-test-tools` installs
//! a pinned one.
//!
//! Servers sync their stores as `CIM_NATS_SYNC` says (`always`, or an interval such as `2m`;
//! unset: nats-server's default of two minutes), so one test suite runs under either policy;
//! `start_with_sync` fixes the policy for a test that depends on it.

mod binary;
mod cluster;
mod custom;
mod error;
mod node;

pub use cluster::NatsCluster;
pub use custom::{HARNESS_KEYS, NatsServerBuilder};
pub use error::HarnessError;
pub use node::NatsServer;

use crate::SyncPolicy;

/// The environment variable that picks the sync policy of [`NatsServer::start`] and
/// [`NatsCluster::start`].
pub const SYNC_ENV: &str = "CIM_NATS_SYNC";

/// The sync policy test servers start with: `CIM_NATS_SYNC` parsed by [`SyncPolicy::parse`], or
/// [`SyncPolicy::SERVER_DEFAULT`] when it is unset or empty.
pub fn harness_sync_policy() -> Result<SyncPolicy, HarnessError> {
    match std::env::var(SYNC_ENV) {
        Ok(text) if !text.trim().is_empty() => {
            SyncPolicy::parse(&text).map_err(|source| HarnessError::InvalidSync { text, source })
        }
        _ => Ok(SyncPolicy::SERVER_DEFAULT),
    }
}
