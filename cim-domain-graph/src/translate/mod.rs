//! Translation of a validated graph into Nix files.
//!
//! [`GraphToNixTranslator`] is the whole-graph interface; [`FlakeTranslator`] implements it by
//! asking one [`NodeTranslator`] per node kind, found in a [`NodeTranslatorRegistry`], to
//! contribute to the [`HostModule`] of the node's host, then adding what edges mean and
//! rendering a [`NixDeploymentSpec`]. All Nix goes through `cim-domain-nix`'s expression tree
//! and printer.
//!
//! What the built-in translators emit:
//! - `service`: `systemd.services.<name>`, built with `cim-domain-nix`'s `SystemdService`
//!   (`ExecStart`, `DynamicUser`, environment, the default hardening: `NoNewPrivileges`,
//!   `ProtectSystem = "strict"`, `ProtectHome`, `PrivateTmp`; `CPUQuota`/`MemoryMax` from
//!   resources via `Resources::limits`).
//! - `database`: `services.postgresql` with `ensureDatabases`/`ensureUsers` for the declared
//!   names and for every node that `depends_on` it (a database and an owning role named after
//!   that node); TCP and `pg_hba` lines for clients on other hosts.
//! - `message_bus`: `services.nats` (the `NatsServer` builder) with JetStream; `replicates` peers become
//!   `settings.cluster.routes`, a `connects_to` another message bus a
//!   `settings.leafnodes.remotes` entry (the hub opens `settings.leafnodes.port`).
//! - `load_balancer`: an nginx upstream of every service it `load_balances` and a virtual host
//!   proxying to it; its port is opened.
//! - `storage`: `fileSystems."<mount point>"` (a device, or a bind mount).
//! - `monitoring`: Prometheus with a scrape job per exporter, and the exporters enabled on every
//!   host it `manages` (directly or through a node on it); hosts with NVIDIA GPUs also get the
//!   `nvidia-gpu` exporter.
//! - hosts with NVIDIA GPUs: the driver stack ([`nvidia`]).
//! - Darwin hosts (`system: aarch64-darwin`): `darwinConfigurations.<host>` with nix-darwin;
//!   message buses and agents as launchd daemons, other kinds refused ([`darwin`]).
//! - edges, whatever the kinds: `depends_on` on one host → `after` + `requires`;
//!   `connects_to`/`load_balances`/`publishes_to`/`subscribes_to` from another host → the port
//!   opened on the target's host, and only then; `mounts_volume` → `RequiresMountsFor`.
//!
//! ```
//! use cim_domain_graph::GraphDocument;
//! use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator};
//!
//! let graph = GraphDocument::from_yaml_str(r#"
//! hosts: [{ name: web-1, addresses: [10.0.0.10] }]
//! nodes:
//!   - { name: hello, type: service, host: web-1, package: hello, port: 8080 }
//! "#)?.to_graph()?;
//! let spec = FlakeTranslator::default().translate_graph(&graph)?;
//! let host = spec.file("hosts/web-1.nix").unwrap_or_default();
//! assert!(host.contains("systemd.services.hello"));
//! assert!(spec.file("flake.nix").unwrap_or_default().contains("nixosConfigurations"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builtin;
pub mod connections;
mod context;
pub mod darwin;
mod edges;
mod error;
mod flake;
mod host_module;
pub mod nats_auth;
mod node_translator;
pub mod nvidia;
pub mod output;
mod spec;

pub use builtin::{MessageBusTranslator, PASSWORD_UNIT, ServiceTranslator};
pub use context::TranslationContext;
pub use edges::connection_port;
pub use error::TranslationError;
pub use flake::{COMMON_MODULE, FlakeTranslator};
pub use host_module::{HostModule, HostModules};
pub use node_translator::{NodeTranslator, NodeTranslatorRegistry};
pub use spec::NixDeploymentSpec;

use crate::graph::DeploymentGraph;

/// Turns a deployment graph into Nix files.
pub trait GraphToNixTranslator {
    /// Validates `graph` and renders its files; invalid graphs give
    /// [`TranslationError::Invalid`] with every problem, and translator failures of several
    /// nodes come back together ([`TranslationError::Nodes`]).
    fn translate_graph(
        &self,
        graph: &DeploymentGraph,
    ) -> Result<NixDeploymentSpec, TranslationError>;

    /// Checks that `graph` can be translated: it is valid and every node's kind has a
    /// translator. Every problem is reported at once.
    fn validate_deployment_graph(&self, graph: &DeploymentGraph) -> Result<(), TranslationError>;
}
