//! Acknowledged events are on disk: they survive SIGKILL and a restart on the same store.

mod common;

use cim_jetstream::testing::NatsServer;
use cim_jetstream::{GroupCommit, JetStreamConfig, JetStreamEventRepository, SyncPolicy};
use common::{Ledger, TestResult, added_events, amounts};
use cqrs_es::persist::PersistedEventRepository;

#[tokio::test]
async fn acked_events_survive_kill_9_and_restart_on_the_same_store() -> TestResult {
    let mut server = NatsServer::start().await?;
    let url = server.url();
    let store_dir = server.store_dir();
    let mut expected = Vec::new();
    {
        let repo = JetStreamEventRepository::connect(&url, JetStreamConfig::default()).await?;
        let mut next = 1;
        for commit in 0..50_i64 {
            let values = [commit, commit + 1000];
            repo.append(&added_events("durable", next, &values)).await?;
            expected.extend_from_slice(&values);
            next += 2;
        }
    }
    server.kill();
    assert!(!server.is_running());
    server.restart().await?;
    assert_eq!(server.url(), url, "same port after restart");
    assert_eq!(server.store_dir(), store_dir, "same store after restart");

    let repo = JetStreamEventRepository::connect(&url, JetStreamConfig::default()).await?;
    let stored = repo.get_events::<Ledger>("durable").await?;
    assert_eq!(amounts(&stored), expected);
    // Writing continues at the right sequence after the crash.
    repo.append(&added_events("durable", 101, &[7])).await?;
    assert_eq!(repo.get_events::<Ledger>("durable").await?.len(), 101);
    Ok(())
}

#[tokio::test]
async fn a_graceful_stop_and_restart_keeps_everything_too() -> TestResult {
    let mut server = NatsServer::start().await?;
    let repo = JetStreamEventRepository::connect(&server.url(), JetStreamConfig::default()).await?;
    repo.append(&added_events("graceful", 1, &[1, 2, 3]))
        .await?;
    server.stop();
    server.restart().await?;
    let repo = JetStreamEventRepository::connect(&server.url(), JetStreamConfig::default()).await?;
    assert_eq!(
        amounts(&repo.get_events::<Ledger>("graceful").await?),
        vec![1, 2, 3]
    );
    Ok(())
}

/// A commit acknowledged under `sync_interval: always` is on disk when the ack arrives: the
/// server is killed the moment the acks are in, with 100 commits acked concurrently (as one
/// atomic batch, and in the next test one by one) and one alone, and everything acked is there
/// after the restart.
#[tokio::test]
async fn a_commit_acked_under_sync_always_survives_kill_9_right_after_the_ack() -> TestResult {
    acked_under_sync_always_survive_kill_9(GroupCommit::On).await
}

/// The same with every commit published alone (`GroupCommit::Off`; the default on servers before 2.15).
#[tokio::test]
async fn commits_acked_alone_under_sync_always_survive_kill_9_right_after_the_ack() -> TestResult {
    acked_under_sync_always_survive_kill_9(GroupCommit::Off).await
}

async fn acked_under_sync_always_survive_kill_9(group_commit: GroupCommit) -> TestResult {
    let mut server = NatsServer::start_with_sync(SyncPolicy::Always).await?;
    assert_eq!(server.reported_sync_policy().await?, SyncPolicy::Always);
    let url = server.url();
    let config = JetStreamConfig {
        sync: SyncPolicy::Always,
        group_commit,
        ..JetStreamConfig::default()
    };
    let repo = JetStreamEventRepository::connect(&url, config.clone()).await?;
    let ids: Vec<String> = (0..100).map(|i| format!("acked-{i}")).collect();
    let appends = ids.iter().enumerate().map(|(i, id)| {
        let repo = repo.clone();
        async move { repo.append(&added_events(id, 1, &[i as i64])).await }
    });
    for acked in futures::future::join_all(appends).await {
        acked?;
    }
    // Grouped, the first went alone at once and the 99 behind it were acked as one atomic
    // batch; otherwise one by one.
    let batched = if group_commit == GroupCommit::On {
        99
    } else {
        0
    };
    assert_eq!(repo.group_commit_stats().commits_in_batches, batched);
    server.kill();

    server.restart().await?;
    let repo = JetStreamEventRepository::connect(&url, config.clone()).await?;
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(amounts(&repo.get_events::<Ledger>(id).await?), [i as i64]);
    }
    repo.append(&added_events("alone", 1, &[42])).await?;
    server.kill();

    server.restart().await?;
    assert_eq!(server.reported_sync_policy().await?, SyncPolicy::Always);
    let repo = JetStreamEventRepository::connect(&url, config).await?;
    assert_eq!(amounts(&repo.get_events::<Ledger>("alone").await?), [42]);
    Ok(())
}

#[tokio::test]
async fn the_harness_starts_servers_with_the_sync_policy_asked_for() -> TestResult {
    let every = SyncPolicy::Interval(std::time::Duration::from_millis(250));
    let server = NatsServer::start_with_sync(every).await?;
    assert_eq!(server.sync_policy(), every);
    assert_eq!(server.reported_sync_policy().await?, every);
    Ok(())
}
