//! The read path: commits come back in stream order through batched direct gets and are
//! checked to be gapless per aggregate from sequence 1.

use std::collections::HashMap;

use cqrs_es::persist::{ReplayStream, SerializedEvent};

use crate::error::JetStreamError;
use crate::history::Pack;
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

/// What a read of one aggregate's subject found.
struct History {
    /// Every event, gapless from sequence 1.
    events: Vec<SerializedEvent>,
    /// The stream sequence of the last commit (0 when there is none).
    stream_sequence: u64,
    /// Events in the last commit.
    last_commit_len: usize,
    /// Commits read from the stream (not from a pack).
    commits_read: usize,
}

impl JetStreamEventRepository {
    /// Events of one aggregate with a sequence greater than `after`, in order.
    ///
    /// Reads the aggregate's packed history if it has a usable one (see `history.rs`), then the
    /// commits stored after it in one batched direct get per `read_batch` commits; packs the
    /// history again when at least `pack_after` commits came from the stream.
    pub async fn read_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: usize,
    ) -> Result<Vec<SerializedEvent>, JetStreamError> {
        let subject = self.subject(aggregate_type, aggregate_id)?;
        let pack_after = self.inner.config.pack_after;
        let packing = pack_after > 0;
        // Only an aggregate that has had `pack_after` events can have a pack; a head known to be
        // shorter saves the lookup (a stale head only means reading the stream in full).
        let may_have_pack = packing
            && self
                .head(&subject)
                .is_none_or(|head| head.aggregate_sequence >= pack_after);
        let mut history = None;
        // The pack and the subject's last commit are asked for together: when the last commit
        // is the pack's own (no commit since), the load is one round trip.
        let (pack, last) = if may_have_pack {
            tokio::join!(
                self.read_pack(aggregate_type, aggregate_id),
                self.last_direct(&subject)
            )
        } else {
            (None, None)
        };
        if let Some(pack) = pack {
            history = match complete_pack(&subject, pack, last) {
                Ok(whole) => {
                    self.remember_history(&subject, &whole);
                    Some(whole)
                }
                Err(pack) => self.read_after(&subject, Some(pack)).await?,
            };
            if history.is_none() {
                tracing::warn!(
                    subject,
                    "the packed history does not match the stream; reading the stream in full"
                );
            }
        }
        let history = match history {
            Some(history) => history,
            None => match self.read_after(&subject, None).await? {
                Some(history) => history,
                None => {
                    return Err(JetStreamError::Read {
                        subject,
                        source: "the stream changed while it was read".into(),
                    });
                }
            },
        };
        if packing && history.commits_read >= pack_after {
            self.write_pack(
                aggregate_type,
                aggregate_id,
                history.stream_sequence,
                history.last_commit_len,
                &history.events,
            )
            .await;
        }
        let mut events = history.events;
        let first_wanted = events.partition_point(|event| event.sequence <= after);
        events.drain(..first_wanted);
        Ok(events)
    }

    /// Reads the subject's commits after `pack` (or all of them). With a pack, the read starts
    /// at the pack's last commit and returns `None` unless that commit is stored there.
    async fn read_after(
        &self,
        subject: &str,
        pack: Option<Pack>,
    ) -> Result<Option<History>, JetStreamError> {
        let (mut events, from_sequence, mut last_commit_len, mut verify) = match pack {
            Some(pack) => {
                let verify = pack.last_commit().to_vec();
                (
                    pack.events,
                    pack.stream_sequence.max(1),
                    pack.last_commit_len,
                    Some(verify),
                )
            }
            None => (Vec::new(), 1, 0, None),
        };
        let mut gaps = GapCheck::default();
        if let Some(last) = events.last() {
            gaps.next
                .insert(last.aggregate_id.clone(), last.sequence + 1);
        }
        let mut pager = self.pager(subject.to_string(), from_sequence);
        let mut stream_sequence = 0;
        let mut commits_read = 0;
        while let Some(page) = pager.next_page().await? {
            stream_sequence = page.last_sequence;
            for commit in decode_page(&pager, page).await? {
                if let Some(expected) = verify.take() {
                    if !commit.holds(&expected) {
                        return Ok(None);
                    }
                    continue;
                }
                commits_read += 1;
                last_commit_len = commit.len();
                for event in commit.into_events() {
                    gaps.accept(&event)?;
                    events.push(event);
                }
            }
            if let Some(last) = events.last() {
                self.remember(subject, Head::at(last.sequence, stream_sequence));
            }
        }
        if verify.is_some() {
            // The pack's last commit is not in the stream (purged, or another stream).
            return Ok(None);
        }
        Ok(Some(History {
            events,
            stream_sequence,
            last_commit_len,
            commits_read,
        }))
    }

    /// The subject's last message through a direct get (any replica may answer), or `None` on
    /// any error: it only saves a round trip when it shows the pack is complete.
    async fn last_direct(&self, subject: &str) -> Option<(u64, bytes::Bytes)> {
        match self.inner.stream.direct_get_last_for_subject(subject).await {
            Ok(message) => Some((message.sequence, message.payload)),
            Err(err) => {
                tracing::debug!(subject, %err, "no last message by direct get");
                None
            }
        }
    }

    fn remember_history(&self, subject: &str, history: &History) {
        if let Some(last) = history.events.last() {
            self.remember(subject, Head::at(last.sequence, history.stream_sequence));
        }
    }

    /// Streams every event on `filter` (one subject or a type wildcard) from a reader task.
    pub(crate) fn replay(&self, filter: String) -> ReplayStream {
        let (mut feed, stream) = ReplayStream::new(REPLAY_QUEUE);
        let mut pager = self.pager(filter, 1);
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

    fn pager(&self, filter: String, from_sequence: u64) -> Pager {
        let config = &self.inner.config;
        Pager::new(
            self.inner.client.clone(),
            &config.stream_name,
            filter,
            from_sequence,
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

/// The pack as the whole history when `last` (the subject's last message) is the pack's own last
/// commit, stored where the pack says; otherwise the pack back, for a read of the tail.
fn complete_pack(
    subject: &str,
    pack: Pack,
    last: Option<(u64, bytes::Bytes)>,
) -> Result<History, Pack> {
    let Some((stream_sequence, payload)) = last else {
        return Err(pack);
    };
    if stream_sequence != pack.stream_sequence {
        return Err(pack);
    }
    match record::decode(&payload, subject, stream_sequence) {
        Ok(commit) if commit.holds(pack.last_commit()) => Ok(History {
            events: pack.events,
            stream_sequence,
            last_commit_len: pack.last_commit_len,
            commits_read: 0,
        }),
        _ => Err(pack),
    }
}
