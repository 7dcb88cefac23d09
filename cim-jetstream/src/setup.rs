//! Connecting, and creating or verifying the stream and KV buckets (never deleting them).

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, ErrorCode, kv, stream};

use crate::config::JetStreamConfig;
use crate::error::JetStreamError;

/// Runs `future` within `after`, turning an overrun into a [`JetStreamError::Timeout`].
pub(crate) async fn within<F: Future>(
    after: Duration,
    operation: impl FnOnce() -> String,
    future: F,
) -> Result<F::Output, JetStreamError> {
    tokio::time::timeout(after, future)
        .await
        .map_err(|_| JetStreamError::Timeout {
            operation: operation(),
            after,
        })
}

/// Connects with bounded connection and request timeouts; an unreachable server fails fast.
pub(crate) async fn connect(
    url: &str,
    config: &JetStreamConfig,
) -> Result<async_nats::Client, JetStreamError> {
    let options = async_nats::ConnectOptions::new()
        .connection_timeout(config.connect_timeout)
        .request_timeout(Some(config.operation_timeout));
    within(
        config.connect_timeout + Duration::from_secs(1),
        || format!("connecting to NATS at {url}"),
        options.connect(url),
    )
    .await?
    .map_err(|source| JetStreamError::Connect {
        url: url.to_string(),
        source,
    })
}

/// The stream configuration this repository needs; `grouped`: it publishes atomic batches.
fn wanted_stream(config: &JetStreamConfig, grouped: bool) -> stream::Config {
    stream::Config {
        name: config.stream_name.clone(),
        subjects: vec![format!("{}.>", config.subject_prefix)],
        storage: stream::StorageType::File,
        num_replicas: config.replicas,
        duplicate_window: config.duplicate_window,
        // Batched direct gets make loads one round trip.
        allow_direct: true,
        // History is append-only: deleting a message would open a gap in an aggregate.
        deny_delete: true,
        // Group commit publishes concurrent commits as atomic batches (ADR-50).
        allow_atomic_publish: grouped,
        ..Default::default()
    }
}

/// Gets the event stream, creating it when it does not exist, and checks that it fits;
/// `grouped`: the repository publishes atomic batches, so the stream must allow them.
pub(crate) async fn ensure_stream(
    js: &jetstream::Context,
    config: &JetStreamConfig,
    grouped: bool,
) -> Result<stream::Stream, JetStreamError> {
    let name = &config.stream_name;
    let stream_error = |operation, source: crate::error::BoxError| JetStreamError::Stream {
        stream: name.clone(),
        operation,
        source,
    };
    let existing = match js.get_stream(name).await {
        Ok(stream) => Some(stream),
        Err(err) => match err.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(inner)
                if inner.error_code() == ErrorCode::STREAM_NOT_FOUND =>
            {
                None
            }
            _ => return Err(stream_error("looking up", Box::new(err))),
        },
    };
    let stream = match existing {
        Some(stream) => stream,
        None => match js.create_stream(wanted_stream(config, grouped)).await {
            Ok(stream) => stream,
            // Another repository may have created it between our lookup and create.
            Err(create_err) => js
                .get_stream(name)
                .await
                .map_err(|_| stream_error("creating", Box::new(create_err)))?,
        },
    };
    verify_stream(&stream.cached_info().config, config)?;
    if grouped && !stream.cached_info().config.allow_atomic_publish {
        return Ok(allow_atomic(js, stream, config).await);
    }
    Ok(stream)
}

/// Turns on atomic batch publish on a stream created without it (ADR-50 allows it as a
/// configuration update). On failure (an older server, no permission) the stream is used as it
/// is and every commit is published alone.
async fn allow_atomic(
    js: &jetstream::Context,
    stream: stream::Stream,
    config: &JetStreamConfig,
) -> stream::Stream {
    let mut wanted = stream.cached_info().config.clone();
    wanted.allow_atomic_publish = true;
    let updated = match js.update_stream(wanted).await {
        Ok(_) => js
            .get_stream(&config.stream_name)
            .await
            .map_err(|err| err.to_string()),
        Err(err) => Err(err.to_string()),
    };
    match updated {
        Ok(updated) => {
            tracing::info!(
                stream = %config.stream_name,
                "allowed atomic batch publish on the stream, for group commit"
            );
            updated
        }
        Err(reason) => {
            tracing::warn!(
                stream = %config.stream_name,
                %reason,
                "cannot allow atomic batch publish on the stream; commits are published alone"
            );
            stream
        }
    }
}

fn verify_stream(found: &stream::Config, config: &JetStreamConfig) -> Result<(), JetStreamError> {
    let mismatch = |field, expected: String, found: String| JetStreamError::StreamMismatch {
        stream: config.stream_name.clone(),
        field,
        expected,
        found,
    };
    let subject = format!("{}.>", config.subject_prefix);
    if !found.subjects.iter().any(|s| *s == subject || s == ">") {
        return Err(mismatch(
            "subjects",
            format!("to include {subject}"),
            format!("{:?}", found.subjects),
        ));
    }
    if found.storage != stream::StorageType::File {
        return Err(mismatch(
            "storage",
            "file".to_string(),
            format!("{:?}", found.storage),
        ));
    }
    if !found.allow_direct {
        return Err(mismatch(
            "allow_direct",
            "true".to_string(),
            "false".to_string(),
        ));
    }
    if found.num_replicas != config.replicas {
        tracing::warn!(
            stream = %config.stream_name,
            configured = config.replicas,
            found = found.num_replicas,
            "stream exists with a different replica count; using it as it is"
        );
    }
    Ok(())
}

/// Gets a KV bucket, creating it (history 1, file storage) when it does not exist.
pub(crate) async fn ensure_bucket(
    js: &jetstream::Context,
    bucket: &str,
    replicas: usize,
) -> Result<kv::Store, JetStreamError> {
    if let Ok(store) = js.get_key_value(bucket).await {
        return Ok(store);
    }
    let created = js
        .create_key_value(kv::Config {
            bucket: bucket.to_string(),
            history: 1,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        })
        .await;
    match created {
        Ok(store) => Ok(store),
        Err(create_err) => js
            .get_key_value(bucket)
            .await
            .map_err(|_| JetStreamError::Bucket {
                bucket: bucket.to_string(),
                operation: "creating",
                source: Box::new(create_err),
            }),
    }
}
