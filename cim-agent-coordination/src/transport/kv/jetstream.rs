//! Production: a NATS JetStream KV bucket through `async_nats::jetstream::kv`.

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::{KeyValue, KvChange, KvEntry, KvError, KvWatch, validate_key};

/// A JetStream KV bucket. Clones share the connection.
#[derive(Clone)]
pub struct JetStreamKeyValue {
    store: kv::Store,
}

fn backend(operation: &'static str) -> impl FnOnce(String) -> KvError {
    move |message| KvError::Backend { operation, message }
}

impl JetStreamKeyValue {
    /// Opens bucket `bucket` on the server `client` is connected to, creating it (file storage,
    /// `history` values kept per key) when it does not exist yet.
    ///
    /// # Errors
    /// [`KvError::Backend`] when the server refuses both opening and creating it.
    pub async fn open(
        client: async_nats::Client,
        bucket: &str,
        history: i64,
    ) -> Result<Self, KvError> {
        let context = async_nats::jetstream::new(client);
        let store = match context.get_key_value(bucket).await {
            Ok(store) => store,
            Err(_) => context
                .create_key_value(kv::Config {
                    bucket: bucket.to_owned(),
                    history: history.max(1),
                    ..Default::default()
                })
                .await
                .map_err(|e| backend("open")(e.to_string()))?,
        };
        Ok(Self { store })
    }

    /// Wraps an open bucket.
    pub fn new(store: kv::Store) -> Self {
        Self { store }
    }
}

#[async_trait]
impl KeyValue for JetStreamKeyValue {
    async fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        validate_key(key)?;
        let entry = self
            .store
            .entry(key)
            .await
            .map_err(|e| backend("get")(e.to_string()))?;
        Ok(entry.and_then(|e| {
            (e.operation == Operation::Put).then(|| KvEntry {
                key: e.key,
                value: e.value,
                revision: e.revision,
            })
        }))
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        validate_key(key)?;
        self.store
            .create(key, value)
            .await
            .map_err(|e| match e.kind() {
                CreateErrorKind::AlreadyExists => KvError::AlreadyExists {
                    key: key.to_owned(),
                },
                CreateErrorKind::InvalidKey => KvError::InvalidKey {
                    key: key.to_owned(),
                },
                _ => backend("create")(e.to_string()),
            })
    }

    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
        validate_key(key)?;
        self.store
            .update(key, value, revision)
            .await
            .map_err(|e| match e.kind() {
                UpdateErrorKind::WrongLastRevision => KvError::WrongRevision {
                    key: key.to_owned(),
                    expected: revision,
                },
                UpdateErrorKind::InvalidKey => KvError::InvalidKey {
                    key: key.to_owned(),
                },
                _ => backend("update")(e.to_string()),
            })
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        validate_key(key)?;
        self.store
            .put(key, value)
            .await
            .map_err(|e| backend("put")(e.to_string()))
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        validate_key(key)?;
        self.store
            .delete(key)
            .await
            .map_err(|e| backend("delete")(e.to_string()))
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        let mut keys: Vec<String> = self
            .store
            .keys()
            .await
            .map_err(|e| backend("keys")(e.to_string()))?
            .try_collect()
            .await
            .map_err(|e| backend("keys")(e.to_string()))?;
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn watch(&self) -> Result<KvWatch, KvError> {
        let watch = self
            .store
            .watch_all()
            .await
            .map_err(|e| backend("watch")(e.to_string()))?;
        Ok(Box::pin(watch.filter_map(|item| async move {
            match item {
                Ok(entry) => Some(match entry.operation {
                    Operation::Put => KvChange::Put(KvEntry {
                        key: entry.key,
                        value: entry.value,
                        revision: entry.revision,
                    }),
                    Operation::Delete | Operation::Purge => KvChange::Delete {
                        key: entry.key,
                        revision: entry.revision,
                    },
                }),
                Err(error) => {
                    tracing::warn!(%error, "kv watch: skipping an entry the client could not read");
                    None
                }
            }
        })))
    }
}
