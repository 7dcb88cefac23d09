//! Acknowledged events are on disk: they survive SIGKILL and a restart on the same store.

mod common;

use cim_jetstream::testing::NatsServer;
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository};
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
