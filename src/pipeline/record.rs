//! The deployment as facts in the shared knowledge base, and waiting for every agent's replica
//! to show them.
//!
//! Facts (all with subject `deployment/<version short>`, source `cim-leaf deploy`):
//! `deployment/<v>` `deployed` = the full graph version; `deployment/<v>/file/<path>` `file` =
//! `<path> <sha256>`; `deployment/<v>/gpu/<agent>/<n>` `gpu_grant` = `<agent> <host> <gpu uuid>
//! /dev/nvidia<d>`; `deployment/<v>/vote/<agent>` `vote` = `<agent> for|against|no vote: <why>`.
//! The consensus state of topic `deployment/<v>` is the decided proposal.

use std::time::{Duration, Instant};

use chrono::Utc;
use cim_agent_coordination::consensus::Choice;
use cim_agent_coordination::knowledge::{
    Assertion, ConsensusState, FactId, FactObject, KnowledgeError, KnowledgeReplica,
    KnowledgeStore, Topic,
};
use cim_agent_coordination::transport::Transport;

use super::summary::DeployReport;

/// Where the facts come from.
pub const SOURCE: &str = "cim-leaf deploy";

/// `deployment/<version short>`: the subject of every fact about one deployment.
pub fn deployment_subject(short_version: &str) -> String {
    format!("deployment/{short_version}")
}

/// The facts of one deployment.
pub struct DeploymentFacts {
    /// `deployment/<version short>`.
    pub subject: String,
    /// The assertions, in a fixed order.
    pub assertions: Vec<Assertion>,
    /// The decided proposal.
    pub proposal: uuid::Uuid,
}

impl DeploymentFacts {
    /// The facts of an approved `report`.
    pub fn new(report: &DeployReport) -> Self {
        let subject = deployment_subject(report.version.short());
        let mut assertions = Vec::new();
        let mut add = |id: String, predicate: &str, object: String| {
            // Ids are built from validated names and hashes, well under the length limit.
            if let Ok(id) = FactId::new(id) {
                assertions.push(Assertion {
                    id,
                    subject: subject.clone(),
                    predicate: predicate.to_owned(),
                    object: FactObject::Text(object),
                    source: SOURCE.to_owned(),
                });
            }
        };
        add(subject.clone(), "deployed", report.version.to_string());
        for file in &report.files {
            let path = file.path.display();
            add(
                format!("{subject}/file/{path}"),
                "file",
                format!("{path} {}", file.hash),
            );
        }
        for (agent, grants) in &report.gpu_grants {
            for (n, grant) in grants.iter().enumerate() {
                let device = grant
                    .device
                    .map(|d| format!(" /dev/nvidia{d}"))
                    .unwrap_or_default();
                add(
                    format!("{subject}/gpu/{agent}/{n}"),
                    "gpu_grant",
                    format!("{agent} {} {}{device}", grant.host, grant.uuid),
                );
            }
        }
        for vote in &report.votes {
            let choice = match vote.choice {
                Some(Choice::For) => "for".to_owned(),
                Some(Choice::Against) => format!("against: {}", vote.reasons.join("; ")),
                Some(Choice::Abstain) => "abstain".to_owned(),
                None => format!("no vote: {}", vote.reasons.join("; ")),
            };
            add(
                format!("{subject}/vote/{}", vote.agent),
                "vote",
                format!("{} {choice}", vote.agent),
            );
        }
        Self {
            subject,
            assertions,
            proposal: report.proposal.0,
        }
    }
}

/// Asserts the facts `deployer`'s replica does not hold yet and records the topic's decision;
/// returns how many facts were asserted (0 when the deployment was recorded before).
///
/// # Errors
/// [`KnowledgeError`] from the replica.
pub async fn record<T: Transport, S: KnowledgeStore>(
    deployer: &KnowledgeReplica<T, S>,
    facts: &DeploymentFacts,
) -> Result<usize, KnowledgeError> {
    let now = Utc::now();
    let mut asserted = 0;
    for assertion in &facts.assertions {
        let held = deployer.read(|k| k.fact(&assertion.id)).await;
        if held.is_some_and(|fact| fact.object == assertion.object) {
            continue;
        }
        deployer.assert_fact(assertion.clone(), now).await?;
        asserted += 1;
    }
    if asserted > 0 {
        let topic = Topic::new(facts.subject.clone())?;
        let state = ConsensusState::Decided {
            proposal: facts.proposal,
            outcome: "passed".to_owned(),
        };
        deployer.record_consensus(&topic, state, now).await?;
    }
    Ok(asserted)
}

/// Waits up to `timeout` for every replica to hold every fact; returns how many do.
pub async fn await_replicas<T: Transport, S: KnowledgeStore>(
    replicas: &[KnowledgeReplica<T, S>],
    facts: &DeploymentFacts,
    timeout: Duration,
) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let mut shown = 0;
        for replica in replicas {
            if shows(replica, facts).await {
                shown += 1;
            }
        }
        if shown == replicas.len() || Instant::now() >= deadline {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Whether `replica` holds every fact of the deployment.
pub async fn shows<T: Transport, S: KnowledgeStore>(
    replica: &KnowledgeReplica<T, S>,
    facts: &DeploymentFacts,
) -> bool {
    replica
        .read(|k| {
            facts.assertions.iter().all(|assertion| {
                k.fact(&assertion.id)
                    .is_some_and(|fact| fact.object == assertion.object)
            })
        })
        .await
}
