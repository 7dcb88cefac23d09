//! `cim-leaf serve` on a real nats-server: each command changes the graph and the agents approve
//! it before anything is written; bad requests get a typed error with a code and the field; a
//! retried request gets the same reply; of two concurrent changes to one version only one
//! lands; SIGTERM drains.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use cim_jetstream::testing::NatsServer;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The example fleet and its agents, copied, with one more agent definition for `gpu-agent`.
fn workspace(dir: &Path) -> Result<PathBuf, std::io::Error> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    std::fs::create_dir_all(dir.join("graphs"))?;
    std::fs::create_dir_all(dir.join("agents"))?;
    std::fs::copy(
        root.join("graphs/fleet.yaml"),
        dir.join("graphs/fleet.yaml"),
    )?;
    for entry in std::fs::read_dir(root.join("agents"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), dir.join("agents").join(entry.file_name()))?;
    }
    std::fs::write(
        dir.join("agents/llm-runner.md"),
        "---\nname: llm-runner\ndescription: Serves a large model.\nversion: 1.0.0\n\
         capabilities: [inference]\n---\nYou serve the model.\n",
    )?;
    Ok(dir.join("graphs/fleet.yaml"))
}

fn start_service(url: &str, graph: &Path, out: &Path) -> Result<Child, std::io::Error> {
    Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .env("CIM_LEAF_AGENT_FLAKE", "github:example/cim-leaf")
        .args(["serve", "--nats", url, "--graph"])
        .arg(graph)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
}

async fn request(
    client: &async_nats::Client,
    command: &str,
    body: impl Into<bytes::Bytes>,
) -> Result<Value, Box<dyn std::error::Error>> {
    let reply = tokio::time::timeout(
        TIMEOUT,
        client.request(format!("cim.deployment.{command}"), body.into()),
    )
    .await??;
    Ok(serde_json::from_slice(&reply.payload)?)
}

async fn json_request(
    client: &async_nats::Client,
    command: &str,
    body: &Value,
) -> Result<Value, Box<dyn std::error::Error>> {
    request(client, command, serde_json::to_vec(body)?).await
}

/// Waits until the service answers `$SRV.PING`.
async fn await_service(client: &async_nats::Client) -> TestResult {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Ok(Ok(reply)) = tokio::time::timeout(
            Duration::from_millis(500),
            client.request("$SRV.PING.cim-deployment", "".into()),
        )
        .await
        {
            let ping: Value = serde_json::from_slice(&reply.payload)?;
            assert_eq!(ping["name"], "cim-deployment");
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err("the service never answered $SRV.PING".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn code(reply: &Value) -> &str {
    reply["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn each_command_is_reviewed_and_bad_requests_get_typed_errors() -> TestResult {
    let server = NatsServer::start().await?;
    let dir = tempfile::tempdir()?;
    let graph = workspace(dir.path())?;
    let out = dir.path().join("out");
    let _service = start_service(&server.url(), &graph, &out)?;
    let client = server.client().await?;
    await_service(&client).await?;

    // deploy: a new node, approved by the agents, written.
    let add = json!({
        "request_id": "add-worker",
        "node": { "name": "worker", "type": "service", "host": "web-2", "package": "hello" }
    });
    let reply = json_request(&client, "deploy", &add).await?;
    assert_eq!(reply["status"], "approved", "{reply:#}");
    assert_eq!(reply["request_id"], "add-worker");
    let host = std::fs::read_to_string(out.join("hosts/web-2.nix"))?;
    assert!(host.contains("worker"), "{host}");
    // The retry gets the very same reply; nothing runs again.
    let again = json_request(&client, "deploy", &add).await?;
    assert_eq!(again, reply);
    // The same id with another body is a conflict.
    let mut other = add.clone();
    other["node"]["name"] = json!("worker-2");
    let reply = json_request(&client, "deploy", &other).await?;
    assert_eq!(code(&reply), "conflict", "{reply:#}");
    assert_eq!(reply["error"]["field"], "request_id");
    // Deploying it twice (new id): it exists.
    let mut twice = add.clone();
    twice["request_id"] = json!("add-worker-again");
    let reply = json_request(&client, "deploy", &twice).await?;
    assert_eq!(code(&reply), "already_exists", "{reply:#}");

    // update: its configuration changes.
    let update = json!({
        "request_id": "update-worker",
        "node": { "name": "worker", "type": "service", "host": "web-2", "package": "hello",
                  "environment": { "MODE": "batch" } }
    });
    let reply = json_request(&client, "update", &update).await?;
    assert_eq!(reply["status"], "approved", "{reply:#}");
    assert!(std::fs::read_to_string(out.join("hosts/web-2.nix"))?.contains("batch"));
    let missing = json!({
        "request_id": "update-ghost",
        "node": { "name": "ghost", "type": "service", "host": "web-2", "package": "hello" }
    });
    assert_eq!(
        code(&json_request(&client, "update", &missing).await?),
        "not_found"
    );

    // scale: a second instance on another host, in the load balancer's upstream.
    let scale = json!({ "request_id": "scale-a", "service": "orders-a", "replicas": 2 });
    let reply = json_request(&client, "scale", &scale).await?;
    assert_eq!(reply["status"], "approved", "{reply:#}");
    let lb = std::fs::read_to_string(out.join("hosts/web-1.nix"))?;
    assert_eq!(
        lb.matches(":8080").count(),
        3,
        "three upstream servers: {lb}"
    );
    let too_many = json!({ "request_id": "scale-x", "service": "orders-a", "replicas": 99 });
    let reply = json_request(&client, "scale", &too_many).await?;
    assert_eq!(code(&reply), "invalid_field");
    assert_eq!(reply["error"]["field"], "replicas");

    // gpu-agent: sized by its model's memory (60 GiB on 48 GiB GPUs: two), but gpu-1's two
    // GPUs are taken by sage and db-expert, so the graph is invalid and nothing changes.
    let gpu_agent = json!({
        "request_id": "llm", "name": "llm-runner", "host": "gpu-1",
        "definition": "../agents/llm-runner.md",
        "model": { "name": "llama3.1:70b", "vram_gib": 60, "batch_size": 8, "precision": "fp16" }
    });
    let reply = json_request(&client, "gpu-agent", &gpu_agent).await?;
    assert_eq!(code(&reply), "invalid_graph", "{reply:#}");
    assert!(
        reply["error"]["message"].to_string().contains("gpu-1"),
        "{reply:#}"
    );
    let small = json!({
        "request_id": "llm-big", "name": "llm-runner", "host": "gpu-1",
        "definition": "../agents/llm-runner.md",
        "model": { "name": "llama3.1:70b", "vram_gib": 200, "batch_size": 8, "precision": "fp16" }
    });
    let reply = json_request(&client, "gpu-agent", &small).await?;
    assert_eq!(code(&reply), "invalid_field", "{reply:#}");
    assert_eq!(reply["error"]["field"], "model.vram_gib");

    // Malformed, missing and unknown fields.
    assert_eq!(
        code(&request(&client, "deploy", "{not json").await?),
        "malformed_json"
    );
    assert_eq!(
        code(&request(&client, "deploy", "[1]").await?),
        "malformed_json"
    );
    let reply = json_request(
        &client,
        "scale",
        &json!({ "request_id": "s", "service": "orders-a" }),
    )
    .await?;
    assert_eq!(code(&reply), "missing_field");
    assert_eq!(reply["error"]["field"], "replicas");
    let reply = json_request(
        &client,
        "scale",
        &json!({ "request_id": "s2", "service": "orders-a", "replicas": 1, "colour": "red" }),
    )
    .await?;
    assert_eq!(code(&reply), "unknown_field");
    assert_eq!(reply["error"]["field"], "colour");
    let reply = json_request(
        &client,
        "gpu-agent",
        &json!({ "request_id": "p", "name": "x", "host": "gpu-1", "definition": "d.md",
                 "model": { "name": "m", "vram_gib": 1, "batch_size": 1, "precision": "fp3" } }),
    )
    .await?;
    assert_eq!(code(&reply), "invalid_field", "{reply:#}");

    // Names that would break a subject or a Nix attribute never reach the graph.
    for (i, name) in ["a.b", "x y", "${pwn}", "a\"b"].into_iter().enumerate() {
        let bad = json!({
            "request_id": format!("bad-{i}"),
            "node": { "name": name, "type": "service", "host": "web-2", "package": "hello" }
        });
        let reply = json_request(&client, "deploy", &bad).await?;
        assert_eq!(code(&reply), "invalid_graph", "{name}: {reply:#}");
    }
    assert!(!std::fs::read_to_string(out.join("hosts/web-2.nix"))?.contains("pwn"));
    Ok(())
}

#[tokio::test]
async fn two_concurrent_changes_to_one_version_cannot_both_land_and_sigterm_drains() -> TestResult {
    let server = NatsServer::start().await?;
    let dir = tempfile::tempdir()?;
    let graph = workspace(dir.path())?;
    let out = dir.path().join("out");
    let mut service = start_service(&server.url(), &graph, &out)?;
    let client = server.client().await?;
    await_service(&client).await?;

    // Learn the current version from a first change.
    let first = json!({
        "request_id": "first",
        "node": { "name": "worker", "type": "service", "host": "web-2", "package": "hello" }
    });
    let reply = json_request(&client, "deploy", &first).await?;
    assert_eq!(reply["status"], "approved", "{reply:#}");
    let version = reply["graph_version"].clone();

    let change = |id: &str, name: &str| {
        json!({
            "request_id": id, "expected_version": version,
            "node": { "name": name, "type": "service", "host": "web-2", "package": "hello" }
        })
    };
    let (change_a, change_b) = (change("a", "alpha"), change("b", "beta"));
    let (a, b) = tokio::join!(
        json_request(&client, "deploy", &change_a),
        json_request(&client, "deploy", &change_b),
    );
    let (a, b) = (a?, b?);
    let statuses = [a["status"].as_str(), b["status"].as_str()];
    assert!(statuses.contains(&Some("approved")), "{a:#} {b:#}");
    let loser = if a["status"] == "approved" { &b } else { &a };
    assert_eq!(code(loser), "conflict", "{loser:#}");
    assert_eq!(loser["error"]["field"], "expected_version");

    // A request in flight when SIGTERM arrives is still answered; then the service exits 0.
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move {
            json_request(
                &client,
                "deploy",
                &json!({
                    "request_id": "last",
                    "node": { "name": "gamma", "type": "service", "host": "web-2", "package": "hello" }
                }),
            )
            .await
            .map_err(|error| error.to_string())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = service.id().ok_or("service exited")?;
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?
            .success()
    );
    let reply = in_flight.await??;
    assert_eq!(reply["status"], "approved", "{reply:#}");
    let status = tokio::time::timeout(TIMEOUT, service.wait()).await??;
    assert!(status.success(), "exited with {status}");
    Ok(())
}
