//! One behaviour script for the shared knowledge base, run over the in-process bus with the
//! memory store and over a real nats-server with the JetStream store.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use cim_agent_coordination::knowledge::bootstrap::SnapshotOutcome;
use cim_agent_coordination::knowledge::{
    Assertion, Conflict, ConsensusHook, FactId, FactObject, KnowledgeReplica, KnowledgeStore,
    KnowledgeSubjects, MonotonicClock, ProposalId, ReplicaConfig, Resolution, ResolutionStrategy,
    SharedKnowledge, SyncPolicy, Topic,
};
use cim_agent_coordination::transport::Transport;
use cim_domain_agent::AgentId;
use uuid::Uuid;

/// Error type of the scripts.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// How long a replica set may take to converge before the script fails.
pub const CONVERGE_WITHIN: Duration = Duration::from_secs(15);

/// Fast timings so the script runs in about a second.
pub fn config() -> ReplicaConfig {
    ReplicaConfig {
        policy: SyncPolicy {
            resync_interval_ms: 150,
            peer_timeout_ms: 2_000,
            max_rounds: 32,
            max_failed_syncs: 20,
        },
        tick: Duration::from_millis(25),
        hello_every: Duration::from_millis(200),
    }
}

/// The space every script replica shares.
pub fn subjects() -> KnowledgeSubjects {
    KnowledgeSubjects::new("script").unwrap_or_else(|_| unreachable!("a valid literal space"))
}

/// The agent of replica `n`.
pub fn agent(n: usize) -> AgentId {
    AgentId(Uuid::from_u128(0x1000 + n as u128))
}

/// A fixed time for fact `n` (time is data).
pub fn at(n: usize) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_700_000_000_000 + n as i64)
        .single()
        .unwrap_or_default()
}

/// Starts replica `n`.
pub async fn start<T: Transport, S: KnowledgeStore>(
    n: usize,
    transport: T,
    store: S,
) -> Result<KnowledgeReplica<T, S>, Failure> {
    Ok(KnowledgeReplica::start(
        agent(n),
        transport,
        store,
        subjects(),
        config(),
        Arc::new(MonotonicClock::default()),
    )
    .await?)
}

/// A fact replica `n` asserts.
pub fn assertion(id: &str, n: usize, value: &str) -> Result<Assertion, Failure> {
    Ok(Assertion {
        id: FactId::new(id)?,
        subject: format!("host/{n}"),
        predicate: "reports".into(),
        object: FactObject::Text(value.into()),
        source: format!("replica-{n}"),
    })
}

/// Waits until every replica has the same heads and `facts` facts.
pub async fn converged<T: Transport, S: KnowledgeStore>(
    replicas: &[KnowledgeReplica<T, S>],
    facts: usize,
) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + CONVERGE_WITHIN;
    loop {
        let mut heads = BTreeSet::new();
        let mut counts = BTreeSet::new();
        for r in replicas {
            heads.insert(r.heads().await);
            counts.insert(r.read(|k| k.facts().len()).await);
        }
        if heads.len() == 1 && counts.len() == 1 && counts.contains(&facts) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "not converged: {} distinct heads, fact counts {counts:?}, expected {facts}",
                heads.len()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct NoVote;

impl ConsensusHook for NoVote {
    fn propose(&mut self, _: &Topic, _: &Conflict) -> Option<ProposalId> {
        None
    }
}

/// Ten replicas converge; one restarts mid-way and catches up; a conflict is resolved and the
/// resolution reaches everyone; a new agent bootstraps from the compacted snapshot. Returns the
/// running replicas and the number of facts they hold.
pub async fn run<T: Transport, S: KnowledgeStore>(
    transports: Vec<T>,
    store: S,
) -> Result<(Vec<KnowledgeReplica<T, S>>, usize), Failure> {
    assert!(transports.len() >= 11, "ten replicas and one newcomer");
    let mut replicas = Vec::new();
    for (n, transport) in transports.iter().take(10).enumerate() {
        replicas.push(start(n, transport.clone(), store.clone()).await?);
    }
    // Everyone writes its own facts; replica 0 also says who leads the cluster.
    for (n, r) in replicas.iter().enumerate() {
        for i in 0..5 {
            r.assert_fact(assertion(&format!("r{n}/f{i}"), n, "up")?, at(n * 10 + i))
                .await?;
        }
    }
    let leader = FactId::new("cluster/leader")?;
    replicas[0]
        .assert_fact(assertion("cluster/leader", 0, "replica-0")?, at(100))
        .await?;
    let mut facts = 10 * 5 + 1;
    converged(&replicas, facts).await?;

    // Replica 9 goes away. Cut off, it wrote its own view of the leader (a change that never
    // saw replica 0's, so the two are concurrent) and stored it before it went down.
    replicas.pop();
    let mut offline = SharedKnowledge::new(agent(9), 0);
    let (_, change) = offline.assert_fact(assertion("cluster/leader", 9, "replica-9")?, at(150))?;
    store.append(agent(9), &change).await?;
    // The others keep writing; replica 9 comes back and catches up.
    for (n, r) in replicas.iter().enumerate() {
        for i in 5..7 {
            r.assert_fact(
                assertion(&format!("r{n}/f{i}"), n, "still up")?,
                at(200 + n * 10 + i),
            )
            .await?;
        }
    }
    facts += 9 * 2;
    replicas.push(start(9, transports[9].clone(), store.clone()).await?);
    let report = replicas[9].recovery_report().clone();
    assert!(
        report.changes_applied >= facts,
        "the restarted replica bootstraps from the store: {report:?}"
    );
    replicas[9]
        .assert_fact(assertion("r9/back", 9, "back")?, at(400))
        .await?;
    facts += 1;
    converged(&replicas, facts).await?;
    for r in &replicas {
        let mut authors = r
            .read(|k| k.conflict(&leader).map(|c| c.authors()))
            .await
            .unwrap_or_default();
        authors.sort();
        assert_eq!(
            authors,
            vec![agent(0), agent(9)],
            "the concurrent values surface with their authors on every replica"
        );
    }

    // The conflict is resolved (last writer wins: replica 9 wrote last) and settled everywhere.
    let resolution = replicas[0]
        .resolve_conflict(
            &leader,
            ResolutionStrategy::LastWriterWins,
            &mut NoVote,
            at(500),
        )
        .await?;
    let Some(Resolution::Chosen(chosen)) = resolution else {
        return Err(format!("expected a choice, got {resolution:?}").into());
    };
    assert_eq!(chosen.fact.asserted_by, agent(9));
    converged(&replicas, facts).await?;
    for r in &replicas {
        assert!(r.read(|k| k.conflict(&leader)).await.is_none());
        let winner = r.read(|k| k.fact(&leader)).await.map(|f| f.asserted_by);
        assert_eq!(winner, Some(agent(9)));
    }

    // Compaction, then a newcomer bootstraps from the snapshot and the tail.
    replicas[0].compact().await?;
    replicas[1]
        .assert_fact(assertion("r1/after-snapshot", 1, "tail")?, at(600))
        .await?;
    facts += 1;
    replicas.push(start(10, transports[10].clone(), store.clone()).await?);
    let report = replicas[10].recovery_report().clone();
    assert!(
        matches!(report.snapshot, SnapshotOutcome::Loaded { .. }),
        "{report:?}"
    );
    assert!(
        report.changes_applied <= 2,
        "only the tail is replayed: {report:?}"
    );
    converged(&replicas, facts).await?;
    for r in &replicas {
        assert!(r.malformed() == 0, "no malformed messages in a clean run");
        assert_eq!(r.unstored().await, 0);
    }
    Ok((replicas, facts))
}
