//! Ten replicas converge, one restarts and catches up, a conflict is settled everywhere and a
//! newcomer bootstraps from the snapshot: the same script in process and over a real
//! nats-server with JetStream. Over NATS, the server then restarts and nothing is lost, and
//! corrupt stored records are detected and recovered from.

mod common;

use async_nats::HeaderMap;
use bytes::Bytes;
use cim_agent_coordination::knowledge::bootstrap::SnapshotOutcome;
use cim_agent_coordination::knowledge::store::record::encode_change;
use cim_agent_coordination::knowledge::{
    JetStreamKnowledgeStore, JetStreamStoreConfig, KnowledgeStore, MemoryKnowledgeStore,
};
use cim_agent_coordination::transport::{InProcessTransport, NatsTransport, Transport};
use cim_jetstream::testing::NatsServer;
use common::knowledge_script::{self, Failure, assertion, at, converged, subjects};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_converge_in_process() -> Result<(), Failure> {
    let bus = InProcessTransport::default();
    let store = MemoryKnowledgeStore::default();
    let (replicas, facts) = knowledge_script::run(vec![bus.clone(); 11], store.clone()).await?;
    // Garbage on the sync subjects is counted and dropped, never a crash.
    let victim = replicas[0].agent();
    bus.publish(
        &subjects().sync(replicas[1].agent(), victim),
        Bytes::from_static(b"garbage"),
    )
    .await?;
    bus.publish(&subjects().hello(victim), Bytes::from_static(b"CK\x01H"))
        .await?;
    replicas[2]
        .assert_fact(assertion("after/garbage", 2, "ok")?, at(900))
        .await?;
    converged(&replicas, facts + 1).await?;
    assert!(replicas[0].malformed() >= 1);
    Ok(())
}

async fn jetstream(
    server: &NatsServer,
) -> Result<(NatsTransport, JetStreamKnowledgeStore), Failure> {
    let client = server.client().await?;
    let store =
        JetStreamKnowledgeStore::open(client.clone(), subjects(), JetStreamStoreConfig::default())
            .await?;
    Ok((NatsTransport::new(client), store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_converge_over_nats_and_survive_a_server_restart() -> Result<(), Failure> {
    let mut server = NatsServer::start().await?;
    let mut transports = Vec::new();
    let mut store = None;
    for _ in 0..11 {
        let (transport, s) = jetstream(&server).await?;
        transports.push(transport);
        store.get_or_insert(s);
    }
    let store = store.ok_or("no store")?;
    let (replicas, mut facts) = knowledge_script::run(transports, store).await?;

    // The server restarts (same store directory); the replicas reconnect, keep syncing and
    // store what they wrote while it was down.
    server.restart().await?;
    replicas[4]
        .assert_fact(
            assertion("r4/after-restart", 4, "written across a restart")?,
            at(1000),
        )
        .await?;
    facts += 1;
    converged(&replicas, facts).await?;
    let deadline = tokio::time::Instant::now() + common::knowledge_script::CONVERGE_WITHIN;
    for r in &replicas {
        while r.unstored().await > 0 {
            if tokio::time::Instant::now() > deadline {
                return Err("a change was never stored after the restart".into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    drop(replicas);

    // Every agent is gone; a new one bootstraps everything from JetStream alone.
    let (transport, store) = jetstream(&server).await?;
    let fresh = knowledge_script::start(20, transport, store.clone()).await?;
    assert_eq!(fresh.read(|k| k.facts().len()).await, facts, "nothing lost");
    assert!(!fresh.recovery_report().found_corruption());
    drop(fresh);

    // Corruption: the snapshot rots and a change record arrives garbled; both are detected and
    // the document is rebuilt from the rest of the log.
    let client = server.client().await?;
    let context = async_nats::jetstream::new(client.clone());
    let bucket = context.get_object_store(subjects().bucket()).await?;
    bucket
        .put(
            "snapshot",
            &mut b"CKS1 not a snapshot at all, 44 bytes long or more....".as_slice(),
        )
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "garbled-record");
    let mut garbled = encode_change(b"a change");
    garbled[10] ^= 0xff;
    context
        .publish_with_headers(
            subjects().changes(knowledge_script::agent(4)),
            headers,
            garbled.into(),
        )
        .await?
        .await?;
    let (transport, store) = jetstream(&server).await?;
    let rebuilt = knowledge_script::start(21, transport, store.clone()).await?;
    let report = rebuilt.recovery_report().clone();
    assert_eq!(report.snapshot, SnapshotOutcome::Corrupt, "{report:?}");
    assert_eq!(report.corrupt_changes.len(), 1, "{report:?}");
    assert_eq!(rebuilt.read(|k| k.facts().len()).await, facts);
    // Compaction writes a good snapshot again.
    rebuilt.compact().await?;
    assert!(store.snapshot().await?.is_some());
    let (transport, store) = jetstream(&server).await?;
    let after = knowledge_script::start(22, transport, store).await?;
    assert!(matches!(
        after.recovery_report().snapshot,
        SnapshotOutcome::Loaded { .. }
    ));
    assert_eq!(after.read(|k| k.facts().len()).await, facts);
    Ok(())
}
