use std::path::PathBuf;

/// Why the test harness could not provide a running `nats-server`.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// Neither `NATS_SERVER_BIN` nor `PATH` names a `nats-server` binary.
    #[error(
        "no nats-server binary found: set NATS_SERVER_BIN or put nats-server (2.11+) on PATH \
         (`. scripts/install-test-tools` installs one)"
    )]
    BinaryNotFound,
    /// The binary exists but is older than the harness needs.
    #[error("{path} is nats-server {found}; 2.11 or newer is required")]
    BinaryTooOld {
        /// The binary that was found.
        path: PathBuf,
        /// The version it reported.
        found: String,
    },
    /// `nats-server --version` printed something the harness could not read.
    #[error("could not read the version of {path}: {output:?}")]
    UnreadableVersion {
        /// The binary that was asked.
        path: PathBuf,
        /// What it printed.
        output: String,
    },
    /// A filesystem or process operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What the harness was doing.
        action: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The server did not report healthy in time (its log tail is included).
    #[error("nats-server {name} did not become ready within {waited_ms} ms; log tail:\n{log_tail}")]
    NotReady {
        /// The node's server name.
        name: String,
        /// How long the harness waited.
        waited_ms: u128,
        /// The last lines of the server log.
        log_tail: String,
    },
    /// The server process exited while the harness waited for it.
    #[error("nats-server {name} exited early ({status}); log tail:\n{log_tail}")]
    Exited {
        /// The node's server name.
        name: String,
        /// Its exit status.
        status: String,
        /// The last lines of the server log.
        log_tail: String,
    },
    /// Connecting a client to the server failed.
    #[error("connecting a client to {url}: {source}")]
    Connect {
        /// Where the client tried to connect.
        url: String,
        /// The client error.
        source: async_nats::ConnectError,
    },
    /// `CIM_NATS_SYNC` holds something that is not a sync policy.
    #[error("CIM_NATS_SYNC={text:?}: {source}")]
    InvalidSync {
        /// The variable's value.
        text: String,
        /// Why it does not parse.
        source: crate::JetStreamError,
    },
    /// The monitoring endpoint did not answer with what the harness expected.
    #[error("nats-server {name}: cannot read its monitoring endpoint: {detail}")]
    Monitoring {
        /// The node's server name.
        name: String,
        /// What went wrong.
        detail: String,
    },
    /// Configuration given to [`NatsServerBuilder`](super::NatsServerBuilder) is unusable.
    #[error("test server configuration: {detail}")]
    Config {
        /// What is wrong.
        detail: String,
    },
    /// A node index outside the cluster was asked for.
    #[error("the cluster has {size} nodes; node {index} does not exist")]
    NoSuchNode {
        /// The index asked for.
        index: usize,
        /// The cluster size.
        size: usize,
    },
}

impl HarnessError {
    pub(crate) fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }
}
