//! The typed document: conflicts surface as values with authors and are resolved by each
//! strategy the same way on every replica; trust is a function of the document; queries and the
//! fact graph read the local replica.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use cim_agent_coordination::knowledge::trust::{agent_trust, fact_trust, trust_scores};
use cim_agent_coordination::knowledge::{
    Assertion, Conflict, ConsensusHook, ConsensusState, FactId, FactObject, KnowledgeError,
    ProposalId, Resolution, ResolutionStrategy, SharedKnowledge, Topic,
};
use cim_domain_agent::AgentId;
use uuid::Uuid;

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_700_000_000_000 + ms)
        .single()
        .unwrap_or_default()
}

fn agent(n: u128) -> AgentId {
    AgentId(Uuid::from_u128(n))
}

fn assertion(id: &str, subject: &str, predicate: &str, object: FactObject) -> Assertion {
    Assertion {
        id: FactId::new(id).unwrap_or_else(|_| unreachable!("literal ids are valid")),
        subject: subject.into(),
        predicate: predicate.into(),
        object,
        source: "test".into(),
    }
}

fn sync_pair(a: &mut SharedKnowledge, b: &mut SharedKnowledge) -> Result<(), KnowledgeError> {
    a.merge(b)?;
    b.merge(a)?;
    Ok(())
}

struct RecordingHook(Vec<Topic>, ProposalId);

impl ConsensusHook for RecordingHook {
    fn propose(&mut self, topic: &Topic, conflict: &Conflict) -> Option<ProposalId> {
        assert_eq!(conflict.candidates.len(), 2);
        self.0.push(topic.clone());
        Some(self.1)
    }
}

#[test]
fn concurrent_writes_surface_as_values_with_authors_and_every_strategy_agrees_across_replicas()
-> Result<(), KnowledgeError> {
    let mut a = SharedKnowledge::new(agent(1), 1);
    let mut b = SharedKnowledge::new(agent(2), 1);
    let gpus = FactId::new("host/gpu-01/gpus")?;
    // b builds trust first: an undisputed fact that a verified.
    b.assert_fact(
        assertion(
            "host/gpu-02/gpus",
            "host/gpu-02",
            "gpus",
            FactObject::Text("4".into()),
        ),
        at(0),
    )?;
    sync_pair(&mut a, &mut b)?;
    a.believe(&FactId::new("host/gpu-02/gpus")?, 1.0, true, at(1))?;
    // Concurrent, conflicting writes; a's is later.
    b.assert_fact(
        assertion(
            "host/gpu-01/gpus",
            "host/gpu-01",
            "gpus",
            FactObject::Text("2".into()),
        ),
        at(10),
    )?;
    a.assert_fact(
        assertion(
            "host/gpu-01/gpus",
            "host/gpu-01",
            "gpus",
            FactObject::Text("8".into()),
        ),
        at(20),
    )?;
    a.assert_fact(
        assertion("a/only", "host/a", "x", FactObject::Text("y".into())),
        at(21),
    )?;
    sync_pair(&mut a, &mut b)?;
    assert_eq!(a.heads(), b.heads());

    for doc in [&a, &b] {
        let conflict = doc
            .conflict(&gpus)
            .ok_or(KnowledgeError::Malformed("no conflict"))?;
        let mut authors = conflict.authors();
        authors.sort();
        assert_eq!(authors, vec![agent(1), agent(2)]);
        assert_eq!(doc.conflicted(), vec![gpus.clone()]);
    }
    let conflict_a = a.conflict(&gpus);
    assert_eq!(conflict_a, b.conflict(&gpus), "same candidates, same order");

    let mut hook = RecordingHook(Vec::new(), Uuid::from_u128(99));
    // Last writer wins: a's "8" (later asserted_at), on both replicas.
    for doc in [&mut a, &mut b] {
        match doc.resolve_conflict(&gpus, ResolutionStrategy::LastWriterWins, &mut hook, at(30))? {
            Some((Resolution::Chosen(c), None)) => {
                assert_eq!(c.fact.object, FactObject::Text("8".into()));
            }
            other => panic!("expected a choice, got {other:?}"),
        }
    }
    // Highest trust: b's fact was verified by a, a's facts are unconfirmed, so b wins.
    let trust = agent_trust(&a);
    assert!(trust[&agent(2)] > trust[&agent(1)], "{trust:?}");
    for doc in [&mut a, &mut b] {
        match doc.resolve_conflict(&gpus, ResolutionStrategy::HighestTrust, &mut hook, at(30))? {
            Some((Resolution::Chosen(c), None)) => assert_eq!(c.fact.asserted_by, agent(2)),
            other => panic!("expected a choice, got {other:?}"),
        }
    }
    // Consensus: the hook opens a proposal, recorded as the topic's state; the decision names
    // a value id and then resolves the conflict to it.
    let Some((resolution, Some(_))) =
        a.resolve_conflict(&gpus, ResolutionStrategy::Consensus, &mut hook, at(40))?
    else {
        panic!("the proposal should be recorded");
    };
    let topic = Topic::for_fact(&gpus);
    assert_eq!(
        resolution,
        Resolution::AwaitingConsensus {
            topic: topic.clone(),
            proposal: Some(Uuid::from_u128(99))
        }
    );
    assert_eq!(hook.0, vec![topic.clone()]);
    // While the vote is open nobody opens another; a failed vote asks for a new proposal.
    let again = a.resolve_conflict(&gpus, ResolutionStrategy::Consensus, &mut hook, at(41))?;
    assert!(matches!(
        again,
        Some((Resolution::AwaitingConsensus { .. }, None))
    ));
    a.record_consensus(
        &topic,
        ConsensusState::Failed {
            proposal: Uuid::from_u128(99),
        },
        at(42),
    )?;
    hook.1 = Uuid::from_u128(100);
    let Some((Resolution::AwaitingConsensus { proposal, .. }, Some(_))) =
        a.resolve_conflict(&gpus, ResolutionStrategy::Consensus, &mut hook, at(43))?
    else {
        panic!("a failed vote should lead to a new proposal");
    };
    assert_eq!(proposal, Some(Uuid::from_u128(100)));
    assert_eq!(hook.0.len(), 2);
    let chosen = a
        .conflict(&gpus)
        .and_then(|c| {
            c.candidates
                .into_iter()
                .find(|c| c.fact.object == FactObject::Text("2".into()))
        })
        .ok_or(KnowledgeError::Malformed("candidate"))?;
    a.record_consensus(
        &topic,
        ConsensusState::Decided {
            proposal: Uuid::from_u128(99),
            outcome: chosen.value.0.clone(),
        },
        at(50),
    )?;
    sync_pair(&mut a, &mut b)?;
    assert_eq!(b.by_topic(&topic).len(), 2);
    let Some((Resolution::Chosen(won), None)) =
        b.resolve_conflict(&gpus, ResolutionStrategy::Consensus, &mut hook, at(60))?
    else {
        panic!("the decision should choose");
    };
    assert_eq!(won, chosen);
    // Settling writes the winner back; after sync the conflict is gone everywhere.
    b.settle(&won, at(61))?;
    sync_pair(&mut a, &mut b)?;
    assert!(a.conflict(&gpus).is_none() && b.conflict(&gpus).is_none());
    assert_eq!(
        a.fact(&gpus).map(|f| f.object),
        Some(FactObject::Text("2".into()))
    );
    assert_eq!(hook.0.len(), 2, "no further proposal once decided");
    Ok(())
}

#[test]
fn trust_follows_agreement_and_verification_and_is_equal_on_equal_heads()
-> Result<(), KnowledgeError> {
    let mut a = SharedKnowledge::new(agent(1), 1);
    let id = FactId::new("svc/web/status")?;
    a.assert_fact(
        assertion(
            "svc/web/status",
            "svc/web",
            "status",
            FactObject::Text("failed".into()),
        ),
        at(0),
    )?;
    let alone = trust_scores(&a)[&id];
    assert!(
        (alone - 0.75).abs() < 1e-12,
        "prior 0.5 and the assertion: {alone}"
    );

    let mut b = SharedKnowledge::load(agent(2), 1, &a.save())?;
    let mut c = SharedKnowledge::load(agent(3), 1, &a.save())?;
    b.believe(&id, 1.0, true, at(1))?;
    c.believe(&id, 0.0, false, at(2))?;
    sync_pair(&mut a, &mut b)?;
    sync_pair(&mut a, &mut c)?;
    sync_pair(&mut b, &mut c)?;
    let scores: Vec<f64> = [&a, &b, &c].iter().map(|d| trust_scores(d)[&id]).collect();
    assert!(
        scores.iter().all(|s| s.to_bits() == scores[0].to_bits()),
        "{scores:?}"
    );
    // (0.5*1 + 1*1 + 2*1.0 + 1*0.0) / (1 + 1 + 2 + 1)
    assert!((scores[0] - 3.5 / 5.0).abs() < 1e-12, "{scores:?}");
    let fact = a.fact(&id).ok_or(KnowledgeError::Malformed("fact"))?;
    assert!(
        fact_trust(&fact, &a.beliefs(&id), 2) < scores[0],
        "a dispute lowers trust"
    );
    assert!(a.believe(&id, 1.5, false, at(3)).is_err());
    assert!(a.believe(&id, f64::NAN, false, at(3)).is_err());
    Ok(())
}

#[test]
fn queries_search_and_the_fact_graph_read_the_local_replica() -> Result<(), KnowledgeError> {
    let mut k = SharedKnowledge::new(agent(1), 1);
    k.assert_fact(
        assertion(
            "h1/gpu",
            "host/h1",
            "has_gpu",
            FactObject::Entity("gpu/a".into()),
        ),
        at(0),
    )?;
    k.assert_fact(
        assertion(
            "h1/svc",
            "host/h1",
            "runs",
            FactObject::Entity("svc/web".into()),
        ),
        at(1),
    )?;
    k.assert_fact(
        assertion(
            "h2/svc",
            "host/h2",
            "runs",
            FactObject::Entity("svc/web".into()),
        ),
        at(2),
    )?;
    k.assert_fact(
        assertion(
            "web/status",
            "svc/web",
            "status",
            FactObject::Text("Failed: OOM".into()),
        ),
        at(3),
    )?;
    assert_eq!(k.by_subject("host/h1").len(), 2);
    assert_eq!(k.by_predicate("runs").len(), 2);
    let found: Vec<String> = k
        .search("oom")
        .into_iter()
        .map(|f| f.id.to_string())
        .collect();
    assert_eq!(found, vec!["web/status".to_owned()]);
    let graph = k.graph();
    assert_eq!(graph.graph.node_count(), 4);
    assert_eq!(graph.graph.edge_count(), 3);
    let into_web: Vec<String> = graph
        .incoming("svc/web")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(into_web, vec!["host/h1".to_owned(), "host/h2".to_owned()]);
    assert!(k.retract(&FactId::new("h2/svc")?, at(4))?.is_some());
    assert!(k.retract(&FactId::new("h2/svc")?, at(5))?.is_none());
    assert_eq!(k.graph().incoming("svc/web").len(), 1);
    assert_eq!(k.topics(), vec![]);
    let mut by_id = BTreeMap::new();
    for f in k.facts() {
        by_id.insert(f.id.clone(), f);
    }
    assert_eq!(by_id.len(), 3);
    assert!(FactId::new("").is_err() && FactId::new("a\u{1}b").is_err());
    assert!(Topic::new("x".repeat(300)).is_err());
    Ok(())
}
