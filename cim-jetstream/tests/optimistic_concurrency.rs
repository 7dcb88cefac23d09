//! The server, not the client, decides who wins a race on one aggregate.

mod common;

use std::sync::Arc;

use cim_jetstream::{JetStreamError, JetStreamEventStore};
use common::{Ledger, LedgerCommand, TestResult, added_events, amounts, server_and_repo};
use cqrs_es::persist::{PersistedEventRepository, PersistenceError};
use cqrs_es::{AggregateError, CqrsFramework};

#[tokio::test]
async fn concurrent_writers_at_the_same_version_exactly_one_wins() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    repo.persist::<Ledger>(&added_events("race", 1, &[1]), None)
        .await?;

    const WRITERS: i64 = 8;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        // Separate repositories: no shared head cache, each a different client.
        let repo = cim_jetstream::JetStreamEventRepository::new(
            repo.jetstream().client(),
            repo.config().clone(),
        )
        .await?;
        tasks.push(tokio::spawn(async move {
            repo.persist::<Ledger>(&added_events("race", 2, &[100 + writer]), None)
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
    assert_eq!(common::sequences(&stored), vec![1, 2]);
    assert!(amounts(&stored)[1] >= 100);
    Ok(())
}

#[tokio::test]
async fn stale_writer_gets_aggregate_conflict_through_cqrs() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    let cqrs = CqrsFramework::new(
        JetStreamEventStore::<Ledger>::new_event_store(repo.clone()),
        vec![],
        (),
    );
    cqrs.execute("acct-1", LedgerCommand::Add(vec![5])).await?;

    // A writer that loaded at sequence 0 commits after someone else advanced the aggregate.
    let stale = repo
        .persist::<Ledger>(&added_events("acct-1", 1, &[7]), None)
        .await;
    assert!(matches!(stale, Err(PersistenceError::OptimisticLockError)));
    let err: AggregateError<common::LedgerError> = PersistenceError::OptimisticLockError.into();
    assert!(matches!(err, AggregateError::AggregateConflict));

    // A second repository with a cold head cache also learns it from the server.
    let cold = cim_jetstream::JetStreamEventRepository::new(
        repo.jetstream().client(),
        repo.config().clone(),
    )
    .await?;
    let stale = cold.append(&added_events("acct-1", 1, &[7])).await;
    assert!(
        matches!(stale, Err(JetStreamError::Conflict { .. })),
        "{stale:?}"
    );

    cqrs.execute("acct-1", LedgerCommand::Add(vec![6])).await?;
    assert_eq!(
        amounts(&repo.get_events::<Ledger>("acct-1").await?),
        vec![5, 6]
    );
    Ok(())
}

#[tokio::test]
async fn writer_with_a_stale_cache_is_rejected_by_the_server() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    let other = cim_jetstream::JetStreamEventRepository::new(
        repo.jetstream().client(),
        repo.config().clone(),
    )
    .await?;
    repo.persist::<Ledger>(&added_events("cache", 1, &[1]), None)
        .await?;
    // `repo` remembers head 1; `other` now moves the aggregate to 2 behind its back.
    other.get_events::<Ledger>("cache").await?;
    other
        .persist::<Ledger>(&added_events("cache", 2, &[2]), None)
        .await?;
    let stale = repo
        .persist::<Ledger>(&added_events("cache", 2, &[3]), None)
        .await;
    assert!(matches!(stale, Err(PersistenceError::OptimisticLockError)));
    // After the conflict it re-reads the head and can append at 3.
    repo.persist::<Ledger>(&added_events("cache", 3, &[3]), None)
        .await?;
    assert_eq!(
        amounts(&repo.get_events::<Ledger>("cache").await?),
        vec![1, 2, 3]
    );
    Ok(())
}

#[tokio::test]
async fn shared_repository_serialises_concurrent_commands() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    let cqrs = Arc::new(CqrsFramework::new(
        JetStreamEventStore::<Ledger>::new_event_store(repo.clone()),
        vec![],
        (),
    ));
    let mut tasks = Vec::new();
    for n in 0..6 {
        let cqrs = Arc::clone(&cqrs);
        tasks.push(tokio::spawn(async move {
            cqrs.execute("shared", LedgerCommand::Add(vec![n])).await
        }));
    }
    let mut committed = 0;
    for task in tasks {
        match task.await? {
            Ok(()) => committed += 1,
            Err(AggregateError::AggregateConflict) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let stored = repo.get_events::<Ledger>("shared").await?;
    assert!(committed >= 1);
    assert_eq!(
        stored.len(),
        committed,
        "every success is stored, nothing else"
    );
    assert_eq!(
        common::sequences(&stored),
        (1..=committed).collect::<Vec<_>>()
    );
    Ok(())
}
