//! Errors of the transport seam, one variant per failing operation (as async-nats does).

use thiserror::Error;

/// What went wrong moving a message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// A subject, filter or token breaks the NATS subject rules (see [`crate::subject`]).
    #[error("invalid subject {subject:?}: {reason}")]
    InvalidSubject {
        /// The offending subject, filter or token.
        subject: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The payload is larger than the transport carries.
    #[error("payload of {size} bytes for {subject} exceeds the maximum of {max} bytes")]
    PayloadTooLarge {
        /// Where it was going.
        subject: String,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes (the server's `max_payload`).
        max: usize,
    },
    /// The connection refused or lost a publish.
    #[error("publish to {subject} failed: {message}")]
    Publish {
        /// Where it was going.
        subject: String,
        /// The client's explanation.
        message: String,
    },
    /// The connection refused a subscription.
    #[error("subscribe to {filter} failed: {message}")]
    Subscribe {
        /// The filter.
        filter: String,
        /// The client's explanation.
        message: String,
    },
    /// A request found nobody subscribed to its subject.
    #[error("no responders on {subject}")]
    NoResponders {
        /// The request subject.
        subject: String,
    },
    /// A request got no answer in time.
    #[error("request to {subject} timed out after {timeout_ms} ms")]
    TimedOut {
        /// The request subject.
        subject: String,
        /// How long it waited, in milliseconds.
        timeout_ms: u128,
    },
    /// A request failed for another reason (connection lost).
    #[error("request to {subject} failed: {message}")]
    Request {
        /// The request subject.
        subject: String,
        /// The client's explanation.
        message: String,
    },
}
