//! `services.nats`: the NATS server module of NixOS, with the option names it really has.
//!
//! `jetstream` is a boolean and the store is `dataDir`; cluster routes, leaf-node remotes and
//! the monitoring port have no options of their own and go into `settings` (the server's JSON
//! configuration): `settings.cluster`, `settings.leafnodes.remotes`, `settings.http_port`.

use crate::attrs::AttrSet;
use crate::error::NixError;
use crate::expr::{Expr, attrs, list};
use crate::nixos::module::NixosModule;

/// A NATS cluster this server routes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsCluster {
    /// `settings.cluster.name`
    pub name: String,
    /// `settings.cluster.port`, the route listener.
    pub port: u16,
    /// `settings.cluster.routes`, e.g. `nats://10.0.0.2:6222`.
    pub routes: Vec<String>,
}

/// `services.nats` for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsServer {
    server_name: Option<String>,
    port: u16,
    jetstream: bool,
    data_dir: Option<String>,
    sync_interval: Option<String>,
    cluster: Option<NatsCluster>,
    leaf_remotes: Vec<String>,
    leaf_port: Option<u16>,
    monitoring_port: Option<u16>,
}

impl Default for NatsServer {
    fn default() -> Self {
        Self {
            server_name: None,
            port: 4222,
            jetstream: false,
            data_dir: None,
            sync_interval: None,
            cluster: None,
            leaf_remotes: Vec::new(),
            leaf_port: None,
            monitoring_port: None,
        }
    }
}

fn nonzero(option: &str, port: u16) -> Result<u16, NixError> {
    if port == 0 {
        Err(NixError::InvalidOptionValue {
            option: option.to_owned(),
            value: "0".to_owned(),
            reason: "ports are 1 to 65535",
        })
    } else {
        Ok(port)
    }
}

fn nats_url(option: &str, url: &str) -> Result<String, NixError> {
    let ok = [
        "nats://",
        "nats-route://",
        "nats-leaf://",
        "tls://",
        "ws://",
        "wss://",
    ]
    .iter()
    .any(|scheme| url.len() > scheme.len() && url.starts_with(scheme))
        && !url.contains(char::is_whitespace);
    if ok {
        Ok(url.to_owned())
    } else {
        Err(NixError::InvalidOptionValue {
            option: option.to_owned(),
            value: url.to_owned(),
            reason: "expected a nats://, nats-route://, nats-leaf://, tls://, ws:// or wss:// URL without spaces",
        })
    }
}

impl NatsServer {
    /// A server on port 4222 without JetStream.
    pub fn new() -> Self {
        Self::default()
    }

    /// `serverName`.
    #[must_use]
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// `port` (client connections).
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for port 0.
    pub fn port(mut self, port: u16) -> Result<Self, NixError> {
        self.port = nonzero("services.nats.port", port)?;
        Ok(self)
    }

    /// `jetstream = true`, storing streams under `dataDir` (NixOS default `/var/lib/nats`).
    #[must_use]
    pub fn jetstream(mut self, data_dir: Option<String>) -> Self {
        self.jetstream = true;
        self.data_dir = data_dir;
        self
    }

    /// How often JetStream forces its store to disk (`settings.jetstream.sync_interval`):
    /// `always` (fsync before every acknowledgement) or a whole duration such as `500ms`, `120s`,
    /// `2m` or `1h`. Written only when JetStream is on; unset means nats-server's default (`2m`).
    /// What each choice survives is in `docs/event-store-durability.md`.
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for anything else.
    pub fn jetstream_sync_interval(mut self, value: &str) -> Result<Self, NixError> {
        let option = "services.nats.settings.jetstream.sync_interval";
        let invalid = |reason| NixError::InvalidOptionValue {
            option: option.to_owned(),
            value: value.to_owned(),
            reason,
        };
        if value != "always" {
            let split = value
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| invalid("a duration needs a unit: ms, s, m or h"))?;
            let (number, unit) = value.split_at(split);
            if number.is_empty() || number.bytes().all(|b| b == b'0') {
                return Err(invalid(
                    "`always` or a positive whole duration such as 120s",
                ));
            }
            if !matches!(unit, "ms" | "s" | "m" | "h") {
                return Err(invalid("a duration's unit is ms, s, m or h"));
            }
        }
        self.sync_interval = Some(value.to_owned());
        Ok(self)
    }

    /// Routes to a cluster (`settings.cluster`).
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for port 0 or a route that is not a NATS URL.
    pub fn cluster(mut self, cluster: NatsCluster) -> Result<Self, NixError> {
        nonzero("services.nats.settings.cluster.port", cluster.port)?;
        for route in &cluster.routes {
            nats_url("services.nats.settings.cluster.routes", route)?;
        }
        self.cluster = Some(cluster);
        Ok(self)
    }

    /// Connects as a leaf node to `url` (`settings.leafnodes.remotes`).
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] when `url` is not a NATS URL.
    pub fn leaf_remote(mut self, url: &str) -> Result<Self, NixError> {
        self.leaf_remotes
            .push(nats_url("services.nats.settings.leafnodes.remotes", url)?);
        Ok(self)
    }

    /// Accepts leaf-node connections on `port` (`settings.leafnodes.port`).
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for port 0.
    pub fn leaf_listen(mut self, port: u16) -> Result<Self, NixError> {
        self.leaf_port = Some(nonzero("services.nats.settings.leafnodes.port", port)?);
        Ok(self)
    }

    /// Serves monitoring on `port` (`settings.http_port`).
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for port 0.
    pub fn monitoring(mut self, port: u16) -> Result<Self, NixError> {
        self.monitoring_port = Some(nonzero("services.nats.settings.http_port", port)?);
        Ok(self)
    }

    /// The value of `services.nats`.
    pub fn to_expr(&self) -> Expr {
        let mut nats = AttrSet::new();
        nats.insert("enable", true);
        if let Some(name) = &self.server_name {
            nats.insert("serverName", name.as_str());
        }
        nats.insert("port", self.port);
        nats.insert("jetstream", self.jetstream);
        if let Some(dir) = &self.data_dir {
            nats.insert("dataDir", dir.as_str());
        }
        if let (true, Some(every)) = (self.jetstream, &self.sync_interval) {
            nats.insert(["settings", "jetstream", "sync_interval"], every.as_str());
        }
        if let Some(cluster) = &self.cluster {
            nats.insert(
                ["settings", "cluster"],
                attrs([
                    ("name", cluster.name.as_str().into()),
                    ("port", cluster.port.into()),
                    ("routes", list(cluster.routes.iter())),
                ]),
            );
        }
        if !self.leaf_remotes.is_empty() {
            let remotes = self
                .leaf_remotes
                .iter()
                .map(|url| attrs([("url", url.as_str().into())]));
            nats.insert(["settings", "leafnodes", "remotes"], list(remotes));
        }
        if let Some(port) = self.leaf_port {
            nats.insert(["settings", "leafnodes", "port"], port);
        }
        if let Some(port) = self.monitoring_port {
            nats.insert(["settings", "http_port"], port);
        }
        Expr::AttrSet(nats)
    }

    /// Sets `services.nats` in `module`.
    pub fn apply_to(&self, module: &mut NixosModule) {
        module.set(["services", "nats"], self.to_expr());
    }
}
