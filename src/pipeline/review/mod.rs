//! Reviews of a fleet before it is deployed: each agent runs the reviewers its capabilities
//! select and posts their findings; a [`Severity::Blocking`] finding makes it vote against.
//!
//! Reviewers are deterministic functions of the fleet and its translated files (the same fleet
//! always gives the same findings, in the same order). The built-in ones are keyed by
//! capability ([`ReviewerSet::builtin`]); a user's own, or a model-backed one later, implements
//! [`Reviewer`] and is added with [`ReviewerSet::add`].

mod firewall;
mod gpu;
mod nats;
mod network;
mod nix;
mod postgres;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use cim_domain_graph::translate::NixDeploymentSpec;
use cim_domain_nix::NixTool;
use serde::{Deserialize, Serialize};

use crate::Fleet;

pub use firewall::{FirewallError, opened_tcp_ports};
pub use gpu::{GpuReviewer, review_gpu_grants};
pub use nats::NatsReviewer;
pub use network::NetworkReviewer;
pub use nix::NixReviewer;
pub use postgres::PostgresReviewer;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; does not affect the vote.
    Info,
    /// Probably a mistake; the agent still votes for.
    Warning,
    /// The fleet must not be deployed like this: the agent votes against with this reason.
    Blocking,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Blocking => "blocking",
        })
    }
}

/// One thing a reviewer found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// The reviewer that found it ([`Reviewer::name`]).
    pub reviewer: String,
    /// The node (or host) it is about; `None` for the fleet as a whole.
    pub node: Option<String>,
    /// Why, in words a user can act on.
    pub reason: String,
}

impl Finding {
    /// A finding of `reviewer` about `node`.
    pub fn new(
        severity: Severity,
        reviewer: &str,
        node: Option<&str>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            reviewer: reviewer.to_owned(),
            node: node.map(str::to_owned),
            reason: reason.into(),
        }
    }

    /// Whether it makes the agent vote against.
    pub fn is_blocking(&self) -> bool {
        self.severity == Severity::Blocking
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(
                f,
                "[{}] {} on {node}: {}",
                self.severity, self.reviewer, self.reason
            ),
            None => write!(f, "[{}] {}: {}", self.severity, self.reviewer, self.reason),
        }
    }
}

/// What a reviewer looks at: the loaded fleet (graph, definitions, GPU grants) and its files as
/// they would be written.
#[derive(Clone, Copy)]
pub struct ReviewContext<'a> {
    /// The fleet, loaded and validated.
    pub fleet: &'a Fleet,
    /// Its translated files (not written yet).
    pub spec: &'a NixDeploymentSpec,
    /// `nix-instantiate`, where installed (found once by the caller).
    pub nix_tool: Option<&'a NixTool>,
}

/// A review that could not be done (a tool that would not run, a model that did not answer):
/// the agent running it cannot vote, which the consensus counts as a missing vote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reviewer {reviewer} failed: {reason}")]
pub struct ReviewError {
    /// The reviewer ([`Reviewer::name`]).
    pub reviewer: String,
    /// Why.
    pub reason: String,
}

/// A deterministic review of one aspect of a fleet.
pub trait Reviewer: Send + Sync {
    /// A short stable name, shown with its findings (`nix`, `nats`, ...).
    fn name(&self) -> &str;

    /// Every finding, in a deterministic order. No finding means no objection.
    ///
    /// # Errors
    /// [`ReviewError`] when the review itself could not be done (the built-in reviewers never
    /// fail: what they cannot check is a finding).
    fn review(&self, context: &ReviewContext<'_>) -> Result<Vec<Finding>, ReviewError>;
}

/// The capability that makes an agent run the built-in Nix reviewer.
pub const NIX_CAPABILITY: &str = "flake-review";
/// The capability of the built-in NATS reviewer.
pub const NATS_CAPABILITY: &str = "nats-topology";
/// The capability of the built-in PostgreSQL reviewer.
pub const POSTGRES_CAPABILITY: &str = "postgresql";
/// The capability of the built-in GPU reviewer.
pub const GPU_CAPABILITY: &str = "gpu-allocation";
/// The capability of the built-in network and security reviewer.
pub const NETWORK_CAPABILITY: &str = "network-security";

/// Reviewers by the capability that selects them.
#[derive(Clone, Default)]
pub struct ReviewerSet {
    by_capability: BTreeMap<String, Vec<Arc<dyn Reviewer>>>,
}

impl ReviewerSet {
    /// No reviewers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in reviewers: [`NIX_CAPABILITY`] → [`NixReviewer`], [`NATS_CAPABILITY`] →
    /// [`NatsReviewer`], [`POSTGRES_CAPABILITY`] → [`PostgresReviewer`], [`GPU_CAPABILITY`] →
    /// [`GpuReviewer`], [`NETWORK_CAPABILITY`] → [`NetworkReviewer`].
    pub fn builtin() -> Self {
        let mut set = Self::new();
        set.add(NIX_CAPABILITY, NixReviewer);
        set.add(NATS_CAPABILITY, NatsReviewer);
        set.add(POSTGRES_CAPABILITY, PostgresReviewer);
        set.add(GPU_CAPABILITY, GpuReviewer);
        set.add(NETWORK_CAPABILITY, NetworkReviewer);
        set
    }

    /// Adds `reviewer` for agents with `capability` (after those already there).
    pub fn add(&mut self, capability: impl Into<String>, reviewer: impl Reviewer + 'static) {
        self.by_capability
            .entry(capability.into())
            .or_default()
            .push(Arc::new(reviewer));
    }

    /// The reviewers an agent with `capabilities` runs: each capability's in the set's order,
    /// capabilities sorted, a reviewer named twice run once.
    pub fn for_capabilities<'a>(
        &'a self,
        capabilities: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Arc<dyn Reviewer>> {
        let mut capabilities: Vec<&str> = capabilities.into_iter().collect();
        capabilities.sort_unstable();
        capabilities.dedup();
        let mut chosen: Vec<Arc<dyn Reviewer>> = Vec::new();
        for capability in capabilities {
            for reviewer in self.by_capability.get(capability).into_iter().flatten() {
                if !chosen.iter().any(|r| r.name() == reviewer.name()) {
                    chosen.push(Arc::clone(reviewer));
                }
            }
        }
        chosen
    }

    /// Runs the reviewers an agent with `capabilities` runs; findings sorted, most severe first.
    ///
    /// # Errors
    /// The first [`ReviewError`]: an agent whose review failed has no findings to vote on.
    pub fn review<'a>(
        &'a self,
        capabilities: impl IntoIterator<Item = &'a str>,
        context: &ReviewContext<'_>,
    ) -> Result<Vec<Finding>, ReviewError> {
        let mut findings = Vec::new();
        for reviewer in self.for_capabilities(capabilities) {
            findings.extend(reviewer.review(context)?);
        }
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.cmp(b)));
        Ok(findings)
    }
}
