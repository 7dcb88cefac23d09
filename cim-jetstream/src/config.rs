//! Where the repository keeps its data and how long it waits.

use std::time::Duration;

use crate::error::{JetStreamError, NameKind};
use crate::group::GroupCommit;
use crate::names;
use crate::sync::SyncPolicy;

/// Names and bounds for a [`JetStreamEventRepository`](crate::JetStreamEventRepository).
///
/// Every field has a working default; change `replicas` to 3 on a three-node cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// The event stream; created if missing, verified (never recreated) if present.
    pub stream_name: String,
    /// Events of aggregate `T` with id `I` go to `<subject_prefix>.T.I`; the stream takes
    /// `<subject_prefix>.>`.
    pub subject_prefix: String,
    /// Replicas of the stream and the KV buckets (1 on one server, 3 in a cluster).
    pub replicas: usize,
    /// KV bucket for aggregate snapshots.
    pub snapshot_bucket: String,
    /// KV bucket for `GenericQuery` views.
    pub view_bucket: String,
    /// KV bucket for packed histories: an aggregate's events kept as one entry, so a load reads
    /// one message plus the commits stored after it (derived data, checked against the stream
    /// on every load; see the crate docs).
    pub history_bucket: String,
    /// A load that reads at least this many commits from the stream packs the history again;
    /// 0 turns packing off (every load reads one message per commit).
    pub pack_after: usize,
    /// How long the server remembers a `Nats-Msg-Id`, so a retried commit is stored once.
    pub duplicate_window: Duration,
    /// Bound on connecting to the server.
    pub connect_timeout: Duration,
    /// Bound on every request, publish acknowledgement and read page.
    pub operation_timeout: Duration,
    /// Messages asked for per batched direct get when reading.
    pub read_batch: usize,
    /// The disk-sync policy the nats-server deployment runs with, and so what an acknowledged
    /// commit survives (see [`SyncPolicy`]). nats-server sets it per server, not per stream:
    /// this field is what deployments and the test harness configure their servers from. The
    /// client protocol does not expose the server's setting, so the repository cannot check it.
    pub sync: SyncPolicy,
    /// Whether commits of different aggregates in flight at the same time are written as one
    /// atomic batch (nats-server 2.12+, stream setting `allow_atomic`). The default,
    /// [`GroupCommit::Auto`], groups under `SyncPolicy::Always` on nats-server 2.15 and later,
    /// which sync a batch once (see [`GroupCommit`] for the measurements behind it); it relies on
    /// `sync` matching the server's `sync_interval` (grouping under an interval is slower, not
    /// wrong). Grouping turns on `allow_atomic` on an existing stream created without it (a
    /// stream setting of nats-server 2.12+). A lone commit is never delayed; see the
    /// crate docs.
    pub group_commit: GroupCommit,
    /// Group commit: at most this many commits in one batch (1 to 1000, nats-server's limit).
    pub group_max_commits: usize,
    /// Group commit: a batch stops growing once its commits reach this many bytes (a single
    /// commit larger than this still goes, alone).
    pub group_max_bytes: usize,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        Self {
            stream_name: "CIM_EVENTS".to_string(),
            subject_prefix: "cim.events".to_string(),
            replicas: 1,
            snapshot_bucket: "cim_snapshots".to_string(),
            view_bucket: "cim_views".to_string(),
            history_bucket: "cim_history".to_string(),
            pack_after: 32,
            duplicate_window: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(5),
            read_batch: 1000,
            sync: SyncPolicy::default(),
            group_commit: GroupCommit::default(),
            group_max_commits: 256,
            group_max_bytes: 4 * 1024 * 1024,
        }
    }
}

impl JetStreamConfig {
    /// The default configuration with another stream name, prefix and buckets derived from
    /// `name`, so several independent stores can share one server (tests, tenants).
    pub fn named(name: &str) -> Self {
        Self {
            stream_name: format!("{name}_EVENTS"),
            subject_prefix: format!("{name}.events"),
            snapshot_bucket: format!("{name}_snapshots"),
            view_bucket: format!("{name}_views"),
            history_bucket: format!("{name}_history"),
            ..Self::default()
        }
    }

    /// Checks every name and bound; called by the repository constructors.
    pub fn validate(&self) -> Result<(), JetStreamError> {
        names::check_resource_name(NameKind::StreamName, &self.stream_name)?;
        names::check_prefix(&self.subject_prefix)?;
        names::check_resource_name(NameKind::BucketName, &self.snapshot_bucket)?;
        names::check_resource_name(NameKind::BucketName, &self.view_bucket)?;
        names::check_resource_name(NameKind::BucketName, &self.history_bucket)?;
        if self.replicas == 0 || self.replicas > 5 {
            return Err(JetStreamError::InvalidConfig {
                field: "replicas",
                reason: format!("must be between 1 and 5, got {}", self.replicas),
            });
        }
        self.sync.validate()?;
        if self.group_max_commits == 0 || self.group_max_commits > crate::group::SERVER_MAX_BATCH {
            return Err(JetStreamError::InvalidConfig {
                field: "group_max_commits",
                reason: format!(
                    "must be between 1 and {} (nats-server's batch limit), got {}",
                    crate::group::SERVER_MAX_BATCH,
                    self.group_max_commits
                ),
            });
        }
        if self.group_max_bytes == 0 {
            return Err(JetStreamError::InvalidConfig {
                field: "group_max_bytes",
                reason: "must be at least 1".to_string(),
            });
        }
        if self.read_batch == 0 {
            return Err(JetStreamError::InvalidConfig {
                field: "read_batch",
                reason: "must be at least 1".to_string(),
            });
        }
        Ok(())
    }
}
