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
//! stream, a pack that does not decode or does not add up (segment lengths and counts, type
//! indexes, its last commit): each is ignored (and logged), and the load reads the stream in
//! full.
//!
//! The format is this crate's own, since only this crate reads it: `cim-pack/2`, a JSON header
//! line (stream sequence, last commit length, the distinct event types, segment sizes), then
//! segments of at most 256 events, each a JSON array of `[type index, payload, metadata]`. What a
//! load spends on a pack, measured (`perf`, 1,000 small events): about two thirds building and
//! freeing the `serde_json::Value`s and strings a `SerializedEvent` owns, the rest parsing. So
//! a pack leaves out what the position and the key already say (sequence, aggregate type and
//! id) and names event types once, and a load decodes the segments on several cores.
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use cqrs_es::persist::SerializedEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::names::kv_token;
use crate::repository::JetStreamEventRepository;

/// What every pack starts with; anything else (an older format, garbage) is not a pack.
const MAGIC: &[u8] = b"cim-pack/2\n";

/// Events per segment: a load decodes a pack's segments on as many threads as there are cores.
const SEGMENT_EVENTS: usize = 256;

/// The fewest bytes a row takes in a segment: `[0,0,0]` and a comma. A segment's event count is
/// checked against its length with it before anything is allocated for the events.
const MIN_ROW_BYTES: usize = 8;

/// The longest event type and version, together, a pack names. Every event clones its type's
/// strings, so the bound keeps a decoded pack within a small multiple of its bytes (a row is at
/// least 8 bytes); histories with longer types are not packed and load from the stream.
const MAX_TYPE_BYTES: usize = 256;

/// The line after [`MAGIC`]: everything about the pack but its events.
#[derive(Clone, Serialize, Deserialize)]
struct Header<T> {
    /// The stream sequence of the aggregate's last commit in the pack.
    stream_sequence: u64,
    /// Events in that commit.
    last_commit_len: usize,
    /// The distinct `(event_type, event_version)` pairs, which events name by index.
    types: Vec<(T, T)>,
    /// Byte length and event count of each segment, in order.
    segments: Vec<(usize, usize)>,
}

/// One event in a segment: its type's index, payload and metadata. Its sequence is its position
/// in the pack plus one (a pack is gapless from 1), its aggregate the pack's key.
type Row = (usize, Value, Value);

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
        if !bytes.starts_with(MAGIC) {
            // A pack written by an older version of this crate: the next full read replaces it.
            tracing::debug!(
                key,
                "the packed history is in an older format; reading the stream"
            );
            return None;
        }
        match decode(bytes, aggregate_type, aggregate_id).await {
            Ok(pack) => Some(pack),
            Err(reason) => {
                tracing::warn!(key, %reason, "the packed history cannot be used; ignoring it");
                None
            }
        }
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
        let bytes = match encode(stream_sequence, last_commit_len, events) {
            Ok(bytes) => bytes,
            Err(reason) => {
                // Only later loads' speed depends on it: they read the stream instead.
                tracing::debug!(key, %reason, "history not packed");
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

/// Writes a pack: [`MAGIC`], the header line, then the segments, each a JSON array of [`Row`]s.
fn encode(
    stream_sequence: u64,
    last_commit_len: usize,
    events: &[SerializedEvent],
) -> Result<Vec<u8>, String> {
    if let Some((index, event)) = events
        .iter()
        .enumerate()
        .find(|(index, event)| event.sequence != index + 1)
    {
        return Err(format!(
            "event {} has sequence {}: not a whole history",
            index + 1,
            event.sequence
        ));
    }
    if let Some(event) = events
        .iter()
        .find(|event| event.event_type.len() + event.event_version.len() > MAX_TYPE_BYTES)
    {
        return Err(format!(
            "event type {:?} version {:?} is longer than a pack names ({MAX_TYPE_BYTES} bytes)",
            event.event_type, event.event_version
        ));
    }
    let mut types: Vec<(&str, &str)> = Vec::new();
    let mut type_index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut body = Vec::new();
    let mut segments = Vec::new();
    for segment in events.chunks(SEGMENT_EVENTS) {
        let rows: Vec<(usize, &Value, &Value)> = segment
            .iter()
            .map(|event| {
                let key = (event.event_type.as_str(), event.event_version.as_str());
                let index = *type_index.entry(key).or_insert_with(|| {
                    types.push(key);
                    types.len() - 1
                });
                (index, &event.payload, &event.metadata)
            })
            .collect();
        let before = body.len();
        serde_json::to_writer(&mut body, &rows).map_err(|err| err.to_string())?;
        segments.push((body.len() - before, segment.len()));
    }
    let header = Header {
        stream_sequence,
        last_commit_len,
        types,
        segments,
    };
    let mut bytes = MAGIC.to_vec();
    // serde_json escapes newlines inside strings, so the header is one line.
    serde_json::to_writer(&mut bytes, &header).map_err(|err| err.to_string())?;
    bytes.push(b'\n');
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Reads a pack, or says why it cannot be used. A pack of more than one segment is decoded on
/// tokio's blocking pool, split across the available cores: it is the largest single decode a
/// load does (about a millisecond per 1,000 small events), CPU work that should neither stall
/// the runtime's workers nor wait for one core. A one-segment pack, or any pack on one core, is
/// decoded inline. Every count and length in the header is checked against the bytes before
/// anything is allocated for it, so a corrupt or tampered pack is refused, never a crash.
async fn decode(bytes: Bytes, aggregate_type: &str, aggregate_id: &str) -> Result<Pack, String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a pack of this version")?;
    let line = rest
        .iter()
        .position(|&byte| byte == b'\n')
        .ok_or("the header line does not end")?;
    let header: Header<String> =
        serde_json::from_slice(&rest[..line]).map_err(|err| format!("header: {err}"))?;
    if let Some((event_type, version)) = header
        .types
        .iter()
        .find(|(event_type, version)| event_type.len() + version.len() > MAX_TYPE_BYTES)
    {
        return Err(format!(
            "event type {event_type:?} version {version:?} is longer than a pack names"
        ));
    }
    // Each segment as (bytes, first sequence, count), checked to cover the body exactly and to
    // be long enough for its count.
    let body_start = MAGIC.len() + line + 1;
    let mut offset = body_start;
    let mut first_sequence = 1;
    let mut segments = Vec::with_capacity(header.segments.len());
    for &(length, count) in &header.segments {
        let end = offset
            .checked_add(length)
            .filter(|&end| end <= bytes.len())
            .ok_or("a segment runs past the end")?;
        if count > length / MIN_ROW_BYTES {
            return Err(format!(
                "a segment of {length} bytes cannot hold the {count} events it claims"
            ));
        }
        segments.push((bytes.slice(offset..end), first_sequence, count));
        offset = end;
        // Bounded by the bytes: every count is at most its segment's length / 8.
        first_sequence += count;
    }
    if offset != bytes.len() {
        return Err("bytes after the last segment".to_string());
    }
    let total = first_sequence - 1;
    if header.last_commit_len == 0 || header.last_commit_len > total {
        return Err(format!(
            "its last commit has {} of {total} events",
            header.last_commit_len
        ));
    }
    let context = Arc::new(Context {
        types: header.types,
        aggregate_type: aggregate_type.to_string(),
        aggregate_id: aggregate_id.to_string(),
    });
    let workers = parallelism().min(segments.len());
    let mut events = Vec::with_capacity(total);
    if workers <= 1 {
        for segment in &segments {
            context.decode_segment(segment, &mut events)?;
        }
    } else {
        let mut jobs = Vec::with_capacity(workers);
        let per_worker = segments.len().div_ceil(workers);
        let mut segments = segments.into_iter();
        loop {
            let share: Vec<_> = segments.by_ref().take(per_worker).collect();
            if share.is_empty() {
                break;
            }
            // At most one decode per core in the whole process, however many loads run.
            let permit = decoders()
                .acquire_owned()
                .await
                .map_err(|err| err.to_string())?;
            let context = context.clone();
            jobs.push(tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let count = share.iter().map(|&(_, _, count)| count).sum();
                let mut events = Vec::with_capacity(count);
                for segment in &share {
                    context.decode_segment(segment, &mut events)?;
                }
                Ok::<_, String>(events)
            }));
        }
        for job in jobs {
            let mut decoded = job.await.map_err(|err| err.to_string())??;
            events.append(&mut decoded);
        }
    }
    Ok(Pack {
        stream_sequence: header.stream_sequence,
        last_commit_len: header.last_commit_len,
        events,
    })
}

/// What every segment of one pack shares.
struct Context {
    types: Vec<(String, String)>,
    aggregate_type: String,
    aggregate_id: String,
}

impl Context {
    /// Appends the events of one segment `(bytes, first sequence, count)` to `events`.
    fn decode_segment(
        &self,
        (bytes, first_sequence, count): &(Bytes, usize, usize),
        events: &mut Vec<SerializedEvent>,
    ) -> Result<(), String> {
        let rows: Vec<Row> = serde_json::from_slice(bytes)
            .map_err(|err| format!("segment from event {first_sequence}: {err}"))?;
        if rows.len() != *count {
            return Err(format!(
                "segment from event {first_sequence} holds {} events, not {count}",
                rows.len()
            ));
        }
        for (offset, (type_index, payload, metadata)) in rows.into_iter().enumerate() {
            let (event_type, event_version) = self
                .types
                .get(type_index)
                .ok_or_else(|| format!("event {} names no type", first_sequence + offset))?;
            events.push(SerializedEvent {
                aggregate_id: self.aggregate_id.clone(),
                sequence: first_sequence + offset,
                aggregate_type: self.aggregate_type.clone(),
                event_type: event_type.clone(),
                event_version: event_version.clone(),
                payload,
                metadata,
            });
        }
        Ok(())
    }
}

/// The cores this process may use (read once: it can mean reading cgroup files).
fn parallelism() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Permits for pack decodes on the blocking pool, one per core, shared by every repository.
fn decoders() -> Arc<Semaphore> {
    static DECODERS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    DECODERS
        .get_or_init(|| Arc::new(Semaphore::new(parallelism())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(sequence: usize, event_type: &str, version: &str) -> SerializedEvent {
        SerializedEvent {
            aggregate_id: "a-1".to_string(),
            sequence,
            aggregate_type: "ledger".to_string(),
            event_type: event_type.to_string(),
            event_version: version.to_string(),
            payload: serde_json::json!({ "n": sequence, "text": "line\nbreak \"quoted\"" }),
            metadata: serde_json::json!({}),
        }
    }

    fn history(count: usize) -> Vec<SerializedEvent> {
        (1..=count)
            .map(|sequence| match sequence % 3 {
                0 => event(sequence, "Added", "1"),
                1 => event(sequence, "Removed", "2"),
                _ => event(sequence, "Added\nodd", "1"),
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pack_reads_back_as_the_history_it_was_written_from() {
        for count in [
            1,
            SEGMENT_EVENTS,
            SEGMENT_EVENTS + 1,
            4 * SEGMENT_EVENTS + 3,
        ] {
            let events = history(count);
            let last_commit_len = count.min(2);
            let bytes = match encode(77, last_commit_len, &events) {
                Ok(bytes) => bytes,
                Err(reason) => panic!("{reason}"),
            };
            match decode(bytes.into(), "ledger", "a-1").await {
                Ok(pack) => {
                    assert_eq!(pack.events, events, "{count} events");
                    assert_eq!(
                        (pack.stream_sequence, pack.last_commit_len),
                        (77, last_commit_len)
                    );
                }
                Err(reason) => panic!("{count} events: {reason}"),
            }
        }
    }

    #[tokio::test]
    async fn a_pack_that_is_not_whole_is_refused_with_a_reason() {
        let events = history(2 * SEGMENT_EVENTS);
        let good = match encode(9, 1, &events) {
            Ok(bytes) => bytes,
            Err(reason) => panic!("{reason}"),
        };
        let header_end = MAGIC.len()
            + good[MAGIC.len()..]
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(0);
        let header: Header<String> = match serde_json::from_slice(&good[MAGIC.len()..header_end]) {
            Ok(header) => header,
            Err(err) => panic!("{err}"),
        };
        let changed = |change: fn(&mut Header<String>)| {
            let mut header = header.clone();
            change(&mut header);
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&serde_json::to_vec(&header).unwrap_or_default());
            bytes.extend_from_slice(&good[header_end..]);
            Bytes::from(bytes)
        };
        assert!(decode(changed(|_| ()), "ledger", "a-1").await.is_ok());
        let cases = [
            (
                "older format",
                Bytes::from_static(b"{\"stream_sequence\":1}"),
            ),
            ("truncated", Bytes::from(good[..good.len() - 1].to_vec())),
            ("trailing bytes", {
                let mut bytes = good.clone();
                bytes.push(b' ');
                Bytes::from(bytes)
            }),
            ("no last commit", changed(|h| h.last_commit_len = 0)),
            (
                "a last commit longer than the history",
                changed(|h| h.last_commit_len = 10_000),
            ),
            (
                "a type index out of range",
                changed(|h| h.types.truncate(1)),
            ),
            (
                "a segment count that lies",
                changed(|h| h.segments[0].1 += 1),
            ),
            (
                "a segment boundary moved",
                changed(|h| {
                    h.segments[0].0 -= 1;
                    h.segments[1].0 += 1;
                }),
            ),
        ];
        for (case, bytes) in cases {
            assert!(
                decode(bytes, "ledger", "a-1").await.is_err(),
                "{case} was accepted"
            );
        }
        let gap = vec![event(1, "Added", "1"), event(3, "Added", "1")];
        assert!(
            encode(3, 1, &gap).is_err(),
            "a history with a gap was packed"
        );
    }
}
