//! The pipeline's side of [`AgentParticipation::Remote`](super::AgentParticipation): waiting
//! for the agent runtimes to be registered, serving them the review material, and gathering
//! their findings and the deployment's arrival in their replicas (wire formats in
//! [`remote`](super::remote)).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use cim_agent_coordination::consensus::ProposalId;
use cim_agent_coordination::registry::{ANNOUNCEMENTS, Presence, Registry, call_roll};
use cim_agent_coordination::transport::kv::KeyValue;
use cim_agent_coordination::transport::{Subscription, Transport, TransportError};
use futures::StreamExt as _;
use tokio::task::JoinHandle;

use super::remote::{MAX_REVIEW_BYTES, RemoteReview, ReviewMaterial, Shown};
use crate::Fleet;

/// Waits until every agent of `fleet` has announced its registration (under its definition's
/// id and name), feeding the announcements into `registry`; a roll call makes runtimes that
/// started earlier announce again. Returns the agents still missing at the deadline, by name.
///
/// # Errors
/// The transport's error when subscribing or publishing the roll call fails.
pub(super) async fn await_agents<T: Transport, K: KeyValue>(
    transport: &T,
    registry: &Registry<K>,
    fleet: &Fleet,
    wait: Duration,
) -> Result<Vec<String>, TransportError> {
    let mut announcements = transport.subscribe(ANNOUNCEMENTS).await?;
    transport.flush().await?;
    call_roll(transport).await?;
    let deadline = Instant::now() + wait;
    loop {
        let missing: Vec<String> = fleet
            .agents()
            .iter()
            .filter(|agent| {
                let definition = &agent.source.definition;
                // Registered under its own name and heard from recently: a record left by a
                // runtime that has stopped is not an agent that can vote.
                registry.get(definition.id).is_none_or(|record| {
                    record.name != definition.name
                        || registry.config().presence_at(
                            record.heartbeat_secs,
                            record.last_seen,
                            Utc::now(),
                        ) != Presence::Online
                })
            })
            .map(|agent| agent.node.clone())
            .collect();
        let left = deadline.saturating_duration_since(Instant::now());
        if missing.is_empty() || left.is_zero() {
            return Ok(missing);
        }
        match tokio::time::timeout(left, announcements.next()).await {
            Ok(Some(message)) => {
                if let Err(error) = registry
                    .handle(&message.subject, &message.payload, Utc::now())
                    .await
                {
                    tracing::warn!(%error, subject = %message.subject, "announcement refused");
                }
            }
            Ok(None) | Err(_) => return Ok(missing),
        }
    }
}

/// Answers requests on `cim.deployment.<proposal>.material` with the material until dropped.
pub(super) struct MaterialServer(JoinHandle<()>);

impl Drop for MaterialServer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl MaterialServer {
    /// Subscribes (before the proposal opens, so no request is missed) and serves `material`.
    ///
    /// # Errors
    /// The transport's error when subscribing fails.
    pub async fn start<T: Transport>(
        transport: T,
        proposal: ProposalId,
        material: &ReviewMaterial,
    ) -> Result<Self, TransportError> {
        let payload = Bytes::from(serde_json::to_vec(material).unwrap_or_default());
        let mut requests = transport
            .subscribe(&super::remote::material_subject(proposal))
            .await?;
        transport.flush().await?;
        Ok(Self(tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                let Some(reply) = request.reply else { continue };
                if let Err(error) = transport.publish(&reply, payload.clone()).await {
                    tracing::warn!(%error, %proposal, "could not send the review material");
                }
            }
        })))
    }
}

/// The messages agents send about one proposal (`findings.*` and `shown.*`), subscribed before
/// the proposal opens.
pub(super) struct AgentReports {
    findings: Subscription,
    shown: Subscription,
}

impl AgentReports {
    /// Subscribes to `proposal`'s findings and shown reports.
    ///
    /// # Errors
    /// The transport's error when subscribing fails.
    pub async fn subscribe<T: Transport>(
        transport: &T,
        proposal: ProposalId,
    ) -> Result<Self, TransportError> {
        let findings = transport
            .subscribe(&format!("cim.deployment.{proposal}.findings.*"))
            .await?;
        let shown = transport
            .subscribe(&format!("cim.deployment.{proposal}.shown.*"))
            .await?;
        transport.flush().await?;
        Ok(Self { findings, shown })
    }

    /// Gathers one review from each of `agents` (names) for up to `wait`; a message whose
    /// subject and body name different agents, or no agent of the fleet, is dropped and
    /// logged. Returns the reviews by agent name.
    pub async fn reviews(
        &mut self,
        agents: &BTreeSet<String>,
        wait: Duration,
    ) -> BTreeMap<String, RemoteReview> {
        let mut reviews = BTreeMap::new();
        let deadline = Instant::now() + wait;
        while reviews.len() < agents.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(Some(message)) = tokio::time::timeout(left, self.findings.next()).await else {
                break;
            };
            if let Some(review) = decode::<RemoteReview>(&message.subject, &message.payload)
                .filter(|review| named(&message.subject, &review.agent, agents))
            {
                reviews.insert(review.agent.clone(), review);
            }
        }
        reviews
    }

    /// Waits up to `wait` until every one of `agents` reports holding `facts` facts about
    /// `subject`; returns how many do.
    pub async fn shown(
        &mut self,
        agents: &BTreeSet<String>,
        subject: &str,
        facts: usize,
        wait: Duration,
    ) -> usize {
        let mut holding = BTreeSet::new();
        let deadline = Instant::now() + wait;
        while holding.len() < agents.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(Some(message)) = tokio::time::timeout(left, self.shown.next()).await else {
                break;
            };
            if let Some(shown) = decode::<Shown>(&message.subject, &message.payload)
                .filter(|shown| named(&message.subject, &shown.agent, agents))
                && shown.subject == subject
                && shown.facts >= facts
            {
                holding.insert(shown.agent);
            }
        }
        holding.len()
    }
}

fn decode<M: serde::de::DeserializeOwned>(subject: &str, payload: &[u8]) -> Option<M> {
    if payload.len() > MAX_REVIEW_BYTES {
        tracing::warn!(%subject, size = payload.len(), "oversized agent report dropped");
        return None;
    }
    match serde_json::from_slice(payload) {
        Ok(message) => Some(message),
        Err(error) => {
            tracing::warn!(%subject, %error, "malformed agent report dropped");
            None
        }
    }
}

/// Whether the message on `subject` (last token: the sender) is from `agent`, a fleet agent.
fn named(subject: &str, agent: &str, agents: &BTreeSet<String>) -> bool {
    let ok = subject.rsplit('.').next() == Some(agent) && agents.contains(agent);
    if !ok {
        tracing::warn!(%subject, %agent, "agent report from an unexpected sender dropped");
    }
    ok
}
