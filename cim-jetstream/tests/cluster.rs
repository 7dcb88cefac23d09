//! An R3 stream on three nodes keeps serving through the loss of one node and loses nothing.

mod common;

use std::time::Duration;

use cim_jetstream::testing::NatsCluster;
use cim_jetstream::{GroupCommit, JetStreamConfig, JetStreamError, JetStreamEventRepository};
use common::{TestResult, added_events, amounts};
use cqrs_es::persist::SerializedEvent;

/// Appends, retrying while the cluster elects new leaders; a conflict after a retry means an
/// earlier attempt landed, which `append` itself detects, so only transient errors repeat.
async fn append_through_failover(
    repo: &JetStreamEventRepository,
    events: &[SerializedEvent],
) -> Result<(), JetStreamError> {
    let mut attempt = 0;
    loop {
        match repo.append(events).await {
            Ok(_) => return Ok(()),
            Err(err @ JetStreamError::Conflict { .. }) => return Err(err),
            Err(err) if attempt >= 40 => return Err(err),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// Loads, retrying transient errors during leader elections.
async fn load_through_failover(
    repo: &JetStreamEventRepository,
    id: &str,
    expected_len: usize,
) -> Result<Vec<SerializedEvent>, JetStreamError> {
    let mut attempt = 0;
    loop {
        match repo.read_events("ledger", id, 0).await {
            // A replica answering a direct get may briefly lag the leader.
            Ok(events) if events.len() >= expected_len || attempt >= 40 => return Ok(events),
            Err(err) if attempt >= 40 => return Err(err),
            _ => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

#[tokio::test]
async fn r3_stream_survives_losing_a_node_and_the_node_rejoins() -> TestResult {
    let mut cluster = NatsCluster::start(3).await?;
    let config = JetStreamConfig {
        replicas: 3,
        ..JetStreamConfig::default()
    };
    let repo = JetStreamEventRepository::new(cluster.client().await?, config).await?;
    let stream = repo.jetstream().get_stream("CIM_EVENTS").await?;
    assert_eq!(stream.cached_info().config.num_replicas, 3);

    let mut acked: Vec<i64> = Vec::new();
    for n in 0..20 {
        repo.append(&added_events("fleet", acked.len() + 1, &[n]))
            .await?;
        acked.push(n);
    }

    // The client knows all three nodes; whichever it used, it fails over.
    cluster.kill(0)?;
    for n in 20..40 {
        append_through_failover(&repo, &added_events("fleet", acked.len() + 1, &[n])).await?;
        acked.push(n);
    }
    let during = load_through_failover(&repo, "fleet", acked.len()).await?;
    assert_eq!(
        amounts(&during),
        acked,
        "no acked event lost with a node down"
    );

    cluster.restart(0).await?;
    for n in 40..50 {
        append_through_failover(&repo, &added_events("fleet", acked.len() + 1, &[n])).await?;
        acked.push(n);
    }
    // The rejoined node serves the full history to a client connected only to it.
    let rejoined_client = cluster.node(0)?.client().await?;
    let rejoined = JetStreamEventRepository::new(
        rejoined_client,
        JetStreamConfig {
            replicas: 3,
            ..JetStreamConfig::default()
        },
    )
    .await?;
    let after = load_through_failover(&rejoined, "fleet", acked.len()).await?;
    assert_eq!(amounts(&after), acked);
    assert!(
        replicas_current(&rejoined, cluster.node(0)?.name()).await?,
        "the restarted node caught up as a current replica"
    );
    Ok(())
}

/// Polls the stream's cluster info until `node` is listed as a current, online replica.
async fn replicas_current(
    repo: &JetStreamEventRepository,
    node: &str,
) -> Result<bool, Box<dyn std::error::Error>> {
    for _ in 0..80 {
        let mut stream = repo.jetstream().get_stream("CIM_EVENTS").await?;
        let info = stream.info().await?;
        let caught_up = info.cluster.as_ref().is_some_and(|cluster| {
            cluster.leader.as_deref() == Some(node)
                || cluster
                    .replicas
                    .iter()
                    .any(|peer| peer.name == node && peer.current && !peer.offline)
        });
        if caught_up {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(false)
}

/// On an R3 stream concurrent commits go out as one atomic batch, a stale commit in a batch is
/// still a conflict while the others land, and everything acknowledged is kept when a node dies.
#[tokio::test]
async fn r3_batches_keep_per_aggregate_checks_and_survive_losing_a_node() -> TestResult {
    let mut cluster = NatsCluster::start(3).await?;
    let config = JetStreamConfig {
        replicas: 3,
        group_commit: GroupCommit::On,
        ..JetStreamConfig::named("R3BATCH")
    };
    let repo = JetStreamEventRepository::new(cluster.client().await?, config.clone()).await?;
    let stale = JetStreamEventRepository::new(cluster.client().await?, config.clone()).await?;
    stale.append(&added_events("contested", 1, &[1])).await?;
    repo.append(&added_events("contested", 2, &[2])).await?;

    let ids: Vec<String> = (0..30).map(|i| format!("member-{i}")).collect();
    let first_round = ids.iter().enumerate().map(|(i, id)| {
        let events = added_events(id, 1, &[i as i64]);
        let stale = stale.clone();
        async move { stale.append(&events).await }
    });
    for acked in futures::future::join_all(first_round).await {
        acked?;
    }
    assert_eq!(stale.group_commit_stats().batches_committed, 1);

    let second_round = ids.iter().enumerate().map(|(i, id)| {
        let events = added_events(id, 2, &[i as i64 + 100]);
        let stale = stale.clone();
        async move { stale.append(&events).await }
    });
    let contested = added_events("contested", 2, &[999]);
    let (members, conflict) = futures::join!(
        futures::future::join_all(second_round),
        stale.append(&contested)
    );
    assert!(
        matches!(conflict, Err(JetStreamError::Conflict { .. })),
        "{conflict:?}"
    );
    for acked in members {
        acked?;
    }
    assert_eq!(stale.group_commit_stats().batches_split, 1);

    cluster.kill(0)?;
    for (i, id) in ids.iter().enumerate() {
        let events = load_through_failover(&repo, id, 2).await?;
        assert_eq!(amounts(&events), [i as i64, i as i64 + 100]);
    }
    assert_eq!(
        amounts(&load_through_failover(&repo, "contested", 2).await?),
        [1, 2]
    );
    Ok(())
}
