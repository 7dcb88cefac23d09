//! The shared knowledge base: an automerge CRDT every agent holds a replica of, synchronised
//! over NATS with the automerge sync protocol and kept durable in JetStream.
//!
//! - [`SharedKnowledge`]: the document with typed access: [`Fact`]s, per-agent [`Belief`]s,
//!   consensus state per [`Topic`]; queries by subject, predicate, topic, text, and the facts as
//!   a [`FactGraph`]. Only this module touches automerge.
//! - Conflicts ([`conflict`]): concurrent values of one fact with their authors, resolved by
//!   [`ResolutionStrategy`] (last writer wins, highest trust, consensus through a
//!   [`ConsensusHook`]).
//! - Trust ([`trust`]): per fact and per agent, a pure function of the document.
//! - Sync ([`sync`]): one automerge sync state per peer with loss recovery; pure, driven by
//!   [`KnowledgeReplica`] over any [`crate::transport::Transport`].
//! - Durability ([`store`], [`bootstrap`]): a change log deduplicated by change hash and a
//!   checksummed snapshot, in memory or JetStream; corrupt records are detected and the
//!   document rebuilt from the rest.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use cim_agent_coordination::knowledge::{Assertion, FactId, FactObject, SharedKnowledge};
//! use cim_domain_agent::AgentId;
//!
//! # fn main() -> Result<(), cim_agent_coordination::knowledge::KnowledgeError> {
//! let at = Utc.timestamp_millis_opt(1_700_000_000_000).single().unwrap_or_default();
//! let mut sage = SharedKnowledge::new(AgentId(uuid::Uuid::from_u128(1)), 1);
//! let id = FactId::new("host/gpu-01/gpu")?;
//! sage.assert_fact(Assertion {
//!     id: id.clone(),
//!     subject: "host/gpu-01".into(),
//!     predicate: "has_gpu".into(),
//!     object: FactObject::Entity("gpu/h100-0".into()),
//!     source: "nvidia-smi".into(),
//! }, at)?;
//! let mut other = SharedKnowledge::load(AgentId(uuid::Uuid::from_u128(2)), 1, &sage.save())?;
//! assert_eq!(other.fact(&id).map(|f| f.subject), Some("host/gpu-01".to_owned()));
//! assert_eq!(other.graph().outgoing("host/gpu-01").len(), 1);
//! # Ok(()) }
//! ```

pub mod bootstrap;
pub mod conflict;
mod document;
mod error;
mod graph;
mod model;
mod replica;
pub mod store;
mod subjects;
pub mod sync;
pub mod trust;
pub mod wire;

pub use conflict::{
    Candidate, Conflict, ConsensusHook, Resolution, ResolutionStrategy, ValueId, resolve,
};
pub use document::{Assertion, Heads, LocalChange, SharedKnowledge};
pub use error::KnowledgeError;
pub use graph::FactGraph;
pub use model::{
    Belief, ConsensusState, Fact, FactId, FactObject, MAX_NAME_LEN, ProposalId, Topic, TopicState,
};
pub use replica::{Clock, KnowledgeReplica, MonotonicClock, ReplicaConfig};
pub use store::{
    JetStreamKnowledgeStore, JetStreamStoreConfig, KnowledgeStore, MemoryKnowledgeStore,
};
pub use subjects::KnowledgeSubjects;
pub use sync::{PeerHealth, SyncEngine, SyncPolicy, SyncStats};
