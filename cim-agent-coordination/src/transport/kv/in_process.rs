//! The embedded default bucket: JetStream KV's revision, create, update and watch rules in memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{KeyValue, KvChange, KvEntry, KvError, KvWatch, validate_key};

/// An in-memory bucket. Clones share one bucket.
#[derive(Clone, Default)]
pub struct InProcessKeyValue {
    inner: Arc<Mutex<Bucket>>,
}

#[derive(Default)]
struct Bucket {
    revision: u64,
    entries: BTreeMap<String, KvEntry>,
    /// Latest revision per key, deleted keys included (a delete marker has a revision too).
    last: BTreeMap<String, u64>,
    watchers: Vec<mpsc::UnboundedSender<KvChange>>,
}

impl Bucket {
    fn write(&mut self, key: &str, value: Option<Bytes>) -> u64 {
        self.revision += 1;
        let revision = self.revision;
        self.last.insert(key.to_owned(), revision);
        let change = match value {
            Some(value) => {
                let entry = KvEntry {
                    key: key.to_owned(),
                    value,
                    revision,
                };
                self.entries.insert(key.to_owned(), entry.clone());
                KvChange::Put(entry)
            }
            None => {
                self.entries.remove(key);
                KvChange::Delete {
                    key: key.to_owned(),
                    revision,
                }
            }
        };
        self.watchers.retain(|w| w.send(change.clone()).is_ok());
        revision
    }
}

impl InProcessKeyValue {
    /// An empty bucket.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Bucket> {
        // Every mutation is completed under the lock before it is released, so a poisoned lock
        // still guards a consistent bucket.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl KeyValue for InProcessKeyValue {
    async fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        validate_key(key)?;
        Ok(self.lock().entries.get(key).cloned())
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        validate_key(key)?;
        let mut bucket = self.lock();
        if bucket.entries.contains_key(key) {
            return Err(KvError::AlreadyExists {
                key: key.to_owned(),
            });
        }
        Ok(bucket.write(key, Some(value)))
    }

    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
        validate_key(key)?;
        let mut bucket = self.lock();
        if bucket.last.get(key).copied().unwrap_or(0) != revision {
            return Err(KvError::WrongRevision {
                key: key.to_owned(),
                expected: revision,
            });
        }
        Ok(bucket.write(key, Some(value)))
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        validate_key(key)?;
        Ok(self.lock().write(key, Some(value)))
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        validate_key(key)?;
        self.lock().write(key, None);
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        Ok(self.lock().entries.keys().cloned().collect())
    }

    async fn watch(&self) -> Result<KvWatch, KvError> {
        let (sender, mut receiver) = mpsc::unbounded_channel();
        self.lock().watchers.push(sender);
        Ok(Box::pin(futures::stream::poll_fn(move |cx| {
            receiver.poll_recv(cx)
        })))
    }
}
