//! The read path: commits come back in stream order through batched direct gets and are
//! checked to be gapless per aggregate from sequence 1.

use std::collections::HashMap;

use cqrs_es::persist::{ReplayStream, SerializedEvent};

use crate::error::JetStreamError;
use crate::pager::{Pager, RawMessage};
use crate::record;
use crate::repository::{Head, JetStreamEventRepository};

/// Events buffered between the reader task and a `ReplayStream` consumer.
const REPLAY_QUEUE: usize = 1024;

/// Checks per-aggregate sequences while commits are read.
#[derive(Default)]
struct GapCheck {
    next: HashMap<String, usize>,
}

impl GapCheck {
    fn accept(&mut self, event: &SerializedEvent) -> Result<(), JetStreamError> {
        let expected = self.next.entry(event.aggregate_id.clone()).or_insert(1);
        if event.sequence != *expected {
            return Err(JetStreamError::SequenceGap {
                aggregate_id: event.aggregate_id.clone(),
                expected: *expected,
                found: event.sequence,
            });
        }
        *expected += 1;
        Ok(())
    }
}

impl JetStreamEventRepository {
    /// Events of one aggregate with a sequence greater than `after`, in order.
    pub async fn read_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: usize,
    ) -> Result<Vec<SerializedEvent>, JetStreamError> {
        let subject = self.subject(aggregate_type, aggregate_id)?;
        let mut pager = self.pager(subject.clone());
        let mut gaps = GapCheck::default();
        let mut events = Vec::new();
        let mut head = None;
        while let Some(page) = pager.next_page().await? {
            for message in page {
                let commit =
                    record::decode(&message.payload, &message.subject, message.stream_sequence)?;
                head = Some(Head {
                    aggregate_sequence: commit.last_sequence(),
                    stream_sequence: message.stream_sequence,
                });
                for event in commit.into_events() {
                    gaps.accept(&event)?;
                    if event.sequence > after {
                        events.push(event);
                    }
                }
            }
        }
        if let Some(head) = head {
            self.remember(&subject, head);
        }
        Ok(events)
    }

    /// Streams every event on `filter` (one subject or a type wildcard) from a reader task.
    pub(crate) fn replay(&self, filter: String) -> ReplayStream {
        let (mut feed, stream) = ReplayStream::new(REPLAY_QUEUE);
        let mut pager = self.pager(filter);
        tokio::spawn(async move {
            let mut gaps = GapCheck::default();
            loop {
                let page = match pager.next_page().await {
                    Ok(Some(page)) => page,
                    Ok(None) => return,
                    Err(err) => {
                        // The consumer may be gone; nothing else to tell.
                        let _ = feed.push(Err(err.into())).await;
                        return;
                    }
                };
                for message in page {
                    for event in decode_checked(message, &mut gaps) {
                        let failed = event.is_err();
                        if feed.push(event.map_err(Into::into)).await.is_err() || failed {
                            return;
                        }
                    }
                }
            }
        });
        stream
    }

    fn pager(&self, filter: String) -> Pager {
        let config = &self.inner.config;
        Pager::new(
            self.inner.client.clone(),
            &config.stream_name,
            filter,
            1,
            config.read_batch,
            config.operation_timeout,
        )
    }
}

/// The events of one message, each checked for gaps; an error ends the list.
fn decode_checked(
    message: RawMessage,
    gaps: &mut GapCheck,
) -> Vec<Result<SerializedEvent, JetStreamError>> {
    let commit = match record::decode(&message.payload, &message.subject, message.stream_sequence) {
        Ok(commit) => commit,
        Err(err) => return vec![Err(err)],
    };
    let mut out = Vec::with_capacity(commit.events.len());
    for event in commit.into_events() {
        match gaps.accept(&event) {
            Ok(()) => out.push(Ok(event)),
            Err(err) => {
                out.push(Err(err));
                break;
            }
        }
    }
    out
}
