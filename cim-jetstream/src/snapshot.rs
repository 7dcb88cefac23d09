//! Snapshots in a KV bucket, always consistent with the stored events.
//!
//! cqrs-es 0.5.0 hands `persist` a snapshot built by applying the new events to an aggregate
//! that `EventSink::write` has already applied them to, so an aggregate-sourced or snapshot store
//! would save every event twice over. This module never trusts that payload: a snapshot is the
//! stored snapshot plus the events after it, folded with `Aggregate::apply` exactly once, and it
//! is written with compare-and-set on the KV revision (and only with a newer version).

use async_nats::jetstream::kv;
use cqrs_es::persist::SerializedSnapshot;
use cqrs_es::{Aggregate, EventEnvelope};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::JetStreamError;
use crate::names::kv_token;
use crate::repository::JetStreamEventRepository;
use crate::setup::within;

/// What the snapshot bucket holds per aggregate.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    aggregate: Value,
    current_sequence: usize,
    snapshot_version: usize,
}

/// An aggregate brought up to the last stored event.
struct Folded<A> {
    aggregate: A,
    current_sequence: usize,
    /// Version of the stored snapshot it started from (0 when none).
    snapshot_version: usize,
    /// KV revision of that snapshot, for compare-and-set.
    revision: Option<u64>,
}

impl JetStreamEventRepository {
    /// The snapshot of an aggregate as cqrs-es reads it: the stored one advanced by any events
    /// stored after it, or `None` if the aggregate has neither.
    pub(crate) async fn current_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, JetStreamError> {
        let Some(folded) = self.fold::<A>(aggregate_id).await? else {
            return Ok(None);
        };
        let aggregate =
            serde_json::to_value(&folded.aggregate).map_err(|e| JetStreamError::InvalidCommit {
                reason: format!("cannot serialise {} {aggregate_id}: {e}", A::TYPE),
            })?;
        Ok(Some(SerializedSnapshot {
            aggregate_id: aggregate_id.to_string(),
            aggregate,
            current_sequence: folded.current_sequence,
            current_snapshot: folded.snapshot_version,
        }))
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
        let Some(folded) = self.fold::<A>(aggregate_id).await? else {
            return Ok(());
        };
        if folded.snapshot_version >= version {
            return Ok(());
        }
        let key = snapshot_key(A::TYPE, aggregate_id);
        let bucket = &self.inner.config.snapshot_bucket;
        let value = serde_json::to_vec(&StoredSnapshot {
            aggregate: serde_json::to_value(&folded.aggregate).map_err(|e| {
                JetStreamError::InvalidCommit {
                    reason: format!("cannot serialise {} {aggregate_id}: {e}", A::TYPE),
                }
            })?,
            current_sequence: folded.current_sequence,
            snapshot_version: version,
        })
        .map_err(|e| JetStreamError::InvalidCommit {
            reason: format!("cannot serialise snapshot {key}: {e}"),
        })?;
        let store = &self.inner.snapshots;
        let written = match folded.revision {
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

    async fn fold<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<Folded<A>>, JetStreamError> {
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
        let mut folded = Folded {
            aggregate: A::default(),
            current_sequence: 0,
            snapshot_version: 0,
            revision: None,
        };
        if let Some(entry) = &entry {
            folded.revision = Some(entry.revision);
        }
        if let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) {
            let stored: StoredSnapshot =
                serde_json::from_slice(&entry.value).map_err(|source| {
                    JetStreamError::DecodeEntry {
                        bucket: config.snapshot_bucket.clone(),
                        key: key.clone(),
                        source,
                    }
                })?;
            folded.snapshot_version = stored.snapshot_version;
            // A snapshot of an older aggregate shape is dropped and rebuilt from all events.
            if let Ok(aggregate) = serde_json::from_value::<A>(stored.aggregate) {
                folded.aggregate = aggregate;
                folded.current_sequence = stored.current_sequence;
            }
        }
        let tail = self
            .read_events(A::TYPE, aggregate_id, folded.current_sequence)
            .await?;
        if tail.is_empty() && folded.revision.is_none() {
            return Ok(None);
        }
        for event in tail {
            let sequence = event.sequence;
            let envelope = EventEnvelope::<A>::try_from(event).map_err(|source| {
                JetStreamError::DecodeEvent {
                    aggregate_type: A::TYPE.to_string(),
                    aggregate_id: aggregate_id.to_string(),
                    sequence,
                    source: Box::new(source),
                }
            })?;
            folded.aggregate.apply(envelope.payload);
            folded.current_sequence = sequence;
        }
        Ok(Some(folded))
    }
}

fn snapshot_key(aggregate_type: &str, aggregate_id: &str) -> String {
    format!("{}.{}", kv_token(aggregate_type), kv_token(aggregate_id))
}
