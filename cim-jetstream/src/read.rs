//! The read path: commits come back in stream order through batched direct gets and are
//! checked to be gapless per aggregate from sequence 1.

use std::collections::HashMap;

use cqrs_es::persist::{ReplayStream, SerializedEvent};

use crate::error::JetStreamError;
use crate::pager::{Page, Pager};
use crate::record::{self, Commit};
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
            let last_sequence = page.last_sequence;
            for commit in decode_page(&pager, page).await? {
                head = Some(commit.last_sequence());
                for event in commit.into_events() {
                    gaps.accept(&event)?;
                    if event.sequence > after {
                        events.push(event);
                    }
                }
            }
            if let Some(aggregate_sequence) = head {
                self.remember(
                    &subject,
                    Head {
                        aggregate_sequence,
                        stream_sequence: last_sequence,
                    },
                );
            }
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
                let commits = match pager.next_page().await {
                    Ok(Some(page)) => decode_page(&pager, page).await,
                    Ok(None) => return,
                    Err(err) => Err(err),
                };
                let events = commits.map(|commits| {
                    commits
                        .into_iter()
                        .flat_map(Commit::into_events)
                        .map(|event| gaps.accept(&event).map(|()| event))
                        .collect::<Vec<_>>()
                });
                let events = match events {
                    Ok(events) => events,
                    Err(err) => vec![Err(err)],
                };
                for event in events {
                    let failed = event.is_err();
                    // A failed push means the consumer is gone; an error ends the replay.
                    if feed.push(event.map_err(Into::into)).await.is_err() || failed {
                        return;
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
            config.read_batch,
            config.operation_timeout,
        )
    }
}

/// Decodes a page; a corrupt message is located so the error names its subject and sequence.
async fn decode_page(pager: &Pager, page: Page) -> Result<Vec<Commit>, JetStreamError> {
    let mut commits = Vec::with_capacity(page.payloads.len());
    for (index, payload) in page.payloads.iter().enumerate() {
        match record::decode(payload, pager.filter(), 0) {
            Ok(commit) => commits.push(commit),
            Err(JetStreamError::Decode { source, .. }) => {
                let (subject, stream_sequence) = pager.locate(page.from_sequence, index).await?;
                return Err(JetStreamError::Decode {
                    subject,
                    stream_sequence,
                    source,
                });
            }
            Err(other) => return Err(other),
        }
    }
    Ok(commits)
}
