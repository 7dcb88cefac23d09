//! `cim-leaf agents run` (what the NixOS module's `ExecStart` starts) against a real
//! `nats-server`: it registers, heartbeats at the configured interval, and on SIGTERM
//! deregisters and exits 0.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use cim_domain_agent::announce::{AgentDeregistration, AgentHeartbeat, AgentRegistration};
use cim_jetstream::testing::NatsServer;
use futures::StreamExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(15);

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("cim-domain-agent/tests/fixtures")
        .join(path)
}

async fn next(
    messages: &mut async_nats::Subscriber,
) -> Result<async_nats::Message, Box<dyn std::error::Error>> {
    let message = tokio::time::timeout(WAIT, messages.next()).await?;
    Ok(message.ok_or("subscription closed")?)
}

#[tokio::test]
async fn runtime_registers_heartbeats_and_deregisters_on_sigterm() -> TestResult {
    let server = NatsServer::start().await?;
    let client = server.client().await?;
    let mut messages = client.subscribe("cim.agents.sage.>").await?;
    client.flush().await?;
    let data = tempfile::tempdir()?;
    let data_dir = data.path().join("sage");

    let mut agent = tokio::process::Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .args(["agents", "run", "--agent-file"])
        .arg(fixture("agents/sage-nested.md"))
        .args([
            "--nats-url",
            &server.url(),
            "--ollama-url",
            "http://127.0.0.1:11434",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--agent-id", "0190f1b2-0000-7000-8000-000000000001"])
        .args(["--heartbeat-secs", "1"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;

    let first = next(&mut messages).await?;
    assert_eq!(first.subject.as_str(), "cim.agents.sage.registered");
    let registration: AgentRegistration = serde_json::from_slice(&first.payload)?;
    assert_eq!(registration.name.as_str(), "sage");
    assert_eq!(
        registration.agent_id.to_string(),
        "0190f1b2-0000-7000-8000-000000000001"
    );
    assert_eq!(registration.model.as_deref(), Some("llama3.1:70b"));
    assert_eq!(
        registration.model_endpoint.as_deref(),
        Some("http://127.0.0.1:11434")
    );
    assert_eq!(registration.heartbeat_secs, 1);
    assert!(data_dir.is_dir(), "the data directory is created");

    for expected in 1..=2 {
        let message = next(&mut messages).await?;
        assert_eq!(message.subject.as_str(), "cim.agents.sage.heartbeat");
        let heartbeat: AgentHeartbeat = serde_json::from_slice(&message.payload)?;
        assert_eq!(heartbeat.sequence, expected);
        assert_eq!(heartbeat.agent_id, registration.agent_id);
    }

    let pid = agent.id().ok_or("agent already exited")?;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(killed.success());

    let goodbye = loop {
        let message = next(&mut messages).await?;
        if message.subject.as_str() == "cim.agents.sage.deregistered" {
            break serde_json::from_slice::<AgentDeregistration>(&message.payload)?;
        }
        assert_eq!(message.subject.as_str(), "cim.agents.sage.heartbeat");
    };
    assert_eq!(goodbye.reason, "SIGTERM");
    let status = tokio::time::timeout(WAIT, agent.wait()).await??;
    assert!(status.success(), "runtime exited with {status}");
    Ok(())
}

#[tokio::test]
async fn runtime_refuses_an_invalid_agent_file_before_connecting() -> TestResult {
    // No server: the file is rejected first, so the URL is never dialled.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .args(["agents", "run", "--agent-file"])
        .arg(fixture("mixed/beta.md"))
        .args(["--nats-url", "nats://127.0.0.1:1"])
        .output()
        .await?;
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr)?;
    assert!(
        stderr.contains("beta.md:7:5: model.parameters.temperature"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn runtime_takes_its_id_from_cim_agent_id_as_kubernetes_passes_it() -> TestResult {
    let server = NatsServer::start().await?;
    let client = server.client().await?;
    let mut messages = client.subscribe("cim.agents.sage.registered").await?;
    client.flush().await?;
    let data = tempfile::tempdir()?;

    let _agent = tokio::process::Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .args(["agents", "run", "--agent-file"])
        .arg(fixture("agents/sage-nested.md"))
        .args(["--nats-url", &server.url(), "--data-dir"])
        .arg(data.path())
        .env("CIM_AGENT_ID", "0190f1b2-0000-7000-8000-000000000002")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;

    let registration: AgentRegistration =
        serde_json::from_slice(&next(&mut messages).await?.payload)?;
    assert_eq!(
        registration.agent_id.to_string(),
        "0190f1b2-0000-7000-8000-000000000002"
    );
    Ok(())
}
