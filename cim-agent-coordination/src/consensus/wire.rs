//! What travels over NATS for consensus, and on which subjects.
//!
//! | subject | publisher | payload |
//! |---|---|---|
//! | `cim.consensus.<proposal>.opened` | coordinator | [`Announcement`] |
//! | `cim.consensus.<proposal>.vote.<agent>` | voter `<agent>` (request) | [`VoteMessage`], answered with a [`Receipt`] |
//! | `cim.consensus.<proposal>.veto.<agent>` | vetoer `<agent>` (request) | [`VetoMessage`], answered with a [`Receipt`] |
//! | `cim.consensus.<proposal>.outcome` | coordinator | [`OutcomeMessage`] |
//!
//! `<proposal>` is the proposal's UUID and `<agent>` the voter's `AgentId` (a UUID), so an agent
//! publishes only on subjects carrying its own id. A vote whose payload names another voter than
//! its subject is refused as malformed.

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::error::Refusal;
use super::ids::{ProposalId, ProposalSubject};
use super::rules::{Electorate, Rules};
use super::tally::{Choice, Outcome, Tally};
use crate::subject::CONSENSUS;
use crate::transport::Envelope;

/// The largest vote or veto message the coordinator reads, in bytes; larger ones are refused
/// unread (a ballot is well under 200 bytes; a veto reason has room for a paragraph).
pub const MAX_BALLOT_BYTES: usize = 4096;

/// Filter for every vote: `cim.consensus.*.vote.*`.
pub const VOTES_FILTER: &str = "cim.consensus.*.vote.*";
/// Filter for every veto: `cim.consensus.*.veto.*`.
pub const VETOES_FILTER: &str = "cim.consensus.*.veto.*";
/// Filter for every announcement: `cim.consensus.*.opened`.
pub const OPENED_FILTER: &str = "cim.consensus.*.opened";
/// Filter for every outcome: `cim.consensus.*.outcome`.
pub const OUTCOMES_FILTER: &str = "cim.consensus.*.outcome";

/// `cim.consensus.<proposal>.opened`.
pub fn opened_subject(proposal: ProposalId) -> String {
    format!("{CONSENSUS}.{proposal}.opened")
}

/// `cim.consensus.<proposal>.vote.<agent>`.
pub fn vote_subject(proposal: ProposalId, agent: AgentId) -> String {
    format!("{CONSENSUS}.{proposal}.vote.{agent}")
}

/// `cim.consensus.<proposal>.veto.<agent>`.
pub fn veto_subject(proposal: ProposalId, agent: AgentId) -> String {
    format!("{CONSENSUS}.{proposal}.veto.{agent}")
}

/// `cim.consensus.<proposal>.outcome`.
pub fn outcome_subject(proposal: ProposalId) -> String {
    format!("{CONSENSUS}.{proposal}.outcome")
}

/// A proposal as voters see it when it opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// Its id.
    pub proposal: ProposalId,
    /// What is decided.
    pub subject: ProposalSubject,
    /// Who votes, with weights.
    pub electorate: Electorate,
    /// How it is decided.
    pub rules: Rules,
    /// When voting opens.
    pub voting_opens_at: DateTime<Utc>,
    /// When voting closes (before any late-quorum extension).
    pub deadline: DateTime<Utc>,
}

/// One ballot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteMessage {
    /// Who votes (must equal the subject's `<agent>`).
    pub voter: AgentId,
    /// How.
    pub choice: Choice,
}

/// One veto.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VetoMessage {
    /// Who vetoes (must equal the subject's `<agent>`).
    pub by: AgentId,
    /// Why.
    pub reason: String,
}

/// The coordinator's answer to a vote or veto.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Receipt {
    /// Recorded in the event store.
    Accepted,
    /// Refused; nothing recorded.
    Refused {
        /// Why.
        refusal: Refusal,
    },
}

/// The decision, as published when a proposal is decided (the `Decided` event's content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeMessage {
    /// The proposal.
    pub proposal: ProposalId,
    /// What was decided (the graph version, for the deployment pipeline).
    pub subject: ProposalSubject,
    /// How it ended.
    pub outcome: Outcome,
    /// The count.
    pub tally: Tally,
    /// When.
    pub at: DateTime<Utc>,
}

/// Why an incoming ballot could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// Larger than [`MAX_BALLOT_BYTES`].
    #[error("message of {size} bytes exceeds {max} bytes")]
    Oversized {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not `cim.consensus.<uuid>.<kind>.<uuid>`.
    #[error("unexpected subject {0:?}")]
    Subject(String),
    /// Not the JSON shape expected.
    #[error("undecodable payload: {0}")]
    Payload(String),
    /// The payload names another agent than the subject.
    #[error("payload names agent {payload}, subject names {subject}")]
    WrongAgent {
        /// From the payload.
        payload: AgentId,
        /// From the subject.
        subject: AgentId,
    },
}

/// An incoming vote or veto, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ballot {
    /// A vote.
    Vote(ProposalId, VoteMessage),
    /// A veto.
    Veto(ProposalId, VetoMessage),
}

impl Ballot {
    /// The proposal it concerns.
    pub fn proposal(&self) -> ProposalId {
        match self {
            Self::Vote(p, _) | Self::Veto(p, _) => *p,
        }
    }
}

/// Reads a vote or veto: size first, then subject, then payload, then that both name the same
/// agent. Never panics.
///
/// # Errors
/// A [`WireError`] saying which check failed.
pub fn read_ballot(envelope: &Envelope) -> Result<Ballot, WireError> {
    if envelope.payload.len() > MAX_BALLOT_BYTES {
        return Err(WireError::Oversized {
            size: envelope.payload.len(),
            max: MAX_BALLOT_BYTES,
        });
    }
    let bad_subject = || WireError::Subject(envelope.subject.clone());
    let rest = envelope
        .subject
        .strip_prefix(CONSENSUS)
        .and_then(|r| r.strip_prefix('.'))
        .ok_or_else(bad_subject)?;
    let tokens: Vec<&str> = rest.split('.').collect();
    let [proposal, kind, agent] = tokens.as_slice() else {
        return Err(bad_subject());
    };
    let proposal: ProposalId = proposal.parse().map_err(|_| bad_subject())?;
    let agent: AgentId = agent.parse().map_err(|_| bad_subject())?;
    let payload_error = |e: serde_json::Error| WireError::Payload(e.to_string());
    match *kind {
        "vote" => {
            let vote: VoteMessage =
                serde_json::from_slice(&envelope.payload).map_err(payload_error)?;
            if vote.voter != agent {
                return Err(WireError::WrongAgent {
                    payload: vote.voter,
                    subject: agent,
                });
            }
            Ok(Ballot::Vote(proposal, vote))
        }
        "veto" => {
            let veto: VetoMessage =
                serde_json::from_slice(&envelope.payload).map_err(payload_error)?;
            if veto.by != agent {
                return Err(WireError::WrongAgent {
                    payload: veto.by,
                    subject: agent,
                });
            }
            Ok(Ballot::Veto(proposal, veto))
        }
        _ => Err(bad_subject()),
    }
}
