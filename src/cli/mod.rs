//! One module per subcommand group; each owns its clap arguments and its `run`.

pub mod agents;
pub mod agents_k8s;
pub mod agents_ls;
pub mod deploy;
pub mod gpu;
pub mod serve;
pub mod tasks;
pub mod translate;
