//! Packed histories speed loads up without ever changing what a load returns: a pack is
//! written after a long read, used with the tail stored after it, and ignored when the stream
//! does not hold its last commit.

mod common;

use cim_jetstream::{JetStreamConfig, JetStreamEventRepository};
use common::{Ledger, TestResult, added_events, amounts, sequences, server_and_repo};
use cqrs_es::persist::PersistedEventRepository;

/// Appends `commits` single-event commits with amounts `first..first+commits` to `id`.
async fn append_commits(
    repo: &JetStreamEventRepository,
    id: &str,
    from_sequence: usize,
    commits: usize,
) -> TestResult {
    for offset in 0..commits {
        let sequence = from_sequence + offset;
        repo.append(&added_events(id, sequence, &[sequence as i64]))
            .await?;
    }
    Ok(())
}

/// The pack with `from` replaced by `to`, once. The pack format is the crate's own; a
/// replacement of the same length keeps its segment sizes, so the pack still decodes.
fn edited(pack: &[u8], from: &str, to: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    assert_eq!(from.len(), to.len(), "a replacement must keep the length");
    let text = std::str::from_utf8(pack)?;
    assert_eq!(text.matches(from).count(), 1, "{from} once in the pack");
    Ok(text.replacen(from, to, 1).into_bytes())
}

async fn pack_exists(
    repo: &JetStreamEventRepository,
    key: &str,
) -> Result<bool, Box<dyn std::error::Error>> {
    let bucket = repo
        .jetstream()
        .get_key_value(repo.config().history_bucket.clone())
        .await?;
    Ok(bucket.get(key).await?.is_some())
}

#[tokio::test]
async fn a_long_load_packs_the_history_and_later_loads_read_the_pack_and_the_tail() -> TestResult {
    let (server, repo) = server_and_repo().await?;
    // A neighbour interleaved on the stream, so stream and aggregate sequences differ.
    for sequence in 1..=40 {
        repo.append(&added_events("long", sequence, &[sequence as i64]))
            .await?;
        repo.append(&added_events("other", sequence, &[0])).await?;
    }
    assert!(!pack_exists(&repo, "ledger.long").await?);
    let expected: Vec<i64> = (1..=40).collect();
    assert_eq!(amounts(&repo.get_events::<Ledger>("long").await?), expected);
    assert!(
        pack_exists(&repo, "ledger.long").await?,
        "40 commits read: packed"
    );

    // A fresh repository (no head cache) loads from the pack plus a tail of three commits.
    append_commits(&repo, "long", 41, 3).await?;
    let fresh =
        JetStreamEventRepository::connect(&server.url(), JetStreamConfig::default()).await?;
    let expected: Vec<i64> = (1..=43).collect();
    assert_eq!(
        amounts(&fresh.get_events::<Ledger>("long").await?),
        expected
    );
    assert_eq!(
        sequences(&fresh.get_last_events::<Ledger>("long", 38).await?),
        [39, 40, 41, 42, 43]
    );
    assert_eq!(
        sequences(&fresh.get_last_events::<Ledger>("long", 41).await?),
        [42, 43]
    );
    assert!(
        fresh
            .get_last_events::<Ledger>("long", 43)
            .await?
            .is_empty()
    );
    // Appending after a load from the pack continues at the right sequence.
    fresh.append(&added_events("long", 44, &[44])).await?;
    assert_eq!(fresh.get_events::<Ledger>("long").await?.len(), 44);
    assert_eq!(
        amounts(&fresh.get_events::<Ledger>("other").await?),
        vec![0; 40]
    );

    // The load really read the pack: an early event altered in the pack (a tampered bucket;
    // only the last commit is checked against the stream) shows up in the result.
    let bucket = repo
        .jetstream()
        .get_key_value(repo.config().history_bucket.clone())
        .await?;
    let pack = bucket.get("ledger.long").await?.ok_or("no pack")?;
    bucket
        .put(
            "ledger.long",
            edited(&pack, "\"amount\":1,", "\"amount\":9,")?.into(),
        )
        .await?;
    let fresh =
        JetStreamEventRepository::connect(&server.url(), JetStreamConfig::default()).await?;
    assert_eq!(
        amounts(&fresh.get_events::<Ledger>("long").await?)[..2],
        [9, 2]
    );
    Ok(())
}

#[tokio::test]
async fn a_pack_the_stream_does_not_confirm_is_ignored() -> TestResult {
    let (server, repo) = server_and_repo().await?;
    append_commits(&repo, "real", 1, 40).await?;
    repo.get_events::<Ledger>("real").await?;
    let bucket = repo
        .jetstream()
        .get_key_value(repo.config().history_bucket.clone())
        .await?;
    let genuine = bucket.get("ledger.real").await?.ok_or("no pack written")?;

    // The same pack for another aggregate whose stream holds different commits at those
    // sequences: its last commit is not found where the pack says, so the stream wins.
    append_commits(&repo, "forged", 1, 2).await?;
    bucket.put("ledger.forged", genuine.clone()).await?;
    // A pack that claims more than a third aggregate has, and one that does not decode.
    append_commits(&repo, "short", 1, 5).await?;
    bucket.put("ledger.short", genuine).await?;
    append_commits(&repo, "garbled", 1, 3).await?;
    bucket.put("ledger.garbled", "{not json".into()).await?;

    let fresh =
        JetStreamEventRepository::connect(&server.url(), JetStreamConfig::default()).await?;
    assert_eq!(
        amounts(&fresh.get_events::<Ledger>("forged").await?),
        [1, 2]
    );
    assert_eq!(
        amounts(&fresh.get_events::<Ledger>("short").await?),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        amounts(&fresh.get_events::<Ledger>("garbled").await?),
        [1, 2, 3]
    );
    let expected: Vec<i64> = (1..=40).collect();
    assert_eq!(
        amounts(&fresh.get_events::<Ledger>("real").await?),
        expected
    );
    Ok(())
}

#[tokio::test]
async fn pack_after_zero_never_packs() -> TestResult {
    let (server, _) = server_and_repo().await?;
    let config = JetStreamConfig {
        pack_after: 0,
        ..JetStreamConfig::named("NOPACK")
    };
    let repo = JetStreamEventRepository::connect(&server.url(), config).await?;
    append_commits(&repo, "plain", 1, 40).await?;
    assert_eq!(repo.get_events::<Ledger>("plain").await?.len(), 40);
    assert!(!pack_exists(&repo, "ledger.plain").await?);
    Ok(())
}

/// With no commit after the pack, a load is the pack plus the subject's last commit, asked for
/// together; the pack is used only when that last commit is the pack's own.
#[tokio::test]
async fn a_complete_pack_is_confirmed_by_the_last_commit_alone() -> TestResult {
    let (server, repo) = server_and_repo().await?;
    append_commits(&repo, "whole", 1, 40).await?;
    repo.get_events::<Ledger>("whole").await?;
    let bucket = repo
        .jetstream()
        .get_key_value(repo.config().history_bucket.clone())
        .await?;
    let pack = bucket.get("ledger.whole").await?.ok_or("no pack written")?;
    let expected: Vec<i64> = (1..=40).collect();

    // An early event altered in the pack shows up: the load used the pack.
    let early = edited(&pack, "\"amount\":1,", "\"amount\":9,")?;
    bucket.put("ledger.whole", early.clone().into()).await?;
    let fresh =
        JetStreamEventRepository::connect(&server.url(), JetStreamConfig::default()).await?;
    assert_eq!(
        amounts(&fresh.get_events::<Ledger>("whole").await?)[..2],
        [9, 2]
    );

    // The pack's last commit altered: the stream does not confirm it, so the stream wins.
    let last = edited(&early, "\"amount\":40,", "\"amount\":-4,")?;
    bucket.put("ledger.whole", last.into()).await?;
    let fresh =
        JetStreamEventRepository::connect(&server.url(), JetStreamConfig::default()).await?;
    assert_eq!(
        amounts(&fresh.get_events::<Ledger>("whole").await?),
        expected
    );
    // Appending after that load continues at the right sequence.
    fresh.append(&added_events("whole", 41, &[41])).await?;
    assert_eq!(fresh.get_events::<Ledger>("whole").await?.len(), 41);
    Ok(())
}
