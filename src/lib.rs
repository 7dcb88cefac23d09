//! CIM Leaf as a library: [`Fleet`] loads a deployment graph with its agent definitions,
//! validates all of it at once, plans container addresses and GPU grants, and translates it
//! into Nix files. The `cim-leaf` command line, `examples/end_to_end.rs` and embedders all go
//! through it.
//!
//! ```no_run
//! use cim_leaf::{Fleet, FleetOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fleet = Fleet::load("examples/graphs/fleet.yaml", FleetOptions::default())?;
//! for (agent, grants) in fleet.gpu_grants() {
//!     println!("{agent}: {grants:?}");
//! }
//! let spec = fleet.translate()?; // no I/O: only assembles the files
//! spec.write_to(std::path::Path::new("target/fleet"))?;
//! # Ok(())
//! # }
//! ```

pub mod fleet;
pub mod nats_client;
pub mod nats_keys;
pub mod pipeline;
pub mod runtime;
pub mod service;

pub use fleet::{
    Fleet, FleetAgent, FleetError, FleetOptions, GpuGrant, NatsKeys, RecordGrantsError,
};
pub use pipeline::{DeployReport, GraphVersion, Pipeline, PipelineError, PipelineOptions};
