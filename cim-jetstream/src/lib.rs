//! cqrs-es persistence on NATS JetStream: every cqrs-es aggregate in the workspace can keep its
//! events in a JetStream stream, its snapshots and its query views in KV buckets.
//!
//! - [`JetStreamEventRepository`] implements `cqrs_es::persist::PersistedEventRepository`.
//!   Each aggregate instance has its own subject, `<prefix>.<aggregate_type>.<aggregate_id>`
//!   (both tokens validated: an id is never turned into a wildcard). A commit is one message
//!   holding all its events, so it is atomic; it is published with
//!   `Nats-Expected-Last-Subject-Sequence`, so a stale writer gets
//!   `PersistenceError::OptimisticLockError` from the server, and with a `Nats-Msg-Id` of
//!   aggregate type, id and first sequence. nats-server checks the expected sequence before it
//!   de-duplicates, so a commit retried after a lost ack comes back as a conflict; the writer then
//!   compares the subject's last stored commit with its own bytes and reports success when they
//!   match. Either way a retried commit is stored once.
//! - Group commit ([`GroupCommit`]; by default on under `SyncPolicy::Always` when the server is
//!   nats-server 2.15 or later):
//!   commits of *different* aggregates in flight at the same time are written as one atomic
//!   batch (ADR-50; the stream is created with `allow_atomic`), which nats-server 2.15 syncs to
//!   disk once (nats-io/nats-server#8539) where every commit alone costs a sync. A commit that
//!   finds nothing else in flight is published at once by its caller; the others go to one
//!   writer task per repository, which publishes whatever queued while its previous publish was
//!   in flight. Each batched message keeps its own `Nats-Expected-Last-Subject-Sequence` (at
//!   most one commit per aggregate per batch), so the per-aggregate check is unchanged; ADR-50
//!   forbids `Nats-Msg-Id` in a batch, and idempotency does not need it (the expectation admits
//!   a commit once; a retry is recognised by its bytes). A batch fails whole when one
//!   expectation fails: its commits are then published one by one, so the innocent ones land
//!   and the stale one gets `OptimisticLockError`. Older servers sync every message of a batch,
//!   and under an interval there is no sync to save, so there `Auto` publishes every commit
//!   alone (measured; see [`GroupCommit`]). Bounds:
//!   `group_max_commits`, `group_max_bytes`; [`JetStreamEventRepository::group_commit_stats`]
//!   counts what happened.
//! - Loads use batched direct gets (nats-server 2.11+): one round trip per 1,000 commits. On a
//!   replicated stream any replica may answer, so a load can briefly lag the leader; a command
//!   built on such a load fails with a conflict (the write path asks the leader), never with a
//!   lost update.
//! - Packed histories: the cost of a load is per stored message (server and client), so after a
//!   load that read at least `JetStreamConfig::pack_after` commits the aggregate's events are
//!   kept as one entry in the history bucket, and later loads read that entry plus the commits
//!   stored after it. A pack is derived data: it is used only when the stream still holds the
//!   pack's last commit where the pack says (the tail read starts there and compares), and is
//!   otherwise ignored in favour of the stream. Histories larger than one message are not packed.
//!   Packs are in the crate's own format (`cim-pack/2`: event types named once, sequences and
//!   the aggregate left to the position and the key, segments of 256 events decoded on the
//!   blocking pool across the cores); a pack whose header does not add up is refused before
//!   anything is allocated for it.
//! - Durability is the server's `sync_interval`, named by [`SyncPolicy`] in
//!   `JetStreamConfig::sync` (default `Always`: an acknowledged commit survives a power loss);
//!   `docs/event-store-durability.md` says what each policy survives.
//! - Snapshots live in a KV bucket, written with compare-and-set. cqrs-es 0.5.0 builds the
//!   snapshot it hands to `persist` by applying the new events a second time (`EventSink::write`
//!   has already applied them), so this crate ignores that payload and rebuilds the snapshot from
//!   the stored snapshot plus the stored events; `get_snapshot` likewise folds in any events
//!   newer than the snapshot. All three `PersistedEventStore` modes therefore load the same
//!   aggregate (`tests/replay_equivalence.rs` proves it).
//! - [`JetStreamViewRepository`] keeps `GenericQuery` views with versioned (revision-checked)
//!   updates.
//! - [`InMemoryEventRepository`] is the embedded default when there is no NATS server: the same
//!   rules without I/O. A commit must start exactly one past the aggregate's last event, else
//!   it is rejected whole with `OptimisticLockError` (cqrs-es's `MemStore` accepts it and prints
//!   every call); ids are checked as on JetStream, and snapshots are rebuilt the same way.
//! - `testing` (feature `testing`): real `nats-server` processes for tests, single or clustered.
//!
//! ```no_run
//! use cim_jetstream::{JetStreamConfig, JetStreamEventRepository, JetStreamEventStore};
//! use cqrs_es::CqrsFramework;
//! # use cqrs_es::doc::{MyAggregate, MyService};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let repo = JetStreamEventRepository::connect("nats://127.0.0.1:4222", JetStreamConfig::default())
//!     .await?;
//! // Events are the source of truth; `new_snapshot_store(repo, 100)` adds snapshots.
//! let store: JetStreamEventStore<MyAggregate> = JetStreamEventStore::new_event_store(repo);
//! let cqrs = CqrsFramework::new(store, vec![], MyService);
//! # drop(cqrs);
//! # Ok(())
//! # }
//! ```
//!
//! In memory, a stale writer loses just as it does on JetStream:
//!
//! ```
//! use cim_jetstream::{InMemoryEventRepository, InMemoryEventStore};
//! use cqrs_es::CqrsFramework;
//! use cqrs_es::persist::{PersistedEventRepository, PersistenceError};
//! # use cqrs_es::doc::{MyAggregate, MyCommands, MyService};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let repo = InMemoryEventRepository::new();
//! let store: InMemoryEventStore<MyAggregate> = InMemoryEventStore::new_event_store(repo.clone());
//! let cqrs = CqrsFramework::new(store, vec![], MyService);
//! cqrs.execute("acct-1", MyCommands::DoSomething).await?;
//!
//! let events = repo.get_events::<MyAggregate>("acct-1").await?;
//! assert_eq!(events.len(), 1);
//! // A writer that loaded before that commit tries to store sequence 1 again, and loses.
//! let stale = repo.persist::<MyAggregate>(&events, None).await;
//! assert!(matches!(stale, Err(PersistenceError::OptimisticLockError)));
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod fold;
mod group;
mod history;
mod memory;
mod names;
mod pager;
mod read;
mod record;
mod repository;
mod setup;
mod snapshot;
mod sync;
mod view;
mod write;

#[cfg(feature = "testing")]
pub mod testing;

pub use config::JetStreamConfig;
pub use error::{BoxError, JetStreamError, NameKind};
pub use group::{GroupCommit, GroupCommitStats};
pub use memory::{InMemoryEventRepository, InMemoryEventStore};
pub use repository::{JetStreamEventRepository, JetStreamEventStore};
pub use sync::SyncPolicy;
pub use view::JetStreamViewRepository;
