//! Deployment graphs: describe a fleet as hosts, services, databases, NATS servers, load
//! balancers, agents, storage and monitoring joined by typed edges; validate it (every problem
//! at once); change it through an event-sourced aggregate; translate it into a flake.
//!
//! ```
//! use cim_domain_graph::{GraphDocument, validate_deployment_graph};
//!
//! let graph = GraphDocument::from_yaml_str(r#"
//! hosts:
//!   - name: edge-1
//! nodes:
//!   - { name: api, type: service, host: edge-1, command: "sleep infinity", port: 8080 }
//!   - { name: db, type: database, host: edge-1, databases: [api], users: [api] }
//! edges:
//!   - { from: api, to: db, type: depends_on }
//! "#)?.to_graph()?;
//! validate_deployment_graph(&graph)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod aggregate;
pub mod document;
mod edge;
mod graph;
mod name;
mod node;
pub mod translate;
mod validate;

pub use document::{DocumentError, EdgeEntry, GraphDocument, HostEntry, NodeEntry};
pub use edge::DeploymentEdgeType;
pub use graph::{DeploymentGraph, EdgeView, GraphError};
pub use name::{MAX_NAME_LEN, name_problem};
pub use node::{
    AgentSpec, DatabaseSpec, DeploymentNode, DeploymentNodeType, Exporter, GpuSpec, HostSpec,
    LoadBalancerSpec, MessageBusSpec, MonitoringSpec, Resources, ServiceSpec, StorageSource,
    StorageSpec,
};
pub use validate::{ValidationError, ValidationErrors, validate_deployment_graph};
