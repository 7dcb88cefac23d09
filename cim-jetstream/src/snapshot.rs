//! Snapshots in a KV bucket, always consistent with the stored events.
//!
//! The payload cqrs-es hands to `persist` is never stored (see `fold.rs`): a snapshot is
//! the stored snapshot plus the events after it, and it is written with compare-and-set on the
//! KV revision (and only with a newer version).

use async_nats::jetstream::kv;
use cqrs_es::Aggregate;
use cqrs_es::persist::SerializedSnapshot;

use crate::error::JetStreamError;
use crate::fold::{Folded, StoredSnapshot};
use crate::names::kv_token;
use crate::repository::JetStreamEventRepository;
use crate::setup::within;

impl JetStreamEventRepository {
    /// The snapshot of an aggregate as cqrs-es reads it: the stored one advanced by any events
    /// stored after it, or `None` if the aggregate has neither.
    pub(crate) async fn current_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, JetStreamError> {
        match self.fold::<A>(aggregate_id).await? {
            Some((folded, _)) => Ok(Some(folded.to_serialized(aggregate_id)?)),
            None => Ok(None),
        }
    }

    /// Writes snapshot `version` of an aggregate from its stored events. A lost race or an
    /// error only leaves an older snapshot, which loads stay correct with, so it is logged.
    pub(crate) async fn refresh_snapshot<A: Aggregate>(&self, aggregate_id: &str, version: usize) {
        if let Err(err) = self.try_refresh_snapshot::<A>(aggregate_id, version).await {
            tracing::warn!(aggregate_type = A::TYPE, aggregate_id, %err, "snapshot not written");
        }
    }

    async fn try_refresh_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
        version: usize,
    ) -> Result<(), JetStreamError> {
        let Some((folded, revision)) = self.fold::<A>(aggregate_id).await? else {
            return Ok(());
        };
        if folded.snapshot_version >= version {
            return Ok(());
        }
        let key = snapshot_key(A::TYPE, aggregate_id);
        let bucket = &self.inner.config.snapshot_bucket;
        let value = serde_json::to_vec(&folded.to_stored(aggregate_id, version)?).map_err(|e| {
            JetStreamError::InvalidCommit {
                reason: format!("cannot serialise snapshot {key}: {e}"),
            }
        })?;
        let store = &self.inner.snapshots;
        let written = match revision {
            Some(revision) => store
                .update(&key, value.into(), revision)
                .await
                .map(|_| ())
                .map_err(|e| Box::new(e) as crate::error::BoxError),
            None => store
                .create(&key, value.into())
                .await
                .map(|_| ())
                .map_err(|e| Box::new(e) as crate::error::BoxError),
        };
        written.map_err(|source| JetStreamError::Bucket {
            bucket: bucket.clone(),
            operation: "writing a snapshot",
            source,
        })
    }

    /// The aggregate brought up to its last stored event, with the KV revision of the snapshot
    /// it started from (for compare-and-set), or `None` if it has neither snapshot nor events.
    async fn fold<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<(Folded<A>, Option<u64>)>, JetStreamError> {
        // Validates the id before it becomes a key.
        self.subject(A::TYPE, aggregate_id)?;
        let key = snapshot_key(A::TYPE, aggregate_id);
        let config = &self.inner.config;
        let entry = within(
            config.operation_timeout,
            || format!("reading snapshot {key}"),
            self.inner.snapshots.entry(key.clone()),
        )
        .await?
        .map_err(|e| JetStreamError::Bucket {
            bucket: config.snapshot_bucket.clone(),
            operation: "reading a snapshot",
            source: Box::new(e),
        })?;
        let revision = entry.as_ref().map(|e| e.revision);
        let stored = match entry.filter(|e| e.operation == kv::Operation::Put) {
            Some(entry) => Some(
                serde_json::from_slice::<StoredSnapshot>(&entry.value).map_err(|source| {
                    JetStreamError::DecodeEntry {
                        bucket: config.snapshot_bucket.clone(),
                        key: key.clone(),
                        source,
                    }
                })?,
            ),
            None => None,
        };
        let mut folded = Folded::<A>::start(stored);
        let tail = self
            .read_events(A::TYPE, aggregate_id, folded.current_sequence)
            .await?;
        if tail.is_empty() && revision.is_none() {
            return Ok(None);
        }
        folded.apply(aggregate_id, tail)?;
        Ok(Some((folded, revision)))
    }
}

fn snapshot_key(aggregate_type: &str, aggregate_id: &str) -> String {
    format!("{}.{}", kv_token(aggregate_type), kv_token(aggregate_id))
}
