//! The knowledge wire format: a small binary envelope around automerge sync messages, and the
//! presence "hello" a replica sends so peers find it and notice its restarts.
//!
//! ```text
//! hello: "CK" 1 'H' from(16) incarnation(u64 BE) n(u16 BE) n x head(32)
//! sync:  "CK" 1 'S' from(16) incarnation(u64 BE) to(16) session(u64 BE) automerge-sync-message
//! ```
//! Decoding is strict (exact lengths, known kind); a malformed message is an error the replica
//! counts and drops.

use automerge::ChangeHash;
use cim_domain_agent::AgentId;
use uuid::Uuid;

use super::error::KnowledgeError;

const MAGIC: &[u8; 2] = b"CK";
const VERSION: u8 = 1;
const HELLO: u8 = b'H';
const SYNC: u8 = b'S';
const HEADER: usize = 4;
/// The most heads a hello carries; a document with more concurrent heads announces the first
/// ones (heads in a hello are a hint, the sync protocol exchanges the full set).
pub const MAX_HELLO_HEADS: usize = 64;

/// A replica announcing itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Who.
    pub from: AgentId,
    /// Which start of that agent (changes on every restart).
    pub incarnation: u64,
    /// Its current heads (at most [`MAX_HELLO_HEADS`]).
    pub heads: Vec<ChangeHash>,
}

/// One automerge sync message from one replica to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncMessage {
    /// The sender.
    pub from: AgentId,
    /// The sender's incarnation.
    pub incarnation: u64,
    /// The receiver.
    pub to: AgentId,
    /// The sync session between the two (raised by whichever side resets; the other follows).
    pub session: u64,
    /// The encoded `automerge::sync::Message`.
    pub payload: Vec<u8>,
}

/// A decoded knowledge message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireMessage {
    /// Presence.
    Hello(Hello),
    /// Sync.
    Sync(SyncMessage),
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KnowledgeError> {
        if self.0.len() < n {
            return Err(KnowledgeError::Malformed("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn agent(&mut self) -> Result<AgentId, KnowledgeError> {
        let bytes = self.take(16)?;
        Uuid::from_slice(bytes)
            .map(AgentId)
            .map_err(|_| KnowledgeError::Malformed("agent id"))
    }

    fn u64(&mut self) -> Result<u64, KnowledgeError> {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(buf))
    }
}

fn header(kind: u8, from: AgentId, incarnation: u64, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + 24 + capacity);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(from.0.as_bytes());
    out.extend_from_slice(&incarnation.to_be_bytes());
    out
}

impl Hello {
    /// The encoded hello.
    pub fn encode(&self) -> Vec<u8> {
        let heads = &self.heads[..self.heads.len().min(MAX_HELLO_HEADS)];
        let mut out = header(HELLO, self.from, self.incarnation, 2 + 32 * heads.len());
        out.extend_from_slice(&(heads.len() as u16).to_be_bytes());
        for head in heads {
            out.extend_from_slice(&head.0);
        }
        out
    }
}

impl SyncMessage {
    /// The encoded message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = header(SYNC, self.from, self.incarnation, 24 + self.payload.len());
        out.extend_from_slice(self.to.0.as_bytes());
        out.extend_from_slice(&self.session.to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }
}

impl WireMessage {
    /// Decodes a message.
    ///
    /// # Errors
    /// [`KnowledgeError::Malformed`] for a wrong magic, version or kind, a truncated message or
    /// trailing bytes in a hello.
    pub fn decode(bytes: &[u8]) -> Result<Self, KnowledgeError> {
        let mut r = Reader(bytes);
        if r.take(2)? != MAGIC {
            return Err(KnowledgeError::Malformed("magic"));
        }
        if r.take(1)? != [VERSION] {
            return Err(KnowledgeError::Malformed("version"));
        }
        let kind = r.take(1)?[0];
        let from = r.agent()?;
        let incarnation = r.u64()?;
        match kind {
            HELLO => {
                let mut n = [0u8; 2];
                n.copy_from_slice(r.take(2)?);
                let n = usize::from(u16::from_be_bytes(n));
                if n > MAX_HELLO_HEADS || r.0.len() != n * 32 {
                    return Err(KnowledgeError::Malformed("hello heads"));
                }
                let mut heads = Vec::with_capacity(n);
                for _ in 0..n {
                    let hash = ChangeHash::try_from(r.take(32)?)
                        .map_err(|_| KnowledgeError::Malformed("head"))?;
                    heads.push(hash);
                }
                Ok(Self::Hello(Hello {
                    from,
                    incarnation,
                    heads,
                }))
            }
            SYNC => {
                let to = r.agent()?;
                let session = r.u64()?;
                Ok(Self::Sync(SyncMessage {
                    from,
                    incarnation,
                    to,
                    session,
                    payload: r.0.to_vec(),
                }))
            }
            _ => Err(KnowledgeError::Malformed("kind")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_refused() -> Result<(), KnowledgeError> {
        let a = AgentId(Uuid::from_u128(1));
        let b = AgentId(Uuid::from_u128(2));
        let hello = Hello {
            from: a,
            incarnation: 7,
            heads: vec![ChangeHash([3; 32])],
        };
        assert_eq!(
            WireMessage::decode(&hello.encode())?,
            WireMessage::Hello(hello.clone())
        );
        let sync = SyncMessage {
            from: a,
            incarnation: 7,
            to: b,
            session: 9,
            payload: vec![1, 2, 3],
        };
        assert_eq!(
            WireMessage::decode(&sync.encode())?,
            WireMessage::Sync(sync.clone())
        );
        let bytes = hello.encode();
        for cut in 0..bytes.len() {
            assert!(WireMessage::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(WireMessage::decode(b"XX1Hgarbage").is_err());
        Ok(())
    }
}
