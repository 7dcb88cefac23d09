//! `Nats-Msg-Id` makes a retried publish harmless without letting a different commit through.

mod common;

use cim_jetstream::JetStreamError;
use common::{Ledger, TestResult, added_events, amounts, server_and_repo};
use cqrs_es::persist::PersistedEventRepository;

#[tokio::test]
async fn same_commit_published_twice_is_stored_once() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    let commit = added_events("retry", 1, &[10, 20]);
    let first = repo.append(&commit).await?;
    // As after a lost ack: the same commit, same expected sequence, same Msg-Id.
    let retried = repo.append(&commit).await?;
    assert_eq!(first, retried, "the retry acks the original message");

    // A process that lost the ack and restarted (no cached head) retries: still one copy.
    let cold = cim_jetstream::JetStreamEventRepository::new(
        repo.jetstream().client(),
        repo.config().clone(),
    )
    .await?;
    assert_eq!(cold.append(&commit).await?, first);

    let stored = repo.get_events::<Ledger>("retry").await?;
    assert_eq!(amounts(&stored), vec![10, 20]);
    let info = repo
        .jetstream()
        .get_stream(&repo.config().stream_name)
        .await?;
    assert_eq!(info.cached_info().state.messages, 1);
    Ok(())
}

#[tokio::test]
async fn different_commit_with_the_same_msg_id_is_a_conflict_not_a_duplicate() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    repo.append(&added_events("dup", 1, &[1])).await?;
    // A second writer that also started at 0: same Msg-Id ("ledger.dup.1"), other content.
    let other = cim_jetstream::JetStreamEventRepository::new(
        repo.jetstream().client(),
        repo.config().clone(),
    )
    .await?;
    let result = other.append(&added_events("dup", 1, &[999])).await;
    assert!(
        matches!(result, Err(JetStreamError::Conflict { .. })),
        "{result:?}"
    );
    assert_eq!(amounts(&repo.get_events::<Ledger>("dup").await?), vec![1]);
    Ok(())
}
