//! End to end under loss: replicas over a transport that drops and duplicates a share of the
//! knowledge messages still converge, through the replica's own re-sync loop.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cim_agent_coordination::knowledge::MemoryKnowledgeStore;
use cim_agent_coordination::transport::{
    Envelope, InProcessTransport, Subscription, Transport, TransportError,
};
use common::knowledge_script::{Failure, assertion, at, converged, start};

/// Delegates to an inner transport, dropping every `drop_every`-th knowledge publish and
/// sending every `dup_every`-th twice (deterministic, so a failure replays), or dropping every
/// knowledge publish during a blackout.
#[derive(Clone)]
struct Lossy {
    inner: InProcessTransport,
    count: Arc<AtomicU64>,
    drop_every: u64,
    dup_every: u64,
    dropped: Arc<AtomicU64>,
    blackout: Arc<AtomicBool>,
}

#[async_trait]
impl Transport for Lossy {
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), TransportError> {
        if subject.starts_with("cim.knowledge.") {
            let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_multiple_of(self.drop_every) || self.blackout.load(Ordering::Relaxed) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            if n.is_multiple_of(self.dup_every) {
                self.inner.publish(subject, payload.clone()).await?;
            }
        }
        self.inner.publish(subject, payload).await
    }

    async fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        payload: Bytes,
    ) -> Result<(), TransportError> {
        self.inner.publish_with_reply(subject, reply, payload).await
    }

    async fn subscribe(&self, filter: &str) -> Result<Subscription, TransportError> {
        self.inner.subscribe(filter).await
    }

    async fn queue_subscribe(
        &self,
        filter: &str,
        group: &str,
    ) -> Result<Subscription, TransportError> {
        self.inner.queue_subscribe(filter, group).await
    }

    async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Envelope, TransportError> {
        self.inner.request(subject, payload, timeout).await
    }

    async fn flush(&self) -> Result<(), TransportError> {
        self.inner.flush().await
    }

    fn new_inbox(&self) -> String {
        self.inner.new_inbox()
    }

    fn max_payload(&self) -> usize {
        self.inner.max_payload()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_converge_when_a_fifth_of_messages_are_lost_and_some_duplicated()
-> Result<(), Failure> {
    let lossy = Lossy {
        inner: InProcessTransport::default(),
        count: Arc::new(AtomicU64::new(0)),
        drop_every: 5,
        dup_every: 7,
        dropped: Arc::new(AtomicU64::new(0)),
        blackout: Arc::new(AtomicBool::new(false)),
    };
    let store = MemoryKnowledgeStore::default();
    let mut replicas = Vec::new();
    for n in 0..6 {
        replicas.push(start(n, lossy.clone(), store.clone()).await?);
    }
    let mut facts = 0;
    for round in 0..4 {
        for (n, r) in replicas.iter().enumerate() {
            r.assert_fact(
                assertion(&format!("r{n}/{round}"), n, "x")?,
                at(round * 10 + n),
            )
            .await?;
            facts += 1;
        }
    }
    converged(&replicas, facts).await?;
    assert!(
        lossy.dropped.load(Ordering::Relaxed) > 10,
        "the link really lost messages"
    );

    // A blackout swallows every message of one write; nothing else is written afterwards, so
    // only the periodic re-sync can carry it.
    let resets_before = total_resets(&replicas).await;
    lossy.blackout.store(true, Ordering::Relaxed);
    replicas[0]
        .assert_fact(assertion("r0/in-the-dark", 0, "x")?, at(1_000))
        .await?;
    facts += 1;
    tokio::time::sleep(Duration::from_millis(50)).await;
    lossy.blackout.store(false, Ordering::Relaxed);
    converged(&replicas, facts).await?;
    assert!(
        total_resets(&replicas).await > resets_before,
        "recovery had to re-sync"
    );
    Ok(())
}

async fn total_resets<T: Transport>(
    replicas: &[cim_agent_coordination::knowledge::KnowledgeReplica<T, MemoryKnowledgeStore>],
) -> u64 {
    let mut resets = 0;
    for r in replicas {
        resets += r.stats().await.resets;
    }
    resets
}
