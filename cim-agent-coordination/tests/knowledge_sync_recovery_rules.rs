//! The sync engine's recovery rules, one by one, without a network: a peer that never answers
//! is reported as not converging, a restarted peer gets a fresh session, messages of an older
//! session are dropped, rounds per session are bounded, and silent peers are not sent to.

use chrono::{TimeZone, Utc};
use cim_agent_coordination::knowledge::wire::SyncMessage;
use cim_agent_coordination::knowledge::{
    Assertion, FactId, FactObject, KnowledgeError, PeerHealth, SharedKnowledge, SyncEngine,
    SyncPolicy,
};
use cim_domain_agent::AgentId;
use uuid::Uuid;

const POLICY: SyncPolicy = SyncPolicy {
    resync_interval_ms: 100,
    peer_timeout_ms: 1_000,
    max_rounds: 4,
    max_failed_syncs: 3,
};

struct Side {
    doc: SharedKnowledge,
    engine: SyncEngine,
}

fn side(n: u128, incarnation: u64) -> Side {
    let agent = AgentId(Uuid::from_u128(n));
    Side {
        doc: SharedKnowledge::new(agent, incarnation),
        engine: SyncEngine::new(agent, incarnation, POLICY),
    }
}

fn write(s: &mut Side, id: &str) -> Result<Vec<SyncMessage>, KnowledgeError> {
    let at = Utc.timestamp_millis_opt(0).single().unwrap_or_default();
    s.doc.assert_fact(
        Assertion {
            id: FactId::new(id)?,
            subject: "s".into(),
            predicate: "p".into(),
            object: FactObject::Text(id.into()),
            source: "t".into(),
        },
        at,
    )?;
    Ok(s.engine.local_change(&mut s.doc))
}

/// Delivers messages back and forth until quiet; returns how many were delivered.
fn exchange(a: &mut Side, b: &mut Side, mut queue: Vec<SyncMessage>, now: u64) -> usize {
    let a_id = a.doc.agent();
    let mut delivered = 0;
    while let Some(m) = (!queue.is_empty()).then(|| queue.remove(0)) {
        delivered += 1;
        let target = if m.to == a_id { &mut *a } else { &mut *b };
        if let Ok(Some(answer)) = target.engine.receive(&mut target.doc, &m, now) {
            queue.push(answer);
        }
        assert!(delivered < 1_000, "an exchange must end");
    }
    delivered
}

#[test]
fn a_peer_that_never_answers_is_reported_and_recovers_when_it_does() -> Result<(), KnowledgeError> {
    let (mut a, mut b) = (side(1, 1), side(2, 1));
    let b_id = b.doc.agent();
    let mut now = 0;
    let hello = a.engine.peer_seen(&mut a.doc, b_id, 1, now);
    assert!(hello.is_some(), "a new peer gets a first message");
    write(&mut a, "x")?; // every message to b is lost from here on
    for _ in 0..POLICY.max_failed_syncs {
        now += POLICY.resync_interval_ms;
        // b stays present (its hellos arrive) but its sync answers never do.
        a.engine.peer_seen(&mut a.doc, b_id, 1, now);
        let out = a.engine.tick(&mut a.doc, now);
        assert_eq!(out.len(), 1, "each re-sync sends a fresh first message");
        assert_eq!(out[0].session, a.engine.stats().resets);
    }
    assert_eq!(a.engine.not_converging(), vec![b_id]);
    // The link heals: the next re-sync converges and the report clears.
    now += POLICY.resync_interval_ms;
    let out = a.engine.tick(&mut a.doc, now);
    exchange(&mut a, &mut b, out, now);
    assert_eq!(a.doc.heads(), b.doc.heads());
    assert_eq!(a.engine.peers(), vec![(b_id, PeerHealth::InSync)]);
    Ok(())
}

#[test]
fn a_restarted_peer_gets_a_fresh_session_and_old_sessions_are_dropped() -> Result<(), KnowledgeError>
{
    let (mut a, mut b) = (side(1, 1), side(2, 1));
    let (a_id, b_id) = (a.doc.agent(), b.doc.agent());
    let first = a
        .engine
        .peer_seen(&mut a.doc, b_id, 1, 0)
        .into_iter()
        .collect();
    exchange(&mut a, &mut b, first, 0);
    let out = write(&mut a, "before")?;
    let stale = out.clone();
    exchange(&mut a, &mut b, out, 0);
    assert_eq!(a.doc.heads(), b.doc.heads());

    // b restarts with nothing (a new incarnation, an empty document).
    let mut b2 = side(2, 2);
    let again = a.engine.peer_seen(&mut a.doc, b_id, 2, 10);
    let resets = a.engine.stats().resets;
    assert_eq!(resets, 1, "a new incarnation resets the session");
    // b2 first sees a's message of the old session, then the new one.
    for m in &stale {
        let _ = b2.engine.receive(&mut b2.doc, m, 10);
    }
    exchange(&mut a, &mut b2, again.into_iter().collect(), 10);
    assert_eq!(
        a.doc.heads(),
        b2.doc.heads(),
        "the restarted peer caught up"
    );
    // An answer from a's past session is now stale for a.
    let old = SyncMessage {
        from: b_id,
        incarnation: 2,
        to: a_id,
        session: 0,
        payload: Vec::new(),
    };
    assert!(a.engine.receive(&mut a.doc, &old, 11)?.is_none());
    assert_eq!(a.engine.stats().stale, 1);
    // Garbage in the current session is refused, counted, and resets the session.
    let garbage = SyncMessage {
        session: 99,
        payload: vec![1, 2, 3],
        ..old
    };
    assert!(a.engine.receive(&mut a.doc, &garbage, 12).is_err());
    assert_eq!(a.engine.stats().malformed, 1);
    Ok(())
}

#[test]
fn rounds_per_session_are_bounded_and_silent_peers_are_left_alone() -> Result<(), KnowledgeError> {
    let (mut a, b) = (side(1, 1), side(2, 1));
    let b_id = b.doc.agent();
    a.engine.peer_seen(&mut a.doc, b_id, 1, 0);
    // With one message per session per side, a's changes (which need its second message)
    // never get through: every session is cut off by the round limit, and after
    // `max_failed_syncs` sessions the pair is reported instead of looping forever.
    let tight = SyncPolicy {
        max_rounds: 1,
        ..POLICY
    };
    let (mut x, mut y) = (side(3, 1), side(4, 1));
    x.engine = SyncEngine::new(x.doc.agent(), 1, tight);
    y.engine = SyncEngine::new(y.doc.agent(), 1, tight);
    let y_id = y.doc.agent();
    write(&mut x, "only-on-x")?;
    write(&mut y, "only-on-y")?;
    let mut now = 0;
    let first = x.engine.peer_seen(&mut x.doc, y_id, 1, now);
    let mut delivered = exchange(&mut x, &mut y, first.into_iter().collect(), now);
    for _ in 0..tight.max_failed_syncs {
        now += tight.resync_interval_ms;
        x.engine.peer_seen(&mut x.doc, y_id, 1, now);
        let out = x.engine.tick(&mut x.doc, now);
        delivered += exchange(&mut x, &mut y, out, now);
    }
    assert!(x.engine.stats().exhausted > 0);
    assert!(
        delivered <= 2 * (tight.max_failed_syncs as usize + 1),
        "{delivered} messages"
    );
    assert_eq!(x.engine.not_converging(), vec![y_id]);

    // b falls silent past the timeout: no more re-syncs to it until it is seen again.
    let out = a.engine.tick(&mut a.doc, POLICY.peer_timeout_ms + 1);
    assert!(out.is_empty());
    assert_eq!(a.engine.peers(), vec![(b_id, PeerHealth::Absent)]);
    assert!(write(&mut a, "while-away")?.is_empty());
    let back = a
        .engine
        .peer_seen(&mut a.doc, b_id, 1, POLICY.peer_timeout_ms + 2);
    assert!(back.is_some(), "seen again: a fresh session starts");
    assert_eq!(a.engine.peers(), vec![(b_id, PeerHealth::Syncing)]);
    Ok(())
}
