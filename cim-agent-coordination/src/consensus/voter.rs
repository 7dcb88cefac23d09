//! The agent's side: hear proposals, vote or veto, hear outcomes.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use cim_domain_agent::AgentId;
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use thiserror::Error;

use super::error::Refusal;
use super::ids::ProposalId;
use super::tally::Choice;
use super::wire::{
    Announcement, OPENED_FILTER, OUTCOMES_FILTER, OutcomeMessage, Receipt, VetoMessage,
    VoteMessage, veto_subject, vote_subject,
};
use crate::transport::{Transport, TransportError};

/// Why a vote or veto did not land.
#[derive(Debug, Error)]
pub enum VoterError {
    /// The coordinator refused it (typed reason).
    #[error("refused: {0:?}")]
    Refused(Refusal),
    /// No coordinator answered within the patience window.
    #[error("no coordinator answered within {0:?}")]
    Unanswered(Duration),
    /// Sending failed for another reason.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The message could not be encoded.
    #[error("encoding: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A stream of decoded messages (undecodable ones are logged and skipped).
pub type MessageStream<M> = Pin<Box<dyn Stream<Item = M> + Send>>;

/// One agent's client for consensus.
#[derive(Clone)]
pub struct Voter<T> {
    transport: T,
    agent: AgentId,
    request_timeout: Duration,
    patience: Duration,
}

impl<T: Transport> Voter<T> {
    /// A client voting as `agent`. Each request waits 2 s for a receipt; a vote is retried
    /// (at most once in flight) for up to 10 s while no coordinator answers.
    pub fn new(transport: T, agent: AgentId) -> Self {
        Self {
            transport,
            agent,
            request_timeout: Duration::from_secs(2),
            patience: Duration::from_secs(10),
        }
    }

    /// Sets how long one request waits and how long retries go on.
    pub fn with_timeouts(mut self, request_timeout: Duration, patience: Duration) -> Self {
        self.request_timeout = request_timeout;
        self.patience = patience;
        self
    }

    /// The agent this client votes as.
    pub fn agent(&self) -> AgentId {
        self.agent
    }

    /// Proposals as they open.
    ///
    /// # Errors
    /// Transport errors while subscribing.
    pub async fn proposals(&self) -> Result<MessageStream<Announcement>, TransportError> {
        decoded(&self.transport, OPENED_FILTER).await
    }

    /// Outcomes as they are decided.
    ///
    /// # Errors
    /// Transport errors while subscribing.
    pub async fn outcomes(&self) -> Result<MessageStream<OutcomeMessage>, TransportError> {
        decoded(&self.transport, OUTCOMES_FILTER).await
    }

    /// Votes on `proposal`. A vote that was recorded but whose receipt was lost comes back as
    /// `AlreadyVoted` with the same choice on the retry, which counts as success.
    ///
    /// # Errors
    /// [`VoterError::Refused`] with the coordinator's reason, [`VoterError::Unanswered`] when
    /// no coordinator answered within the patience window.
    pub async fn vote(&self, proposal: ProposalId, choice: Choice) -> Result<(), VoterError> {
        let message = VoteMessage {
            voter: self.agent,
            choice,
        };
        let payload = Bytes::from(serde_json::to_vec(&message)?);
        match self
            .send(&vote_subject(proposal, self.agent), payload)
            .await?
        {
            Receipt::Accepted => Ok(()),
            Receipt::Refused {
                refusal: Refusal::AlreadyVoted { choice: standing },
            } if standing == choice => Ok(()),
            Receipt::Refused { refusal } => Err(VoterError::Refused(refusal)),
        }
    }

    /// Vetoes `proposal`.
    ///
    /// # Errors
    /// As [`Voter::vote`].
    pub async fn veto(&self, proposal: ProposalId, reason: &str) -> Result<(), VoterError> {
        let message = VetoMessage {
            by: self.agent,
            reason: reason.to_owned(),
        };
        let payload = Bytes::from(serde_json::to_vec(&message)?);
        match self
            .send(&veto_subject(proposal, self.agent), payload)
            .await?
        {
            Receipt::Accepted => Ok(()),
            Receipt::Refused { refusal } => Err(VoterError::Refused(refusal)),
        }
    }

    /// Requests until a receipt arrives, backing off from 10 ms to 200 ms while nobody answers
    /// or the coordinator reports its store unavailable.
    async fn send(&self, subject: &str, payload: Bytes) -> Result<Receipt, VoterError> {
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(10);
        loop {
            match self
                .transport
                .request(subject, payload.clone(), self.request_timeout)
                .await
            {
                Ok(reply) => match serde_json::from_slice::<Receipt>(&reply.payload) {
                    Ok(Receipt::Refused {
                        refusal: Refusal::Unavailable,
                    }) => {}
                    Ok(receipt) => return Ok(receipt),
                    Err(error) => tracing::warn!(%error, "undecodable ballot receipt"),
                },
                Err(TransportError::NoResponders { .. } | TransportError::TimedOut { .. }) => {}
                Err(other) => return Err(other.into()),
            }
            if started.elapsed() + backoff > self.patience {
                return Err(VoterError::Unanswered(self.patience));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
    }
}

async fn decoded<T: Transport, M: DeserializeOwned + Send + 'static>(
    transport: &T,
    filter: &str,
) -> Result<MessageStream<M>, TransportError> {
    let subscription = transport.subscribe(filter).await?;
    transport.flush().await?;
    Ok(Box::pin(subscription.filter_map(|envelope| async move {
        match serde_json::from_slice::<M>(&envelope.payload) {
            Ok(message) => Some(message),
            Err(error) => {
                tracing::warn!(subject = %envelope.subject, %error, "undecodable consensus message");
                None
            }
        }
    })))
}
