//! [`InMemoryEventRepository`]: the embedded default, with JetStream's write rules and no I/O.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistedEventStore, PersistenceError, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use serde_json::Value;

use crate::error::{JetStreamError, NameKind};
use crate::fold::{Folded, StoredSnapshot};
use crate::{names, record};

/// A cqrs-es event store whose events live in this process's memory.
pub type InMemoryEventStore<A> = PersistedEventStore<InMemoryEventRepository, A>;

/// cqrs-es persistence in memory, for tests and single-process use.
///
/// It keeps the rules of [`JetStreamEventRepository`](crate::JetStreamEventRepository), so a
/// program behaves the same on either:
/// - a commit is stored only if its first sequence is exactly the aggregate's last plus one,
///   else `PersistenceError::OptimisticLockError` (cqrs-es's `AggregateConflict`) and nothing
///   of it is stored;
/// - aggregate types and ids are checked as subject tokens (no `.`, `*`, `>` or whitespace);
/// - the snapshot cqrs-es hands to `persist` is ignored and rebuilt from the stored snapshot and
///   events, so all three `PersistedEventStore` modes load the same aggregate.
///
/// Cheap to clone: all clones share one store. Nothing is printed or written anywhere.
#[derive(Clone, Debug, Default)]
pub struct InMemoryEventRepository {
    state: Arc<RwLock<State>>,
}

/// Everything stored, per aggregate type.
#[derive(Debug, Default)]
struct State {
    types: HashMap<String, TypeLog>,
}

/// The events of one aggregate type in commit order, as `stream_all_events` replays them.
#[derive(Debug, Default)]
struct TypeLog {
    events: Vec<SerializedEvent>,
    aggregates: HashMap<String, Instance>,
}

#[derive(Debug, Default)]
struct Instance {
    /// Indices into `TypeLog::events`; sequences are gapless from 1, so event `n` is at `n - 1`.
    positions: Vec<usize>,
    snapshot: Option<StoredSnapshot>,
}

impl TypeLog {
    /// Events of `aggregate_id` with a sequence greater than `after`, in order.
    fn events_after(&self, aggregate_id: &str, after: usize) -> Vec<SerializedEvent> {
        self.aggregates
            .get(aggregate_id)
            .and_then(|instance| instance.positions.get(after..))
            .into_iter()
            .flatten()
            .filter_map(|&position| self.events.get(position).cloned())
            .collect()
    }

    /// The aggregate folded from its stored snapshot and events; `None` if it has neither.
    fn fold<A: Aggregate>(&self, aggregate_id: &str) -> Result<Option<Folded<A>>, JetStreamError> {
        let Some(instance) = self.aggregates.get(aggregate_id) else {
            return Ok(None);
        };
        let mut folded = Folded::<A>::start(instance.snapshot.clone());
        let tail = self.events_after(aggregate_id, folded.current_sequence);
        folded.apply(aggregate_id, tail)?;
        Ok(Some(folded))
    }
}

impl InMemoryEventRepository {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // Every mutation leaves the state consistent before it can run aggregate code (which may
    // panic), so a poisoned lock still guards consistent data.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn events_after<A: Aggregate>(
        &self,
        aggregate_id: &str,
        after: usize,
    ) -> Result<Vec<SerializedEvent>, JetStreamError> {
        check_names(A::TYPE, aggregate_id)?;
        Ok(self
            .read()
            .types
            .get(A::TYPE)
            .map(|log| log.events_after(aggregate_id, after))
            .unwrap_or_default())
    }

    /// Stores `events` as one commit, or nothing of them.
    fn append<A: Aggregate>(
        state: &mut State,
        events: &[SerializedEvent],
    ) -> Result<(), PersistenceError> {
        let Some(first) = events.first() else {
            return Ok(());
        };
        check_names(A::TYPE, &first.aggregate_id)?;
        let last = state
            .types
            .get(A::TYPE)
            .and_then(|log| log.aggregates.get(&first.aggregate_id))
            .map_or(0, |instance| instance.positions.len());
        if first.sequence != last + 1 {
            return Err(PersistenceError::OptimisticLockError);
        }
        // Created only now: a rejected commit leaves no trace, not even an empty aggregate.
        let log = state.types.entry(A::TYPE.to_string()).or_default();
        let instance = log
            .aggregates
            .entry(first.aggregate_id.clone())
            .or_default();
        let start = log.events.len();
        instance.positions.extend(start..start + events.len());
        log.events.extend_from_slice(events);
        Ok(())
    }

    /// Stores snapshot `version` rebuilt from the stored state, unless one as new is stored.
    fn refresh_snapshot<A: Aggregate>(
        state: &mut State,
        aggregate_id: &str,
        version: usize,
    ) -> Result<(), JetStreamError> {
        check_names(A::TYPE, aggregate_id)?;
        let Some(log) = state.types.get_mut(A::TYPE) else {
            return Ok(());
        };
        let Some(folded) = log.fold::<A>(aggregate_id)? else {
            return Ok(());
        };
        if folded.snapshot_version >= version {
            return Ok(());
        }
        let snapshot = folded.to_stored(aggregate_id, version)?;
        if let Some(instance) = log.aggregates.get_mut(aggregate_id) {
            instance.snapshot = Some(snapshot);
        }
        Ok(())
    }

    /// A replay of `events`, buffered whole so no task has to feed it.
    async fn replay(events: Vec<SerializedEvent>) -> Result<ReplayStream, PersistenceError> {
        let (mut feed, stream) = ReplayStream::new(events.len().max(1));
        for event in events {
            feed.push(Ok(event)).await?;
        }
        Ok(stream)
    }
}

fn check_names(aggregate_type: &str, aggregate_id: &str) -> Result<(), JetStreamError> {
    names::check_token(NameKind::AggregateType, aggregate_type)?;
    names::check_token(NameKind::AggregateId, aggregate_id)
}

impl PersistedEventRepository for InMemoryEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        Ok(self.events_after::<A>(aggregate_id, 0)?)
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        Ok(self.events_after::<A>(aggregate_id, last_sequence)?)
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        check_names(A::TYPE, aggregate_id)?;
        let folded = match self.read().types.get(A::TYPE) {
            Some(log) => log.fold::<A>(aggregate_id)?,
            None => None,
        };
        match folded {
            Some(folded) => Ok(Some(folded.to_serialized(aggregate_id)?)),
            None => Ok(None),
        }
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        record::check_commit_of(A::TYPE, events)?;
        let mut state = self.write();
        Self::append::<A>(&mut state, events)?;
        // cqrs-es 0.5.0 applies the new events twice to build this payload (see `fold.rs`), so
        // it is ignored and the snapshot rebuilt from what is stored.
        if let Some((aggregate_id, _double_applied, version)) = snapshot_update {
            // As on JetStream, the events are committed; a snapshot not written only leaves an
            // older one, which loads stay correct with.
            if let Err(err) = Self::refresh_snapshot::<A>(&mut state, &aggregate_id, version) {
                tracing::warn!(aggregate_type = A::TYPE, %aggregate_id, %err, "snapshot not written");
            }
        }
        Ok(())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.events_after::<A>(aggregate_id, 0)?;
        Self::replay(events).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        names::check_token(NameKind::AggregateType, A::TYPE)?;
        let events = self
            .read()
            .types
            .get(A::TYPE)
            .map(|log| log.events.clone())
            .unwrap_or_default();
        Self::replay(events).await
    }
}
