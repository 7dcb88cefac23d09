//! One behaviour script for the key-value seam, run against the in-process bucket and a real
//! JetStream KV bucket, so the embedded default cannot drift from production.

use std::time::Duration;

use bytes::Bytes;
use cim_agent_coordination::transport::kv::{KeyValue, KvChange, KvError, KvWatch};
use futures::StreamExt;

async fn next_change(watch: &mut KvWatch) -> Option<KvChange> {
    tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .ok()
        .flatten()
}

/// Runs every behaviour the coordination layer relies on.
pub async fn run<K: KeyValue>(kv: K) -> Result<(), KvError> {
    let mut watch = kv.watch().await?;
    assert_eq!(kv.get("agents.a").await?, None);
    assert!(kv.keys().await?.is_empty());

    // create: only when absent.
    let r1 = kv.create("agents.a", Bytes::from_static(b"one")).await?;
    assert!(matches!(
        kv.create("agents.a", Bytes::from_static(b"again")).await,
        Err(KvError::AlreadyExists { .. })
    ));
    let entry = kv.get("agents.a").await?.ok_or(KvError::Backend {
        operation: "script",
        message: "created key missing".into(),
    })?;
    assert_eq!((&entry.value[..], entry.revision), (&b"one"[..], r1));

    // update: compare-and-set on the revision; of two writers that read r1 only one wins.
    let r2 = kv
        .update("agents.a", Bytes::from_static(b"two"), r1)
        .await?;
    assert!(r2 > r1, "revisions increase");
    assert!(matches!(
        kv.update("agents.a", Bytes::from_static(b"stale"), r1).await,
        Err(KvError::WrongRevision { expected, .. }) if expected == r1
    ));

    // Revisions are bucket-wide: a write to another key moves past both.
    let r3 = kv.put("agents.b", Bytes::from_static(b"b")).await?;
    assert!(r3 > r2);
    assert_eq!(kv.keys().await?, vec!["agents.a", "agents.b"]);

    // delete: gone for get and keys; create may write it again.
    kv.delete("agents.a").await?;
    assert_eq!(kv.get("agents.a").await?, None);
    assert_eq!(kv.keys().await?, vec!["agents.b"]);
    let r5 = kv.create("agents.a", Bytes::from_static(b"back")).await?;
    assert!(r5 > r3);

    // The watcher saw every change, in revision order.
    let mut seen = Vec::new();
    for _ in 0..5 {
        match next_change(&mut watch).await {
            Some(KvChange::Put(e)) => seen.push(format!("put {} {}", e.key, e.revision)),
            Some(KvChange::Delete { key, revision }) => seen.push(format!("del {key} {revision}")),
            None => panic!("watch ended early after {seen:?}"),
        }
    }
    assert_eq!(
        seen,
        vec![
            format!("put agents.a {r1}"),
            format!("put agents.a {r2}"),
            format!("put agents.b {r3}"),
            format!("del agents.a {}", r3 + 1),
            format!("put agents.a {r5}"),
        ]
    );

    // Keys that are not NATS KV keys are refused before anything is sent.
    for bad in ["", ".a", "a.", "a b", "a*", "a>"] {
        assert!(
            matches!(
                kv.put(bad, Bytes::new()).await,
                Err(KvError::InvalidKey { .. })
            ),
            "{bad:?} accepted"
        );
    }

    // A watcher started later sees only what comes after it.
    let mut late = kv.watch().await?;
    kv.put("agents.c", Bytes::from_static(b"c")).await?;
    assert!(matches!(
        next_change(&mut late).await,
        Some(KvChange::Put(e)) if e.key == "agents.c"
    ));
    Ok(())
}
