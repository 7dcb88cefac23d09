//! Checksummed records of stored changes and snapshots.
//!
//! ```text
//! change:   "CKC1" sha256(bytes)(32) bytes
//! snapshot: "CKS1" covered(u64 BE) sha256(covered ‖ bytes)(32) bytes
//! ```
//! `covered` is the stream sequence up to which every stored change is in the snapshot. A
//! record whose checksum does not match, or that is too short, is refused as corrupt; automerge
//! then checks its own chunk checksums when the bytes are loaded.

use sha2::{Digest, Sha256};

use crate::knowledge::error::KnowledgeError;

const CHANGE: &[u8; 4] = b"CKC1";
const SNAPSHOT: &[u8; 4] = b"CKS1";

/// A stored change as read back: its stream sequence and the raw record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Position in the change log (1-based, increasing).
    pub sequence: u64,
    /// The record ([`encode_change`]).
    pub record: Vec<u8>,
}

/// A decoded snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Every stored change up to this sequence is in `document`.
    pub covered: u64,
    /// A saved automerge document.
    pub document: Vec<u8>,
}

fn corrupt(what: &'static str, position: String, reason: &'static str) -> KnowledgeError {
    KnowledgeError::Corrupt {
        what,
        position,
        reason,
    }
}

/// The record of one change.
pub fn encode_change(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 32 + bytes.len());
    out.extend_from_slice(CHANGE);
    out.extend_from_slice(&Sha256::digest(bytes));
    out.extend_from_slice(bytes);
    out
}

/// The change bytes of a record, checked.
///
/// # Errors
/// [`KnowledgeError::Corrupt`] when the record is short, mislabelled or fails its checksum.
pub fn decode_change(sequence: u64, record: &[u8]) -> Result<&[u8], KnowledgeError> {
    let at = || sequence.to_string();
    if record.len() < 36 || &record[..4] != CHANGE {
        return Err(corrupt("change", at(), "not a change record"));
    }
    let (sum, bytes) = record[4..].split_at(32);
    if Sha256::digest(bytes).as_slice() != sum {
        return Err(corrupt("change", at(), "checksum mismatch"));
    }
    Ok(bytes)
}

fn snapshot_sum(covered: u64, document: &[u8]) -> impl AsRef<[u8]> {
    let mut hasher = Sha256::new();
    hasher.update(covered.to_be_bytes());
    hasher.update(document);
    hasher.finalize()
}

/// The record of a snapshot.
pub fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 8 + 32 + snapshot.document.len());
    out.extend_from_slice(SNAPSHOT);
    out.extend_from_slice(&snapshot.covered.to_be_bytes());
    out.extend_from_slice(snapshot_sum(snapshot.covered, &snapshot.document).as_ref());
    out.extend_from_slice(&snapshot.document);
    out
}

/// A snapshot record, checked.
///
/// # Errors
/// [`KnowledgeError::Corrupt`] when the record is short, mislabelled or fails its checksum.
pub fn decode_snapshot(record: &[u8]) -> Result<Snapshot, KnowledgeError> {
    let at = || String::from("snapshot");
    if record.len() < 44 || &record[..4] != SNAPSHOT {
        return Err(corrupt("snapshot", at(), "not a snapshot record"));
    }
    let mut covered = [0u8; 8];
    covered.copy_from_slice(&record[4..12]);
    let covered = u64::from_be_bytes(covered);
    let (sum, document) = record[12..].split_at(32);
    if snapshot_sum(covered, document).as_ref() != sum {
        return Err(corrupt("snapshot", at(), "checksum mismatch"));
    }
    Ok(Snapshot {
        covered,
        document: document.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_flipped_bit_is_detected() -> Result<(), KnowledgeError> {
        let change = encode_change(b"some change bytes");
        assert_eq!(decode_change(1, &change)?, b"some change bytes");
        let snapshot = Snapshot {
            covered: 42,
            document: b"a document".to_vec(),
        };
        let record = encode_snapshot(&snapshot);
        assert_eq!(decode_snapshot(&record)?, snapshot);
        for i in 0..change.len() * 8 {
            let mut bad = change.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(decode_change(1, &bad).is_err(), "bit {i}");
        }
        for i in 0..record.len() * 8 {
            let mut bad = record.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(decode_snapshot(&bad).is_err(), "bit {i}");
        }
        Ok(())
    }
}
