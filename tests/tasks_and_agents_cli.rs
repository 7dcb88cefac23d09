//! `cim-leaf tasks serve|submit|ls|show|cancel` and `cim-leaf agents ls` against a real
//! nats-server: an agent announces itself, a task submitted from the command line reaches it,
//! its result shows up in `tasks show`, a cancelled task reads cancelled.

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use cim_agent_coordination::subject::task_stream_subjects;
use cim_agent_coordination::tasks::{InboxItem, TaskWorker};
use cim_agent_coordination::transport::work_queue::{ConsumerConfig, JetStreamWorkQueue};
use cim_domain_agent::announce::{AgentRegistration, registered_subject};
use cim_domain_agent::{AgentId, AgentName};
use cim_jetstream::testing::NatsServer;
use futures::StreamExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn cli(args: &[&str]) -> Result<(bool, serde_json::Value), Box<dyn std::error::Error>> {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .args(args)
        .output()
        .await?;
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    Ok((output.status.success(), json))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_agents_from_the_command_line() -> TestResult {
    let server = NatsServer::start().await?;
    let url = server.url();
    let mut coordinator = tokio::process::Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .args(["tasks", "serve", "--nats-url", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut up = false;
    for _ in 0..100 {
        if cli(&["tasks", "ls", "--nats-url", &url, "--json"]).await?.0 {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the coordinator never answered");

    // An agent announces itself; `agents ls` shows it.
    let client = server.client().await?;
    let name = AgentName::new("sage")?;
    let registration = AgentRegistration {
        agent_id: AgentId::from_name(&name),
        name: name.clone(),
        display_name: "Sage".into(),
        version: serde_json::from_str("\"1.0.0\"")?,
        capabilities: vec!["plan".into()],
        model: None,
        model_endpoint: None,
        heartbeat_secs: 60,
        started_at: Utc::now(),
        host: Some("gpu-1".into()),
        max_concurrent_tasks: 1,
    };
    let mut listed = serde_json::Value::Null;
    for _ in 0..100 {
        client
            .publish(
                registered_subject(&name),
                Bytes::from(serde_json::to_vec(&registration)?),
            )
            .await?;
        client.flush().await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (ok, json) = cli(&[
            "agents",
            "ls",
            "--nats-url",
            &url,
            "--capability",
            "plan",
            "--json",
        ])
        .await?;
        if ok && json.as_array().is_some_and(|a| a.len() == 1) {
            listed = json;
            break;
        }
    }
    assert_eq!(listed[0]["name"], "sage");
    assert_eq!(listed[0]["presence"], "online");
    let (_, none) = cli(&[
        "agents",
        "ls",
        "--nats-url",
        &url,
        "--capability",
        "cook",
        "--json",
    ])
    .await?;
    assert_eq!(none, serde_json::json!([]));

    // The agent's side: its durable inbox on the coordinator's stream.
    let queue = JetStreamWorkQueue::open(
        client.clone(),
        "CIM_TASK_DELIVERY",
        task_stream_subjects(),
        Duration::from_secs(120),
    )
    .await?;
    let worker = TaskWorker::new(queue, name.clone(), ConsumerConfig::default());
    let mut inbox = Box::pin(worker.inbox().await?);

    let (ok, reply) = cli(&[
        "tasks",
        "submit",
        "--nats-url",
        &url,
        "--id",
        "plan-1",
        "--capability",
        "plan",
        "--json",
        "make a plan",
    ])
    .await?;
    assert!(ok, "{reply}");
    assert_eq!(reply["submitted"]["new"], true);
    let item = tokio::time::timeout(Duration::from_secs(10), inbox.next())
        .await?
        .ok_or("inbox ended")?;
    let InboxItem::Assigned(job) = item else {
        return Err("expected a job".into());
    };
    assert_eq!(job.assignment.payload, "make a plan");
    worker.acknowledge(&job).await?;
    worker.finish(job, Ok("the plan".into())).await?;
    let mut shown = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, json) = cli(&["tasks", "show", "--nats-url", &url, "plan-1", "--json"]).await?;
        if json["shown"]["status"]["Completed"].is_object() {
            shown = json;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown["shown"]["status"]["Completed"]["result"], "the plan");

    // A task nobody can take, cancelled.
    assert!(
        cli(&[
            "tasks",
            "submit",
            "--nats-url",
            &url,
            "--id",
            "cook-1",
            "--capability",
            "cook",
            "soup"
        ])
        .await?
        .0
    );
    let (ok, cancelled) = cli(&["tasks", "cancel", "--nats-url", &url, "cook-1", "--json"]).await?;
    assert!(ok);
    assert!(
        cancelled["cancelled"]["status"]["Cancelled"].is_object(),
        "{cancelled}"
    );
    let (_, all) = cli(&["tasks", "ls", "--nats-url", &url, "--json"]).await?;
    assert_eq!(all["listed"].as_array().map(Vec::len), Some(2));
    // Bad ids are refused before anything is sent.
    assert!(!cli(&["tasks", "show", "--nats-url", &url, "a.b"]).await?.0);
    coordinator.kill().await?;
    Ok(())
}
