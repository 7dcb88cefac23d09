//! A revisioned key-value bucket: the seam for state several coordinators share (the agent
//! registry today; knowledge and consensus may reuse it).
//!
//! Semantics follow a NATS JetStream KV bucket, and [`InProcessKeyValue`] reproduces them:
//! - every write gets a *revision*, one counter for the whole bucket, strictly increasing;
//! - [`KeyValue::create`] succeeds only when the key is absent (or deleted), else
//!   [`KvError::AlreadyExists`];
//! - [`KeyValue::update`] succeeds only when the key's latest revision is the one given, else
//!   [`KvError::WrongRevision`] (compare-and-set: of two writers that read the same revision,
//!   exactly one wins);
//! - [`KeyValue::watch`] streams every change made after it returns, in revision order;
//! - keys are NATS KV keys: `[-/_=.a-zA-Z0-9]+`, not starting or ending with `.`.

mod in_process;
mod jetstream;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use thiserror::Error;

pub use in_process::InProcessKeyValue;
pub use jetstream::JetStreamKeyValue;

/// The latest value of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// The bytes stored.
    pub value: Bytes,
    /// The bucket-wide revision of this write.
    pub revision: u64,
}

/// One change a watcher sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvChange {
    /// A value was written (put, create or update).
    Put(KvEntry),
    /// The key was deleted.
    Delete {
        /// The key.
        key: String,
        /// The revision of the delete marker.
        revision: u64,
    },
}

impl KvChange {
    /// The key changed.
    pub fn key(&self) -> &str {
        match self {
            Self::Put(entry) => &entry.key,
            Self::Delete { key, .. } => key,
        }
    }

    /// The revision of the change.
    pub fn revision(&self) -> u64 {
        match self {
            Self::Put(entry) => entry.revision,
            Self::Delete { revision, .. } => *revision,
        }
    }
}

/// Changes after the watch began, in revision order; ends when the bucket is gone.
pub type KvWatch = Pin<Box<dyn Stream<Item = KvChange> + Send>>;

/// What went wrong with a bucket operation.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The key breaks the NATS KV key rules.
    #[error("invalid key {key:?}: only [-/_=.a-zA-Z0-9], not starting or ending with '.'")]
    InvalidKey {
        /// The offending key.
        key: String,
    },
    /// `create` found a live value under the key.
    #[error("key {key:?} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// `update` expected another revision (someone else wrote first).
    #[error("key {key:?} is not at revision {expected}")]
    WrongRevision {
        /// The key.
        key: String,
        /// The revision the caller expected.
        expected: u64,
    },
    /// The server or connection failed.
    #[error("{operation} on the bucket failed: {message}")]
    Backend {
        /// The operation (`get`, `put`, `watch`, …).
        operation: &'static str,
        /// The client's explanation.
        message: String,
    },
}

/// Checks a key against the NATS KV rules.
///
/// # Errors
/// [`KvError::InvalidKey`].
pub fn validate_key(key: &str) -> Result<(), KvError> {
    let ok = !key.is_empty()
        && !key.starts_with('.')
        && !key.ends_with('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_' | '=' | '.'));
    if ok {
        Ok(())
    } else {
        Err(KvError::InvalidKey {
            key: key.to_owned(),
        })
    }
}

/// A revisioned key-value bucket with compare-and-set writes and a change feed.
#[async_trait]
pub trait KeyValue: Clone + Send + Sync + 'static {
    /// The latest value of `key`, or `None` when absent or deleted.
    ///
    /// # Errors
    /// [`KvError::InvalidKey`], [`KvError::Backend`].
    async fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError>;

    /// Writes `value` only if `key` is absent or deleted; returns the new revision.
    ///
    /// # Errors
    /// [`KvError::AlreadyExists`], [`KvError::InvalidKey`], [`KvError::Backend`].
    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError>;

    /// Writes `value` only if the latest revision of `key` is `revision`; returns the new one.
    ///
    /// # Errors
    /// [`KvError::WrongRevision`], [`KvError::InvalidKey`], [`KvError::Backend`].
    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError>;

    /// Writes `value` unconditionally; returns the new revision.
    ///
    /// # Errors
    /// [`KvError::InvalidKey`], [`KvError::Backend`].
    async fn put(&self, key: &str, value: Bytes) -> Result<u64, KvError>;

    /// Deletes `key` (a delete marker; `create` may write it again).
    ///
    /// # Errors
    /// [`KvError::InvalidKey`], [`KvError::Backend`].
    async fn delete(&self, key: &str) -> Result<(), KvError>;

    /// Every live key, sorted.
    ///
    /// # Errors
    /// [`KvError::Backend`].
    async fn keys(&self) -> Result<Vec<String>, KvError>;

    /// Every change made after this call returns, in revision order.
    ///
    /// # Errors
    /// [`KvError::Backend`].
    async fn watch(&self) -> Result<KvWatch, KvError>;
}
