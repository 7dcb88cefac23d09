//! The crate's typed errors: one enum for building expressions and one for checking text.

use std::path::PathBuf;

/// Why a name, path or value cannot become part of a Nix expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NixError {
    /// A variable name (identifier) is not a valid Nix identifier.
    #[error(
        "invalid Nix identifier {name:?}: {reason} (identifiers match [A-Za-z_][A-Za-z0-9_'-]* and are not keywords)"
    )]
    InvalidIdentifier {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A path literal would not parse as (or would not mean) the same path.
    #[error("invalid Nix path literal {path:?}: {reason}")]
    InvalidPath {
        /// The rejected path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Nix has no literal for NaN or infinity.
    #[error("Nix has no literal for the non-finite float {value}")]
    NonFiniteFloat {
        /// The rejected value.
        value: f64,
    },
    /// A function's set pattern names the same argument twice.
    #[error("argument {name:?} appears twice in a function's set pattern")]
    DuplicateArgument {
        /// The repeated argument.
        name: String,
    },
    /// A NixOS container name NixOS would refuse.
    #[error("invalid NixOS container name {name:?}: {reason}")]
    InvalidContainerName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value of a typed NixOS option is outside what the option accepts.
    #[error("invalid value for {option}: {value:?} ({reason})")]
    InvalidOptionValue {
        /// The option, as a NixOS attribute path (`services.foo.port`).
        option: String,
        /// The rejected value, as given.
        value: String,
        /// What the option accepts.
        reason: &'static str,
    },
}

/// A syntax error found while parsing Nix text, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}:{column}: {message}")]
pub struct NixSyntaxError {
    /// The file name (or a caller-chosen label such as `<generated>`).
    pub source_name: String,
    /// 1-based line of the first error.
    pub line: usize,
    /// 1-based column (in characters) of the first error.
    pub column: usize,
    /// What the parser reported.
    pub message: String,
    /// How many syntax errors the text has in total.
    pub error_count: usize,
}

/// Why running `nix-instantiate` did not give an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NixToolError {
    /// The program is not installed (or not at the configured path).
    #[error("{program} not found; install Nix (Debian: apt-get install nix-bin) or set its path")]
    NotFound {
        /// The program that was looked for.
        program: PathBuf,
    },
    /// Starting or talking to the program failed.
    #[error("running {program}: {source}")]
    Io {
        /// The program that was run.
        program: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The program ran and rejected the input.
    #[error("{program} rejected {source_name} (exit status {status}): {stderr}")]
    Rejected {
        /// The program that was run.
        program: PathBuf,
        /// The label of the checked text.
        source_name: String,
        /// The exit status, or -1 when killed by a signal.
        status: i32,
        /// What the program printed on standard error.
        stderr: String,
    },
    /// `--json` output could not be decoded.
    #[error("{program} printed output that is not JSON: {source}")]
    Json {
        /// The program that was run.
        program: PathBuf,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}
