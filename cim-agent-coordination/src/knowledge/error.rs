//! Errors of the shared knowledge base.

use thiserror::Error;

use crate::transport::TransportError;

/// What went wrong in the knowledge base.
#[derive(Debug, Error)]
pub enum KnowledgeError {
    /// A fact id, topic, subject, predicate or source is empty, too long or contains NUL.
    #[error("invalid {what}: {value:?}")]
    InvalidName {
        /// What kind of name.
        what: &'static str,
        /// The value (first 64 characters).
        value: String,
    },
    /// A belief's confidence is outside `[0, 1]` or not a number.
    #[error("confidence {0} is outside [0, 1]")]
    InvalidConfidence(f64),
    /// Automerge refused an operation or bytes (a corrupt change or document).
    #[error("automerge: {0}")]
    Automerge(Box<automerge::AutomergeError>),
    /// A value in the document could not be encoded or decoded.
    #[error("encoding a {what}: {source}")]
    Codec {
        /// What was being encoded.
        what: &'static str,
        /// The serde error.
        source: serde_json::Error,
    },
    /// A wire message is malformed (counted and dropped by the replica, never a crash).
    #[error("malformed knowledge message: {0}")]
    Malformed(&'static str),
    /// A stored change or snapshot does not match its checksum.
    #[error("stored {what} at {position} is corrupt: {reason}")]
    Corrupt {
        /// `change` or `snapshot`.
        what: &'static str,
        /// Stream sequence or object name.
        position: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The durable store failed (JetStream unreachable, stream missing).
    #[error("knowledge store: {0}")]
    Store(String),
    /// The transport refused a message.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl From<automerge::AutomergeError> for KnowledgeError {
    fn from(error: automerge::AutomergeError) -> Self {
        Self::Automerge(Box::new(error))
    }
}
