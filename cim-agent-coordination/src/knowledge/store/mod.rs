//! Durability of the knowledge base: a change log deduplicated by change hash (JetStream's
//! `Nats-Msg-Id`) and one compacted snapshot, behind [`KnowledgeStore`].
//!
//! Two implementations with the same behaviour: [`MemoryKnowledgeStore`] (in process, tests and
//! the embedded default) and [`JetStreamKnowledgeStore`] (a JetStream stream of changes and an
//! object-store snapshot). Stores move checksummed records ([`record`]); checking them and
//! rebuilding the document is [`crate::knowledge::bootstrap`]'s job, so corruption is handled
//! once, for both.
//!
//! The change log is never trimmed by this crate: the snapshot is an accelerator, and when it is
//! corrupt the document is rebuilt from the whole log (retention is the operator's stream limit).

mod jetstream;
mod memory;
pub mod record;

use async_trait::async_trait;
use cim_domain_agent::AgentId;

pub use jetstream::{JetStreamKnowledgeStore, JetStreamStoreConfig};
pub use memory::MemoryKnowledgeStore;

use super::document::LocalChange;
use super::error::KnowledgeError;
use record::StoredRecord;

/// Where changes and the snapshot are kept.
#[async_trait]
pub trait KnowledgeStore: Clone + Send + Sync + 'static {
    /// Appends a change written by `author`, deduplicated by its hash: appending the same
    /// change twice keeps one (JetStream: within the stream's duplicate window).
    ///
    /// # Errors
    /// [`KnowledgeError::Store`] when the store does not confirm the append.
    async fn append(&self, author: AgentId, change: &LocalChange) -> Result<(), KnowledgeError>;

    /// Every stored change record with a sequence above `after`, in sequence order.
    ///
    /// # Errors
    /// [`KnowledgeError::Store`].
    async fn changes_after(&self, after: u64) -> Result<Vec<StoredRecord>, KnowledgeError>;

    /// Replaces the snapshot record.
    ///
    /// # Errors
    /// [`KnowledgeError::Store`].
    async fn put_snapshot(&self, record: Vec<u8>) -> Result<(), KnowledgeError>;

    /// The snapshot record, if one was stored.
    ///
    /// # Errors
    /// [`KnowledgeError::Store`].
    async fn snapshot(&self) -> Result<Option<Vec<u8>>, KnowledgeError>;
}
