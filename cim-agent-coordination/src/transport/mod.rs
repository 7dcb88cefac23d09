//! The transport seam: how every part of the coordination layer moves messages.
//!
//! [`Transport`] is the one seam for the whole crate: registry, tasks, dialogs, consensus and
//! shared knowledge talk through it and through nothing else. It has two implementations with the
//! same observable behaviour, held to one shared test script (`tests/transport_*.rs`):
//!
//! - [`NatsTransport`]: core NATS through an `async_nats::Client` (production);
//! - [`InProcessTransport`]: an in-process bus with the same subject, wildcard, queue-group,
//!   request/reply and size rules (the embedded default; the README's main job needs no server).
//!
//! The semantics are core NATS's: at-most-once delivery, no persistence, messages to a subject
//! with no subscriber are dropped, a request to a subject nobody serves fails fast with
//! [`TransportError::NoResponders`], and a subscriber that falls behind loses messages rather
//! than growing a queue without bound. Durable state lives in the event store
//! (`cim-jetstream`), not here.
//!
//! ```
//! use bytes::Bytes;
//! use futures::StreamExt;
//! use cim_agent_coordination::transport::{InProcessTransport, Transport, TransportError};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), TransportError> {
//! let bus = InProcessTransport::default();
//! let mut sub = bus.subscribe("cim.agents.*.heartbeat").await?;
//! bus.publish("cim.agents.sage.heartbeat", Bytes::from_static(b"{}")).await?;
//! let message = sub.next().await;
//! assert_eq!(message.map(|m| m.subject).as_deref(), Some("cim.agents.sage.heartbeat"));
//! # Ok(())
//! # }
//! ```

mod error;
mod in_process;
pub mod kv;
mod nats;
pub mod work_queue;

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

pub use error::TransportError;
pub use in_process::InProcessTransport;
pub use nats::NatsTransport;

/// The default largest payload, in bytes: the `nats-server` default `max_payload` (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// One message as a subscriber receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The subject it was published to (never a wildcard).
    pub subject: String,
    /// Where to send an answer, for requests.
    pub reply: Option<String>,
    /// The bytes as published.
    pub payload: Bytes,
}

/// A live subscription: a stream of messages that ends when the transport closes. Dropping it
/// unsubscribes.
pub type Subscription = Pin<Box<dyn Stream<Item = Envelope> + Send>>;

/// Publish, subscribe and request/reply with core NATS semantics.
///
/// Subjects and filters follow [`crate::subject`]'s rules and are checked before anything is
/// sent; payloads larger than [`Transport::max_payload`] are refused. Implementations are cheap
/// to clone (a handle to one connection or one bus).
#[async_trait]
pub trait Transport: Clone + Send + Sync + 'static {
    /// Sends `payload` to every subscription whose filter matches `subject`.
    ///
    /// # Errors
    /// [`TransportError::InvalidSubject`], [`TransportError::PayloadTooLarge`], or
    /// [`TransportError::Publish`] when the connection refuses it.
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), TransportError>;

    /// Like [`Transport::publish`], with a reply subject the receiver answers on.
    ///
    /// # Errors
    /// As [`Transport::publish`]; the reply subject is validated too.
    async fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        payload: Bytes,
    ) -> Result<(), TransportError>;

    /// Subscribes to `filter` (wildcards `*` and `>` allowed).
    ///
    /// # Errors
    /// [`TransportError::InvalidSubject`] or [`TransportError::Subscribe`].
    async fn subscribe(&self, filter: &str) -> Result<Subscription, TransportError>;

    /// Subscribes as one member of queue group `group`: each message matching `filter` goes to
    /// one member of the group (NATS queue groups), so several coordinators share the work.
    ///
    /// # Errors
    /// As [`Transport::subscribe`]; `group` must be a valid token.
    async fn queue_subscribe(
        &self,
        filter: &str,
        group: &str,
    ) -> Result<Subscription, TransportError>;

    /// Sends `payload` to `subject` and waits up to `timeout` for the first answer.
    ///
    /// # Errors
    /// [`TransportError::NoResponders`] when nobody subscribes to `subject`,
    /// [`TransportError::TimedOut`] when nobody answers in time, and the errors of `publish`.
    async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Envelope, TransportError>;

    /// Waits until everything published so far has left this client (a no-op in process).
    ///
    /// # Errors
    /// [`TransportError::Publish`] when the connection is gone.
    async fn flush(&self) -> Result<(), TransportError>;

    /// A fresh, unique reply subject (`_INBOX.…`).
    fn new_inbox(&self) -> String;

    /// The largest payload this transport carries, in bytes.
    fn max_payload(&self) -> usize;
}

/// Checks a payload against `max`.
pub(crate) fn check_size(subject: &str, payload: &Bytes, max: usize) -> Result<(), TransportError> {
    if payload.len() > max {
        return Err(TransportError::PayloadTooLarge {
            subject: subject.to_owned(),
            size: payload.len(),
            max,
        });
    }
    Ok(())
}
