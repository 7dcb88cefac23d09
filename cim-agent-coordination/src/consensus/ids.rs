//! What a proposal is called and what it decides.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A proposal's id: the aggregate id in the event store and the `<proposal>` token of its
/// subjects (`cim.consensus.<proposal>.…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProposalId(pub Uuid);

impl ProposalId {
    /// A fresh id (UUID v7).
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for ProposalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for ProposalId {
    type Err = uuid::Error;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text).map(Self)
    }
}

/// What is being decided. It travels in the opening event and again in the outcome event, so a
/// reader of the outcome (the deployment pipeline) never has to look the proposal up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProposalSubject {
    /// Approve one version of a deployment graph, named by its content hash.
    DeploymentGraphVersion {
        /// The graph's content hash (the version the pipeline approves, nothing else).
        version: String,
    },
    /// Anything else: an infrastructure change, a task assignment, a knowledge validation, a
    /// conflict resolution.
    General {
        /// A short machine-readable topic (`task-assignment`, `knowledge-validation`, …).
        topic: String,
        /// What is proposed, for the voters.
        description: String,
    },
}
