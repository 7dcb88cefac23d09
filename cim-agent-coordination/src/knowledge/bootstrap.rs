//! Bootstrapping a replica from the store (snapshot + the changes after it) and compacting the
//! store (a new snapshot). Corrupt records are detected here, for every store.

use cim_domain_agent::AgentId;

use super::document::SharedKnowledge;
use super::error::KnowledgeError;
use super::store::KnowledgeStore;
use super::store::record::{Snapshot, decode_change, decode_snapshot, encode_snapshot};

/// What became of the snapshot during a bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// None was stored.
    Missing,
    /// Loaded; changes up to `covered` came from it.
    Loaded {
        /// The change-log sequence it covers.
        covered: u64,
    },
    /// It failed its checksum, did not load, or could not be read: the document was rebuilt
    /// from the whole change log.
    Corrupt,
}

/// What a bootstrap found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The snapshot's fate.
    pub snapshot: SnapshotOutcome,
    /// Change records applied.
    pub changes_applied: usize,
    /// Sequences of change records refused as corrupt (skipped; their content comes back from
    /// peers or later snapshots).
    pub corrupt_changes: Vec<u64>,
    /// The highest change-log sequence read.
    pub last_sequence: u64,
    /// Changes referenced but absent after the rebuild (0 unless a corrupt change was one
    /// others depend on).
    pub missing_deps: usize,
}

impl RecoveryReport {
    /// Whether anything stored was found corrupt.
    pub fn found_corruption(&self) -> bool {
        self.snapshot == SnapshotOutcome::Corrupt || !self.corrupt_changes.is_empty()
    }
}

/// Builds `agent`'s replica from `store`: the snapshot when it checks out, then every change
/// after it; a corrupt snapshot means the whole log is replayed, a corrupt change is skipped.
///
/// # Errors
/// [`KnowledgeError::Store`] when the change log cannot be read.
pub async fn bootstrap<S: KnowledgeStore>(
    store: &S,
    agent: AgentId,
    incarnation: u64,
) -> Result<(SharedKnowledge, RecoveryReport), KnowledgeError> {
    let (mut knowledge, snapshot) = match store.snapshot().await {
        Ok(None) => (
            SharedKnowledge::new(agent, incarnation),
            SnapshotOutcome::Missing,
        ),
        Ok(Some(record)) => match decode_snapshot(&record).and_then(|s| {
            SharedKnowledge::load(agent, incarnation, &s.document).map(|k| (k, s.covered))
        }) {
            Ok((knowledge, covered)) => (knowledge, SnapshotOutcome::Loaded { covered }),
            Err(error) => {
                tracing::warn!(%error, "knowledge snapshot refused; replaying the change log");
                (
                    SharedKnowledge::new(agent, incarnation),
                    SnapshotOutcome::Corrupt,
                )
            }
        },
        Err(error) => {
            tracing::warn!(%error, "knowledge snapshot unreadable; replaying the change log");
            (
                SharedKnowledge::new(agent, incarnation),
                SnapshotOutcome::Corrupt,
            )
        }
    };
    let covered = match snapshot {
        SnapshotOutcome::Loaded { covered } => covered,
        _ => 0,
    };
    let mut report = RecoveryReport {
        snapshot,
        changes_applied: 0,
        corrupt_changes: Vec::new(),
        last_sequence: covered,
        missing_deps: 0,
    };
    apply_tail(store, &mut knowledge, covered, &mut report).await?;
    report.missing_deps = knowledge.missing_deps().len();
    Ok((knowledge, report))
}

async fn apply_tail<S: KnowledgeStore>(
    store: &S,
    knowledge: &mut SharedKnowledge,
    after: u64,
    report: &mut RecoveryReport,
) -> Result<(), KnowledgeError> {
    for stored in store.changes_after(after).await? {
        report.last_sequence = report.last_sequence.max(stored.sequence);
        let applied = decode_change(stored.sequence, &stored.record)
            .and_then(|bytes| knowledge.apply_change(bytes));
        match applied {
            Ok(_) => report.changes_applied += 1,
            Err(error) => {
                tracing::warn!(sequence = stored.sequence, %error, "stored knowledge change refused");
                report.corrupt_changes.push(stored.sequence);
            }
        }
    }
    Ok(())
}

/// Compacts: folds the stored snapshot and every stored change into `knowledge`, then stores
/// it as the new snapshot covering the highest sequence read. Returns that sequence.
///
/// Two replicas compacting at once are safe: each snapshot holds every change up to its own
/// `covered`, and later changes stay in the log, whichever snapshot wins.
///
/// # Errors
/// [`KnowledgeError::Store`] when the store cannot be read or written.
pub async fn compact<S: KnowledgeStore>(
    store: &S,
    knowledge: &mut SharedKnowledge,
) -> Result<u64, KnowledgeError> {
    let mut covered = 0;
    if let Ok(Some(record)) = store.snapshot().await
        && let Ok(snapshot) = decode_snapshot(&record)
        && knowledge.load_incremental(&snapshot.document).is_ok()
    {
        covered = snapshot.covered;
    }
    let mut report = RecoveryReport {
        snapshot: SnapshotOutcome::Missing,
        changes_applied: 0,
        corrupt_changes: Vec::new(),
        last_sequence: covered,
        missing_deps: 0,
    };
    apply_tail(store, knowledge, covered, &mut report).await?;
    let record = encode_snapshot(&Snapshot {
        covered: report.last_sequence,
        document: knowledge.save(),
    });
    store.put_snapshot(record).await?;
    Ok(report.last_sequence)
}
