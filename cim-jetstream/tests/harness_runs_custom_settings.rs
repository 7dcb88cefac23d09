//! `NatsServer::builder()` runs nats-server with settings of the test's own (a JSON object, as
//! NixOS renders `services.nats.settings`), on the harness's own ports: the settings take effect,
//! keys the harness owns are left out, and anything but an object is refused.

use cim_jetstream::testing::{HarnessError, NatsServer};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn settings_take_effect_and_the_harness_keeps_its_ports() -> TestResult {
    let settings = serde_json::json!({
        // Would clash with the harness's loopback port if it were written.
        "port": 1,
        "authorization": { "users": [{ "user": "alice", "password": "wonderland" }] },
    });
    let server = NatsServer::builder().settings(&settings)?.start().await?;
    assert!(!server.url().ends_with(":1"));
    let anonymous = async_nats::connect(server.url()).await;
    assert!(anonymous.is_err(), "the authorization was not applied");
    let alice =
        async_nats::ConnectOptions::with_user_and_password("alice".into(), "wonderland".into())
            .connect(server.url())
            .await?;
    alice.flush().await?;
    Ok(())
}

#[test]
fn settings_must_be_an_object() {
    let refused = NatsServer::builder().settings(&serde_json::json!(["authorization"]));
    assert!(matches!(refused, Err(HarnessError::Config { .. })));
}
