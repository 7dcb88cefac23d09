//! Group commit: commits of different aggregates in flight together are written as one atomic
//! batch, without weakening per-aggregate optimistic concurrency or idempotency.
//!
//! The tests run on tokio's current-thread runtime, where the first append of a `join_all` finds
//! nothing in flight and is published at once, alone, and every other one is queued before the
//! writer task runs, so what goes into one batch is deterministic.

mod common;

use cim_jetstream::testing::NatsServer;
use cim_jetstream::{
    GroupCommit, GroupCommitStats, JetStreamConfig, JetStreamEventRepository, SyncPolicy,
};
use common::{Ledger, TestResult, added_events, amounts};
use cqrs_es::persist::{PersistedEventRepository, PersistenceError};
use futures::future::join_all;

/// Appends one commit `[amount]` at `sequence` to each aggregate, all in flight together.
async fn append_all(
    repo: &JetStreamEventRepository,
    ids: &[String],
    sequence: usize,
) -> Result<Vec<u64>, cim_jetstream::JetStreamError> {
    let appends = ids.iter().enumerate().map(|(i, id)| {
        let events = added_events(id, sequence, &[i as i64 + 1]);
        async move { repo.append(&events).await }
    });
    join_all(appends).await.into_iter().collect()
}

async fn stream_messages(
    repo: &JetStreamEventRepository,
) -> Result<u64, Box<dyn std::error::Error>> {
    let mut stream = repo
        .jetstream()
        .get_stream(&repo.config().stream_name)
        .await?;
    Ok(stream.info().await?.state.messages)
}

/// A fresh server and a repository on it that groups commits, whatever the server's version.
async fn server_and_repo()
-> Result<(NatsServer, JetStreamEventRepository), Box<dyn std::error::Error>> {
    let server = NatsServer::start().await?;
    let repo = JetStreamEventRepository::connect(&server.url(), grouped()).await?;
    Ok((server, repo))
}

fn grouped() -> JetStreamConfig {
    JetStreamConfig {
        group_commit: GroupCommit::On,
        ..JetStreamConfig::default()
    }
}

fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test]
async fn commits_in_flight_together_are_stored_as_one_batch() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    let ids = ids("grouped", 50);
    let sequences = append_all(&repo, &ids, 1).await?;
    // The first found nothing in flight and went at once; the 49 that came while it was in
    // flight went together.
    assert_eq!(
        repo.group_commit_stats(),
        GroupCommitStats {
            commits_alone: 1,
            batches_committed: 1,
            commits_in_batches: 49,
            batches_split: 0,
        }
    );
    // Each caller got the stream sequence of its own message.
    let stream = repo
        .jetstream()
        .get_stream(&repo.config().stream_name)
        .await?;
    for (id, sequence) in ids.iter().zip(&sequences) {
        let stored = stream.get_raw_message(*sequence).await?;
        assert_eq!(stored.subject.as_str(), repo.subject("ledger", id)?);
    }
    // The heads remembered from the batch are right: the next round needs no lookup and lands.
    append_all(&repo, &ids, 2).await?;
    assert_eq!(repo.group_commit_stats().batches_committed, 2);
    for (i, id) in ids.iter().enumerate() {
        let amount = i as i64 + 1;
        assert_eq!(
            amounts(&repo.get_events::<Ledger>(id).await?),
            [amount, amount]
        );
    }
    assert_eq!(stream_messages(&repo).await?, 100);
    Ok(())
}

#[tokio::test]
async fn a_stale_commit_in_a_batch_is_a_conflict_while_the_others_land() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    // `stale` remembers "contested" at event 1; `repo` then moves it to event 2.
    let stale =
        JetStreamEventRepository::new(repo.jetstream().client(), repo.config().clone()).await?;
    stale.append(&added_events("contested", 1, &[1])).await?;
    repo.append(&added_events("contested", 2, &[2])).await?;

    let ids = ids("innocent", 20);
    let innocents = ids.iter().map(|id| {
        let events = added_events(id, 1, &[5]);
        let stale = stale.clone();
        async move { stale.persist::<Ledger>(&events, None).await }
    });
    let contested = added_events("contested", 2, &[999]);
    let (innocent_results, contested_result) = futures::join!(
        join_all(innocents),
        stale.persist::<Ledger>(&contested, None)
    );
    assert!(
        matches!(contested_result, Err(PersistenceError::OptimisticLockError)),
        "{contested_result:?}"
    );
    for result in innocent_results {
        result?;
    }
    let stats = stale.group_commit_stats();
    assert_eq!(stats.batches_split, 1, "{stats:?}");
    assert_eq!(stats.batches_committed, 0, "{stats:?}");
    for id in &ids {
        assert_eq!(amounts(&repo.get_events::<Ledger>(id).await?), [5]);
    }
    assert_eq!(
        amounts(&repo.get_events::<Ledger>("contested").await?),
        [1, 2]
    );
    Ok(())
}

#[tokio::test]
async fn commits_retried_after_their_batch_landed_are_stored_once() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    let ids = ids("retried", 10);
    let first = append_all(&repo, &ids, 1).await?;
    assert_eq!(repo.group_commit_stats().batches_committed, 1);

    // The same writer retries them all together (as after a lost batch ack).
    assert_eq!(append_all(&repo, &ids, 1).await?, first);
    // A restarted writer (nothing cached) retries them all together: they go out as a batch,
    // which fails on every expectation, and each retry is then recognised as already stored.
    let cold =
        JetStreamEventRepository::new(repo.jetstream().client(), repo.config().clone()).await?;
    assert_eq!(append_all(&cold, &ids, 1).await?, first);
    assert_eq!(cold.group_commit_stats().batches_split, 1);

    assert_eq!(stream_messages(&repo).await?, 10);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            amounts(&repo.get_events::<Ledger>(id).await?),
            [i as i64 + 1]
        );
    }
    Ok(())
}

#[tokio::test]
async fn two_commits_of_one_aggregate_never_share_a_batch() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    repo.append(&added_events("twice", 1, &[1])).await?;
    // Two writers' commits for event 2 of one aggregate, in flight with others: one wins.
    let mut commits = vec![
        added_events("twice", 2, &[2]),
        added_events("twice", 2, &[3]),
    ];
    commits.extend(
        ids("bystander", 5)
            .iter()
            .map(|id| added_events(id, 1, &[4])),
    );
    let results = join_all(commits.iter().map(|events| repo.append(events))).await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        matches!(
            results[1],
            Err(cim_jetstream::JetStreamError::Conflict { .. })
        ),
        "{:?}",
        results[1]
    );
    for result in &results[2..] {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(amounts(&repo.get_events::<Ledger>("twice").await?), [1, 2]);
    Ok(())
}

#[tokio::test]
async fn grouping_off_publishes_every_commit_alone() -> TestResult {
    let (server, _) = server_and_repo().await?;
    let config = JetStreamConfig {
        group_commit: GroupCommit::Off,
        ..JetStreamConfig::named("OFF")
    };
    let repo = JetStreamEventRepository::connect(&server.url(), config).await?;
    append_all(&repo, &ids("alone", 10), 1).await?;
    let stats = repo.group_commit_stats();
    assert_eq!((stats.commits_alone, stats.batches_committed), (10, 0));
    Ok(())
}

#[tokio::test]
async fn the_default_groups_where_the_server_syncs_a_batch_once() -> TestResult {
    let (server, _) = server_and_repo().await?;
    let config = JetStreamConfig::named("DEFAULT");
    assert_eq!(config.group_commit, GroupCommit::Auto);
    let repo = JetStreamEventRepository::connect(&server.url(), config).await?;
    append_all(&repo, &ids("auto", 10), 1).await?;
    let stats = repo.group_commit_stats();
    let version = server.client().await?.server_info().version;
    if GroupCommit::Auto.groups_on(&version, SyncPolicy::Always) {
        // nats-server 2.15+ (the version scripts/install-test-tools pins).
        assert_eq!(
            (stats.commits_alone, stats.commits_in_batches),
            (1, 9),
            "{version}"
        );
    } else {
        assert_eq!(
            (stats.commits_alone, stats.batches_committed),
            (10, 0),
            "{version}"
        );
    }
    // A deployment that syncs on an interval has no sync to save: every commit goes alone.
    let interval = JetStreamConfig {
        sync: SyncPolicy::SERVER_DEFAULT,
        ..JetStreamConfig::named("INTERVAL")
    };
    let repo = JetStreamEventRepository::connect(&server.url(), interval).await?;
    append_all(&repo, &ids("interval", 10), 1).await?;
    let stats = repo.group_commit_stats();
    assert_eq!((stats.commits_alone, stats.batches_committed), (10, 0));
    Ok(())
}

#[test]
fn auto_groups_under_sync_always_from_nats_server_2_15() {
    for (version, groups) in [
        ("2.15.0", true),
        ("2.15.1", true),
        ("v2.16.0-beta.1", true),
        ("3.0.0", true),
        ("2.14.6", false),
        ("2.12.8", false),
        ("2.9.25", false),
        ("", false),
        ("unknown", false),
    ] {
        assert_eq!(
            GroupCommit::Auto.groups_on(version, SyncPolicy::Always),
            groups,
            "{version}"
        );
        // Without a sync per write there is nothing to save.
        assert!(!GroupCommit::Auto.groups_on(version, SyncPolicy::SERVER_DEFAULT));
        for sync in [SyncPolicy::Always, SyncPolicy::SERVER_DEFAULT] {
            assert!(GroupCommit::On.groups_on(version, sync));
            assert!(!GroupCommit::Off.groups_on(version, sync));
        }
    }
}

#[tokio::test]
async fn group_bounds_are_validated() {
    for (commits, bytes) in [(0, 1), (1001, 1), (10, 0)] {
        let config = JetStreamConfig {
            group_max_commits: commits,
            group_max_bytes: bytes,
            ..JetStreamConfig::default()
        };
        assert!(
            config.validate().is_err(),
            "{commits} commits, {bytes} bytes"
        );
    }
}
