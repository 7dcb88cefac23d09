//! Production: core NATS through `async_nats`.

use std::time::Duration;

use async_nats::RequestErrorKind;
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use super::{Envelope, Subscription, Transport, TransportError, check_size};
use crate::subject::{validate_filter, validate_subject, validate_token};

/// The transport over a connected `async_nats::Client`. Clones share the connection.
#[derive(Clone, Debug)]
pub struct NatsTransport {
    client: async_nats::Client,
}

impl NatsTransport {
    /// Wraps a connected client.
    pub fn new(client: async_nats::Client) -> Self {
        Self { client }
    }

    /// The underlying client, for the JetStream parts (KV, streams) that use it directly.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

fn envelope(message: async_nats::Message) -> Envelope {
    Envelope {
        subject: message.subject.to_string(),
        reply: message.reply.map(|r| r.to_string()),
        payload: message.payload,
    }
}

#[async_trait]
impl Transport for NatsTransport {
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), TransportError> {
        validate_subject(subject)?;
        check_size(subject, &payload, self.max_payload())?;
        self.client
            .publish(subject.to_owned(), payload)
            .await
            .map_err(|e| TransportError::Publish {
                subject: subject.to_owned(),
                message: e.to_string(),
            })
    }

    async fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        payload: Bytes,
    ) -> Result<(), TransportError> {
        validate_subject(subject)?;
        validate_subject(reply)?;
        check_size(subject, &payload, self.max_payload())?;
        self.client
            .publish_with_reply(subject.to_owned(), reply.to_owned(), payload)
            .await
            .map_err(|e| TransportError::Publish {
                subject: subject.to_owned(),
                message: e.to_string(),
            })
    }

    async fn subscribe(&self, filter: &str) -> Result<Subscription, TransportError> {
        validate_filter(filter)?;
        let subscriber = self
            .client
            .subscribe(filter.to_owned())
            .await
            .map_err(|e| TransportError::Subscribe {
                filter: filter.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Box::pin(subscriber.map(envelope)))
    }

    async fn queue_subscribe(
        &self,
        filter: &str,
        group: &str,
    ) -> Result<Subscription, TransportError> {
        validate_filter(filter)?;
        validate_token(group)?;
        let subscriber = self
            .client
            .queue_subscribe(filter.to_owned(), group.to_owned())
            .await
            .map_err(|e| TransportError::Subscribe {
                filter: filter.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Box::pin(subscriber.map(envelope)))
    }

    async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Envelope, TransportError> {
        validate_subject(subject)?;
        check_size(subject, &payload, self.max_payload())?;
        let request = async_nats::Request::new()
            .payload(payload)
            .timeout(Some(timeout));
        match self.client.send_request(subject.to_owned(), request).await {
            Ok(message) => Ok(envelope(message)),
            Err(e) => Err(match e.kind() {
                RequestErrorKind::NoResponders => TransportError::NoResponders {
                    subject: subject.to_owned(),
                },
                RequestErrorKind::TimedOut => TransportError::TimedOut {
                    subject: subject.to_owned(),
                    timeout_ms: timeout.as_millis(),
                },
                _ => TransportError::Request {
                    subject: subject.to_owned(),
                    message: e.to_string(),
                },
            }),
        }
    }

    async fn flush(&self) -> Result<(), TransportError> {
        self.client
            .flush()
            .await
            .map_err(|e| TransportError::Publish {
                subject: String::from("(flush)"),
                message: e.to_string(),
            })
    }

    fn new_inbox(&self) -> String {
        self.client.new_inbox()
    }

    fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }
}
