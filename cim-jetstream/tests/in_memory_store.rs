//! The in-memory repository keeps JetStream's rules without a server: stale and concurrent
//! writers lose whole commits, reads come back in order and per aggregate, and event, snapshot
//! and aggregate stores all load the same aggregate.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use cim_jetstream::{InMemoryEventRepository, InMemoryEventStore};
use common::{
    Ledger, LedgerCommand, LedgerEvent, TestResult, added_events, amounts,
    assert_store_modes_agree, run_script, sequences,
};
use cqrs_es::doc::{MyAggregate, MyCommands, MyService};
use cqrs_es::persist::{
    EventStoreAggregateContext, PersistedEventRepository, PersistenceError, ReplayStream,
};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventEnvelope, EventStore};
use tokio::sync::Barrier;

/// An event store that stops between loading an aggregate and committing to it, so a test can
/// let another writer commit in between. The repository alone decides who wins.
struct PausingStore {
    inner: InMemoryEventStore<Ledger>,
    loaded: Arc<Barrier>,
    resume: Arc<Barrier>,
}

impl EventStore<Ledger> for PausingStore {
    type AC = EventStoreAggregateContext<Ledger>;

    async fn load_events(
        &self,
        id: &str,
    ) -> Result<Vec<EventEnvelope<Ledger>>, AggregateError<common::LedgerError>> {
        self.inner.load_events(id).await
    }

    async fn load_aggregate(
        &self,
        id: &str,
    ) -> Result<Self::AC, AggregateError<common::LedgerError>> {
        let context = self.inner.load_aggregate(id).await?;
        self.loaded.wait().await;
        Ok(context)
    }

    async fn commit(
        &self,
        events: Vec<LedgerEvent>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<Ledger>>, AggregateError<common::LedgerError>> {
        self.resume.wait().await;
        self.inner.commit(events, context, metadata).await
    }
}

#[tokio::test]
async fn stale_writer_gets_aggregate_conflict_through_cqrs() -> TestResult {
    let repo = InMemoryEventRepository::new();
    let loaded = Arc::new(Barrier::new(2));
    let resume = Arc::new(Barrier::new(2));
    let stale = CqrsFramework::new(
        PausingStore {
            inner: InMemoryEventStore::new_event_store(repo.clone()),
            loaded: Arc::clone(&loaded),
            resume: Arc::clone(&resume),
        },
        vec![],
        (),
    );
    let fresh = CqrsFramework::new(
        InMemoryEventStore::<Ledger>::new_event_store(repo.clone()),
        vec![],
        (),
    );

    let slow =
        tokio::spawn(async move { stale.execute("acct", LedgerCommand::Add(vec![1])).await });
    // The slow writer has loaded the empty aggregate; another commits first.
    loaded.wait().await;
    fresh.execute("acct", LedgerCommand::Add(vec![2])).await?;
    resume.wait().await;

    let result = slow.await?;
    assert!(
        matches!(result, Err(AggregateError::AggregateConflict)),
        "{result:?}"
    );
    let stored = repo.get_events::<Ledger>("acct").await?;
    assert_eq!(amounts(&stored), vec![2], "the stale commit left nothing");
    // Reloading and retrying, as a caller does after a conflict, succeeds at sequence 2.
    fresh.execute("acct", LedgerCommand::Add(vec![1])).await?;
    assert_eq!(
        sequences(&repo.get_events::<Ledger>("acct").await?),
        vec![1, 2]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_at_the_same_version_exactly_one_wins() -> TestResult {
    let repo = InMemoryEventRepository::new();
    repo.persist::<Ledger>(&added_events("race", 1, &[1]), None)
        .await?;

    const WRITERS: i64 = 8;
    let start = Arc::new(Barrier::new(WRITERS as usize));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let repo = repo.clone();
        let start = Arc::clone(&start);
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            // Two events per commit, so a half-applied loser would show up as a third event.
            repo.persist::<Ledger>(&added_events("race", 2, &[100 + writer, -writer]), None)
                .await
        }));
    }
    let mut wins = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await? {
            Ok(()) => wins += 1,
            Err(PersistenceError::OptimisticLockError) => conflicts += 1,
            Err(other) => return Err(other.into()),
        }
    }
    assert_eq!((wins, conflicts), (1, WRITERS - 1));
    let stored = repo.get_events::<Ledger>("race").await?;
    assert_eq!(sequences(&stored), vec![1, 2, 3]);
    let winner = amounts(&stored)[1] - 100;
    assert_eq!(amounts(&stored), vec![1, 100 + winner, -winner]);
    Ok(())
}

#[tokio::test]
async fn commits_that_do_not_follow_the_last_event_are_rejected_whole() -> TestResult {
    let repo = InMemoryEventRepository::new();
    // A new aggregate starts at 1.
    let early = repo
        .persist::<Ledger>(&added_events("acct", 2, &[9]), None)
        .await;
    assert!(matches!(early, Err(PersistenceError::OptimisticLockError)));
    assert!(repo.get_snapshot::<Ledger>("acct").await?.is_none());

    repo.persist::<Ledger>(&added_events("acct", 1, &[1, 2]), None)
        .await?;
    for (first, amounts_tried) in [(1, vec![7, 8, 9]), (2, vec![7, 8]), (4, vec![7])] {
        let result = repo
            .persist::<Ledger>(&added_events("acct", first, &amounts_tried), None)
            .await;
        assert!(
            matches!(result, Err(PersistenceError::OptimisticLockError)),
            "first sequence {first}: {result:?}"
        );
    }
    // Events that cannot form one commit are a clear error, not a conflict.
    let mut gapped = added_events("acct", 3, &[3, 4]);
    gapped[1].sequence = 5;
    let Err(PersistenceError::UnknownError(err)) = repo.persist::<Ledger>(&gapped, None).await
    else {
        return Err("a commit with a gap was accepted".into());
    };
    assert!(err.to_string().contains("consecutive"), "{err}");

    assert_eq!(
        amounts(&repo.get_events::<Ledger>("acct").await?),
        vec![1, 2]
    );
    repo.persist::<Ledger>(&added_events("acct", 3, &[3, 4]), None)
        .await?;
    assert_eq!(
        sequences(&repo.get_events::<Ledger>("acct").await?),
        vec![1, 2, 3, 4]
    );
    Ok(())
}

async fn drain<A: Aggregate>(
    mut stream: ReplayStream,
) -> Result<Vec<(String, usize)>, PersistenceError> {
    let mut seen = Vec::new();
    while let Some(envelope) = stream.next::<A>(&[]).await {
        let envelope = envelope?;
        seen.push((envelope.aggregate_id, envelope.sequence));
    }
    Ok(seen)
}

#[tokio::test]
async fn reads_come_back_in_order_and_per_aggregate() -> TestResult {
    let repo = InMemoryEventRepository::new();
    // Interleaved commits of two ledgers, and an aggregate of another type with the same id.
    repo.persist::<Ledger>(&added_events("a", 1, &[1, 2]), None)
        .await?;
    repo.persist::<Ledger>(&added_events("b", 1, &[10]), None)
        .await?;
    CqrsFramework::new(
        InMemoryEventStore::<MyAggregate>::new_event_store(repo.clone()),
        vec![],
        MyService,
    )
    .execute("a", MyCommands::DoSomething)
    .await?;
    repo.persist::<Ledger>(&added_events("a", 3, &[3]), None)
        .await?;
    repo.persist::<Ledger>(&added_events("b", 2, &[20, 30]), None)
        .await?;

    assert_eq!(
        amounts(&repo.get_events::<Ledger>("a").await?),
        vec![1, 2, 3]
    );
    assert_eq!(
        amounts(&repo.get_events::<Ledger>("b").await?),
        vec![10, 20, 30]
    );
    assert_eq!(repo.get_events::<MyAggregate>("a").await?.len(), 1);
    assert!(repo.get_events::<Ledger>("nobody").await?.is_empty());

    // Events after sequence n, for every n including past the end.
    for (after, expected) in [
        (0, vec![1, 2, 3]),
        (1, vec![2, 3]),
        (3, vec![]),
        (9, vec![]),
    ] {
        let events = repo.get_last_events::<Ledger>("a", after).await?;
        assert_eq!(amounts(&events), expected, "after {after}");
    }

    let one = drain::<Ledger>(repo.stream_events::<Ledger>("b").await?).await?;
    assert_eq!(one, vec![("b".into(), 1), ("b".into(), 2), ("b".into(), 3)]);
    // Every ledger event in commit order; the other type's event is not among them.
    let all = drain::<Ledger>(repo.stream_all_events::<Ledger>().await?).await?;
    let expected: Vec<(String, usize)> =
        [("a", 1), ("a", 2), ("b", 1), ("a", 3), ("b", 2), ("b", 3)]
            .into_iter()
            .map(|(id, sequence)| (id.to_string(), sequence))
            .collect();
    assert_eq!(all, expected);
    let empty = drain::<Ledger>(repo.stream_events::<Ledger>("nobody").await?).await?;
    assert!(empty.is_empty());
    Ok(())
}

#[tokio::test]
async fn ids_jetstream_would_reject_are_rejected_in_memory_too() -> TestResult {
    let repo = InMemoryEventRepository::new();
    for bad in ["", "a.b", "*", ">", "with space"] {
        let read = repo.get_events::<Ledger>(bad).await;
        let Err(PersistenceError::UnknownError(err)) = read else {
            return Err(format!("{bad:?} was not rejected: {read:?}").into());
        };
        assert!(
            err.to_string()
                .contains(&format!("invalid aggregate id {bad:?}")),
            "{err}"
        );
        let write = repo
            .persist::<Ledger>(&added_events(bad, 1, &[1]), None)
            .await;
        assert!(
            matches!(write, Err(PersistenceError::UnknownError(_))),
            "{write:?}"
        );
        assert!(repo.get_snapshot::<Ledger>(bad).await.is_err());
        assert!(repo.stream_events::<Ledger>(bad).await.is_err());
    }
    Ok(())
}

#[tokio::test]
async fn event_snapshot_and_aggregate_stores_load_the_same_aggregate() -> TestResult {
    // One repository, three ids: the modes share storage but not aggregates.
    let repo = InMemoryEventRepository::new();
    assert_store_modes_agree([(&repo, "full"), (&repo, "snap"), (&repo, "aggr")]).await?;
    assert!(
        repo.get_snapshot::<Ledger>("full")
            .await?
            .is_some_and(|s| s.current_snapshot == 0)
    );
    Ok(())
}

#[tokio::test]
async fn the_stored_snapshot_applies_each_event_once_and_catches_up_on_load() -> TestResult {
    let repo = InMemoryEventRepository::new();
    let store = InMemoryEventStore::<Ledger>::new_aggregate_store(repo.clone());
    run_script(store, "lag", &[vec![5]]).await?;
    // cqrs-es 0.5.0 handed `persist` a snapshot with the event applied twice ([5, 5]).
    let snapshot = repo
        .get_snapshot::<Ledger>("lag")
        .await?
        .ok_or("no snapshot stored")?;
    let stored: Ledger = serde_json::from_value(snapshot.aggregate)?;
    assert_eq!(stored.history, vec![5]);
    assert_eq!(
        (snapshot.current_sequence, snapshot.current_snapshot),
        (1, 1)
    );

    // Events committed without a snapshot update, as when a snapshot write is skipped.
    repo.persist::<Ledger>(&added_events("lag", 2, &[30, 40]), None)
        .await?;
    let store = InMemoryEventStore::<Ledger>::new_aggregate_store(repo.clone());
    let context = store.load_aggregate("lag").await?;
    assert_eq!(context.current_sequence, 3);
    assert_eq!(context.aggregate.history, vec![5, 30, 40]);
    // And the aggregate is not wedged: the next command commits at sequence 4.
    run_script(store, "lag", &[vec![6]]).await?;
    assert_eq!(
        sequences(&repo.get_events::<Ledger>("lag").await?),
        vec![1, 2, 3, 4]
    );
    let context = InMemoryEventStore::<Ledger>::new_aggregate_store(repo.clone())
        .load_aggregate("lag")
        .await?;
    assert_eq!(context.aggregate.history, vec![5, 30, 40, 6]);
    assert_eq!(context.current_snapshot, Some(2));
    Ok(())
}
