//! `cim-leaf deploy --remote-agents` with every agent of the fleet running as its own
//! `cim-leaf agents run` process on a real nats-server: the runtimes fetch the proposal's
//! graph, review it, vote, and their knowledge replicas show the deployment; a graph they
//! object to is rejected with their reason; a missing agent is named. Also: the runtime's
//! shutdown wins while the server is gone, and it registers again after a reconnect.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use cim_domain_agent::announce::AgentRegistration;
use cim_jetstream::testing::NatsServer;
use futures::StreamExt as _;
use tokio::process::{Child, Command};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const AGENTS: [&str; 5] = [
    "db-expert",
    "nats-expert",
    "network-expert",
    "nix-expert",
    "sage",
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Starts `cim-leaf agents run` for `agent`, logging at info into `log`.
fn start_agent(url: &str, agent: &str, dir: &Path) -> Result<Child, std::io::Error> {
    let log = std::fs::File::create(dir.join(format!("{agent}.log")))?;
    Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .env("CIM_LEAF_AGENT_FLAKE", "github:example/cim-leaf")
        .args(["agents", "run", "--agent-file"])
        .arg(repo(&format!("examples/agents/{agent}.md")))
        .args(["--nats-url", url, "--heartbeat-secs", "1", "--data-dir"])
        .arg(dir.join(agent))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
}

async fn deploy(
    url: &str,
    graph: &str,
    out: &Path,
    wait_secs: &str,
) -> Result<(i32, serde_json::Value), Box<dyn std::error::Error>> {
    let output = Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .env("CIM_LEAF_AGENT_FLAKE", "github:example/cim-leaf")
        .arg("deploy")
        .arg(repo(graph))
        .arg("--out")
        .arg(out)
        .args(["--nats", url, "--remote-agents", wait_secs, "--json"])
        .output()
        .await?;
    let report = serde_json::from_slice(&output.stdout).map_err(|error| {
        format!(
            "{error}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    Ok((output.status.code().unwrap_or(-1), report))
}

fn log_of(dir: &Path, agent: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{agent}.log"))).unwrap_or_default()
}

#[tokio::test]
async fn agent_runtimes_review_vote_and_see_the_deployment() -> TestResult {
    let server = NatsServer::start().await?;
    let dir = tempfile::tempdir()?;
    let mut agents = Vec::new();
    for agent in AGENTS {
        agents.push(start_agent(&server.url(), agent, dir.path())?);
    }

    let out = dir.path().join("out");
    let (status, report) = deploy(&server.url(), "examples/graphs/fleet.yaml", &out, "60").await?;
    assert_eq!(status, 0, "{report:#}");
    assert_eq!(report["outcome"], "Passed", "{report:#}");
    let votes = report["votes"].as_array().ok_or("no votes")?;
    assert_eq!(votes.len(), AGENTS.len(), "{report:#}");
    for vote in votes {
        assert_eq!(vote["choice"], "For", "{vote}");
        assert_eq!(vote["counted"], true, "{vote}");
    }
    assert!(out.join("flake.nix").is_file());
    assert_eq!(report["replicas_showing_deployment"], AGENTS.len());
    // The ballots and the replicas are the runtimes' own: each logged its review and vote,
    // and saw the deployment's facts arrive in its replica.
    for agent in AGENTS {
        let log = log_of(dir.path(), agent);
        assert!(log.contains("reviewed"), "{agent}: {log}");
        assert!(log.contains("voted"), "{agent}: {log}");
        assert!(
            log.contains("deployment facts in the replica"),
            "{agent}: {log}"
        );
    }

    // A graph the NATS expert objects to: rejected by its vote, with its reason, nothing written.
    let rejected_out = dir.path().join("rejected");
    let (status, report) = deploy(
        &server.url(),
        "examples/graphs/nats-pair.yaml",
        &rejected_out,
        "60",
    )
    .await?;
    assert_eq!(status, 2, "{report:#}");
    assert_eq!(report["outcome"], "Rejected", "{report:#}");
    let nats_expert = report["votes"]
        .as_array()
        .and_then(|votes| votes.iter().find(|v| v["agent"] == "nats-expert"))
        .ok_or("no vote of nats-expert")?;
    assert_eq!(nats_expert["choice"], "Against", "{nats_expert}");
    assert!(
        nats_expert["reasons"]
            .to_string()
            .contains("NATS cluster of 2 members"),
        "{nats_expert}"
    );
    assert!(!rejected_out.exists(), "a rejected graph writes nothing");
    drop(agents);
    Ok(())
}

#[tokio::test]
async fn deploy_names_the_agents_that_are_not_running() -> TestResult {
    let server = NatsServer::start().await?;
    let dir = tempfile::tempdir()?;
    let mut agents = Vec::new();
    for agent in AGENTS.iter().filter(|a| **a != "network-expert") {
        agents.push(start_agent(&server.url(), agent, dir.path())?);
    }
    let out = dir.path().join("out");
    let (status, report) = deploy(&server.url(), "examples/graphs/fleet.yaml", &out, "3").await?;
    assert_ne!(status, 0, "{report:#}");
    let error = report["message"].to_string();
    assert!(error.contains("network-expert"), "{report:#}");
    assert!(!error.contains("nix-expert"), "{report:#}");
    assert!(!out.exists());
    drop(agents);
    Ok(())
}

async fn next_registration(
    messages: &mut async_nats::Subscriber,
) -> Result<AgentRegistration, Box<dyn std::error::Error>> {
    let message = tokio::time::timeout(Duration::from_secs(20), messages.next())
        .await?
        .ok_or("subscription closed")?;
    Ok(serde_json::from_slice(&message.payload)?)
}

#[tokio::test]
async fn runtime_registers_again_after_a_reconnect_and_stops_while_the_server_is_gone() -> TestResult
{
    let mut server = NatsServer::start().await?;
    let dir = tempfile::tempdir()?;
    let mut agent = start_agent(&server.url(), "sage", dir.path())?;
    {
        let client = server.client().await?;
        let mut registrations = client.subscribe("cim.agents.sage.registered").await?;
        client.flush().await?;
        // Answered by a roll call even when the first registration was missed.
        let registration = tokio::select! {
            r = next_registration(&mut registrations) => r?,
            _ = async {
                loop {
                    let _ = client.publish("cim.agents.roll-call", "".into()).await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            } => unreachable!(),
        };
        assert_eq!(registration.name.as_str(), "sage");
    }

    // The server restarts: the runtime registers again on its own (its log says so; the
    // registration itself can land before a new subscriber is in place, so it is checked via
    // the log, then the agent is shown to be live again by a roll call).
    server.kill();
    server.restart().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !log_of(dir.path(), "sage").contains("registering again") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no re-registration after the restart: {}",
            log_of(dir.path(), "sage")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = server.client().await?;
    let mut registrations = client.subscribe("cim.agents.sage.registered").await?;
    client.flush().await?;
    let again = tokio::select! {
        r = next_registration(&mut registrations) => r?,
        _ = async {
            loop {
                let _ = client.publish("cim.agents.roll-call", "".into()).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        } => unreachable!(),
    };
    assert_eq!(again.name.as_str(), "sage");

    // The server goes away for good; SIGTERM still ends the runtime promptly, with status 0.
    server.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = agent.id().ok_or("agent already exited")?;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), agent.wait()).await??;
    assert!(status.success(), "runtime exited with {status}");
    let log = log_of(dir.path(), "sage");
    assert!(
        log.contains("deregistration was not confirmed"),
        "the log says the goodbye did not reach the server: {log}"
    );
    Ok(())
}
