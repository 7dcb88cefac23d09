//! The agent side of the deployment pipeline, as `cim-leaf agents run` runs it in every agent
//! container: the agent answers deployment proposals from another process.
//!
//! [`ReviewingAgent::start`] subscribes to the consensus announcements and starts the agent's
//! knowledge replica. For each proposal about a deployment graph version whose electorate
//! includes the agent, it
//! 1. asks the pipeline for the [`ReviewMaterial`] (graph and definitions) and loads it as a
//!    [`Fleet`](crate::Fleet), refusing material that does not hash to the proposal's version;
//! 2. runs the reviewers its capabilities select (the same [`ReviewerSet`] the in-process
//!    pipeline uses) on the fleet and its translated files;
//! 3. publishes its findings ([`RemoteReview`]), then votes: against when a finding is
//!    blocking, for otherwise, no vote when the review could not be done;
//! 4. reports how many facts of the proposal's deployment its replica holds ([`Shown`]) each
//!    time that number changes, so the pipeline sees the deployment reach every agent.
//!
//! The pipeline side is [`AgentParticipation::Remote`](crate::pipeline::AgentParticipation).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cim_agent_coordination::consensus::wire::Announcement;
use cim_agent_coordination::consensus::{ProposalId, ProposalSubject, Voter};
use cim_agent_coordination::knowledge::{
    KnowledgeError, KnowledgeReplica, KnowledgeStore, KnowledgeSubjects, MonotonicClock,
    ReplicaConfig,
};
use cim_agent_coordination::transport::{Transport, TransportError};
use cim_domain_agent::AgentId;
use cim_domain_nix::NixTool;
use futures::StreamExt as _;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::FleetOptions;
use crate::pipeline::record::deployment_subject;
use crate::pipeline::remote::{
    MAX_MATERIAL_BYTES, RemoteReview, ReviewMaterial, ReviewOutcome, Shown, findings_subject,
    material_subject, shown_subject,
};
use crate::pipeline::review::{ReviewContext, ReviewerSet};
use crate::pipeline::{KNOWLEDGE_SPACE, review_and_choose, short_version};

/// Who the agent is.
#[derive(Debug, Clone)]
pub struct AgentIdentity {
    /// Its name (the agent node's name in the graph).
    pub name: String,
    /// Its id (the definition's, or the one the runtime was given).
    pub id: AgentId,
    /// Its capabilities, which select its reviewers.
    pub capabilities: Vec<String>,
}

/// How the agent reviews.
#[derive(Clone)]
pub struct ReviewingConfig {
    /// The reviewers by capability (default: the built-in ones).
    pub reviewers: ReviewerSet,
    /// `nix-instantiate`, when the Nix reviewer should evaluate as well as parse.
    pub nix_tool: Option<NixTool>,
    /// How long to wait for the pipeline's answer with the review material.
    pub material_timeout: Duration,
}

impl Default for ReviewingConfig {
    fn default() -> Self {
        Self {
            reviewers: ReviewerSet::builtin(),
            nix_tool: None,
            material_timeout: Duration::from_secs(10),
        }
    }
}

/// Why the agent cannot take part.
#[derive(Debug, thiserror::Error)]
pub enum ReviewingError {
    /// Subscribing failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The knowledge replica cannot start.
    #[error(transparent)]
    Knowledge(#[from] KnowledgeError),
}

/// An agent taking part in deployment decisions until dropped. See the
/// [module documentation](self).
pub struct ReviewingAgent<T: Transport, S: KnowledgeStore> {
    replica: Arc<KnowledgeReplica<T, S>>,
    tasks: Vec<JoinHandle<()>>,
}

impl<T: Transport, S: KnowledgeStore> Drop for ReviewingAgent<T, S> {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Proposals reviewed, by the fact subject of their deployment.
type Watched = Arc<Mutex<BTreeMap<String, (ProposalId, usize)>>>;

impl<T: Transport, S: KnowledgeStore> ReviewingAgent<T, S> {
    /// Starts reviewing and voting as `identity`, with a knowledge replica on `store` in the
    /// pipeline's knowledge space. Returns once the subscriptions are in place.
    ///
    /// # Errors
    /// [`ReviewingError`] when a subscription or the replica cannot start.
    pub async fn start(
        transport: T,
        identity: AgentIdentity,
        store: S,
        config: ReviewingConfig,
    ) -> Result<Self, ReviewingError> {
        let subjects = KnowledgeSubjects::new(KNOWLEDGE_SPACE)?;
        let replica = Arc::new(
            KnowledgeReplica::start(
                identity.id,
                transport.clone(),
                store,
                subjects,
                ReplicaConfig::default(),
                Arc::new(MonotonicClock::default()),
            )
            .await?,
        );
        let voter = Voter::new(transport.clone(), identity.id);
        let proposals = voter.proposals().await?;
        transport.flush().await?;
        let watched: Watched = Arc::default();
        let reviewing = tokio::spawn(review_proposals(
            transport.clone(),
            identity.clone(),
            voter,
            proposals,
            config,
            Arc::clone(&watched),
        ));
        let reporting = tokio::spawn(report_shown(
            transport,
            identity.name,
            Arc::clone(&replica),
            watched,
        ));
        Ok(Self {
            replica,
            tasks: vec![reviewing, reporting],
        })
    }

    /// The agent's knowledge replica.
    pub fn replica(&self) -> &KnowledgeReplica<T, S> {
        &self.replica
    }
}

async fn review_proposals<T: Transport>(
    transport: T,
    identity: AgentIdentity,
    voter: Voter<T>,
    mut proposals: cim_agent_coordination::consensus::MessageStream<Announcement>,
    config: ReviewingConfig,
    watched: Watched,
) {
    while let Some(announcement) = proposals.next().await {
        let ProposalSubject::DeploymentGraphVersion { version } = &announcement.subject else {
            continue;
        };
        if announcement.electorate.get(&identity.id).is_none() {
            continue;
        }
        let proposal = announcement.proposal;
        let outcome = review(&transport, &identity, proposal, version, &config).await;
        let choice = match &outcome {
            Ok((findings, choice)) => {
                tracing::info!(agent = %identity.name, %proposal, findings = findings.len(), ?choice, "reviewed");
                Some(*choice)
            }
            Err(reason) => {
                tracing::warn!(agent = %identity.name, %proposal, %reason, "could not review; casting no vote");
                None
            }
        };
        let message = RemoteReview {
            agent: identity.name.clone(),
            outcome: match outcome {
                Ok((findings, _)) => ReviewOutcome::Findings(findings),
                Err(reason) => ReviewOutcome::Failed(reason),
            },
        };
        let published = match findings_subject(proposal, &identity.name) {
            Ok(subject) => publish_json(&transport, &subject, &message).await,
            Err(error) => Err(error),
        };
        if let Err(error) = published {
            tracing::warn!(agent = %identity.name, %proposal, %error, "could not publish findings");
        }
        watched
            .lock()
            .await
            .insert(deployment_subject(short_version(version)), (proposal, 0));
        if let Some(choice) = choice {
            match voter.vote(proposal, choice).await {
                Ok(()) => tracing::info!(agent = %identity.name, %proposal, ?choice, "voted"),
                Err(error) => {
                    tracing::warn!(agent = %identity.name, %proposal, %error, "vote not counted")
                }
            }
        }
    }
}

/// Fetches the material, loads it and reviews it: the findings and the choice they lead to,
/// or why that could not be done.
async fn review<T: Transport>(
    transport: &T,
    identity: &AgentIdentity,
    proposal: ProposalId,
    version: &str,
    config: &ReviewingConfig,
) -> Result<
    (
        Vec<crate::pipeline::review::Finding>,
        cim_agent_coordination::consensus::Choice,
    ),
    String,
> {
    let reply = transport
        .request(
            &material_subject(proposal),
            Bytes::new(),
            config.material_timeout,
        )
        .await
        .map_err(|error| format!("no review material for proposal {proposal}: {error}"))?;
    if reply.payload.len() > MAX_MATERIAL_BYTES {
        return Err(format!(
            "review material of {} bytes exceeds {MAX_MATERIAL_BYTES} bytes",
            reply.payload.len()
        ));
    }
    let material: ReviewMaterial = serde_json::from_slice(&reply.payload)
        .map_err(|error| format!("malformed review material: {error}"))?;
    if material.version != version {
        return Err(format!(
            "review material is for version {}, the proposal for {version}",
            material.version
        ));
    }
    let fleet = material
        .fleet(FleetOptions::default())
        .map_err(|error| error.to_string())?;
    let spec = fleet
        .translate()
        .map_err(|error| format!("the proposal's graph does not translate: {error}"))?;
    let context = ReviewContext {
        fleet: &fleet,
        spec: &spec,
        nix_tool: config.nix_tool.as_ref(),
    };
    let capabilities = identity.capabilities.iter().map(String::as_str);
    review_and_choose(&config.reviewers, capabilities, &context).map_err(|error| error.to_string())
}

/// Publishes [`Shown`] for each reviewed proposal whenever the number of its deployment's
/// facts in the replica changes.
async fn report_shown<T: Transport, S: KnowledgeStore>(
    transport: T,
    name: String,
    replica: Arc<KnowledgeReplica<T, S>>,
    watched: Watched,
) {
    let mut changes = replica.watch();
    let mut poll = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = poll.tick() => {}
        }
        let mut watched = watched.lock().await;
        for (subject, (proposal, reported)) in watched.iter_mut() {
            let facts = replica.read(|k| k.by_subject(subject).len()).await;
            if facts == *reported {
                continue;
            }
            *reported = facts;
            let shown = Shown {
                agent: name.clone(),
                subject: subject.clone(),
                facts,
            };
            let published = match shown_subject(*proposal, &name) {
                Ok(to) => publish_json(&transport, &to, &shown).await,
                Err(error) => Err(error),
            };
            match published {
                Ok(()) => {
                    tracing::info!(agent = %name, %subject, facts, "deployment facts in the replica");
                }
                Err(error) => {
                    tracing::warn!(agent = %name, %error, "could not report the deployment shown");
                }
            }
        }
    }
}

async fn publish_json<T: Transport>(
    transport: &T,
    subject: &str,
    value: &impl serde::Serialize,
) -> Result<(), TransportError> {
    let payload = serde_json::to_vec(value).unwrap_or_default();
    transport.publish(subject, payload.into()).await?;
    transport.flush().await
}
