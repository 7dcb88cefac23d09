//! Deployment graphs: describe a fleet as hosts, services, databases, NATS servers, load
//! balancers, agents, storage and monitoring joined by typed edges; validate it, reporting every
//! problem at once; change it through an event-sourced aggregate; translate it into a flake.
//!
//! - [`GraphDocument`] is the YAML/JSON file format (see [`document`]); it builds a
//!   [`DeploymentGraph`] (a petgraph `StableGraph` with unique node names).
//! - [`validate_deployment_graph`] finds cycles (with their path), bad endpoints, placement,
//!   port, mount and capacity problems and unusable names, as [`ValidationErrors`].
//! - [`aggregate::DeploymentGraphAggregate`] is the cqrs-es aggregate (add/update/remove node,
//!   connect, disconnect, place on host, validate, approve), generic over the event store.
//! - [`translate`] holds [`translate::GraphToNixTranslator`], the per-kind
//!   [`translate::NodeTranslator`]s in a [`translate::NodeTranslatorRegistry`] that tools extend,
//!   and [`translate::FlakeTranslator`], which renders a [`translate::NixDeploymentSpec`]:
//!   `flake.nix`, `hosts/<host>.nix` and `modules/<name>.nix`, byte-identical for the same graph.
//!
//! ```
//! use cim_domain_graph::GraphDocument;
//! use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator};
//!
//! let graph = GraphDocument::from_yaml_str(r#"
//! hosts:
//!   - { name: edge-1, addresses: [10.0.0.5] }
//! nodes:
//!   - { name: api, type: service, host: edge-1, command: "sleep infinity", port: 8080 }
//!   - { name: db, type: database, host: edge-1, databases: [api], users: [api] }
//! edges:
//!   - { from: api, to: db, type: depends_on }
//! "#)?.to_graph()?;
//! let spec = FlakeTranslator::default().translate_graph(&graph)?;
//! spec.check_syntax()?;
//! let host = spec.file("hosts/edge-1.nix").unwrap_or_default();
//! assert!(host.contains(r#"requires = [ "postgresql.service" ];"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod aggregate;
pub mod document;
mod edge;
mod graph;
pub mod input;
mod name;
mod node;
pub mod security;
pub mod settings;
pub mod translate;
mod validate;

pub use cim_gpu::DeclaredGpu;
pub use cim_naming::input::{InputError, MAX_INPUT_BYTES, read_input};
pub use document::{DocumentError, EdgeEntry, GraphDocument, HostEntry, NodeEntry};
pub use edge::DeploymentEdgeType;
pub use graph::{DeploymentGraph, EdgeView, GraphError};
pub use name::{MAX_NAME_LEN, name_problem, node_name_problem};
pub use node::{
    AcmeAccount, AgentSpec, DatabaseSpec, DeploymentNode, DeploymentNodeType, Exporter, HostSpec,
    LoadBalancerSpec, MessageBusSpec, MonitoringSpec, Resources, ServiceSpec, StorageSource,
    StorageSpec, Tls,
};
pub use settings::FlakeSettings;
pub use validate::{ValidationError, ValidationErrors, validate_deployment_graph};
