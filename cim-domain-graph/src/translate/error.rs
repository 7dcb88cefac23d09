//! Why a graph could not be translated or written.

use std::path::PathBuf;

use cim_domain_nix::{NixError, NixSyntaxError, NixToolError};

use crate::validate::ValidationErrors;

/// Why translation failed.
#[derive(Debug, thiserror::Error)]
pub enum TranslationError {
    /// The graph has problems; every one is listed.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// A node translator failed on one node.
    #[error("node `{node}` ({kind}): {source}")]
    Node {
        /// The node.
        node: String,
        /// Its kind.
        kind: String,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Translators failed on several nodes; every failure is listed, in node name order.
    #[error("translation failed on {} nodes:{}", .0.len(), list_errors(.0))]
    Nodes(Vec<TranslationError>),
    /// A Nix name or path could not be built.
    #[error("node `{node}`: {source}")]
    Nix {
        /// The node being translated, or the host for host-level output.
        node: String,
        /// The Nix builder's error.
        source: NixError,
    },
    /// A translator asked for a host module of a node that is not a host.
    #[error("`{name}` is not a host of this graph")]
    NotAHost {
        /// The name asked for.
        name: String,
    },
    /// A translator asked for the host of a node that runs on none (validation prevents this
    /// for graphs that went through it).
    #[error("node `{node}` is not placed on a host")]
    NotPlaced {
        /// The node.
        node: String,
    },
    /// Two translators contributed different shared modules under one name.
    #[error("two different shared modules are named `{name}`")]
    SharedModuleConflict {
        /// The module name.
        name: String,
    },
    /// Two translators asked for one flake input with different URLs.
    #[error("flake input `{name}` is asked for with two URLs: `{first}` and `{second}`")]
    InputConflict {
        /// The input name.
        name: String,
        /// One URL.
        first: String,
        /// The other.
        second: String,
    },
    /// A rendered file does not parse (a bug in a translator or the printer).
    #[error(transparent)]
    Syntax(#[from] NixSyntaxError),
    /// `nix-instantiate` could not run or rejected a rendered file.
    #[error(transparent)]
    Tool(#[from] NixToolError),
    /// The output directory was refused or a generation could not be switched in.
    #[error(transparent)]
    Output(#[from] crate::translate::output::OutputError),
    /// A rendered file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn list_errors(errors: &[TranslationError]) -> String {
    errors.iter().map(|e| format!("\n  - {e}")).collect()
}

impl TranslationError {
    /// One error for the failures of several nodes: the failure itself when there is one,
    /// [`Nodes`](Self::Nodes) when there are more, `None` when there are none.
    pub fn collect(mut errors: Vec<TranslationError>) -> Option<Self> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Self::Nodes(errors)),
        }
    }

    /// Every single failure: the errors inside [`Nodes`](Self::Nodes), or this one.
    pub fn failures(&self) -> Vec<&TranslationError> {
        match self {
            Self::Nodes(errors) => errors.iter().collect(),
            other => vec![other],
        }
    }

    /// Wraps an error of an outside translator, naming the node it failed on.
    pub fn node(
        node: &crate::node::DeploymentNode,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Node {
            node: node.name.clone(),
            kind: node.node_type.kind().to_owned(),
            source: source.into(),
        }
    }

    /// Wraps a Nix builder error, naming the node it happened on.
    pub fn nix(node: &str, source: NixError) -> Self {
        Self::Nix {
            node: node.to_owned(),
            source,
        }
    }
}
