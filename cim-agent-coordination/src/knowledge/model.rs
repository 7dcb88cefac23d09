//! The typed values kept in the knowledge document: facts, beliefs and consensus state per topic.
//!
//! Every value is stored as one JSON-encoded string under one key of the document root (see
//! [`crate::knowledge::SharedKnowledge`] for the key layout), so a concurrent write to one key is a
//! conflict automerge keeps in full, and nothing here depends on automerge types.

use std::fmt;

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::KnowledgeError;

/// The longest fact id, topic name or subject/predicate, in bytes: keys stay small and never
/// carry a whole document.
pub const MAX_NAME_LEN: usize = 256;

fn check_name(what: &'static str, value: &str) -> Result<(), KnowledgeError> {
    if value.is_empty() || value.len() > MAX_NAME_LEN || value.chars().any(char::is_control) {
        return Err(KnowledgeError::InvalidName {
            what,
            value: value.chars().take(64).collect(),
        });
    }
    Ok(())
}

/// The id of a fact: a stable name chosen by whoever asserts it (for example
/// `host/gpu-01/gpus`), so agents that learn the same thing write to the same fact and disagree
/// visibly instead of duplicating it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FactId(String);

impl FactId {
    /// A fact id; non-empty, at most [`MAX_NAME_LEN`] bytes, no control characters.
    ///
    /// # Errors
    /// [`KnowledgeError::InvalidName`] otherwise.
    pub fn new(id: impl Into<String>) -> Result<Self, KnowledgeError> {
        let id = id.into();
        check_name("fact id", &id)?;
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FactId {
    type Error = KnowledgeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<FactId> for String {
    fn from(id: FactId) -> Self {
        id.0
    }
}

impl fmt::Display for FactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A consensus topic: what a group of agents decides on (for example `fact/<id>` for a disputed
/// fact, or `deploy/web`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Topic(String);

impl Topic {
    /// A topic; non-empty, at most [`MAX_NAME_LEN`] bytes, no control characters.
    ///
    /// # Errors
    /// [`KnowledgeError::InvalidName`] otherwise.
    pub fn new(topic: impl Into<String>) -> Result<Self, KnowledgeError> {
        let topic = topic.into();
        check_name("topic", &topic)?;
        Ok(Self(topic))
    }

    /// The topic under which a conflict on `fact` is put to a vote.
    pub fn for_fact(fact: &FactId) -> Self {
        Self(format!("fact/{}", fact.as_str()))
    }

    /// The topic as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Topic {
    type Error = KnowledgeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Topic> for String {
    fn from(topic: Topic) -> Self {
        topic.0
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a fact says about its subject: another entity (an edge in the fact graph) or free text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactObject {
    /// Another entity, by name (`gpu-01`, `service/web`): the fact is an edge subject → entity.
    Entity(String),
    /// A literal value or free text (`"2 x H100"`, `"failed: OOM"`).
    Text(String),
}

impl FactObject {
    /// The object's text, entity name or literal.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Entity(s) | Self::Text(s) => s,
        }
    }
}

/// One fact: `subject predicate object`, who asserted it, when, and from which source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fact {
    /// The fact's id (also its key in the document).
    pub id: FactId,
    /// What the fact is about (an entity name: `host/gpu-01`).
    pub subject: String,
    /// The relation (`has_gpu`, `deployed`, `status`).
    pub predicate: String,
    /// What it says.
    pub object: FactObject,
    /// The agent that asserted it.
    pub asserted_by: AgentId,
    /// When it was asserted, as given by the caller's clock (time is data).
    pub asserted_at: DateTime<Utc>,
    /// Where it came from (`nvidia-smi`, `deploy/run-42`, `agent-report`).
    pub source: String,
}

impl Fact {
    /// Checks the names a fact carries.
    ///
    /// # Errors
    /// [`KnowledgeError::InvalidName`] for an empty or oversized subject, predicate or source.
    pub fn validate(&self) -> Result<(), KnowledgeError> {
        check_name("subject", &self.subject)?;
        check_name("predicate", &self.predicate)?;
        check_name("source", &self.source)?;
        Ok(())
    }
}

/// One agent's belief in one fact.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Belief {
    /// The believing agent.
    pub agent: AgentId,
    /// Confidence in `[0, 1]` that the fact holds (0: believed false, 1: certain).
    pub confidence: f64,
    /// Whether the agent checked the fact itself (ran the probe, read the host) rather than
    /// repeating it; verified beliefs weigh double in [`crate::knowledge::trust`].
    pub verified: bool,
    /// When the belief was formed (caller's clock).
    pub at: DateTime<Utc>,
}

/// The id of a consensus proposal (the consensus aggregate's id).
pub type ProposalId = Uuid;

/// Where the consensus on one topic stands, as recorded in the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ConsensusState {
    /// A proposal is open.
    Open {
        /// The proposal deciding the topic.
        proposal: ProposalId,
    },
    /// The proposal decided `outcome` (for a fact conflict: the [`crate::knowledge::ValueId`]
    /// of the chosen value, as text).
    Decided {
        /// The proposal that decided it.
        proposal: ProposalId,
        /// What was decided.
        outcome: String,
    },
    /// The proposal ended without a decision (no quorum, expired).
    Failed {
        /// The proposal that failed.
        proposal: ProposalId,
    },
}

/// The consensus state of one topic with who recorded it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicState {
    /// The topic.
    pub topic: Topic,
    /// Its state.
    pub state: ConsensusState,
    /// Who recorded this state.
    pub recorded_by: AgentId,
    /// When (caller's clock).
    pub at: DateTime<Utc>,
}
