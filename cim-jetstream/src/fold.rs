//! Snapshots rebuilt from stored state, shared by every repository in the crate.
//!
//! cqrs-es 0.5.0 hands `persist` a snapshot built by applying the new events to an aggregate
//! that `EventSink::write` has already applied them to, so an aggregate-sourced or snapshot store
//! would save every event twice over. No repository here trusts that payload: a snapshot is the
//! stored snapshot plus the stored events after it, folded with `Aggregate::apply` exactly once.

use cqrs_es::persist::{SerializedEvent, SerializedSnapshot};
use cqrs_es::{Aggregate, EventEnvelope};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::JetStreamError;

/// What a repository keeps per aggregate as its snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredSnapshot {
    aggregate: Value,
    current_sequence: usize,
    snapshot_version: usize,
}

/// An aggregate brought up to the last stored event.
pub(crate) struct Folded<A> {
    aggregate: A,
    pub(crate) current_sequence: usize,
    /// Version of the stored snapshot it started from (0 when none).
    pub(crate) snapshot_version: usize,
}

impl<A: Aggregate> Folded<A> {
    /// Where a fold starts: the stored snapshot, or the default aggregate at sequence 0.
    ///
    /// A snapshot of an older aggregate shape is dropped (every event is folded in again), but
    /// its version is kept so that the next snapshot written is still newer.
    pub(crate) fn start(stored: Option<StoredSnapshot>) -> Self {
        let mut folded = Self {
            aggregate: A::default(),
            current_sequence: 0,
            snapshot_version: 0,
        };
        if let Some(stored) = stored {
            folded.snapshot_version = stored.snapshot_version;
            if let Ok(aggregate) = serde_json::from_value::<A>(stored.aggregate) {
                folded.aggregate = aggregate;
                folded.current_sequence = stored.current_sequence;
            }
        }
        folded
    }

    /// Applies `events`, the stored events after `current_sequence` in order, once each.
    pub(crate) fn apply(
        &mut self,
        aggregate_id: &str,
        events: Vec<SerializedEvent>,
    ) -> Result<(), JetStreamError> {
        for event in events {
            let sequence = event.sequence;
            let envelope = EventEnvelope::<A>::try_from(event).map_err(|source| {
                JetStreamError::DecodeEvent {
                    aggregate_type: A::TYPE.to_string(),
                    aggregate_id: aggregate_id.to_string(),
                    sequence,
                    source: Box::new(source),
                }
            })?;
            self.aggregate.apply(envelope.payload);
            self.current_sequence = sequence;
        }
        Ok(())
    }

    /// The snapshot as cqrs-es loads it.
    pub(crate) fn to_serialized(
        &self,
        aggregate_id: &str,
    ) -> Result<SerializedSnapshot, JetStreamError> {
        Ok(SerializedSnapshot {
            aggregate_id: aggregate_id.to_string(),
            aggregate: self.aggregate_value(aggregate_id)?,
            current_sequence: self.current_sequence,
            current_snapshot: self.snapshot_version,
        })
    }

    /// The snapshot to store as version `version`.
    pub(crate) fn to_stored(
        &self,
        aggregate_id: &str,
        version: usize,
    ) -> Result<StoredSnapshot, JetStreamError> {
        Ok(StoredSnapshot {
            aggregate: self.aggregate_value(aggregate_id)?,
            current_sequence: self.current_sequence,
            snapshot_version: version,
        })
    }

    fn aggregate_value(&self, aggregate_id: &str) -> Result<Value, JetStreamError> {
        serde_json::to_value(&self.aggregate).map_err(|e| JetStreamError::InvalidCommit {
            reason: format!("cannot serialise {} {aggregate_id}: {e}", A::TYPE),
        })
    }
}
