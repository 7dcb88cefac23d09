//! Why the registry refused an announcement or an operation.

use cim_domain_agent::{AgentId, AgentName};
use thiserror::Error;

use crate::transport::kv::KvError;

/// A registry failure.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RegistryError {
    /// A live agent already holds this id under another name.
    #[error("agent id {id} is in use by live agent {held_by}; {refused} was refused")]
    IdInUse {
        /// The contested id.
        id: AgentId,
        /// The live agent holding it.
        held_by: AgentName,
        /// The agent that was refused.
        refused: AgentName,
    },
    /// A heartbeat from an agent the registry does not know (it must register first).
    #[error("agent {name} ({id}) is not registered")]
    UnknownAgent {
        /// Its id.
        id: AgentId,
        /// Its name.
        name: AgentName,
    },
    /// The name in the subject and the name in the payload differ.
    #[error("announcement on {subject} names agent {payload_name}")]
    NameMismatch {
        /// The subject it came on.
        subject: String,
        /// The name inside it.
        payload_name: AgentName,
    },
    /// An announcement that could not be decoded (counted and logged, never fatal).
    #[error("malformed announcement on {subject}: {reason}")]
    Malformed {
        /// The subject it came on.
        subject: String,
        /// What was wrong.
        reason: String,
    },
    /// An announcement larger than [`super::MAX_ANNOUNCEMENT_BYTES`].
    #[error("announcement of {size} bytes on {subject} exceeds {max} bytes")]
    TooLarge {
        /// The subject it came on.
        subject: String,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// Other writers kept winning the compare-and-set on this agent's key.
    #[error("agent {id}: the record kept changing under {attempts} write attempts")]
    Contended {
        /// The agent's id.
        id: AgentId,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The bucket failed.
    #[error(transparent)]
    Store(#[from] KvError),
}
