//! Packed histories: an aggregate's events up to some stream sequence, kept as one KV entry so
//! that a load reads one message and a short tail instead of one message per commit.
//!
//! Loading a 1,000-commit aggregate through batched direct gets costs the server and the client
//! a message each (about 3 ms of the 4-6 ms a load took here, with JSON decoding most of the
//! rest); a pack turns those 1,000 messages into one. A pack is derived data, never the source
//! of truth: it is written after a load that read at least `JetStreamConfig::pack_after` commits
//! past the previous pack, and it is trusted only when the stream still holds the pack's last
//! commit, byte for byte in content, at the stream sequence the pack names (the read of the tail
//! starts there and compares). A stream that was purged or recreated, a pack from another
//! stream, a pack that does not decode or is not gapless from sequence 1: each is ignored (and
//! logged), and the load reads the stream in full.

use cqrs_es::persist::SerializedEvent;
use serde::{Deserialize, Serialize};

use crate::names::kv_token;
use crate::record::{EventIn, EventOut};
use crate::repository::JetStreamEventRepository;

/// A pack as written.
#[derive(Serialize)]
struct PackOut<'a> {
    stream_sequence: u64,
    last_commit_len: usize,
    events: Vec<EventOut<'a>>,
}

/// A pack as read.
#[derive(Deserialize)]
struct PackIn {
    stream_sequence: u64,
    last_commit_len: usize,
    events: Vec<EventIn>,
}

/// An aggregate's events 1..=N, all stored at or before `stream_sequence`, where its last
/// commit (`last_commit_len` events) is stored.
pub(crate) struct Pack {
    pub(crate) stream_sequence: u64,
    pub(crate) last_commit_len: usize,
    pub(crate) events: Vec<SerializedEvent>,
}

impl Pack {
    /// The events of the pack's last commit.
    pub(crate) fn last_commit(&self) -> &[SerializedEvent] {
        &self.events[self.events.len() - self.last_commit_len..]
    }
}

impl JetStreamEventRepository {
    /// The stored pack of one aggregate, or `None` when there is none or it cannot be used.
    pub(crate) async fn read_pack(&self, aggregate_type: &str, aggregate_id: &str) -> Option<Pack> {
        let key = pack_key(aggregate_type, aggregate_id);
        let bytes = match self.inner.history.get(&key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(err) => {
                tracing::warn!(key, %err, "cannot read the packed history; reading the stream");
                return None;
            }
        };
        let pack: PackIn = match serde_json::from_slice(&bytes) {
            Ok(pack) => pack,
            Err(err) => {
                tracing::warn!(key, %err, "the packed history does not decode; ignoring it");
                return None;
            }
        };
        let gapless = pack
            .events
            .iter()
            .enumerate()
            .all(|(index, event)| event.sequence == index + 1);
        if !gapless || pack.last_commit_len == 0 || pack.last_commit_len > pack.events.len() {
            tracing::warn!(
                key,
                "the packed history is not a whole history; ignoring it"
            );
            return None;
        }
        let events = pack
            .events
            .into_iter()
            .map(|event| event.into_serialized(aggregate_type, aggregate_id))
            .collect();
        Some(Pack {
            stream_sequence: pack.stream_sequence,
            last_commit_len: pack.last_commit_len,
            events,
        })
    }

    /// Stores `events` (the whole history, gapless from 1) as the aggregate's pack. Failing
    /// only costs later loads speed, so errors are logged; a history too large for one message
    /// is not packed.
    pub(crate) async fn write_pack(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        stream_sequence: u64,
        last_commit_len: usize,
        events: &[SerializedEvent],
    ) {
        let key = pack_key(aggregate_type, aggregate_id);
        let pack = PackOut {
            stream_sequence,
            last_commit_len,
            events: events.iter().map(EventOut::from).collect(),
        };
        let bytes = match serde_json::to_vec(&pack) {
            Ok(bytes) => bytes,
            Err(err) => {
                tracing::warn!(key, %err, "cannot serialise the packed history");
                return;
            }
        };
        // Leave room for the KV subject and headers within the server's message limit.
        let limit = self
            .inner
            .client
            .server_info()
            .max_payload
            .saturating_sub(4096);
        if bytes.len() > limit {
            tracing::debug!(key, bytes = bytes.len(), limit, "history too large to pack");
            return;
        }
        if let Err(err) = self.inner.history.put(&key, bytes.into()).await {
            tracing::warn!(key, %err, "cannot write the packed history");
        }
    }
}

fn pack_key(aggregate_type: &str, aggregate_id: &str) -> String {
    format!("{}.{}", kv_token(aggregate_type), kv_token(aggregate_id))
}
