//! Node kinds of a deployment graph and what each one declares.

use std::collections::BTreeMap;

use cim_gpu::{DeclaredGpu, DeclaredInventory};
use serde::{Deserialize, Serialize};

/// A named node of a deployment graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentNode {
    /// Unique name; it becomes a NixOS attribute name, a systemd unit and a container name.
    pub name: String,
    /// What the node is and what it declares.
    pub node_type: DeploymentNodeType,
}

impl DeploymentNode {
    /// A node called `name` of type `node_type`.
    pub fn new(name: impl Into<String>, node_type: DeploymentNodeType) -> Self {
        Self {
            name: name.into(),
            node_type,
        }
    }
}

/// What a node is. The file format writes it as `type: <snake_case variant>` next to its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeploymentNodeType {
    /// A NixOS machine; every other node runs on exactly one host.
    Host(HostSpec),
    /// A systemd service.
    Service(ServiceSpec),
    /// A PostgreSQL server with its databases and users.
    Database(DatabaseSpec),
    /// A NATS server, alone, as a cluster member or as a leaf node.
    MessageBus(MessageBusSpec),
    /// An nginx virtual host in front of services.
    LoadBalancer(LoadBalancerSpec),
    /// An agent, translated by the translator a tool registers for the `agent` kind.
    Agent(AgentSpec),
    /// A volume or a bind mount.
    Storage(StorageSpec),
    /// A Prometheus server that scrapes exporters on the hosts it manages.
    Monitoring(MonitoringSpec),
    /// A kind defined by a tool; its translator is registered under `kind`.
    Custom {
        /// The registry key of the translator for this node.
        kind: String,
        /// Free-form configuration read by that translator.
        #[serde(default)]
        config: serde_json::Value,
        /// Ports the node listens on, checked for conflicts on its host.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ports: Vec<u16>,
        /// CPU and memory the node reserves on its host.
        #[serde(default, skip_serializing_if = "Resources::is_empty")]
        resources: Resources,
    },
}

/// CPU and memory a node reserves on its host; checked against the host's capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Thousandths of a CPU core (`500` is half a core).
    #[serde(default)]
    pub cpu_millis: u32,
    /// Memory in MiB.
    #[serde(default)]
    pub memory_mb: u64,
}

impl Resources {
    /// True when nothing is reserved.
    pub fn is_empty(&self) -> bool {
        self.cpu_millis == 0 && self.memory_mb == 0
    }

    /// The systemd limits of the reservation (`CPUQuota`, `MemoryMax`), computed in one place
    /// for every kind, agents included.
    pub fn limits(&self) -> cim_domain_nix::ResourceLimits {
        cim_domain_nix::ResourceLimits::reservation(self.cpu_millis, self.memory_mb)
    }
}

/// A NixOS machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// The Nix system double, such as `x86_64-linux`.
    #[serde(default = "default_system")]
    pub system: String,
    /// Addresses other hosts use to reach this one; the first is preferred. When empty the host
    /// name is used, which relies on DNS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// CPU cores available to the nodes placed here; `None` skips the over-commit check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<u32>,
    /// Memory in MiB available to the nodes placed here; `None` skips the over-commit check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// GPUs installed in the host, in the allocator's declaration format (`cim_gpu::DeclaredGpu`:
    /// `model`, `compute_capability` for NVIDIA, optional `memory_mb`, `count`, `uuids`).
    /// NVIDIA GPUs are numbered `/dev/nvidia0`, `/dev/nvidia1`, ... in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<DeclaredGpu>,
    /// `system.stateVersion` of the machine: the NixOS release (`YY.MM`) it was first
    /// installed with, or nix-darwin's integer on a Darwin host. `None` keeps the one the host
    /// was generated with before, else takes the graph's `flake.state_version` (see
    /// [`FlakeSettings`](crate::FlakeSettings)); never change it under an installed host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<String>,
}

impl HostSpec {
    /// The `system.stateVersion` a NixOS host is generated with: its own, else `settings`'
    /// for hosts that set none ([`FlakeSettings::state_version`](crate::FlakeSettings)).
    pub fn nixos_state_version<'a>(&'a self, settings: &'a crate::FlakeSettings) -> &'a str {
        self.state_version
            .as_deref()
            .unwrap_or_else(|| settings.state_version())
    }

    /// The number of GPUs the host declares.
    pub fn gpu_count(&self) -> u64 {
        self.gpus.iter().map(DeclaredGpu::device_count).sum()
    }

    /// The host's GPUs as the allocator's declared inventory of host `host`.
    pub fn gpu_inventory(&self, host: &str) -> DeclaredInventory {
        DeclaredInventory {
            host: host.to_owned(),
            gpus: self.gpus.clone(),
            source_name: format!("host `{host}`"),
        }
    }
}

impl Default for HostSpec {
    fn default() -> Self {
        Self {
            system: default_system(),
            addresses: Vec::new(),
            cpu_cores: None,
            memory_mb: None,
            gpus: Vec::new(),
            state_version: None,
        }
    }
}

fn default_system() -> String {
    "x86_64-linux".to_owned()
}

/// A systemd service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Attribute path in nixpkgs (`pkgs.<package>`) whose main program the service runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Command line to run; with `package`, it runs from that package's `bin/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Port the service listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Environment variables of the service.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// CPU and memory the service reserves (becomes `CPUQuota` and `MemoryMax`).
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
}

/// A PostgreSQL server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    /// Port PostgreSQL listens on.
    #[serde(default = "default_postgres_port")]
    pub port: u16,
    /// Databases to create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<String>,
    /// Roles to create; a role named like a database owns it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// CPU and memory PostgreSQL reserves.
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
}

impl Default for DatabaseSpec {
    fn default() -> Self {
        Self {
            port: default_postgres_port(),
            databases: Vec::new(),
            users: Vec::new(),
            resources: Resources::default(),
        }
    }
}

fn default_postgres_port() -> u16 {
    5432
}

/// A NATS server. `Replicates` edges between message buses form a cluster; a `ConnectsTo` edge
/// from one message bus to another makes the first a leaf node of the second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageBusSpec {
    /// Client port.
    #[serde(default = "default_nats_port")]
    pub port: u16,
    /// Port cluster routes use.
    #[serde(default = "default_nats_cluster_port")]
    pub cluster_port: u16,
    /// Port leaf nodes connect to; opened only when some leaf connects here.
    #[serde(default = "default_nats_leaf_port")]
    pub leaf_port: u16,
    /// HTTP monitoring port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_port: Option<u16>,
    /// Whether JetStream is on.
    #[serde(default = "default_true")]
    pub jetstream: bool,
    /// JetStream's disk sync (`settings.jetstream.sync_interval`): `always` (the default: every
    /// acknowledged commit is on disk, as with PostgreSQL's default commit) or a duration such
    /// as `120s` (faster appends; a power loss can lose up to one interval of acknowledged
    /// commits). See `docs/event-store-durability.md`.
    #[serde(
        default = "default_sync_interval",
        skip_serializing_if = "is_default_sync_interval"
    )]
    pub sync_interval: String,
    /// Leaf-node remotes outside the graph (URLs such as `nats-leaf://hub.example:7422`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaf_remotes: Vec<String>,
    /// CPU and memory the server reserves.
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    /// TLS for client, cluster route and leaf connections, from certificate and key file
    /// paths (see `docs/graph-format.md`, "Message bus security"); plaintext when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::security::NatsTlsSpec>,
    /// Credentials file this server presents to the hubs it joins as a leaf node (a path, e.g.
    /// `/run/secrets/cim/nats/leaf.creds`; never the credentials themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_credentials: Option<String>,
}

impl Default for MessageBusSpec {
    fn default() -> Self {
        Self {
            port: default_nats_port(),
            cluster_port: default_nats_cluster_port(),
            leaf_port: default_nats_leaf_port(),
            monitoring_port: None,
            jetstream: true,
            sync_interval: default_sync_interval(),
            leaf_remotes: Vec::new(),
            resources: Resources::default(),
            tls: None,
            leaf_credentials: None,
        }
    }
}

fn default_sync_interval() -> String {
    "always".to_owned()
}

fn is_default_sync_interval(value: &str) -> bool {
    value == "always"
}

fn default_nats_port() -> u16 {
    4222
}

fn default_nats_cluster_port() -> u16 {
    6222
}

fn default_nats_leaf_port() -> u16 {
    7422
}

fn default_true() -> bool {
    true
}

/// An nginx virtual host; `LoadBalances` edges name its upstream services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerSpec {
    /// Port nginx listens on.
    #[serde(default = "default_http_port")]
    pub port: u16,
    /// Server name of the virtual host; the node name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// HTTPS on `port`, with plain HTTP on [`Tls::http_port`] redirected to it; `None` serves
    /// plain HTTP (refused on port 443).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
}

impl Default for LoadBalancerSpec {
    fn default() -> Self {
        Self {
            port: default_http_port(),
            server_name: None,
            tls: None,
        }
    }
}

/// TLS of a load balancer: a certificate from an ACME CA (`acme`), or certificate and key
/// files already on the host (`certificate` and `key`); exactly one of the two. Only paths are
/// written, never key material, so nothing secret enters the Nix store (nginx reads the files at
/// start; sops-nix or agenix can put them under `/run/secrets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Obtain and renew the certificate from an ACME CA (NixOS `security.acme` and the virtual
    /// host's `enableACME`), by the HTTP-01 challenge on port 80.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeAccount>,
    /// Absolute path of a PEM certificate chain on the host (nginx's `sslCertificate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Absolute path of its private key, outside `/nix/store` (`sslCertificateKey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The plain-HTTP port redirected to HTTPS (nginx's `forceSSL`); ACME's HTTP-01 challenge
    /// needs it to be 80.
    #[serde(default = "default_http_port")]
    pub http_port: u16,
}

/// The ACME account a load balancer's certificate is requested with (`security.acme`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeAccount {
    /// The account's contact address (`security.acme.defaults.email`).
    pub email: String,
    /// That the operator accepts the CA's terms of service (`security.acme.acceptTerms`); it
    /// must be `true`, as NixOS requires it to be set by a person.
    pub accept_terms: bool,
    /// The ACME directory URL (`security.acme.defaults.server`; default Let's Encrypt's
    /// production directory), e.g. its staging directory while testing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

fn default_http_port() -> u16 {
    80
}

/// An agent. The graph checks its placement and resources; `cim-domain-agent` translates it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Reference to the agent definition (a path such as `agents/planner.md`, or an id).
    pub definition: String,
    /// CPU and memory the agent reserves.
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    /// Whole GPUs the agent needs on its host, each its own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpus: u32,
    /// Instead of whole GPUs, a share of one GPU's memory in MiB, which other agents' shares
    /// may use the rest of: on a Mac its unified memory (Metal), on an NVIDIA host a GPU whose
    /// device the agents' containers share (no isolation between them). Granted by the
    /// allocator within its allocatable part of the GPU's declared `memory_mb`. Excludes `gpus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_mb: Option<u64>,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// A volume or bind mount that nodes reach through `MountsVolume` edges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    /// Where it is mounted on the host.
    pub mount_point: String,
    /// What is mounted.
    pub source: StorageSource,
    /// Whether it is mounted read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// What a storage node mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StorageSource {
    /// A block device with a file system.
    Volume {
        /// The device, such as `/dev/disk/by-label/data`.
        device: String,
        /// The file system type, such as `ext4`.
        fs_type: String,
    },
    /// A directory of the host bound to another place.
    Bind {
        /// The directory that is bound.
        path: String,
    },
}

/// A Prometheus server. `Manages` edges name what it watches: a host, or a node (meaning its host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringSpec {
    /// Port Prometheus listens on.
    #[serde(default = "default_prometheus_port")]
    pub port: u16,
    /// Exporters enabled on each watched host.
    #[serde(default = "default_exporters")]
    pub exporters: Vec<Exporter>,
}

impl Default for MonitoringSpec {
    fn default() -> Self {
        Self {
            port: default_prometheus_port(),
            exporters: default_exporters(),
        }
    }
}

fn default_prometheus_port() -> u16 {
    9090
}

fn default_exporters() -> Vec<Exporter> {
    vec![Exporter::Node]
}

/// A Prometheus exporter the monitoring translator knows how to enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exporter {
    /// Host metrics (`services.prometheus.exporters.node`), on every watched host.
    Node,
    /// PostgreSQL metrics, on watched hosts that run a database.
    Postgres,
}

impl Exporter {
    /// The port the exporter listens on (the NixOS module's default).
    pub fn port(self) -> u16 {
        match self {
            Self::Node => 9100,
            Self::Postgres => 9187,
        }
    }

    /// The exporter's attribute name under `services.prometheus.exporters`.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Node => "node",
            Self::Postgres => "postgres",
        }
    }
}

impl DeploymentNodeType {
    /// The registry key of this node's translator: the snake_case type, or a custom `kind`.
    pub fn kind(&self) -> &str {
        match self {
            Self::Host(_) => "host",
            Self::Service(_) => "service",
            Self::Database(_) => "database",
            Self::MessageBus(_) => "message_bus",
            Self::LoadBalancer(_) => "load_balancer",
            Self::Agent(_) => "agent",
            Self::Storage(_) => "storage",
            Self::Monitoring(_) => "monitoring",
            Self::Custom { kind, .. } => kind,
        }
    }

    /// True for hosts, the only nodes that are not placed on a host.
    pub fn is_host(&self) -> bool {
        matches!(self, Self::Host(_))
    }

    /// CPU and memory the node reserves on its host.
    pub fn resources(&self) -> Resources {
        match self {
            Self::Service(spec) => spec.resources,
            Self::Database(spec) => spec.resources,
            Self::MessageBus(spec) => spec.resources,
            Self::Agent(spec) => spec.resources,
            Self::Custom { resources, .. } => *resources,
            Self::Host(_) | Self::LoadBalancer(_) | Self::Storage(_) | Self::Monitoring(_) => {
                Resources::default()
            }
        }
    }

    /// The port other nodes reach when a `ConnectsTo` edge names none.
    pub fn primary_port(&self) -> Option<u16> {
        match self {
            Self::Service(spec) => spec.port,
            Self::Database(spec) => Some(spec.port),
            Self::MessageBus(spec) => Some(spec.port),
            Self::LoadBalancer(spec) => Some(spec.port),
            Self::Monitoring(spec) => Some(spec.port),
            Self::Custom { ports, .. } => ports.first().copied(),
            Self::Host(_) | Self::Agent(_) | Self::Storage(_) => None,
        }
    }

    /// Every port the node listens on, checked for conflicts on its host. Exporter ports are
    /// not included: they belong to the watched host, not to the monitoring node.
    pub fn listen_ports(&self) -> Vec<u16> {
        match self {
            Self::MessageBus(spec) => {
                let mut ports = vec![spec.port, spec.cluster_port, spec.leaf_port];
                ports.extend(spec.monitoring_port);
                ports
            }
            Self::Custom { ports, .. } => ports.clone(),
            Self::LoadBalancer(LoadBalancerSpec {
                port,
                tls: Some(tls),
                ..
            }) => vec![*port, tls.http_port],
            other => other.primary_port().into_iter().collect(),
        }
    }
}
