//! Production: a JetStream stream with work-queue retention and durable pull consumers.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, stream};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use super::{Acker, ConsumerConfig, Deliveries, Delivery, Published, WorkQueue, WorkQueueError};
use crate::subject::{validate_filter, validate_subject, validate_token};

/// A work queue on one JetStream stream. Clones share the connection.
#[derive(Clone)]
pub struct JetStreamWorkQueue {
    context: jetstream::Context,
    stream: stream::Stream,
}

fn backend(operation: &'static str, error: impl std::fmt::Display) -> WorkQueueError {
    WorkQueueError::Backend {
        operation,
        message: error.to_string(),
    }
}

impl JetStreamWorkQueue {
    /// Opens (creating when missing) stream `name` on `subjects` with work-queue retention, file
    /// storage and a duplicate window of `duplicate_window`.
    ///
    /// # Errors
    /// [`WorkQueueError::Backend`] when the server refuses the stream.
    pub async fn open(
        client: async_nats::Client,
        name: &str,
        subjects: Vec<String>,
        duplicate_window: Duration,
    ) -> Result<Self, WorkQueueError> {
        let context = jetstream::new(client);
        let stream = context
            .get_or_create_stream(stream::Config {
                name: name.to_owned(),
                subjects,
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(|e| backend("open stream", e))?;
        Ok(Self { context, stream })
    }
}

struct JetStreamAcker {
    acker: jetstream::message::Acker,
}

#[async_trait]
impl Acker for JetStreamAcker {
    async fn ack(&self) -> Result<(), WorkQueueError> {
        self.acker.double_ack().await.map_err(|e| backend("ack", e))
    }

    async fn in_progress(&self) -> Result<(), WorkQueueError> {
        self.acker
            .ack_with(AckKind::Progress)
            .await
            .map_err(|e| backend("in progress", e))
    }

    async fn nak(&self) -> Result<(), WorkQueueError> {
        self.acker
            .ack_with(AckKind::Nak(None))
            .await
            .map_err(|e| backend("nak", e))
    }
}

#[async_trait]
impl WorkQueue for JetStreamWorkQueue {
    async fn publish(
        &self,
        subject: &str,
        message_id: &str,
        payload: Bytes,
    ) -> Result<Published, WorkQueueError> {
        validate_subject(subject)?;
        let mut message = jetstream::message::PublishMessage::build().payload(payload);
        if !message_id.is_empty() {
            message = message.message_id(message_id);
        }
        let ack = self
            .context
            .send_publish(subject.to_owned(), message)
            .await
            .map_err(|e| backend("publish", e))?
            .await
            .map_err(|e| backend("publish", e))?;
        Ok(Published {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    async fn consume(
        &self,
        durable: &str,
        filter: &str,
        config: ConsumerConfig,
    ) -> Result<Deliveries, WorkQueueError> {
        validate_token(durable)?;
        validate_filter(filter)?;
        let consumer: consumer::PullConsumer = self
            .stream
            .get_or_create_consumer(
                durable,
                consumer::pull::Config {
                    durable_name: Some(durable.to_owned()),
                    filter_subject: filter.to_owned(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    max_deliver: i64::from(config.max_deliver.max(1)),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| backend("consume", e))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| backend("consume", e))?;
        Ok(Box::pin(messages.filter_map(|item| async move {
            let message = match item {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(%error, "work queue: a pull failed; the consumer retries");
                    return None;
                }
            };
            let (sequence, delivered) = match message.info() {
                Ok(info) => (
                    info.stream_sequence,
                    u32::try_from(info.delivered).unwrap_or(u32::MAX),
                ),
                Err(error) => {
                    tracing::warn!(%error, "work queue: a message without JetStream metadata");
                    return None;
                }
            };
            let (message, acker) = message.split();
            Some(Delivery {
                subject: message.subject.to_string(),
                payload: message.payload,
                sequence,
                delivered,
                acker: Arc::new(JetStreamAcker { acker }),
            })
        })))
    }
}
