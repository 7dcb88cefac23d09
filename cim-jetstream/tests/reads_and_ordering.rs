//! Commits are atomic, ordered, isolated per aggregate and visible to the writer at once.

mod common;

use cim_jetstream::testing::NatsServer;
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository, JetStreamEventStore};
use common::{
    Ledger, LedgerCommand, TestResult, added_events, amounts, sequences, server_and_repo,
};
use cqrs_es::persist::PersistedEventRepository;
use cqrs_es::{CqrsFramework, EventStore};

#[tokio::test]
async fn a_multi_event_commit_is_one_message_read_back_in_order() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    let cqrs = CqrsFramework::new(
        JetStreamEventStore::<Ledger>::new_event_store(repo.clone()),
        vec![],
        (),
    );
    cqrs.execute("multi", LedgerCommand::Add(vec![3, 1, 4]))
        .await?;
    cqrs.execute("multi", LedgerCommand::Add(vec![1, 5]))
        .await?;

    let stored = repo.get_events::<Ledger>("multi").await?;
    assert_eq!(sequences(&stored), vec![1, 2, 3, 4, 5]);
    assert_eq!(amounts(&stored), vec![3, 1, 4, 1, 5]);
    let stream = repo
        .jetstream()
        .get_stream(&repo.config().stream_name)
        .await?;
    assert_eq!(
        stream.cached_info().state.messages,
        2,
        "one message per commit"
    );
    Ok(())
}

#[tokio::test]
async fn aggregates_are_isolated_from_each_other() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    // Interleaved commits on two ids, and an id that is a prefix of another.
    repo.append(&added_events("a", 1, &[1])).await?;
    repo.append(&added_events("ab", 1, &[100])).await?;
    repo.append(&added_events("a", 2, &[2])).await?;
    repo.append(&added_events("ab", 2, &[200, 300])).await?;

    assert_eq!(amounts(&repo.get_events::<Ledger>("a").await?), vec![1, 2]);
    assert_eq!(
        amounts(&repo.get_events::<Ledger>("ab").await?),
        vec![100, 200, 300]
    );
    assert!(repo.get_events::<Ledger>("never-written").await?.is_empty());
    // Commits to one aggregate never conflict with another.
    repo.append(&added_events("b", 1, &[9])).await?;
    Ok(())
}

#[tokio::test]
async fn a_writer_reads_its_own_writes_immediately() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    let store = JetStreamEventStore::<Ledger>::new_event_store(repo.clone());
    let cqrs = CqrsFramework::new(
        JetStreamEventStore::<Ledger>::new_event_store(repo.clone()),
        vec![],
        (),
    );
    for n in 1..=20 {
        cqrs.execute("ryw", LedgerCommand::Add(vec![n])).await?;
        let context = store.load_aggregate("ryw").await?;
        assert_eq!(context.current_sequence, usize::try_from(n)?);
        assert_eq!(context.aggregate.total, (1..=n).sum::<i64>());
    }
    Ok(())
}

#[tokio::test]
async fn get_last_events_returns_only_the_tail() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    repo.append(&added_events("tail", 1, &[1, 2, 3])).await?;
    repo.append(&added_events("tail", 4, &[4, 5])).await?;
    let tail = repo.get_last_events::<Ledger>("tail", 2).await?;
    assert_eq!(sequences(&tail), vec![3, 4, 5]);
    assert!(repo.get_last_events::<Ledger>("tail", 5).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn stream_events_and_stream_all_events_replay_in_order() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    repo.append(&added_events("s1", 1, &[1, 2])).await?;
    repo.append(&added_events("s2", 1, &[10])).await?;
    repo.append(&added_events("s1", 3, &[3])).await?;

    let mut one = repo.stream_events::<Ledger>("s1").await?;
    let mut seen = Vec::new();
    while let Some(event) = one.next::<Ledger>(&[]).await {
        let event = event?;
        seen.push((event.aggregate_id, event.sequence));
    }
    assert_eq!(
        seen,
        vec![("s1".into(), 1), ("s1".into(), 2), ("s1".into(), 3)]
    );

    let mut all = repo.stream_all_events::<Ledger>().await?;
    let mut seen = Vec::new();
    while let Some(event) = all.next::<Ledger>(&[]).await {
        let event = event?;
        seen.push((event.aggregate_id, event.sequence));
    }
    assert_eq!(
        seen,
        vec![
            ("s1".into(), 1),
            ("s1".into(), 2),
            ("s2".into(), 1),
            ("s1".into(), 3)
        ]
    );
    Ok(())
}

#[tokio::test]
async fn large_aggregates_load_across_many_pages() -> TestResult {
    let server = NatsServer::start().await?;
    // A tiny page size forces the pager through many batched direct gets.
    let config = JetStreamConfig {
        read_batch: 7,
        ..JetStreamConfig::default()
    };
    let repo = JetStreamEventRepository::connect(&server.url(), config).await?;
    let mut next = 1;
    for commit in 0..100_i64 {
        let size = usize::try_from(commit % 3 + 1)?;
        let values: Vec<i64> = (0..size)
            .map(|i| commit * 10 + i64::try_from(i).unwrap_or(0))
            .collect();
        repo.append(&added_events("big", next, &values)).await?;
        next += size;
        // Noise on another aggregate between every commit.
        repo.append(&added_events("noise", usize::try_from(commit)? + 1, &[0]))
            .await?;
    }
    let stored = repo.get_events::<Ledger>("big").await?;
    assert_eq!(sequences(&stored), (1..next).collect::<Vec<_>>());
    assert_eq!(repo.get_events::<Ledger>("noise").await?.len(), 100);
    Ok(())
}
