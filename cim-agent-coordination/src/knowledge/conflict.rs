//! Conflicts: concurrent writes to one fact, surfaced as the set of values with their authors,
//! and the strategies that choose one. Choosing is a pure function ([`resolve`]); writing the
//! choice back ([`SharedKnowledge::settle`]) ends the conflict on every replica once synced.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::document::{LocalChange, SharedKnowledge};
use super::error::KnowledgeError;
use super::model::{ConsensusState, Fact, FactId, ProposalId, Topic, TopicState};
use super::trust::{UNKNOWN_AGENT_TRUST, agent_trust};

/// A stable id of one value of a fact: the first 16 hex digits of the SHA-256 of its JSON
/// encoding, equal on every replica. Consensus outcomes name the chosen value by it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ValueId(pub String);

impl ValueId {
    /// The id of `fact`'s value.
    pub fn of(fact: &Fact) -> Self {
        // Serialising a plain struct of strings, a uuid and a timestamp cannot fail; an empty
        // encoding would still give a stable (if shared) id.
        let json = serde_json::to_vec(fact).unwrap_or_default();
        let digest = Sha256::digest(&json);
        Self(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    }
}

/// One value of a disputed fact, with its author ([`Fact::asserted_by`]) and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The value's id.
    pub value: ValueId,
    /// The value as asserted.
    pub fact: Fact,
}

/// A fact with more than one concurrent value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The disputed fact.
    pub fact: FactId,
    /// Its values, ordered by value id (the same order on every replica).
    pub candidates: Vec<Candidate>,
}

impl Conflict {
    /// The authors of the values, in candidate order.
    pub fn authors(&self) -> Vec<AgentId> {
        self.candidates.iter().map(|c| c.fact.asserted_by).collect()
    }
}

/// How a conflict is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolutionStrategy {
    /// The value asserted last (by its `asserted_at`; ties by author, then value id).
    LastWriterWins,
    /// The value whose author has the highest [`agent_trust`]; ties as last writer wins.
    HighestTrust,
    /// The value a consensus proposal on [`Topic::for_fact`] decided.
    Consensus,
}

/// What a strategy chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// This value wins.
    Chosen(Candidate),
    /// The topic is not decided yet: no proposal (none yet, or the last one failed) or an
    /// open one.
    AwaitingConsensus {
        /// The topic the vote is on.
        topic: Topic,
        /// The proposal, once one is open.
        proposal: Option<ProposalId>,
    },
}

/// Opens a consensus proposal for a conflict: the link to the consensus aggregate. The
/// knowledge base calls it when [`ResolutionStrategy::Consensus`] finds no proposal yet; the
/// outcome comes back through [`SharedKnowledge::record_consensus`] with
/// [`ConsensusState::Decided`] naming the chosen [`ValueId`].
pub trait ConsensusHook {
    /// Opens a proposal on `topic` among `conflict`'s values; `None` when none could be opened
    /// now (it is asked again on the next resolution).
    fn propose(&mut self, topic: &Topic, conflict: &Conflict) -> Option<ProposalId>;
}

fn last_writer(candidates: &[Candidate]) -> Option<&Candidate> {
    candidates.iter().max_by(|a, b| {
        (a.fact.asserted_at, a.fact.asserted_by, &a.value).cmp(&(
            b.fact.asserted_at,
            b.fact.asserted_by,
            &b.value,
        ))
    })
}

/// Chooses among `conflict`'s values with `strategy`: a pure function of the conflict, the
/// agents' trust and the topic's recorded state, so every replica chooses the same.
pub fn resolve(
    conflict: &Conflict,
    strategy: ResolutionStrategy,
    trust: &BTreeMap<AgentId, f64>,
    topic: Option<&TopicState>,
) -> Resolution {
    let waiting = |proposal| Resolution::AwaitingConsensus {
        topic: Topic::for_fact(&conflict.fact),
        proposal,
    };
    let chosen = match strategy {
        ResolutionStrategy::LastWriterWins => last_writer(&conflict.candidates),
        ResolutionStrategy::HighestTrust => {
            let score = |c: &Candidate| {
                trust
                    .get(&c.fact.asserted_by)
                    .copied()
                    .unwrap_or(UNKNOWN_AGENT_TRUST)
            };
            let best = conflict
                .candidates
                .iter()
                .map(score)
                .fold(f64::NEG_INFINITY, f64::max);
            let top: Vec<Candidate> = conflict
                .candidates
                .iter()
                .filter(|c| score(c) >= best)
                .cloned()
                .collect();
            return match last_writer(&top) {
                Some(c) => Resolution::Chosen(c.clone()),
                None => waiting(None),
            };
        }
        ResolutionStrategy::Consensus => match topic.map(|t| &t.state) {
            Some(ConsensusState::Decided { outcome, proposal }) => {
                match conflict.candidates.iter().find(|c| &c.value.0 == outcome) {
                    Some(c) => Some(c),
                    None => return waiting(Some(*proposal)),
                }
            }
            Some(ConsensusState::Open { proposal }) => return waiting(Some(*proposal)),
            // A failed vote is as good as none: the next resolution asks for a new proposal.
            Some(ConsensusState::Failed { .. }) | None => return waiting(None),
        },
    };
    match chosen {
        Some(c) => Resolution::Chosen(c.clone()),
        None => waiting(None),
    }
}

impl SharedKnowledge {
    /// The conflict on `fact`, when it holds more than one value.
    pub fn conflict(&self, fact: &FactId) -> Option<Conflict> {
        let mut candidates: Vec<Candidate> = self
            .candidates(fact)
            .into_iter()
            .map(|fact| Candidate {
                value: ValueId::of(&fact),
                fact,
            })
            .collect();
        if candidates.len() < 2 {
            return None;
        }
        candidates.sort_by(|a, b| a.value.cmp(&b.value));
        candidates.dedup_by(|a, b| a.value == b.value);
        Some(Conflict {
            fact: fact.clone(),
            candidates,
        })
    }

    /// Resolves the conflict on `fact` with `strategy`. For [`ResolutionStrategy::Consensus`]
    /// with no proposal yet, `hook` opens one and its id is recorded as
    /// [`ConsensusState::Open`] (returned as the change to store). `None` when the fact is not
    /// in conflict.
    ///
    /// # Errors
    /// [`KnowledgeError::Automerge`] when recording the proposal fails.
    pub fn resolve_conflict(
        &mut self,
        fact: &FactId,
        strategy: ResolutionStrategy,
        hook: &mut dyn ConsensusHook,
        at: DateTime<Utc>,
    ) -> Result<Option<(Resolution, Option<LocalChange>)>, KnowledgeError> {
        let Some(conflict) = self.conflict(fact) else {
            return Ok(None);
        };
        let topic = Topic::for_fact(fact);
        let trust = match strategy {
            ResolutionStrategy::HighestTrust => agent_trust(self),
            _ => BTreeMap::new(),
        };
        let state = self.topic(&topic);
        let resolution = resolve(&conflict, strategy, &trust, state.as_ref());
        if let Resolution::AwaitingConsensus { proposal: None, .. } = resolution
            && let Some(proposal) = hook.propose(&topic, &conflict)
        {
            let change = self.record_consensus(&topic, ConsensusState::Open { proposal }, at)?;
            return Ok(Some((
                Resolution::AwaitingConsensus {
                    topic,
                    proposal: Some(proposal),
                },
                Some(change),
            )));
        }
        Ok(Some((resolution, None)))
    }

    /// Writes `chosen` back as the fact's one value (author and time kept), which supersedes
    /// every value this replica has seen and so ends the conflict once synced.
    ///
    /// # Errors
    /// [`KnowledgeError::Automerge`].
    pub fn settle(
        &mut self,
        chosen: &Candidate,
        at: DateTime<Utc>,
    ) -> Result<LocalChange, KnowledgeError> {
        self.put_fact(&chosen.fact, at)
    }
}
