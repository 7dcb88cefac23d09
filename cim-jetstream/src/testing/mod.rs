//! Real `nats-server` processes for tests: one server or a three-node JetStream cluster on
//! loopback, each node with its own temporary store directory, killed when dropped.
//!
//! The binary comes from `NATS_SERVER_BIN`, else from `PATH`; it must be 2.11 or newer (the batch
//! direct get that loads aggregates quickly arrived in 2.11). `scripts/install-test-tools` installs
//! a pinned one.

mod binary;
mod cluster;
mod error;
mod node;

pub use cluster::NatsCluster;
pub use error::HarnessError;
pub use node::NatsServer;
