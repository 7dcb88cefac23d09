//! The JetStream store: changes in a stream (`Nats-Msg-Id` = change hash, so the server drops
//! duplicates within its window), the snapshot in an object-store bucket (chunked, so it is not
//! bound by `max_payload`).

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::object_store::{self, GetErrorKind, ObjectStore};
use async_nats::jetstream::stream::{self, StorageType};
use async_nats::jetstream::{self as js, Context};
use async_trait::async_trait;
use cim_domain_agent::AgentId;
use futures::StreamExt;
use tokio::io::AsyncReadExt;

use super::KnowledgeStore;
use super::record::{StoredRecord, encode_change};
use crate::knowledge::document::LocalChange;
use crate::knowledge::error::KnowledgeError;
use crate::knowledge::subjects::KnowledgeSubjects;

const SNAPSHOT: &str = "snapshot";

/// Settings of the JetStream store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JetStreamStoreConfig {
    /// Replicas of the stream and the bucket (1 on a single server, 3 in a cluster).
    pub replicas: usize,
    /// How long the server remembers a `Nats-Msg-Id` to drop a duplicate append.
    pub duplicate_window: Duration,
    /// How long one read of the change log may take before it fails.
    pub read_timeout: Duration,
}

impl Default for JetStreamStoreConfig {
    fn default() -> Self {
        Self {
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            read_timeout: Duration::from_secs(10),
        }
    }
}

/// Changes and snapshot of one knowledge space in JetStream; clones share the connection.
#[derive(Clone)]
pub struct JetStreamKnowledgeStore {
    context: Context,
    subjects: KnowledgeSubjects,
    bucket: ObjectStore,
    config: JetStreamStoreConfig,
}

impl std::fmt::Debug for JetStreamKnowledgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamKnowledgeStore")
            .field("space", &self.subjects.space())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn store_error(action: &str, error: impl std::fmt::Display) -> KnowledgeError {
    KnowledgeError::Store(format!("{action}: {error}"))
}

impl JetStreamKnowledgeStore {
    /// Opens (creating when missing) the stream and bucket of `subjects`' space.
    ///
    /// # Errors
    /// [`KnowledgeError::Store`] when JetStream refuses either.
    pub async fn open(
        client: async_nats::Client,
        subjects: KnowledgeSubjects,
        config: JetStreamStoreConfig,
    ) -> Result<Self, KnowledgeError> {
        let context = js::new(client);
        context
            .get_or_create_stream(stream::Config {
                name: subjects.stream_name(),
                subjects: vec![subjects.changes_filter()],
                storage: StorageType::File,
                num_replicas: config.replicas,
                duplicate_window: config.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(|e| store_error("creating the change stream", e))?;
        let bucket = match context.get_object_store(subjects.bucket()).await {
            Ok(bucket) => bucket,
            Err(_) => context
                .create_object_store(object_store::Config {
                    bucket: subjects.bucket(),
                    storage: StorageType::File,
                    num_replicas: config.replicas,
                    ..Default::default()
                })
                .await
                .map_err(|e| store_error("creating the snapshot bucket", e))?,
        };
        Ok(Self {
            context,
            subjects,
            bucket,
            config,
        })
    }
}

#[async_trait]
impl KnowledgeStore for JetStreamKnowledgeStore {
    async fn append(&self, author: AgentId, change: &LocalChange) -> Result<(), KnowledgeError> {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", change.hash.as_str());
        let ack = self
            .context
            .publish_with_headers(
                self.subjects.changes(author),
                headers,
                encode_change(&change.bytes).into(),
            )
            .await
            .map_err(|e| store_error("appending a change", e))?;
        ack.await
            .map_err(|e| store_error("confirming a change", e))?;
        Ok(())
    }

    async fn changes_after(&self, after: u64) -> Result<Vec<StoredRecord>, KnowledgeError> {
        let mut stream = self
            .context
            .get_stream(self.subjects.stream_name())
            .await
            .map_err(|e| store_error("opening the change stream", e))?;
        let last = stream
            .info()
            .await
            .map_err(|e| store_error("reading the change stream's state", e))?
            .state
            .last_sequence;
        if last <= after {
            return Ok(Vec::new());
        }
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: self.subjects.changes_filter(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: after + 1,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| store_error("reading the change stream", e))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| store_error("reading the change stream", e))?;
        let mut records = Vec::new();
        let read = async {
            while let Some(message) = messages.next().await {
                let message = message.map_err(|e| store_error("reading a change", e))?;
                let sequence = message
                    .info()
                    .map_err(|e| store_error("reading a change's position", e))?
                    .stream_sequence;
                records.push(StoredRecord {
                    sequence,
                    record: message.payload.to_vec(),
                });
                if sequence >= last {
                    break;
                }
            }
            Ok::<(), KnowledgeError>(())
        };
        tokio::time::timeout(self.config.read_timeout, read)
            .await
            .map_err(|_| store_error("reading the change stream", "timed out"))??;
        Ok(records)
    }

    async fn put_snapshot(&self, record: Vec<u8>) -> Result<(), KnowledgeError> {
        self.bucket
            .put(SNAPSHOT, &mut record.as_slice())
            .await
            .map_err(|e| store_error("storing the snapshot", e))?;
        Ok(())
    }

    async fn snapshot(&self) -> Result<Option<Vec<u8>>, KnowledgeError> {
        match self.bucket.get(SNAPSHOT).await {
            Ok(mut object) => {
                let mut bytes = Vec::new();
                object
                    .read_to_end(&mut bytes)
                    .await
                    .map_err(|e| store_error("reading the snapshot", e))?;
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == GetErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_error("opening the snapshot", e)),
        }
    }
}
