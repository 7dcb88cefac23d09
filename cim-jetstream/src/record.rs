//! The message format: one JSON commit per message, holding every event of the commit.

use cqrs_es::persist::SerializedEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::JetStreamError;

/// A commit as written: borrowed from the events cqrs-es hands to `persist`.
#[derive(Serialize)]
struct CommitOut<'a> {
    aggregate_type: &'a str,
    aggregate_id: &'a str,
    events: Vec<EventOut<'a>>,
}

/// One event as written, borrowed.
#[derive(Serialize)]
struct EventOut<'a> {
    sequence: usize,
    event_type: &'a str,
    event_version: &'a str,
    payload: &'a Value,
    metadata: &'a Value,
}

/// A commit as read back.
#[derive(Deserialize)]
pub(crate) struct Commit {
    aggregate_type: String,
    aggregate_id: String,
    events: Vec<EventIn>,
}

/// One event as read back.
#[derive(Deserialize)]
struct EventIn {
    sequence: usize,
    event_type: String,
    event_version: String,
    payload: Value,
    metadata: Value,
}

/// Serialises one commit; `events` must be non-empty and belong to one aggregate.
pub(crate) fn encode(events: &[SerializedEvent]) -> Result<Vec<u8>, JetStreamError> {
    let Some(first) = events.first() else {
        return Err(JetStreamError::InvalidCommit {
            reason: "a commit needs at least one event".to_string(),
        });
    };
    let commit = CommitOut {
        aggregate_type: &first.aggregate_type,
        aggregate_id: &first.aggregate_id,
        events: events.iter().map(EventOut::from).collect(),
    };
    serde_json::to_vec(&commit).map_err(|e| JetStreamError::InvalidCommit {
        reason: format!("cannot serialise the commit: {e}"),
    })
}

/// Parses one stored message; `subject` and `stream_sequence` name it in errors.
pub(crate) fn decode(
    payload: &[u8],
    subject: &str,
    stream_sequence: u64,
) -> Result<Commit, JetStreamError> {
    serde_json::from_slice(payload).map_err(|source| JetStreamError::Decode {
        subject: subject.to_string(),
        stream_sequence,
        source,
    })
}

impl<'a> From<&'a SerializedEvent> for EventOut<'a> {
    fn from(e: &'a SerializedEvent) -> Self {
        EventOut {
            sequence: e.sequence,
            event_type: &e.event_type,
            event_version: &e.event_version,
            payload: &e.payload,
            metadata: &e.metadata,
        }
    }
}

impl EventIn {
    /// Whether this stored event is `other` (the aggregate is known from the subject).
    fn same_as(&self, other: &SerializedEvent) -> bool {
        self.sequence == other.sequence
            && self.event_type == other.event_type
            && self.event_version == other.event_version
            && self.payload == other.payload
            && self.metadata == other.metadata
    }
}

impl Commit {
    /// Whether this commit holds exactly `events`.
    pub(crate) fn holds(&self, events: &[SerializedEvent]) -> bool {
        self.events.len() == events.len()
            && self.events.iter().zip(events).all(|(a, b)| a.same_as(b))
    }

    /// How many events the commit holds.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// The aggregate sequence of the commit's last event (0 for an empty commit).
    pub(crate) fn last_sequence(&self) -> usize {
        self.events.last().map_or(0, |e| e.sequence)
    }

    /// The events as cqrs-es wants them.
    pub(crate) fn into_events(self) -> impl Iterator<Item = SerializedEvent> {
        let Commit {
            aggregate_type,
            aggregate_id,
            events,
        } = self;
        events.into_iter().map(move |e| SerializedEvent {
            aggregate_id: aggregate_id.clone(),
            sequence: e.sequence,
            aggregate_type: aggregate_type.clone(),
            event_type: e.event_type,
            event_version: e.event_version,
            payload: e.payload,
            metadata: e.metadata,
        })
    }
}

/// Checks that `events` can be one commit of an aggregate of type `aggregate_type`: one
/// aggregate of that type, consecutive sequences from >= 1.
pub(crate) fn check_commit_of(
    aggregate_type: &str,
    events: &[SerializedEvent],
) -> Result<(), JetStreamError> {
    if let Some(other) = events.iter().find(|e| e.aggregate_type != aggregate_type) {
        return Err(JetStreamError::InvalidCommit {
            reason: format!(
                "an event of type {} was handed to the store of {aggregate_type}",
                other.aggregate_type
            ),
        });
    }
    check_commit(events)
}

/// Checks that `events` can be one commit: one aggregate, consecutive sequences from >= 1.
pub(crate) fn check_commit(events: &[SerializedEvent]) -> Result<(), JetStreamError> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    if first.sequence == 0 {
        return Err(JetStreamError::InvalidCommit {
            reason: "event sequences start at 1".to_string(),
        });
    }
    for (offset, event) in events.iter().enumerate() {
        if event.aggregate_id != first.aggregate_id || event.aggregate_type != first.aggregate_type
        {
            return Err(JetStreamError::InvalidCommit {
                reason: format!(
                    "events of {} {} and {} {} cannot share a commit",
                    first.aggregate_type,
                    first.aggregate_id,
                    event.aggregate_type,
                    event.aggregate_id
                ),
            });
        }
        if event.sequence != first.sequence + offset {
            return Err(JetStreamError::InvalidCommit {
                reason: format!(
                    "sequences must be consecutive: expected {}, got {}",
                    first.sequence + offset,
                    event.sequence
                ),
            });
        }
    }
    Ok(())
}
