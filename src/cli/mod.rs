//! One module per subcommand group; each owns its clap arguments and its `run`.

pub mod agents;
pub mod gpu;
pub mod translate;
