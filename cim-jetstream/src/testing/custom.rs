//! A test server with configuration of the test's own: authorization, TLS, or whatever a
//! translator generated, on top of the harness's loopback ports and store.

use super::node::{NodeSpec, free_ports};
use super::{HarnessError, NatsServer};
use crate::SyncPolicy;

/// Top-level settings the harness writes itself (ports on loopback, the store, the name); a
/// settings object passed to [`NatsServerBuilder::settings`] keeps its other keys.
pub const HARNESS_KEYS: &[&str] = &[
    "server_name",
    "port",
    "listen",
    "host",
    "http",
    "http_port",
    "monitor_port",
    "jetstream",
    "log_file",
    "cluster",
];

/// Builds a [`NatsServer`] with extra configuration.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use cim_jetstream::testing::NatsServer;
/// let settings = serde_json::json!({ "authorization": { "users": [] } });
/// let server = NatsServer::builder().settings(&settings)?.start().await?;
/// # drop(server); Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct NatsServerBuilder {
    sync: Option<SyncPolicy>,
    extra: String,
}

impl NatsServerBuilder {
    /// The disk-sync policy (default: [`harness_sync_policy`](super::harness_sync_policy)).
    #[must_use]
    pub fn sync(mut self, sync: SyncPolicy) -> Self {
        self.sync = Some(sync);
        self
    }

    /// Appends `text` (nats-server configuration syntax) to the server's configuration file.
    #[must_use]
    pub fn config(mut self, text: &str) -> Self {
        self.extra.push_str(text);
        self.extra.push('\n');
        self
    }

    /// Appends every top-level key of `settings` (a JSON object, as NixOS renders
    /// `services.nats.settings`) except [`HARNESS_KEYS`]: `"key": <JSON value>` lines, which
    /// nats-server's configuration syntax accepts as they are.
    ///
    /// # Errors
    /// [`HarnessError::Config`] when `settings` is not a JSON object.
    pub fn settings(mut self, settings: &serde_json::Value) -> Result<Self, HarnessError> {
        let object = settings.as_object().ok_or_else(|| HarnessError::Config {
            detail: format!("settings must be a JSON object, not {settings}"),
        })?;
        for (key, value) in object {
            if HARNESS_KEYS.contains(&key.as_str()) {
                continue;
            }
            self.extra.push_str(&format!(
                "{}: {value}\n",
                serde_json::Value::from(key.as_str())
            ));
        }
        Ok(self)
    }

    /// Starts the server on free loopback ports and waits until its monitoring endpoint
    /// reports it healthy.
    ///
    /// # Errors
    /// [`HarnessError`] when the binary is missing, the server exits (a configuration it
    /// refuses: the error holds its log) or does not get ready.
    pub async fn start(self) -> Result<NatsServer, HarnessError> {
        let [port, monitor_port] = free_ports::<2>()?;
        let sync = match self.sync {
            Some(sync) => sync,
            None => super::harness_sync_policy()?,
        };
        let spec = NodeSpec {
            name: "cim-test".to_string(),
            port,
            monitor_port,
            cluster: None,
            sync,
            extra: self.extra,
        };
        let mut server = NatsServer::create(spec)?;
        server.spawn()?;
        server.wait_ready().await?;
        Ok(server)
    }
}

impl NatsServer {
    /// A builder for a server with configuration of the test's own.
    pub fn builder() -> NatsServerBuilder {
        NatsServerBuilder::default()
    }
}
