//! Durability: save and load, incremental save and load, bootstrap of a new agent from the
//! snapshot and the change log, and recovery from a corrupt stored change or snapshot.

use chrono::{DateTime, TimeZone, Utc};
use cim_agent_coordination::knowledge::bootstrap::{SnapshotOutcome, bootstrap, compact};
use cim_agent_coordination::knowledge::store::record::encode_change;
use cim_agent_coordination::knowledge::{
    Assertion, FactId, FactObject, KnowledgeError, KnowledgeStore, MemoryKnowledgeStore,
    SharedKnowledge,
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

fn fact(n: usize) -> Result<Assertion, KnowledgeError> {
    Ok(Assertion {
        id: FactId::new(format!("fact-{n}"))?,
        subject: format!("host-{}", n % 7),
        predicate: "status".into(),
        object: FactObject::Text(format!("value {n}")),
        source: "test".into(),
    })
}

#[test]
fn save_load_and_incremental_save_load_round_trip() -> Result<(), KnowledgeError> {
    let mut a = SharedKnowledge::new(agent(1), 1);
    for n in 0..20 {
        a.assert_fact(fact(n)?, at(n as i64))?;
    }
    let full = a.save();
    let mut b = SharedKnowledge::load(agent(2), 1, &full)?;
    assert_eq!(a.heads(), b.heads());
    assert_eq!(a.facts(), b.facts());

    for n in 20..25 {
        a.assert_fact(fact(n)?, at(n as i64))?;
    }
    let increment = a.save_incremental();
    assert!(!increment.is_empty());
    assert!(
        a.save_incremental().is_empty(),
        "nothing new since the last incremental save"
    );
    b.load_incremental(&increment)?;
    assert_eq!(a.heads(), b.heads());
    assert_eq!(b.facts().len(), 25);
    // The save plus the increment, concatenated, loads too.
    let mut both = full.clone();
    both.extend_from_slice(&increment);
    let mut c = SharedKnowledge::load(agent(3), 1, &both)?;
    assert_eq!(c.heads(), a.heads());
    assert!(SharedKnowledge::load(agent(4), 1, b"not automerge").is_err());
    Ok(())
}

async fn write_and_store(
    k: &mut SharedKnowledge,
    store: &MemoryKnowledgeStore,
    range: std::ops::Range<usize>,
) -> Result<(), KnowledgeError> {
    for n in range {
        let (_, change) = k.assert_fact(fact(n)?, at(n as i64))?;
        store.append(k.agent(), &change).await?;
        store.append(k.agent(), &change).await?; // a retried append is deduplicated
    }
    Ok(())
}

#[tokio::test]
async fn a_new_agent_bootstraps_from_the_snapshot_and_the_tail() -> Result<(), KnowledgeError> {
    let store = MemoryKnowledgeStore::default();
    let mut a = SharedKnowledge::new(agent(1), 1);
    write_and_store(&mut a, &store, 0..30).await?;
    assert_eq!(store.len(), 30);
    let covered = compact(&store, &mut a).await?;
    assert_eq!(covered, 30);
    write_and_store(&mut a, &store, 30..40).await?;

    let (mut b, report) = bootstrap(&store, agent(2), 1).await?;
    assert_eq!(report.snapshot, SnapshotOutcome::Loaded { covered: 30 });
    assert_eq!(report.changes_applied, 10, "only the tail is replayed");
    assert!(!report.found_corruption());
    assert_eq!(b.heads(), a.heads());
    assert_eq!(b.facts(), a.facts());
    Ok(())
}

#[tokio::test]
async fn a_corrupt_snapshot_is_detected_and_the_log_replayed() -> Result<(), KnowledgeError> {
    let store = MemoryKnowledgeStore::default();
    let mut a = SharedKnowledge::new(agent(1), 1);
    write_and_store(&mut a, &store, 0..15).await?;
    compact(&store, &mut a).await?;
    let mut record = store
        .snapshot()
        .await?
        .ok_or(KnowledgeError::Malformed("snapshot"))?;
    let middle = record.len() / 2;
    record[middle] ^= 0x40;
    store.put_snapshot(record).await?;

    let (mut b, report) = bootstrap(&store, agent(2), 1).await?;
    assert_eq!(report.snapshot, SnapshotOutcome::Corrupt);
    assert_eq!(report.changes_applied, 15);
    assert_eq!(b.heads(), a.heads());
    // Compaction heals the store: the next bootstrap loads a good snapshot.
    compact(&store, &mut b).await?;
    let (_, report) = bootstrap(&store, agent(3), 1).await?;
    assert_eq!(report.snapshot, SnapshotOutcome::Loaded { covered: 15 });
    Ok(())
}

#[tokio::test]
async fn a_corrupt_change_is_detected_and_the_document_rebuilt_from_the_rest()
-> Result<(), KnowledgeError> {
    let store = MemoryKnowledgeStore::default();
    let mut a = SharedKnowledge::new(agent(1), 1);
    write_and_store(&mut a, &store, 0..10).await?;
    compact(&store, &mut a).await?;
    write_and_store(&mut a, &store, 10..14).await?;
    // Change 12 rots on disk: a flipped bit inside the change bytes.
    let good = store.changes_after(11).await?;
    let mut rotten = good[0].record.clone();
    let last = rotten.len() - 1;
    rotten[last] ^= 1;
    assert!(store.overwrite_change(12, rotten));
    // And a record whose checksum matches bytes that are not automerge at all.
    assert!(store.overwrite_change(14, encode_change(b"garbage, checksummed")));

    let (mut b, report) = bootstrap(&store, agent(2), 1).await?;
    assert_eq!(report.corrupt_changes, vec![12, 14]);
    assert_eq!(report.snapshot, SnapshotOutcome::Loaded { covered: 10 });
    // Fact 11 and 12 (seqs 12 and 14 hold changes 11 and 13) are lost here, the others kept:
    // the changes of one actor form a chain, so later ones wait for the missing one.
    assert!(report.missing_deps > 0);
    assert!(b.fact(&FactId::new("fact-9")?).is_some());
    // A peer that still has everything (the author) heals the replica.
    b.merge(&mut a)?;
    assert_eq!(b.heads(), a.heads());
    assert_eq!(b.facts().len(), 14);
    Ok(())
}
