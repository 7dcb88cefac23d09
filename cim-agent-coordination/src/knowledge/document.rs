//! [`SharedKnowledge`]: the automerge document with typed access. Nothing outside this module
//! and the sync engine touches automerge directly.
//!
//! # Layout
//! Everything lives in the document's root map, one JSON-encoded string per key, so the root
//! map needs no creation step (replicas that start apart never race to create a container):
//!
//! | key | value |
//! |---|---|
//! | `f/<fact id>` | [`Fact`] |
//! | `b/<fact id>\u{1}<agent uuid>` | [`Belief`] of that agent in that fact |
//! | `t/<topic>` | [`TopicState`] |
//!
//! Names may not contain control characters ([`super::model::MAX_NAME_LEN`]), so `\u{1}` cannot
//! occur inside a fact id and a prefix range over `b/<fact id>\u{1}` yields exactly that fact's
//! beliefs. Concurrent writes to one key are kept by automerge as a conflict
//! ([`SharedKnowledge::candidates`]); each agent writes only its own belief keys, so beliefs
//! never conflict across agents.

use std::ops::Bound;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ROOT, ReadDoc, ScalarValueRef, ValueRef};
use chrono::{DateTime, Utc};
use cim_domain_agent::AgentId;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::KnowledgeError;
use super::graph::FactGraph;
use super::model::{Belief, ConsensusState, Fact, FactId, FactObject, Topic, TopicState};

const FACT: &str = "f/";
const BELIEF: &str = "b/";
const TOPIC: &str = "t/";
const SEP: char = '\u{1}';

/// A change made on this replica: its automerge hash (hex, also its `Nats-Msg-Id` in the
/// durable store) and its bytes (an automerge change chunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalChange {
    /// The change hash, 64 hex characters.
    pub hash: String,
    /// The encoded change.
    pub bytes: Vec<u8>,
}

/// What an agent asserts; the asserting agent and the time are added by
/// [`SharedKnowledge::assert_fact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The fact's id.
    pub id: FactId,
    /// What it is about.
    pub subject: String,
    /// The relation.
    pub predicate: String,
    /// What it says.
    pub object: FactObject,
    /// Where it came from.
    pub source: String,
}

/// The heads of a document: the hashes of the changes nothing else depends on yet. Two replicas
/// with equal heads hold the same document.
pub type Heads = Vec<ChangeHash>;

/// One agent's replica of the shared knowledge document.
///
/// Writes commit at once (one automerge change per write, timestamped with the caller's `at`)
/// and return the [`LocalChange`] for the durable store. Reads decode the typed values; a value
/// that does not decode (written by a newer or broken peer) is skipped and logged, never a
/// panic.
#[derive(Debug)]
pub struct SharedKnowledge {
    doc: AutoCommit,
    agent: AgentId,
}

/// The automerge actor of one agent's incarnation: the agent's 16 uuid bytes followed by the
/// incarnation. A restarted agent gets a fresh actor, so it can never reuse a sequence number
/// of a change it made before a crash that was never stored.
fn actor_for(agent: AgentId, incarnation: u64) -> ActorId {
    let mut bytes = agent.0.as_bytes().to_vec();
    bytes.extend_from_slice(&incarnation.to_be_bytes());
    ActorId::from(bytes)
}

fn encode<V: Serialize>(what: &'static str, value: &V) -> Result<String, KnowledgeError> {
    serde_json::to_string(value).map_err(|source| KnowledgeError::Codec { what, source })
}

fn decode<V: DeserializeOwned>(what: &'static str, key: &str, text: &str) -> Option<V> {
    match serde_json::from_str(text) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(key, %error, "skipping a {what} that does not decode");
            None
        }
    }
}

fn belief_prefix(fact: &FactId) -> String {
    format!("{BELIEF}{}{SEP}", fact.as_str())
}

/// The range of keys starting with `prefix` (prefixes here end in `/` or `\u{1}`; the next
/// character up bounds them).
fn prefix_range(prefix: &str) -> (Bound<String>, Bound<String>) {
    let mut end = prefix.to_owned();
    if let Some(last) = end.pop() {
        end.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX));
    }
    (Bound::Included(prefix.to_owned()), Bound::Excluded(end))
}

impl SharedKnowledge {
    /// An empty replica for `agent` in its `incarnation` (a number fresh on every start, for
    /// example random or the start time in nanoseconds).
    pub fn new(agent: AgentId, incarnation: u64) -> Self {
        Self {
            doc: AutoCommit::new().with_actor(actor_for(agent, incarnation)),
            agent,
        }
    }

    /// A replica loaded from [`SharedKnowledge::save`] bytes (or any concatenation of saved
    /// documents and changes).
    ///
    /// # Errors
    /// [`KnowledgeError::Automerge`] when the bytes are not an automerge document (automerge
    /// checks its own chunk checksums, so corruption is refused here, not loaded).
    pub fn load(agent: AgentId, incarnation: u64, bytes: &[u8]) -> Result<Self, KnowledgeError> {
        let doc = AutoCommit::load(bytes)?.with_actor(actor_for(agent, incarnation));
        Ok(Self { doc, agent })
    }

    /// The agent this replica writes as.
    pub fn agent(&self) -> AgentId {
        self.agent
    }

    /// The current heads, sorted.
    pub fn heads(&mut self) -> Heads {
        let mut heads = self.doc.get_heads();
        heads.sort();
        heads
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The changes since the last [`save`](Self::save) or `save_incremental` (empty when none).
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.doc.save_incremental()
    }

    /// Applies saved bytes (a document, changes, or an incremental save); returns how many
    /// operations were new. Changes whose dependencies are missing wait inside automerge until
    /// the dependencies arrive.
    ///
    /// # Errors
    /// [`KnowledgeError::Automerge`] for bytes that are not automerge data.
    pub fn load_incremental(&mut self, bytes: &[u8]) -> Result<usize, KnowledgeError> {
        Ok(self.doc.load_incremental(bytes)?)
    }

    /// Applies one encoded change (as in [`LocalChange::bytes`]), strictly: bytes that are not
    /// exactly one valid automerge change (its own checksum included) are refused. A change
    /// whose dependencies are missing waits inside automerge until they arrive.
    ///
    /// # Errors
    /// [`KnowledgeError::Malformed`] for bytes that are not a change;
    /// [`KnowledgeError::Automerge`] when automerge refuses to apply it.
    pub fn apply_change(&mut self, bytes: &[u8]) -> Result<(), KnowledgeError> {
        let change = automerge::Change::from_bytes(bytes.to_vec())
            .map_err(|_| KnowledgeError::Malformed("not an automerge change"))?;
        self.doc.apply_changes([change])?;
        Ok(())
    }

    /// Merges another replica into this one (both end with this one's changes plus the other's).
    ///
    /// # Errors
    /// [`KnowledgeError::Automerge`] when the other replica's changes cannot be applied.
    pub fn merge(&mut self, other: &mut SharedKnowledge) -> Result<(), KnowledgeError> {
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// Hashes of changes that are depended upon but not present (changes waiting for them).
    pub fn missing_deps(&mut self) -> Vec<ChangeHash> {
        self.doc.get_missing_deps(&[])
    }

    /// The automerge document, for the sync engine only.
    pub(crate) fn doc_mut(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    fn put(
        &mut self,
        key: String,
        value: String,
        at: DateTime<Utc>,
    ) -> Result<LocalChange, KnowledgeError> {
        self.doc.put(ROOT, key.as_str(), value)?;
        self.commit(at, key)
    }

    fn commit(
        &mut self,
        at: DateTime<Utc>,
        message: String,
    ) -> Result<LocalChange, KnowledgeError> {
        let options = CommitOptions::default()
            .with_time(at.timestamp_millis())
            .with_message(message);
        let hash = self
            .doc
            .commit_with(options)
            .ok_or(KnowledgeError::Malformed("a write produced no change"))?;
        let bytes = self
            .doc
            .get_change_by_hash(&hash)
            .map(|change| change.raw_bytes().to_vec())
            .ok_or(KnowledgeError::Malformed("a committed change is missing"))?;
        Ok(LocalChange {
            hash: hash.to_string(),
            bytes,
        })
    }

    /// Asserts a fact as this agent at `at`. Asserting an existing id overwrites it (the
    /// previous value is superseded, not a conflict); two agents asserting one id concurrently
    /// leave a conflict ([`candidates`](Self::candidates)).
    ///
    /// # Errors
    /// [`KnowledgeError::InvalidName`] for bad names; [`KnowledgeError::Automerge`].
    pub fn assert_fact(
        &mut self,
        assertion: Assertion,
        at: DateTime<Utc>,
    ) -> Result<(Fact, LocalChange), KnowledgeError> {
        let fact = Fact {
            id: assertion.id,
            subject: assertion.subject,
            predicate: assertion.predicate,
            object: assertion.object,
            asserted_by: self.agent,
            asserted_at: at,
            source: assertion.source,
        };
        let change = self.put_fact(&fact, at)?;
        Ok((fact, change))
    }

    /// Writes `fact` as the one value of its key.
    pub(crate) fn put_fact(
        &mut self,
        fact: &Fact,
        at: DateTime<Utc>,
    ) -> Result<LocalChange, KnowledgeError> {
        fact.validate()?;
        let key = format!("{FACT}{}", fact.id.as_str());
        self.put(key, encode("fact", fact)?, at)
    }

    /// Retracts a fact (deletes it and resolves any conflict on it); `None` when it was absent.
    ///
    /// # Errors
    /// [`KnowledgeError::Automerge`].
    pub fn retract(
        &mut self,
        id: &FactId,
        at: DateTime<Utc>,
    ) -> Result<Option<LocalChange>, KnowledgeError> {
        let key = format!("{FACT}{}", id.as_str());
        if self.doc.get(ROOT, key.as_str())?.is_none() {
            return Ok(None);
        }
        self.doc.delete(ROOT, key.as_str())?;
        self.commit(at, key).map(Some)
    }

    /// Records this agent's belief in `fact`: `confidence` in `[0, 1]`, `verified` when the
    /// agent checked it itself.
    ///
    /// # Errors
    /// [`KnowledgeError::InvalidConfidence`]; [`KnowledgeError::Automerge`].
    pub fn believe(
        &mut self,
        fact: &FactId,
        confidence: f64,
        verified: bool,
        at: DateTime<Utc>,
    ) -> Result<LocalChange, KnowledgeError> {
        if !(0.0..=1.0).contains(&confidence) {
            return Err(KnowledgeError::InvalidConfidence(confidence));
        }
        let belief = Belief {
            agent: self.agent,
            confidence,
            verified,
            at,
        };
        let key = format!("{}{}", belief_prefix(fact), self.agent.0);
        self.put(key, encode("belief", &belief)?, at)
    }

    /// Records the consensus state of `topic` (written by whoever runs or watches the
    /// proposal).
    ///
    /// # Errors
    /// [`KnowledgeError::Automerge`].
    pub fn record_consensus(
        &mut self,
        topic: &Topic,
        state: ConsensusState,
        at: DateTime<Utc>,
    ) -> Result<LocalChange, KnowledgeError> {
        let value = TopicState {
            topic: topic.clone(),
            state,
            recorded_by: self.agent,
            at,
        };
        let key = format!("{TOPIC}{}", topic.as_str());
        self.put(key, encode("topic state", &value)?, at)
    }

    /// Every value under one key: one when there is no conflict, several after concurrent
    /// writes, ordered as automerge orders them (the last is automerge's default winner).
    fn all_values<V: DeserializeOwned>(&self, what: &'static str, key: &str) -> Vec<V> {
        match self.doc.get_all(ROOT, key) {
            Ok(values) => values
                .iter()
                .filter_map(|(value, _)| value.as_str().and_then(|text| decode(what, key, text)))
                .collect(),
            Err(error) => {
                tracing::warn!(key, %error, "reading a {what} failed");
                Vec::new()
            }
        }
    }

    /// Every decodable value under keys starting with `prefix`, in key order, automerge's
    /// winner for conflicted keys.
    fn range<V: DeserializeOwned>(&self, what: &'static str, prefix: &str) -> Vec<V> {
        self.doc
            .map_range(ROOT, prefix_range(prefix))
            .filter_map(|item| match item.value {
                ValueRef::Scalar(ScalarValueRef::Str(text)) => decode(what, &item.key, &text),
                _ => None,
            })
            .collect()
    }

    /// The fact with id `id` (automerge's deterministic winner when in conflict).
    pub fn fact(&self, id: &FactId) -> Option<Fact> {
        self.all_values("fact", &format!("{FACT}{}", id.as_str()))
            .pop()
    }

    /// Every value of fact `id`: more than one when agents wrote it concurrently.
    pub fn candidates(&self, id: &FactId) -> Vec<Fact> {
        self.all_values("fact", &format!("{FACT}{}", id.as_str()))
    }

    /// Every fact (winners), in id order.
    pub fn facts(&self) -> Vec<Fact> {
        self.range("fact", FACT)
    }

    /// The ids of facts that currently hold more than one value.
    pub fn conflicted(&self) -> Vec<FactId> {
        self.doc
            .map_range(ROOT, prefix_range(FACT))
            .filter(|item| item.conflict)
            .filter_map(|item| FactId::new(item.key.trim_start_matches(FACT)).ok())
            .collect()
    }

    /// Every agent's belief in `fact`, in agent order.
    pub fn beliefs(&self, fact: &FactId) -> Vec<Belief> {
        self.range("belief", &belief_prefix(fact))
    }

    /// The consensus state of `topic`, if recorded.
    pub fn topic(&self, topic: &Topic) -> Option<TopicState> {
        self.all_values("topic state", &format!("{TOPIC}{}", topic.as_str()))
            .pop()
    }

    /// Every recorded topic, in topic order.
    pub fn topics(&self) -> Vec<TopicState> {
        self.range("topic state", TOPIC)
    }

    /// Every fact about `subject`.
    pub fn by_subject(&self, subject: &str) -> Vec<Fact> {
        self.facts()
            .into_iter()
            .filter(|f| f.subject == subject)
            .collect()
    }

    /// Every fact with `predicate`.
    pub fn by_predicate(&self, predicate: &str) -> Vec<Fact> {
        self.facts()
            .into_iter()
            .filter(|f| f.predicate == predicate)
            .collect()
    }

    /// Every fact whose subject, predicate, object or source contains `text`, ignoring case.
    pub fn search(&self, text: &str) -> Vec<Fact> {
        let needle = text.to_lowercase();
        self.facts()
            .into_iter()
            .filter(|f| {
                [
                    f.subject.as_str(),
                    f.predicate.as_str(),
                    f.object.as_str(),
                    f.source.as_str(),
                ]
                .iter()
                .any(|field| field.to_lowercase().contains(&needle))
            })
            .collect()
    }

    /// The facts (winners) as a graph of entities.
    pub fn graph(&self) -> FactGraph {
        FactGraph::build(&self.facts())
    }

    /// The facts linked to `topic`: for a `fact/<id>` topic, that fact's candidates.
    pub fn by_topic(&self, topic: &Topic) -> Vec<Fact> {
        match topic.as_str().strip_prefix("fact/").map(FactId::new) {
            Some(Ok(id)) => self.candidates(&id),
            _ => Vec::new(),
        }
    }
}
