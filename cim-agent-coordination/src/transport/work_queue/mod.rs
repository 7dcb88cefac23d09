//! Durable delivery: the seam for messages that must survive a receiver being away for a moment
//! (task assignments, agents' reports). Semantics follow a NATS JetStream stream with
//! work-queue retention and durable pull consumers with explicit acks, and
//! [`InProcessWorkQueue`] reproduces them:
//!
//! - [`WorkQueue::publish`] stores a message once per message id within the duplicate window
//!   (`Nats-Msg-Id`): a repeat is reported as a duplicate and not stored again;
//! - a durable consumer ([`WorkQueue::consume`]) receives each stored message matching its
//!   filter, in order, including those published before it existed or while it was away;
//! - a delivery not acknowledged within `ack_wait` is delivered again; [`Delivery::in_progress`]
//!   restarts that clock; [`Delivery::nak`] asks for redelivery now;
//! - a message is delivered at most `max_deliver` times, then left alone;
//! - an acknowledged message is removed (work-queue retention): one consumer per subject.
//!
//! Redelivery runs on the wall clock in both implementations (the server's timers in
//! production), so tests of this seam use short ack waits; decisions built on it (when a task
//! is reassigned) take their time as data in the task aggregate.

mod in_process;
mod jetstream;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use thiserror::Error;

pub use in_process::InProcessWorkQueue;
pub use jetstream::JetStreamWorkQueue;

/// What went wrong with durable delivery.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WorkQueueError {
    /// A subject, filter or consumer name breaks the NATS rules.
    #[error(transparent)]
    Subject(#[from] super::TransportError),
    /// The server or connection failed.
    #[error("{operation} failed: {message}")]
    Backend {
        /// The operation (`publish`, `consume`, `ack`, …).
        operation: &'static str,
        /// The client's explanation.
        message: String,
    },
}

/// How a durable consumer delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// How long a delivery may stay unacknowledged before it is delivered again.
    pub ack_wait: Duration,
    /// How many times one message is delivered at most (at least 1).
    pub max_deliver: u32,
}

impl Default for ConsumerConfig {
    /// 30 s ack wait, 5 deliveries.
    fn default() -> Self {
        Self {
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
        }
    }
}

/// The result of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The stream sequence of the stored message (of the original, for a duplicate).
    pub sequence: u64,
    /// Whether the message id was seen within the duplicate window (nothing new was stored).
    pub duplicate: bool,
}

#[async_trait]
pub(crate) trait Acker: Send + Sync {
    async fn ack(&self) -> Result<(), WorkQueueError>;
    async fn in_progress(&self) -> Result<(), WorkQueueError>;
    async fn nak(&self) -> Result<(), WorkQueueError>;
}

/// One delivery of a stored message.
pub struct Delivery {
    /// The subject it was published to.
    pub subject: String,
    /// Its bytes.
    pub payload: Bytes,
    /// Its stream sequence.
    pub sequence: u64,
    /// How many times it has been delivered, this time included (1 the first time).
    pub delivered: u32,
    pub(crate) acker: Arc<dyn Acker>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("subject", &self.subject)
            .field("sequence", &self.sequence)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Acknowledges it (confirmed by the server): it will not be delivered again.
    ///
    /// # Errors
    /// [`WorkQueueError::Backend`] when the acknowledgement is not confirmed.
    pub async fn ack(&self) -> Result<(), WorkQueueError> {
        self.acker.ack().await
    }

    /// Says the work is still going on: the ack wait starts again.
    ///
    /// # Errors
    /// [`WorkQueueError::Backend`].
    pub async fn in_progress(&self) -> Result<(), WorkQueueError> {
        self.acker.in_progress().await
    }

    /// Gives it back for redelivery now (counts as a delivery).
    ///
    /// # Errors
    /// [`WorkQueueError::Backend`].
    pub async fn nak(&self) -> Result<(), WorkQueueError> {
        self.acker.nak().await
    }
}

/// Deliveries of one durable consumer; dropping it stops receiving (unacknowledged deliveries
/// come back after their ack wait).
pub type Deliveries = Pin<Box<dyn Stream<Item = Delivery> + Send>>;

/// Durable, de-duplicated, acknowledged delivery.
#[async_trait]
pub trait WorkQueue: Clone + Send + Sync + 'static {
    /// Stores `payload` on `subject` unless `message_id` was stored within the duplicate window.
    ///
    /// # Errors
    /// [`WorkQueueError::Subject`] for a bad subject, [`WorkQueueError::Backend`].
    async fn publish(
        &self,
        subject: &str,
        message_id: &str,
        payload: Bytes,
    ) -> Result<Published, WorkQueueError>;

    /// Receives as durable consumer `durable` (a token) the messages matching `filter`,
    /// resuming where a previous consumer of that name left off.
    ///
    /// # Errors
    /// [`WorkQueueError::Subject`], [`WorkQueueError::Backend`].
    async fn consume(
        &self,
        durable: &str,
        filter: &str,
        config: ConsumerConfig,
    ) -> Result<Deliveries, WorkQueueError>;
}
