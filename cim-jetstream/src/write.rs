//! The append path: one message per commit, checked by the server against the expected last
//! subject sequence and de-duplicated by `Nats-Msg-Id`; commits in flight together are written
//! as one atomic batch by the group-commit writer (`group.rs`).

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::{PublishMessage, StreamMessage};
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use bytes::Bytes;
use cqrs_es::persist::SerializedEvent;

use crate::error::JetStreamError;
use crate::group::Sent;
use crate::record;
use crate::repository::{Head, JetStreamEventRepository};

impl JetStreamEventRepository {
    /// Appends one commit (events of one aggregate with consecutive sequences) atomically.
    ///
    /// Returns the stream sequence of the commit's message. A stale writer (the aggregate has
    /// moved past `events[0].sequence - 1`) gets [`JetStreamError::Conflict`]; publishing the same
    /// commit again within the duplicate window stores nothing new and succeeds.
    pub async fn append(&self, events: &[SerializedEvent]) -> Result<u64, JetStreamError> {
        record::check_commit(events)?;
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return Ok(0);
        };
        let subject = self.subject(&first.aggregate_type, &first.aggregate_id)?;
        let payload = Bytes::from(record::encode(events)?);
        let expected = match self
            .expected_stream_sequence(&subject, first.sequence - 1)
            .await?
        {
            Expected::After(stream_sequence) => stream_sequence,
            Expected::Behind => return self.already_stored(subject, &payload, last.sequence).await,
        };
        let message_id = format!(
            "{}.{}.{}",
            first.aggregate_type, first.aggregate_id, first.sequence
        );
        // Held until the append ends, so commits arriving meanwhile know this one is in flight.
        let in_flight = self.inner.group.enter();
        let sent = if in_flight.alone() {
            None
        } else {
            self.inner
                .group
                .send(
                    subject.clone(),
                    payload.clone(),
                    message_id.clone(),
                    expected,
                )
                .await
        };
        let mut answer = match sent {
            Some(Sent::Alone(answer)) => Some(answer),
            Some(Sent::InBatch(stream_sequence)) => {
                self.remember(&subject, Head::at(last.sequence, stream_sequence));
                return Ok(stream_sequence);
            }
            // Alone from the start, or the batch failed whole (maybe for another commit's sake),
            // or the writer is gone: this commit goes alone, and its own expectation decides.
            Some(Sent::BatchRejected) | None => None,
        };
        let mut spurious = 0;
        let ack = loop {
            let attempt = match answer.take() {
                Some(answer) => answer,
                None => {
                    publish_alone(
                        &self.inner.jetstream,
                        subject.clone(),
                        payload.clone(),
                        &message_id,
                        expected,
                    )
                    .await
                }
            };
            let err = match attempt {
                Ok(ack) => break ack,
                Err(err) => err,
            };
            self.forget(&subject);
            if !is_wrong_last_sequence(&err) {
                return Err(Self::publish_error(
                    err.kind(),
                    subject,
                    err,
                    self.inner.config.operation_timeout,
                ));
            }
            match self.settle_rejected(&subject, &payload, expected).await? {
                Rejected::Stored(stream_sequence) => {
                    self.remember(&subject, Head::at(last.sequence, stream_sequence));
                    return Ok(stream_sequence);
                }
                // The expectation holds after all: a clustered leader can reject a commit that
                // follows its predecessor too closely (10164). Publish it again, a few times.
                Rejected::ExpectationHolds if spurious < MAX_SPURIOUS_RETRIES => {
                    spurious += 1;
                    tracing::debug!(subject, expected, spurious, "spurious wrong last sequence");
                    tokio::task::yield_now().await;
                }
                Rejected::ExpectationHolds | Rejected::Conflict => {
                    return Err(JetStreamError::Conflict { subject });
                }
            }
        };
        if ack.duplicate && !self.stored_equals(ack.sequence, &payload, &subject).await? {
            // Same Msg-Id, different content: another writer's commit took this sequence.
            self.forget(&subject);
            return Err(JetStreamError::Conflict { subject });
        }
        self.remember(&subject, Head::at(last.sequence, ack.sequence));
        Ok(ack.sequence)
    }

    /// The stream sequence the subject's last message must have for a commit that follows
    /// aggregate sequence `after`.
    async fn expected_stream_sequence(
        &self,
        subject: &str,
        after: usize,
    ) -> Result<Expected, JetStreamError> {
        let head = match self.head(subject) {
            Some(head) if head.aggregate_sequence >= after => head,
            // A new aggregate: 0 makes the server demand an empty subject.
            None if after == 0 => return Ok(Expected::After(0)),
            _ => self.lookup_head(subject).await?,
        };
        if head.aggregate_sequence == after {
            Ok(Expected::After(head.stream_sequence))
        } else if head.aggregate_sequence > after {
            Ok(Expected::Behind)
        } else {
            Err(JetStreamError::SequenceGap {
                aggregate_id: subject.to_string(),
                expected: head.aggregate_sequence + 1,
                found: after + 1,
            })
        }
    }

    /// Why the server said "wrong last sequence" to a commit expecting the subject's last
    /// message at `expected`: the commit is already stored (a retry), or the subject is still
    /// where the commit expected it (a spurious rejection), or another commit got there first.
    async fn settle_rejected(
        &self,
        subject: &str,
        payload: &[u8],
        expected: u64,
    ) -> Result<Rejected, JetStreamError> {
        Ok(match self.last_message(subject).await? {
            Some(message) if message.payload.as_ref() == payload => {
                Rejected::Stored(message.sequence)
            }
            Some(message) if message.sequence == expected => Rejected::ExpectationHolds,
            None if expected == 0 => Rejected::ExpectationHolds,
            _ => Rejected::Conflict,
        })
    }

    /// Settles a commit the aggregate has already moved past: it succeeds only if the subject's
    /// last stored commit is this very commit (a retry after a lost ack), else it is a conflict.
    ///
    /// nats-server checks the expected subject sequence before `Nats-Msg-Id` de-duplication, so
    /// a retried publish comes back as "wrong last sequence"; comparing bytes tells the two apart.
    async fn already_stored(
        &self,
        subject: String,
        payload: &[u8],
        last_sequence: usize,
    ) -> Result<u64, JetStreamError> {
        self.forget(&subject);
        let stored = self.last_message(&subject).await?;
        match stored {
            Some(message) if message.payload.as_ref() == payload => {
                self.remember(&subject, Head::at(last_sequence, message.sequence));
                Ok(message.sequence)
            }
            _ => Err(JetStreamError::Conflict { subject }),
        }
    }

    fn publish_error(
        kind: PublishErrorKind,
        subject: String,
        err: async_nats::jetstream::context::PublishError,
        after: std::time::Duration,
    ) -> JetStreamError {
        match kind {
            PublishErrorKind::TimedOut => JetStreamError::Timeout {
                operation: format!("publishing to {subject}"),
                after,
            },
            _ => JetStreamError::Publish {
                subject,
                source: Box::new(err),
            },
        }
    }

    /// Asks the stream leader for the subject's last commit.
    async fn lookup_head(&self, subject: &str) -> Result<Head, JetStreamError> {
        let head = match self.last_message(subject).await? {
            Some(message) => {
                let commit = record::decode(&message.payload, subject, message.sequence)?;
                Head::at(commit.last_sequence(), message.sequence)
            }
            None => Head::at(0, 0),
        };
        self.remember(subject, head);
        Ok(head)
    }

    /// The subject's last message, read from the stream leader (never a lagging replica).
    async fn last_message(&self, subject: &str) -> Result<Option<StreamMessage>, JetStreamError> {
        match self
            .inner
            .stream
            .get_last_raw_message_by_subject(subject)
            .await
        {
            Ok(message) => Ok(Some(message)),
            Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(err) => Err(JetStreamError::Read {
                subject: subject.to_string(),
                source: Box::new(err),
            }),
        }
    }

    /// Whether the message stored at `stream_sequence` is byte-identical to `payload`.
    async fn stored_equals(
        &self,
        stream_sequence: u64,
        payload: &[u8],
        subject: &str,
    ) -> Result<bool, JetStreamError> {
        let stored = self
            .inner
            .stream
            .get_raw_message(stream_sequence)
            .await
            .map_err(|err| JetStreamError::Read {
                subject: subject.to_string(),
                source: Box::new(err),
            })?;
        Ok(stored.payload.as_ref() == payload)
    }
}

/// Publishes one commit alone, with its `Nats-Msg-Id` and the expected last subject sequence
/// (0: the subject must be empty); used by callers and by the group-commit writer alike.
pub(crate) async fn publish_alone(
    jetstream: &async_nats::jetstream::Context,
    subject: String,
    payload: Bytes,
    message_id: &str,
    expected: u64,
) -> Result<PublishAck, PublishError> {
    let publish = PublishMessage::build()
        .payload(payload)
        .message_id(message_id)
        .expected_last_subject_sequence(expected);
    jetstream.send_publish(subject, publish).await?.await
}

/// How often a commit whose expectation still holds is published again after the server
/// rejected it as "wrong last sequence".
const MAX_SPURIOUS_RETRIES: usize = 3;

/// True for both of the server's "wrong last sequence" errors: 10071 (with the sequence) and
/// 10164 (without; a clustered leader checking before it proposes).
fn is_wrong_last_sequence(err: &PublishError) -> bool {
    err.kind() == PublishErrorKind::WrongLastSequence
        || std::error::Error::source(err)
            .and_then(|source| source.downcast_ref::<async_nats::jetstream::Error>())
            .is_some_and(|source| {
                source.error_code() == ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
            })
}

/// What a "wrong last sequence" answer turned out to mean.
enum Rejected {
    /// The commit is the subject's last message, at this stream sequence.
    Stored(u64),
    /// The subject's last message is the expected one: the rejection was spurious.
    ExpectationHolds,
    /// Another commit is the subject's last message.
    Conflict,
}

/// What the expected last subject sequence of a commit is.
enum Expected {
    /// Publish expecting the subject's last message at this stream sequence (0: none).
    After(u64),
    /// The aggregate is already past the commit's start.
    Behind,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(err_code: u64) -> PublishError {
        let body =
            format!(r#"{{"code":400,"err_code":{err_code},"description":"wrong last sequence"}}"#);
        match serde_json::from_str::<async_nats::jetstream::Error>(&body) {
            Ok(error) => PublishError::with_source(PublishErrorKind::Other, error),
            Err(err) => panic!("the test's error body does not parse: {err}"),
        }
    }

    #[test]
    fn both_wrong_last_sequence_errors_are_recognised() {
        assert!(is_wrong_last_sequence(&PublishError::new(
            PublishErrorKind::WrongLastSequence
        )));
        // 10164: a clustered leader's check, which async-nats reports as `Other`.
        assert!(is_wrong_last_sequence(&server_error(10164)));
        // Anything else is not a conflict candidate.
        assert!(!is_wrong_last_sequence(&server_error(10077)));
        assert!(!is_wrong_last_sequence(&PublishError::new(
            PublishErrorKind::TimedOut
        )));
    }
}
