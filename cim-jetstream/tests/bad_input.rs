//! Bad ids, corrupt messages, a wrong stream and an absent server give clear errors, not
//! panics, wildcards or hangs.

mod common;

use std::time::Duration;

use bytes::Bytes;
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{
    JetStreamConfig, JetStreamError, JetStreamEventRepository, JetStreamEventStore,
};
use common::{Ledger, LedgerCommand, TestResult, added_events, server_and_repo};
use cqrs_es::persist::{PersistedEventRepository, PersistenceError};
use cqrs_es::{AggregateError, CqrsFramework, EventStore};

/// A guard against hangs, far above the configured bounds; not a timing assertion.
const HANG_GUARD: Duration = Duration::from_secs(20);

#[tokio::test]
async fn invalid_aggregate_ids_are_rejected_naming_the_id() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    repo.append(&added_events("victim", 1, &[1])).await?;
    for bad in ["", "a.b", "*", ">", "vic*", "with space", "tab\there"] {
        let read = repo.get_events::<Ledger>(bad).await;
        let Err(PersistenceError::UnknownError(err)) = read else {
            panic!("{bad:?} was not rejected: {read:?}");
        };
        assert!(
            err.to_string()
                .contains(&format!("invalid aggregate id {bad:?}")),
            "{err}"
        );
        let write = repo.append(&added_events(bad, 1, &[1])).await;
        assert!(
            matches!(write, Err(JetStreamError::InvalidName { ref value, .. }) if value == bad),
            "{write:?}"
        );
        assert!(repo.stream_events::<Ledger>(bad).await.is_err());
        assert!(repo.get_snapshot::<Ledger>(bad).await.is_err());
    }
    let cqrs = CqrsFramework::new(
        JetStreamEventStore::<Ledger>::new_event_store(repo.clone()),
        vec![],
        (),
    );
    let result = cqrs.execute("a.>", LedgerCommand::Add(vec![1])).await;
    assert!(
        matches!(result, Err(AggregateError::UnexpectedError(_))),
        "{result:?}"
    );
    // Nothing leaked into or out of the victim's subject.
    assert_eq!(repo.get_events::<Ledger>("victim").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn undecodable_messages_give_a_deserialization_error_naming_the_message() -> TestResult {
    let (_server, repo) = server_and_repo().await?;
    repo.jetstream()
        .publish(
            "cim.events.ledger.corrupt",
            Bytes::from_static(b"{not json"),
        )
        .await?
        .await?;
    let result = repo.get_events::<Ledger>("corrupt").await;
    let Err(PersistenceError::DeserializationError(err)) = result else {
        panic!("expected a DeserializationError, got {result:?}");
    };
    let text = err.to_string();
    assert!(text.contains("stream sequence 1"), "{text}");
    assert!(text.contains("cim.events.ledger.corrupt"), "{text}");

    // A well-formed commit whose event does not fit the aggregate's event type.
    let mut wrong = added_events("wrong-shape", 1, &[1]);
    wrong[0].payload = serde_json::json!({"type": "Exploded", "force": 9});
    repo.append(&wrong).await?;
    let store = JetStreamEventStore::<Ledger>::new_event_store(repo.clone());
    let loaded = store.load_aggregate("wrong-shape").await;
    assert!(
        matches!(loaded, Err(AggregateError::DeserializationError(_))),
        "{:?}",
        loaded.err()
    );
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_is_a_quick_connection_error() -> TestResult {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = JetStreamConfig {
        connect_timeout: Duration::from_millis(500),
        ..JetStreamConfig::default()
    };
    let url = format!("nats://127.0.0.1:{port}");
    let result =
        tokio::time::timeout(HANG_GUARD, JetStreamEventRepository::connect(&url, config)).await?;
    let Err(err) = result else {
        panic!("connected to nothing");
    };
    assert!(
        matches!(
            err,
            JetStreamError::Connect { .. } | JetStreamError::Timeout { .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");
    let persistence: PersistenceError = err.into();
    assert!(matches!(persistence, PersistenceError::ConnectionError(_)));
    Ok(())
}

#[tokio::test]
async fn operations_on_a_dead_server_fail_within_their_bounds() -> TestResult {
    let mut server = NatsServer::start().await?;
    let config = JetStreamConfig {
        operation_timeout: Duration::from_millis(500),
        ..JetStreamConfig::default()
    };
    let repo = JetStreamEventRepository::connect(&server.url(), config).await?;
    repo.append(&added_events("orphan", 1, &[1])).await?;
    server.kill();
    let read = tokio::time::timeout(HANG_GUARD, repo.get_events::<Ledger>("orphan")).await?;
    assert!(read.is_err(), "read from a dead server: {read:?}");
    let write =
        tokio::time::timeout(HANG_GUARD, repo.append(&added_events("orphan", 2, &[2]))).await?;
    assert!(write.is_err(), "write to a dead server: {write:?}");
    Ok(())
}

#[tokio::test]
async fn an_existing_stream_is_verified_and_never_recreated() -> TestResult {
    let (server, repo) = server_and_repo().await?;
    repo.append(&added_events("kept", 1, &[1, 2])).await?;
    // A second repository on the same stream sees the same events.
    let again =
        JetStreamEventRepository::connect(&server.url(), JetStreamConfig::default()).await?;
    assert_eq!(again.get_events::<Ledger>("kept").await?.len(), 2);

    // A stream under the same name that does not carry our subjects is reported, untouched.
    let client = server.client().await?;
    let js = async_nats::jetstream::new(client.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "OTHER".to_string(),
        subjects: vec!["other.>".to_string()],
        ..Default::default()
    })
    .await?;
    let config = JetStreamConfig {
        stream_name: "OTHER".to_string(),
        subject_prefix: "mine".to_string(),
        ..JetStreamConfig::default()
    };
    let result = JetStreamEventRepository::new(client, config).await;
    let Err(JetStreamError::StreamMismatch { stream, field, .. }) = result else {
        panic!("expected StreamMismatch, got {:?}", result.err());
    };
    assert_eq!((stream.as_str(), field), ("OTHER", "subjects"));
    assert!(js.get_stream("OTHER").await.is_ok());
    Ok(())
}

#[tokio::test]
async fn invalid_configuration_is_rejected_before_connecting() -> TestResult {
    for (config, field) in [
        (
            JetStreamConfig {
                subject_prefix: "cim.*".to_string(),
                ..JetStreamConfig::default()
            },
            "subject prefix",
        ),
        (
            JetStreamConfig {
                stream_name: "has.dot".to_string(),
                ..JetStreamConfig::default()
            },
            "stream name",
        ),
        (
            JetStreamConfig {
                replicas: 0,
                ..JetStreamConfig::default()
            },
            "replicas",
        ),
    ] {
        let err = config
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(field), "{err}");
    }
    Ok(())
}
