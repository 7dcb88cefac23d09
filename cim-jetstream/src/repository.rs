//! [`JetStreamEventRepository`]: construction, subjects and the cqrs-es trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_nats::jetstream::{self, kv, stream};
use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistedEventStore, PersistenceError, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use serde_json::Value;

use crate::config::JetStreamConfig;
use crate::error::{JetStreamError, NameKind};
use crate::group::{GroupCommit, GroupCommitStats, GroupWriter, Limits};
use crate::{names, record, setup};

/// A cqrs-es event store whose events live in JetStream.
pub type JetStreamEventStore<A> = PersistedEventStore<JetStreamEventRepository, A>;

/// How many aggregate heads the write path remembers before it starts afresh.
const MAX_REMEMBERED_HEADS: usize = 100_000;

/// cqrs-es persistence on one JetStream stream, a snapshot bucket and a view bucket.
///
/// Cheap to clone (all clones share one connection and one head cache).
#[derive(Clone, Debug)]
pub struct JetStreamEventRepository {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) client: async_nats::Client,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) stream: stream::Stream,
    pub(crate) snapshots: kv::Store,
    pub(crate) views: kv::Store,
    pub(crate) history: kv::Store,
    pub(crate) config: JetStreamConfig,
    /// Last known commit per subject, so an append usually needs no lookup before publishing.
    heads: Mutex<HashMap<String, Head>>,
    /// The group-commit writer every append goes through.
    pub(crate) group: GroupWriter,
}

/// The last commit on an aggregate's subject: its last event and its stream sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) aggregate_sequence: usize,
    pub(crate) stream_sequence: u64,
}

impl Head {
    /// The aggregate's last event is `aggregate_sequence`, in the commit stored at
    /// `stream_sequence`.
    pub(crate) fn at(aggregate_sequence: usize, stream_sequence: u64) -> Self {
        Self {
            aggregate_sequence,
            stream_sequence,
        }
    }
}

impl JetStreamEventRepository {
    /// Connects to `url` (bounded by `config.connect_timeout`) and calls [`new`](Self::new).
    pub async fn connect(url: &str, config: JetStreamConfig) -> Result<Self, JetStreamError> {
        config.validate()?;
        let client = setup::connect(url, &config).await?;
        Self::new(client, config).await
    }

    /// Uses an existing client: creates the stream and buckets if missing, or verifies them.
    pub async fn new(
        client: async_nats::Client,
        config: JetStreamConfig,
    ) -> Result<Self, JetStreamError> {
        config.validate()?;
        let jetstream = jetstream::context::ContextBuilder::new()
            .timeout(config.operation_timeout)
            .build(client.clone());
        let bound = config.operation_timeout * 3;
        let grouped = config
            .group_commit
            .groups_on(&client.server_info().version, config.sync);
        if grouped && config.group_commit == GroupCommit::Auto {
            tracing::info!(
                server_version = %client.server_info().version,
                stream = %config.stream_name,
                "grouping concurrent commits into atomic batches (GroupCommit::Auto: nats-server \
                 2.15+ and SyncPolicy::Always, which must match the server's sync_interval)"
            );
        }
        let stream = setup::within(
            bound,
            || format!("setting up stream {}", config.stream_name),
            setup::ensure_stream(&jetstream, &config, grouped),
        )
        .await??;
        let snapshots = setup::within(
            bound,
            || format!("setting up bucket {}", config.snapshot_bucket),
            setup::ensure_bucket(&jetstream, &config.snapshot_bucket, config.replicas),
        )
        .await??;
        let views = setup::within(
            bound,
            || format!("setting up bucket {}", config.view_bucket),
            setup::ensure_bucket(&jetstream, &config.view_bucket, config.replicas),
        )
        .await??;
        let history = setup::within(
            bound,
            || format!("setting up bucket {}", config.history_bucket),
            setup::ensure_bucket(&jetstream, &config.history_bucket, config.replicas),
        )
        .await??;
        // A stream that does not allow atomic batches gets every commit published alone.
        let group = if grouped && stream.cached_info().config.allow_atomic_publish {
            GroupWriter::start(
                client.clone(),
                jetstream.clone(),
                Limits {
                    max_commits: config.group_max_commits,
                    max_bytes: config.group_max_bytes,
                },
            )
        } else {
            GroupWriter::off()
        };
        Ok(Self {
            inner: Arc::new(Inner {
                group,
                client,
                jetstream,
                stream,
                snapshots,
                views,
                history,
                config,
                heads: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &JetStreamConfig {
        &self.inner.config
    }

    /// What the group-commit writer has done so far: commits published alone, atomic batches
    /// committed and the commits in them, batches rejected whole and split.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.inner.group.stats()
    }

    /// The JetStream context (with the configured timeout), for callers that need more.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.inner.jetstream
    }

    /// The subject of one aggregate instance, `<prefix>.<aggregate_type>.<aggregate_id>`.
    ///
    /// Both tokens are validated: an id with `.`, `*`, `>` or whitespace is an error naming it.
    pub fn subject(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<String, JetStreamError> {
        names::check_token(NameKind::AggregateType, aggregate_type)?;
        names::check_token(NameKind::AggregateId, aggregate_id)?;
        Ok(format!(
            "{}.{}.{}",
            self.inner.config.subject_prefix, aggregate_type, aggregate_id
        ))
    }

    /// The filter matching every instance of one aggregate type.
    pub(crate) fn type_filter(&self, aggregate_type: &str) -> Result<String, JetStreamError> {
        names::check_token(NameKind::AggregateType, aggregate_type)?;
        Ok(format!(
            "{}.{}.*",
            self.inner.config.subject_prefix, aggregate_type
        ))
    }

    pub(crate) fn head(&self, subject: &str) -> Option<Head> {
        self.heads().get(subject).copied()
    }

    pub(crate) fn remember(&self, subject: &str, head: Head) {
        let mut heads = self.heads();
        if heads.len() >= MAX_REMEMBERED_HEADS && !heads.contains_key(subject) {
            heads.clear();
        }
        let newer = heads
            .get(subject)
            .is_none_or(|known| known.stream_sequence <= head.stream_sequence);
        if newer {
            heads.insert(subject.to_string(), head);
        }
    }

    pub(crate) fn forget(&self, subject: &str) {
        self.heads().remove(subject);
    }

    fn heads(&self) -> std::sync::MutexGuard<'_, HashMap<String, Head>> {
        // The map only caches; a panic elsewhere cannot leave it inconsistent.
        self.inner
            .heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl PersistedEventRepository for JetStreamEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        Ok(self.read_events(A::TYPE, aggregate_id, 0).await?)
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        Ok(self
            .read_events(A::TYPE, aggregate_id, last_sequence)
            .await?)
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(self.current_snapshot::<A>(aggregate_id).await?)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        record::check_commit_of(A::TYPE, events)?;
        self.append(events).await?;
        // cqrs-es 0.5.0 builds the snapshot payload by applying the new events to an aggregate
        // that already has them applied (see `fold.rs`), so the payload is ignored and the
        // snapshot is rebuilt from the stored events instead.
        if let Some((aggregate_id, _double_applied, version)) = snapshot_update {
            self.refresh_snapshot::<A>(&aggregate_id, version).await;
        }
        Ok(())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let subject = self.subject(A::TYPE, aggregate_id)?;
        Ok(self.replay(subject))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let filter = self.type_filter(A::TYPE)?;
        Ok(self.replay(filter))
    }
}
