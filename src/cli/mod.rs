//! One module per subcommand group; each owns its clap arguments and its `run`.

pub mod agents;
pub mod agents_k8s;
pub mod agents_ls;
pub mod deploy;
pub mod flake;
pub mod gpu;
pub mod keys;
pub mod nats_auth;
pub mod serve;
pub mod tasks;
pub mod translate;

/// A path as text for output, JSON included: never fails, even on a path that is not UTF-8
/// (serialising a `Path` directly does, and `json!` then panics). Bytes that are not UTF-8
/// show as U+FFFD.
pub(crate) fn shown(path: &std::path::Path) -> String {
    path.to_string_lossy().into_owned()
}
