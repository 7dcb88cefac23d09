//! The in-process store: a vector of records and one snapshot slot, with dedup by change hash.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use cim_domain_agent::AgentId;

use super::KnowledgeStore;
use super::record::{StoredRecord, encode_change};
use crate::knowledge::document::LocalChange;
use crate::knowledge::error::KnowledgeError;

#[derive(Debug, Default)]
struct Inner {
    changes: Vec<StoredRecord>,
    ids: HashSet<String>,
    snapshot: Option<Vec<u8>>,
}

/// A store in memory; clones share it. Dedup by change hash never expires (a JetStream
/// duplicate window that is infinite).
#[derive(Debug, Clone, Default)]
pub struct MemoryKnowledgeStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryKnowledgeStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation is a single push or assignment; a panic elsewhere leaves it whole.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many change records are stored.
    pub fn len(&self) -> usize {
        self.lock().changes.len()
    }

    /// Whether no change is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().changes.is_empty()
    }

    /// Overwrites the record at `sequence` with `record` (fault injection: a disk that rotted).
    /// Returns whether such a record existed.
    pub fn overwrite_change(&self, sequence: u64, record: Vec<u8>) -> bool {
        let mut inner = self.lock();
        match inner.changes.iter_mut().find(|r| r.sequence == sequence) {
            Some(stored) => {
                stored.record = record;
                true
            }
            None => false,
        }
    }
}

#[async_trait]
impl KnowledgeStore for MemoryKnowledgeStore {
    async fn append(&self, _author: AgentId, change: &LocalChange) -> Result<(), KnowledgeError> {
        let mut inner = self.lock();
        if inner.ids.insert(change.hash.clone()) {
            let sequence = inner.changes.len() as u64 + 1;
            inner.changes.push(StoredRecord {
                sequence,
                record: encode_change(&change.bytes),
            });
        }
        Ok(())
    }

    async fn changes_after(&self, after: u64) -> Result<Vec<StoredRecord>, KnowledgeError> {
        Ok(self
            .lock()
            .changes
            .iter()
            .filter(|r| r.sequence > after)
            .cloned()
            .collect())
    }

    async fn put_snapshot(&self, record: Vec<u8>) -> Result<(), KnowledgeError> {
        self.lock().snapshot = Some(record);
        Ok(())
    }

    async fn snapshot(&self) -> Result<Option<Vec<u8>>, KnowledgeError> {
        Ok(self.lock().snapshot.clone())
    }
}
