//! The crate's error type and its mapping onto cqrs-es's `PersistenceError`.

use std::time::Duration;

use cqrs_es::persist::PersistenceError;

/// A boxed source error from async-nats (its error types differ per operation).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which user-supplied name failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// `Aggregate::TYPE`, used as a subject token.
    AggregateType,
    /// An aggregate instance id, used as a subject token.
    AggregateId,
    /// `JetStreamConfig::subject_prefix`.
    SubjectPrefix,
    /// `JetStreamConfig::stream_name`.
    StreamName,
    /// A KV bucket name from `JetStreamConfig`.
    BucketName,
    /// A view name or view instance id.
    ViewId,
}

impl std::fmt::Display for NameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::AggregateType => "aggregate type",
            Self::AggregateId => "aggregate id",
            Self::SubjectPrefix => "subject prefix",
            Self::StreamName => "stream name",
            Self::BucketName => "bucket name",
            Self::ViewId => "view id",
        })
    }
}

/// Everything that can go wrong between cqrs-es and JetStream.
#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    /// A name that becomes part of a subject, stream or key is not allowed there.
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidName {
        /// Which name it is.
        kind: NameKind,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server could not be reached.
    #[error(
        "cannot connect to NATS at {}: {source}",
        cim_naming::redact::redact_url(url)
    )]
    Connect {
        /// Where the client tried to connect.
        url: String,
        /// The client error.
        source: async_nats::ConnectError,
    },
    /// An operation did not finish within its bound.
    #[error("{operation} timed out after {after:?} (is the NATS server reachable?)")]
    Timeout {
        /// What was being done.
        operation: String,
        /// The bound that ran out.
        after: Duration,
    },
    /// Creating, reading or verifying the event stream failed.
    #[error("stream {stream}: {operation} failed: {source}")]
    Stream {
        /// The stream name.
        stream: String,
        /// What was being done.
        operation: &'static str,
        /// The underlying error.
        source: BoxError,
    },
    /// The stream exists with a configuration this repository cannot use; it is never changed.
    #[error("stream {stream} exists but its {field} is {found}, expected {expected}")]
    StreamMismatch {
        /// The stream name.
        stream: String,
        /// The configuration field.
        field: &'static str,
        /// What this repository needs.
        expected: String,
        /// What the server has.
        found: String,
    },
    /// Creating or using a KV bucket failed.
    #[error("KV bucket {bucket}: {operation} failed: {source}")]
    Bucket {
        /// The bucket name.
        bucket: String,
        /// What was being done.
        operation: &'static str,
        /// The underlying error.
        source: BoxError,
    },
    /// Publishing a commit failed for a reason other than a conflict.
    #[error("publishing to {subject} failed: {source}")]
    Publish {
        /// The aggregate's subject.
        subject: String,
        /// The underlying error.
        source: BoxError,
    },
    /// Reading messages failed.
    #[error("reading {subject} failed: {source}")]
    Read {
        /// The subject or filter read.
        subject: String,
        /// The underlying error.
        source: BoxError,
    },
    /// The server answered a read with an error status.
    #[error("reading {subject}: server answered {code} {description}")]
    ServerStatus {
        /// The subject or filter read.
        subject: String,
        /// The status code.
        code: u16,
        /// The server's description.
        description: String,
    },
    /// A stored message is not a commit this crate wrote (or is corrupt).
    #[error("cannot decode the commit at stream sequence {stream_sequence} on {subject}: {source}")]
    Decode {
        /// The message subject.
        subject: String,
        /// Its stream sequence.
        stream_sequence: u64,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A stored snapshot or view is not valid JSON of the expected shape.
    #[error("cannot decode KV entry {key} in bucket {bucket}: {source}")]
    DecodeEntry {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A stored event could not be turned into the aggregate's event type.
    #[error("event {sequence} of {aggregate_type} {aggregate_id} does not decode: {source}")]
    DecodeEvent {
        /// The aggregate type.
        aggregate_type: String,
        /// The aggregate id.
        aggregate_id: String,
        /// The event sequence.
        sequence: usize,
        /// The decoding error.
        source: BoxError,
    },
    /// Per-aggregate sequences read back are not gapless from 1.
    #[error("aggregate {aggregate_id}: expected event sequence {expected}, found {found}")]
    SequenceGap {
        /// The aggregate id.
        aggregate_id: String,
        /// The sequence that should come next.
        expected: usize,
        /// The sequence that came.
        found: usize,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {field} {reason}")]
    InvalidConfig {
        /// The `JetStreamConfig` field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `persist` was handed events that cannot form one commit.
    #[error("invalid commit: {reason}")]
    InvalidCommit {
        /// Why the events cannot be committed together.
        reason: String,
    },
    /// Another writer got there first (the server rejected the expected sequence).
    #[error("optimistic concurrency conflict on {subject}")]
    Conflict {
        /// The aggregate's subject.
        subject: String,
    },
}

impl From<JetStreamError> for PersistenceError {
    fn from(err: JetStreamError) -> Self {
        match err {
            JetStreamError::Conflict { .. } => Self::OptimisticLockError,
            JetStreamError::Connect { .. } | JetStreamError::Timeout { .. } => {
                Self::ConnectionError(Box::new(err))
            }
            JetStreamError::Decode { .. }
            | JetStreamError::DecodeEntry { .. }
            | JetStreamError::DecodeEvent { .. } => Self::DeserializationError(Box::new(err)),
            _ => Self::UnknownError(Box::new(err)),
        }
    }
}
