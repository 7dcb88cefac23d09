//! The pipeline with its agents in other processes: what travels between the pipeline and
//! each agent runtime (`cim-leaf agents run`) while a proposal is discussed.
//!
//! | subject | who publishes | what |
//! |---|---|---|
//! | `cim.agents.roll-call` ([`ROLL_CALL`](cim_agent_coordination::registry::ROLL_CALL)) | the pipeline | every runtime announces its registration again |
//! | `cim.deployment.<proposal>.material` | an agent (request) | answered by the pipeline with the [`ReviewMaterial`] |
//! | `cim.deployment.<proposal>.findings.<agent>` | the agent `<agent>` | its [`RemoteReview`], before it votes |
//! | `cim.deployment.<proposal>.shown.<agent>` | the agent `<agent>` | [`Shown`]: how many facts of the deployment its replica holds |
//!
//! The proposal's announcement and the ballots are the consensus layer's own subjects; the
//! findings are posted into the proposal's dialog by the pipeline, as turns of the agent that
//! sent them. An agent names itself in every subject it publishes to, so NATS permissions can
//! confine it to its own name.

use std::collections::BTreeMap;

use cim_agent_coordination::consensus::ProposalId;
use cim_agent_coordination::subject::validate_token;
use cim_agent_coordination::transport::TransportError;
use cim_domain_graph::GraphDocument;
use serde::{Deserialize, Serialize};

use super::review::Finding;
use crate::{Fleet, FleetError, FleetOptions};

/// Largest [`ReviewMaterial`] a runtime accepts, in bytes (also capped by the server's
/// `max_payload`, 1 MiB by default).
pub const MAX_MATERIAL_BYTES: usize = 8 * 1024 * 1024;

/// Largest [`RemoteReview`] or [`Shown`] the pipeline accepts, in bytes.
pub const MAX_REVIEW_BYTES: usize = 256 * 1024;

/// `cim.deployment.<proposal>.material`.
pub fn material_subject(proposal: ProposalId) -> String {
    format!("cim.deployment.{proposal}.material")
}

/// `cim.deployment.<proposal>.findings.<agent>`.
///
/// # Errors
/// [`TransportError::InvalidSubject`] when `agent` is not a subject token.
pub fn findings_subject(proposal: ProposalId, agent: &str) -> Result<String, TransportError> {
    validate_token(agent)?;
    Ok(format!("cim.deployment.{proposal}.findings.{agent}"))
}

/// `cim.deployment.<proposal>.shown.<agent>`.
///
/// # Errors
/// [`TransportError::InvalidSubject`] when `agent` is not a subject token.
pub fn shown_subject(proposal: ProposalId, agent: &str) -> Result<String, TransportError> {
    validate_token(agent)?;
    Ok(format!("cim.deployment.{proposal}.shown.{agent}"))
}

/// What an agent needs to review a proposal: the graph and every agent definition's text, as
/// the pipeline read them. The agent loads them with
/// [`Fleet::from_definition_texts`] and checks that they hash to the proposal's version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewMaterial {
    /// The [`GraphVersion`](super::GraphVersion) the proposal is about.
    pub version: String,
    /// The normalised graph.
    pub graph: GraphDocument,
    /// Each agent node's definition text, by node name.
    pub definitions: BTreeMap<String, String>,
}

impl ReviewMaterial {
    /// The material of `fleet` at `version`.
    pub fn of(fleet: &Fleet, version: &super::GraphVersion) -> Self {
        Self {
            version: version.to_string(),
            graph: fleet.graph().to_document(),
            definitions: fleet
                .agents()
                .iter()
                .map(|agent| (agent.node.clone(), agent.source.text.clone()))
                .collect(),
        }
    }

    /// The fleet it describes, checked against its version.
    ///
    /// # Errors
    /// [`MaterialError::Fleet`] when it does not load; [`MaterialError::VersionMismatch`] when
    /// it is not the version it claims (the agent then refuses to vote on it).
    pub fn fleet(&self, options: FleetOptions) -> Result<Fleet, MaterialError> {
        let fleet = Fleet::from_definition_texts(&self.graph, &self.definitions, options)
            .map_err(Box::new)?;
        let actual = super::GraphVersion::of(&fleet);
        if actual.as_str() != self.version {
            return Err(MaterialError::VersionMismatch {
                claimed: self.version.clone(),
                actual: actual.to_string(),
            });
        }
        Ok(fleet)
    }
}

/// Why review material cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    /// The graph or a definition does not load.
    #[error("the proposal's graph does not load: {0}")]
    Fleet(#[from] Box<FleetError>),
    /// The material hashes to another version than the proposal's.
    #[error("the material claims version {claimed} but hashes to {actual}")]
    VersionMismatch {
        /// What it says.
        claimed: String,
        /// What it is.
        actual: String,
    },
}

/// One agent's review of a proposal, sent before its ballot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteReview {
    /// The agent's name (equal to the subject's `<agent>`).
    pub agent: String,
    /// What its reviewers found, or why it could not review (it then casts no vote).
    pub outcome: ReviewOutcome,
}

/// The result of a remote review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// The findings; any blocking one means the agent votes against.
    Findings(Vec<Finding>),
    /// The review could not be done.
    Failed(String),
}

/// How much of a recorded deployment an agent's knowledge replica holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shown {
    /// The agent's name (equal to the subject's `<agent>`).
    pub agent: String,
    /// The fact subject, `deployment/<version short>`.
    pub subject: String,
    /// How many facts about it the replica holds.
    pub facts: usize,
}
