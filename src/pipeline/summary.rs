//! What a pipeline run reports: each step with its time, the votes with their reasons, the
//! findings, the files written with their hashes, the GPU grants and the event counts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use cim_agent_coordination::consensus::{Choice, Outcome, ProposalId};
use serde::Serialize;

use super::review::Finding;
use super::version::GraphVersion;
use crate::GpuGrant;

/// The steps of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Load the graph and its agent definitions; translate in memory (no I/O).
    Load,
    /// Register every agent in the registry; start each agent's knowledge replica.
    Register,
    /// Open the consensus proposal for this graph version.
    Propose,
    /// Each agent reviews, posts its findings to the dialog and votes.
    Discuss,
    /// The consensus aggregate decides.
    Decide,
    /// Bring the graph's aggregate to this version and approve it by the proposal.
    Approve,
    /// Record the GPU grants in each GPU host's pool.
    AllocateGpus,
    /// Check the files (rnix, `nix-instantiate` where installed) and write them.
    Write,
    /// Record the deployment in the shared knowledge base; wait for every replica to show it.
    Record,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 9] = [
        Step::Load,
        Step::Register,
        Step::Propose,
        Step::Discuss,
        Step::Decide,
        Step::Approve,
        Step::AllocateGpus,
        Step::Write,
        Step::Record,
    ];

    /// Its name, as shown and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Register => "register",
            Self::Propose => "propose",
            Self::Discuss => "discuss",
            Self::Decide => "decide",
            Self::Approve => "approve",
            Self::AllocateGpus => "allocate-gpus",
            Self::Write => "write",
            Self::Record => "record",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One finished step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// Which.
    pub step: Step,
    /// Wall-clock milliseconds it took.
    pub millis: f64,
    /// What it did, in one line.
    pub detail: String,
}

/// How one agent voted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoteRecord {
    /// The agent's name.
    pub agent: String,
    /// Its ballot; `None` when it cast none (it failed, or its review could not be done).
    pub choice: Option<Choice>,
    /// Whether the proposal counted it: a ballot cast after the proposal closed early (no
    /// remaining vote could change the outcome) is refused by the aggregate and not counted.
    pub counted: bool,
    /// Why: the blocking findings for a vote against, the failure for a missing vote.
    pub reasons: Vec<String>,
}

/// A file written, with its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenFile {
    /// Relative to the output directory.
    pub path: PathBuf,
    /// `sha256:<hex>` of its bytes.
    pub hash: String,
    /// Its size in bytes.
    pub bytes: usize,
}

/// Events and records a run made (zero everywhere on a rerun of a deployed version).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    /// Proposal events stored this run (opened, votes, decided).
    pub proposal: usize,
    /// Dialog events this run (opened and one turn per agent that reviewed).
    pub dialog: usize,
    /// GPU pool events stored this run.
    pub gpu_pools: usize,
    /// Deployment graph events stored this run (nodes and edges that changed, validated,
    /// approved by the proposal).
    pub graph: usize,
    /// Knowledge facts asserted this run.
    pub knowledge_facts: usize,
    /// Agents registered (or re-registered) in the registry.
    pub registrations: usize,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// The graph version decided on.
    pub version: GraphVersion,
    /// The proposal that decided it (derived from the version: one proposal per version).
    pub proposal: ProposalId,
    /// The decision.
    pub outcome: Outcome,
    /// Whether this run found the version already decided (and recorded nothing new).
    pub already_decided: bool,
    /// Finished steps, in order.
    pub steps: Vec<StepReport>,
    /// One per agent, by name.
    pub votes: Vec<VoteRecord>,
    /// Every agent's findings, by agent name.
    pub findings: BTreeMap<String, Vec<Finding>>,
    /// The GPUs granted, by agent (empty when rejected).
    pub gpu_grants: BTreeMap<String, Vec<GpuGrant>>,
    /// The files written (empty when rejected).
    pub files: Vec<WrittenFile>,
    /// What this run stored.
    pub events: EventCounts,
    /// How many agents' knowledge replicas show the deployment (all of them when approved).
    pub replicas_showing_deployment: usize,
}

impl DeployReport {
    /// Whether the graph was approved and written.
    pub fn approved(&self) -> bool {
        self.outcome == Outcome::Passed
    }

    /// The blocking findings, with the agent that raised each.
    pub fn blocking(&self) -> Vec<(&str, &Finding)> {
        self.findings
            .iter()
            .flat_map(|(agent, findings)| findings.iter().map(move |f| (agent.as_str(), f)))
            .filter(|(_, f)| f.is_blocking())
            .collect()
    }
}

/// A ballot in words: `for`, `against: <reasons>`, `no vote: <why>`, with `(not counted: the
/// proposal had closed)` for a ballot the aggregate refused after an early close.
fn ballot_text(vote: &VoteRecord) -> String {
    let text = match vote.choice {
        Some(Choice::For) => "for".to_owned(),
        Some(Choice::Abstain) => "abstain".to_owned(),
        Some(Choice::Against) => format!("against: {}", vote.reasons.join("; ")),
        None => format!("no vote: {}", vote.reasons.join("; ")),
    };
    if vote.choice.is_some() && !vote.counted {
        format!("{text} (not counted: the proposal had closed)")
    } else {
        text
    }
}

/// The report as a user reads it: steps with times, votes with reasons, blocking findings,
/// GPU grants, files with hashes, event counts, and the outcome. Only the step times vary
/// between runs of the same graph.
impl fmt::Display for DeployReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "version {} (proposal {})", self.version, self.proposal)?;
        for step in &self.steps {
            writeln!(
                f,
                "step {:<14} {:>9.1} ms  {}",
                step.step.name(),
                step.millis,
                step.detail
            )?;
        }
        for vote in &self.votes {
            writeln!(f, "vote {:<16} {}", vote.agent, ballot_text(vote))?;
        }
        for (agent, finding) in self.blocking() {
            writeln!(f, "finding by {agent}: {finding}")?;
        }
        for (agent, grants) in &self.gpu_grants {
            for grant in grants {
                let device = grant
                    .device
                    .map(|d| format!(" (/dev/nvidia{d})"))
                    .unwrap_or_default();
                writeln!(
                    f,
                    "gpu {agent} gets {} on {}{device}",
                    grant.uuid, grant.host
                )?;
            }
        }
        for file in &self.files {
            writeln!(
                f,
                "file {} {} ({} bytes)",
                file.path.display(),
                file.hash,
                file.bytes
            )?;
        }
        let e = &self.events;
        writeln!(
            f,
            "events: {} proposal, {} dialog, {} graph, {} GPU pool, {} knowledge facts, {} registrations",
            e.proposal, e.dialog, e.graph, e.gpu_pools, e.knowledge_facts, e.registrations
        )?;
        let rerun = if self.already_decided {
            " (decided before; nothing new recorded)"
        } else {
            ""
        };
        match self.outcome {
            Outcome::Passed => write!(
                f,
                "outcome: approved{rerun}; {} files written; the deployment is in {} agents' knowledge",
                self.files.len(),
                self.replicas_showing_deployment
            ),
            other => write!(
                f,
                "outcome: {}{rerun}; nothing written",
                super::run::outcome_word(other)
            ),
        }
    }
}
