//! Deployment output for agents:
//! - [`nixos`]: declarative containers `containers.cim-agent-<name>` running the
//!   `services.cim-agent` module (shipped in `nix/modules/agent.nix` and exported by the
//!   repository's flake as `nixosModules.agent`), one module per `deployment.target_node`;
//! - [`AgentNodeTranslator`]: the same containers from `agent` nodes of a deployment graph,
//!   and on Darwin hosts launchd daemons of their own users ([`darwin`]);
//! - [`k8s`]: Kubernetes manifests sized by a named tier.
//!
//! Every generator starts from [`AgentSource`]s (a validated definition plus its file's text,
//! which deployments ship so the runtime can read it) and [`DeployOverrides`] that the operator
//! sets for the whole deployment; [`AgentSettings`] is what one agent ends up with.
//!
//! ```
//! use cim_domain_agent::deploy::k8s::{KubeOptions, TierCatalog, manifests_to_yaml, to_kube_manifests};
//! use cim_domain_agent::deploy::{AgentSource, DeployOverrides};
//!
//! let sage = AgentSource::from_markdown("---\nname: sage\nversion: 1.0.0\n---\nGuide.\n", "sage.md")?;
//! let options = KubeOptions {
//!     tier: "standard".to_owned(),
//!     image: "cim-leaf:0.1.0".to_owned(),
//!     overrides: DeployOverrides::default(),
//! };
//! let manifests = to_kube_manifests(&[sage], &TierCatalog::builtin()?, &options)?;
//! let yaml = manifests_to_yaml(&manifests)?;
//! assert!(yaml.starts_with("apiVersion: v1\nkind: Namespace\n"));
//! assert!(yaml.contains("name: cim-agent-sage\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod darwin;
mod endpoint;
mod error;
mod graph;
pub mod k8s;
pub mod nixos;
mod settings;
mod source;

pub use endpoint::Endpoint;
pub use error::DeployError;
pub use graph::{AgentNodeTranslator, PlacedAgent};
pub use settings::{AgentSettings, DEFAULT_NATS_URL, DeployOverrides};
pub use source::AgentSource;
