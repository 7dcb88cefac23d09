//! Group commit: commits of different aggregates that are in flight at the same time are written
//! as one atomic batch (nats-server 2.12+, ADR-50), so that a server syncs its disk once for the
//! batch instead of once per commit. nats-server 2.15 does that for R1 file streams
//! (nats-io/nats-server#8539, "coalesce atomic batch syncs"); 2.12 and 2.14 sync every message of
//! a batch. [`GroupCommit::Auto`], the default, therefore groups on 2.15 and later, and only
//! under `sync_interval: always`, where there are syncs to save.
//!
//! A commit that finds nothing else in flight is published at once by its caller, alone,
//! exactly as without grouping, so a lone writer never pays for the writer task. A commit that
//! finds others in flight goes to the writer task, one per repository, which publishes what is
//! queued, waits for the server's answer, and meanwhile the next commits queue up. A batch holds at most one commit per aggregate (the server checks
//! `Nats-Expected-Last-Subject-Sequence` against the stream as it was before the batch, so a
//! second commit of the same subject could not be checked), at most
//! `JetStreamConfig::group_max_commits` commits and about `group_max_bytes` bytes.
//!
//! Every batched message carries its aggregate's expected last subject sequence, so the
//! per-aggregate check is the same as for a lone commit. ADR-50 forbids `Nats-Msg-Id` inside a
//! batch; it is not needed for idempotency: a commit can be stored only while its subject's last
//! message is the expected one, so a retried commit fails that check and the writer compares
//! bytes (see `write.rs`), exactly as for a lone retry. A batch fails whole when one expectation
//! fails (or the server refuses the batch for any other reason); its commits are then published
//! one by one by their callers, so the innocent ones land and the stale one gets its conflict.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use async_nats::HeaderMap;
use async_nats::header::{
    NATS_BATCH_COMMIT, NATS_BATCH_COMMIT_FINAL, NATS_BATCH_ID, NATS_BATCH_SEQUENCE,
    NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
};
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::sync::SyncPolicy;

/// The most messages nats-server accepts in one atomic batch (ADR-50's default limit).
pub const SERVER_MAX_BATCH: usize = 1000;

/// Commits waiting for the writer; senders wait when it is full.
const QUEUE: usize = 4096;

/// Whether concurrent commits are grouped into atomic batches.
///
/// Grouping pays only where it saves disk syncs: the server syncs every write
/// (`sync_interval: always`) and syncs a batch once. Measured with `strace` under
/// `sync_interval: always`, 1,000 commits in rounds of 100 (`docs/event-store-durability.md`):
/// nats-server 2.12.8 and 2.14.6 synced 1,008 times alone and 1,008 times grouped (they sync
/// every message of a batch), nats-server 2.15.1 1,008 times alone and 72 times grouped
/// (nats-io/nats-server#8539), and 100 commits in flight took about half the time. Where there
/// is no sync to save, a batch costs more than the same commits pipelined (its opening request
/// is a round trip of its own, and the server stages the batch): under `sync_interval: 2m` on
/// 2.15.1, 100 commits in flight took about three times as long grouped (`BENCHMARKS.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GroupCommit {
    /// [`On`](Self::On) when the repository's [`SyncPolicy`] is `Always` and the server it
    /// connects to is nats-server 2.15 or later (the version comes from the server's `INFO` at
    /// connect), [`Off`](Self::Off) otherwise.
    #[default]
    Auto,
    /// Every commit is published alone, pipelined with the others in flight.
    Off,
    /// Commits of different aggregates in flight together go out as one atomic batch (the
    /// stream must allow atomic publish; nats-server 2.12+).
    On,
}

/// The first nats-server release that syncs an atomic batch once (nats-io/nats-server#8539).
const COALESCED_BATCH_SYNCS: (u64, u64) = (2, 15);

impl GroupCommit {
    /// Whether commits are grouped under `sync` on a server that reports `server_version` (its
    /// `INFO` `version`, such as `"2.15.1"`). `Auto` groups under `SyncPolicy::Always` on 2.15
    /// and later; a version that does not parse counts as older.
    pub fn groups_on(self, server_version: &str, sync: SyncPolicy) -> bool {
        match self {
            Self::On => true,
            Self::Off => false,
            Self::Auto => {
                let mut parts = server_version
                    .trim_start_matches('v')
                    .split(['.', '-', '+'])
                    .map(str::parse::<u64>);
                let coalesces = match (parts.next(), parts.next()) {
                    (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= COALESCED_BATCH_SYNCS,
                    _ => false,
                };
                coalesces && sync == SyncPolicy::Always
            }
        }
    }
}

/// Counters of the group-commit writer since the repository was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Commits published alone (nothing else was in flight or waiting, or grouping is off), not
    /// counting those published again after their batch was rejected.
    pub commits_alone: u64,
    /// Atomic batches the server committed.
    pub batches_committed: u64,
    /// Commits stored as part of a committed batch.
    pub commits_in_batches: u64,
    /// Batches the server rejected whole (one expectation failed, or the batch was refused);
    /// their commits were published again one by one.
    pub batches_split: u64,
}

#[derive(Debug, Default)]
struct Counters {
    commits_alone: AtomicU64,
    batches_committed: AtomicU64,
    commits_in_batches: AtomicU64,
    batches_split: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> GroupCommitStats {
        GroupCommitStats {
            commits_alone: self.commits_alone.load(Ordering::Relaxed),
            batches_committed: self.batches_committed.load(Ordering::Relaxed),
            commits_in_batches: self.commits_in_batches.load(Ordering::Relaxed),
            batches_split: self.batches_split.load(Ordering::Relaxed),
        }
    }
}

/// One commit handed to the writer.
pub(crate) struct Pending {
    /// The aggregate's subject.
    pub(crate) subject: String,
    /// The encoded commit.
    pub(crate) payload: Bytes,
    /// `Nats-Msg-Id` used when the commit is published alone.
    pub(crate) message_id: String,
    /// The stream sequence the subject's last message must have (0: none).
    pub(crate) expected: u64,
    /// Where the outcome goes.
    pub(crate) done: oneshot::Sender<Sent>,
}

/// What became of a commit handed to the writer.
pub(crate) enum Sent {
    /// Published alone (with its `Nats-Msg-Id`): the server's answer, for the caller to judge.
    Alone(Result<PublishAck, PublishError>),
    /// Stored as part of an atomic batch, at this stream sequence.
    InBatch(u64),
    /// Its batch was rejected whole: the caller publishes it alone.
    BatchRejected,
}

/// The handle the repository keeps: a queue into the writer task and its counters.
#[derive(Debug)]
pub(crate) struct GroupWriter {
    /// `None` when grouping is off: every commit is published by its caller.
    queue: Option<mpsc::Sender<Pending>>,
    /// Commits between [`GroupWriter::enter`] and the end of their append.
    in_flight: Arc<AtomicUsize>,
    counters: Arc<Counters>,
}

/// One commit counted as in flight until it is dropped (at the end of its append, also when the
/// append is cancelled).
pub(crate) struct InFlight {
    in_flight: Arc<AtomicUsize>,
    alone: bool,
}

impl InFlight {
    /// Whether the caller publishes this commit itself, alone: grouping is off, or nothing else
    /// was in flight when it entered.
    pub(crate) fn alone(&self) -> bool {
        self.alone
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Bounds of one batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// At most this many commits.
    pub(crate) max_commits: usize,
    /// Stop adding commits once the batch's payloads reach this many bytes.
    pub(crate) max_bytes: usize,
}

impl GroupWriter {
    /// No writer: every commit is published by its caller, pipelined.
    pub(crate) fn off() -> Self {
        Self {
            queue: None,
            in_flight: Arc::default(),
            counters: Arc::new(Counters::default()),
        }
    }

    /// Starts the writer task on the current tokio runtime. It ends when the handle is dropped.
    pub(crate) fn start(
        client: async_nats::Client,
        jetstream: async_nats::jetstream::Context,
        limits: Limits,
    ) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            client,
            jetstream,
            limits,
            counters: counters.clone(),
        };
        tokio::spawn(writer.run(receiver));
        Self {
            queue: Some(queue),
            in_flight: Arc::default(),
            counters,
        }
    }

    /// Counts a commit as in flight and says who publishes it: its caller, alone, when grouping
    /// is off or nothing else is in flight (a lone commit never waits for the writer task);
    /// otherwise the writer, through [`send`](Self::send).
    pub(crate) fn enter(&self) -> InFlight {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let alone = self.queue.is_none() || before == 0;
        if alone {
            self.counters.commits_alone.fetch_add(1, Ordering::Relaxed);
        }
        InFlight {
            in_flight: self.in_flight.clone(),
            alone,
        }
    }

    /// Hands a commit to the writer and waits for its outcome; `None` when grouping is off or
    /// the writer is gone (its runtime was shut down), and the caller publishes the commit
    /// itself. Called only for a commit that [`enter`](Self::enter) did not leave alone.
    pub(crate) async fn send(
        &self,
        subject: String,
        payload: Bytes,
        message_id: String,
        expected: u64,
    ) -> Option<Sent> {
        let queue = self.queue.as_ref()?;
        let (done, outcome) = oneshot::channel();
        let pending = Pending {
            subject,
            payload,
            message_id,
            expected,
            done,
        };
        queue.send(pending).await.ok()?;
        outcome.await.ok()
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> GroupCommitStats {
        self.counters.snapshot()
    }
}

struct Writer {
    client: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    limits: Limits,
    counters: Arc<Counters>,
}

impl Writer {
    async fn run(self, mut receiver: mpsc::Receiver<Pending>) {
        let mut carried: VecDeque<Pending> = VecDeque::new();
        loop {
            let first = match carried.pop_front() {
                Some(pending) => pending,
                None => match receiver.recv().await {
                    Some(pending) => pending,
                    None => return,
                },
            };
            let batch = self.gather(first, &mut carried, &mut receiver);
            if let [_] = batch.as_slice() {
                for pending in batch {
                    self.publish_alone(pending).await;
                }
            } else {
                self.publish_batch(batch).await;
            }
        }
    }

    /// Takes what is waiting (carried-over commits first) into one batch after `first`, within
    /// the limits and at most one commit per subject; the rest is carried to the next round.
    fn gather(
        &self,
        first: Pending,
        carried: &mut VecDeque<Pending>,
        receiver: &mut mpsc::Receiver<Pending>,
    ) -> Vec<Pending> {
        let max_commits = self.limits.max_commits.clamp(1, SERVER_MAX_BATCH);
        let mut bytes = first.payload.len();
        let mut subjects = HashSet::from([first.subject.clone()]);
        let mut batch = vec![first];
        let mut deferred = VecDeque::new();
        // Bounds the scan when many commits of one aggregate are queued.
        let mut looked_at = 0;
        while batch.len() < max_commits && looked_at < 2 * max_commits {
            let next = match carried.pop_front() {
                Some(pending) => pending,
                None => match receiver.try_recv() {
                    Ok(pending) => pending,
                    Err(_) => break,
                },
            };
            looked_at += 1;
            if bytes + next.payload.len() > self.limits.max_bytes {
                deferred.push_back(next);
                break;
            }
            if subjects.insert(next.subject.clone()) {
                bytes += next.payload.len();
                batch.push(next);
            } else {
                deferred.push_back(next);
            }
        }
        deferred.append(carried);
        *carried = deferred;
        batch
    }

    async fn publish_alone(&self, pending: Pending) {
        self.counters.commits_alone.fetch_add(1, Ordering::Relaxed);
        let answer = crate::write::publish_alone(
            &self.jetstream,
            pending.subject,
            pending.payload,
            &pending.message_id,
            pending.expected,
        )
        .await;
        // The caller may have gone away (cancelled); the commit's fate is then the server's.
        let _ = pending.done.send(Sent::Alone(answer));
    }

    /// Publishes the commits as one atomic batch and tells each caller its outcome.
    async fn publish_batch(&self, batch: Vec<Pending>) {
        match self.send_batch(&batch).await {
            Ok(last_sequence) => {
                self.counters
                    .batches_committed
                    .fetch_add(1, Ordering::Relaxed);
                self.counters
                    .commits_in_batches
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                // The server stores a batch contiguously; its ack names the last message.
                let count = batch.len() as u64;
                for (index, pending) in batch.into_iter().enumerate() {
                    let sequence = last_sequence + 1 + index as u64 - count;
                    let _ = pending.done.send(Sent::InBatch(sequence));
                }
            }
            Err(reason) => {
                self.counters.batches_split.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    commits = batch.len(),
                    %reason,
                    "atomic batch rejected; its commits are published one by one"
                );
                for pending in batch {
                    let _ = pending.done.send(Sent::BatchRejected);
                }
            }
        }
    }

    /// ADR-50: the first message is a request the server answers with an empty reply (or an
    /// error), the middle ones are plain publishes, the last one carries `Nats-Batch-Commit: 1`
    /// and gets the publish acknowledgement of the whole batch. Returns the stream sequence of
    /// the last message, or why the batch was not stored.
    async fn send_batch(&self, batch: &[Pending]) -> Result<u64, BatchFailure> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let headers = |index: usize, pending: &Pending| {
            let mut headers = HeaderMap::new();
            headers.insert(NATS_BATCH_ID, id.as_str());
            headers.insert(NATS_BATCH_SEQUENCE, (index + 1).to_string());
            headers.insert(
                NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                pending.expected.to_string(),
            );
            headers
        };
        let Some((last, rest)) = batch.split_last() else {
            return Err(BatchFailure::Server("empty batch".to_string()));
        };
        for (index, pending) in rest.iter().enumerate() {
            let message_headers = headers(index, pending);
            if index == 0 {
                let reply = self
                    .client
                    .request_with_headers(
                        pending.subject.clone(),
                        message_headers,
                        pending.payload.clone(),
                    )
                    .await
                    .map_err(|err| BatchFailure::Server(err.to_string()))?;
                if !reply.payload.is_empty() {
                    return Err(BatchFailure::Server(
                        String::from_utf8_lossy(&reply.payload).into_owned(),
                    ));
                }
            } else {
                self.client
                    .publish_with_headers(
                        pending.subject.clone(),
                        message_headers,
                        pending.payload.clone(),
                    )
                    .await
                    .map_err(|err| BatchFailure::Server(err.to_string()))?;
            }
        }
        let commit = PublishMessage::build()
            .payload(last.payload.clone())
            .headers(headers(rest.len(), last))
            .header(NATS_BATCH_COMMIT, NATS_BATCH_COMMIT_FINAL);
        let ack = async {
            self.jetstream
                .send_publish(last.subject.clone(), commit)
                .await?
                .await
        }
        .await;
        match ack {
            Ok(ack) if ack.sequence >= batch.len() as u64 => Ok(ack.sequence),
            Ok(ack) => Err(BatchFailure::Server(format!(
                "acknowledged at stream sequence {} for {} messages",
                ack.sequence,
                batch.len()
            ))),
            Err(err) if err.kind() == PublishErrorKind::WrongLastSequence => {
                Err(BatchFailure::Expectation)
            }
            Err(err) => Err(BatchFailure::Server(err.to_string())),
        }
    }
}

/// Why a batch was not stored.
#[derive(Debug)]
enum BatchFailure {
    /// One commit's expected last subject sequence did not hold.
    Expectation,
    /// The server refused or did not answer the batch.
    Server(String),
}

impl std::fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Expectation => f.write_str("an expected last subject sequence did not hold"),
            Self::Server(reason) => f.write_str(reason),
        }
    }
}
