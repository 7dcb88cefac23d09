//! `cim-leaf tasks ...`: submit, list, show and cancel tasks through the task API
//! (`cim.tasks.api`, request/reply), and `serve`: the coordinator (registry, presence, task
//! dispatch) on a NATS server with JetStream.

use cim_naming::redact::redact_url;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use cim_agent_coordination::registry::{Clock, PresenceConfig, Registry, SystemClock};
use cim_agent_coordination::subject::{TASKS_API, task_stream_subjects};
use cim_agent_coordination::tasks::{
    CoordinatorConfig, Strategy, Task, TaskCoordinator, TaskId, TaskReply, TaskRequest,
    TaskService, TaskSpec,
};
use cim_agent_coordination::transport::kv::JetStreamKeyValue;
use cim_agent_coordination::transport::work_queue::{ConsumerConfig, JetStreamWorkQueue};
use cim_agent_coordination::transport::{NatsTransport, Transport};
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository, JetStreamEventStore};
use futures::StreamExt;

/// The KV bucket of the agent registry.
pub const REGISTRY_BUCKET: &str = "cim-agents";
/// The JetStream stream of task inboxes and reports.
pub const DELIVERY_STREAM: &str = "CIM_TASK_DELIVERY";
/// The event store (stream) of the task aggregates.
pub const TASK_EVENTS: &str = "cim-tasks";

/// Subcommands of `cim-leaf tasks`.
#[derive(Debug, clap::Subcommand)]
pub enum TasksCommand {
    /// Submit a task (idempotent for the same id and spec).
    Submit {
        #[command(flatten)]
        nats: NatsArgs,
        /// The task id (letters, digits, `_`, `-`); resubmitting it is a no-op.
        #[arg(long)]
        id: String,
        /// What to do (passed to the agent as is).
        payload: String,
        /// Higher runs first.
        #[arg(long, default_value_t = 0)]
        priority: u8,
        /// A capability the agent must have (repeatable).
        #[arg(long = "capability")]
        capabilities: Vec<String>,
        /// Assignments before the task is dead-lettered.
        #[arg(long, default_value_t = 3)]
        max_attempts: u32,
        /// RFC 3339 time after which an unfinished task is dead-lettered.
        #[arg(long)]
        deadline: Option<chrono::DateTime<chrono::Utc>>,
        /// Print the reply as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the tasks the coordinator knows.
    Ls {
        #[command(flatten)]
        nats: NatsArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one task with its history.
    Show {
        #[command(flatten)]
        nats: NatsArgs,
        /// The task id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a task; the agent working on it is told to stop.
    Cancel {
        #[command(flatten)]
        nats: NatsArgs,
        /// The task id.
        id: String,
        /// Why.
        #[arg(long, default_value = "cancelled from the command line")]
        reason: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the coordinator: agent registry and presence, task dispatch and delivery.
    Serve {
        #[command(flatten)]
        nats: NatsArgs,
        /// Seconds an agent has to acknowledge an assignment.
        #[arg(long, default_value_t = 30)]
        ack_wait_secs: i64,
        /// Seconds between progress reports before an assignment is taken away.
        #[arg(long, default_value_t = 300)]
        progress_wait_secs: i64,
        /// How agents are picked.
        #[arg(long, value_enum, default_value_t = StrategyArg::CapabilityMatch)]
        strategy: StrategyArg,
    },
}

/// The NATS server to talk to.
#[derive(Debug, clap::Args)]
pub struct NatsArgs {
    /// NATS server URL.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// How to authenticate (the `_operator` seed on a keyed bus).
    #[command(flatten)]
    pub auth: super::nats_auth::NatsAuthArgs,
}

/// Assignment strategy names on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StrategyArg {
    /// Next able agent in name order.
    RoundRobin,
    /// Most specialised able agent.
    CapabilityMatch,
    /// Fewest tasks in flight.
    LeastLoaded,
}

/// Runs `cim-leaf tasks ...`.
pub fn run(command: TasksCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(dispatch(command))
}

async fn connect(nats: &NatsArgs) -> anyhow::Result<async_nats::Client> {
    let options = nats
        .auth
        .auth()
        .apply(async_nats::ConnectOptions::new())
        .await?;
    options
        .connect(&nats.nats_url)
        .await
        .with_context(|| format!("connecting to NATS at {}", redact_url(&nats.nats_url)))
}

async fn ask(nats: &NatsArgs, request: &TaskRequest) -> anyhow::Result<TaskReply> {
    let bus = NatsTransport::new(connect(nats).await?);
    let answer = bus
        .request(
            TASKS_API,
            Bytes::from(serde_json::to_vec(request)?),
            Duration::from_secs(10),
        )
        .await
        .context("asking the task coordinator (is `cim-leaf tasks serve` running?)")?;
    serde_json::from_slice(&answer.payload).context("decoding the coordinator's reply")
}

fn print(reply: &TaskReply, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(reply)?);
    }
    match reply {
        TaskReply::Refused { reason } => {
            if !json {
                eprintln!("refused: {reason}");
            }
            return Ok(ExitCode::FAILURE);
        }
        _ if json => {}
        TaskReply::Submitted { id, new } => {
            println!(
                "{id}: {}",
                if *new {
                    "submitted"
                } else {
                    "already submitted"
                }
            );
        }
        TaskReply::Cancelled { id, status } => println!("{id}: {}", status.label()),
        TaskReply::Shown {
            id,
            status,
            attempts,
            history,
        } => {
            println!("{id}: {} ({} attempts)", status.label(), attempts.len());
            for event in history {
                println!("  {}", serde_json::to_string(event)?);
            }
        }
        TaskReply::Listed(tasks) => {
            println!(
                "{:<24} {:<14} {:>8} {:>8}",
                "ID", "STATUS", "PRIORITY", "ATTEMPTS"
            );
            for task in tasks {
                println!(
                    "{:<24} {:<14} {:>8} {:>8}",
                    task.id,
                    task.status.label(),
                    task.priority,
                    task.attempts
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn dispatch(command: TasksCommand) -> anyhow::Result<ExitCode> {
    match command {
        TasksCommand::Submit {
            nats,
            id,
            payload,
            priority,
            capabilities,
            max_attempts,
            deadline,
            json,
        } => {
            let id = TaskId::new(id)?;
            let mut spec = TaskSpec::new(payload)
                .with_priority(priority)
                .requiring(capabilities)
                .with_max_attempts(max_attempts);
            if let Some(deadline) = deadline {
                spec = spec.with_deadline(deadline);
            }
            print(&ask(&nats, &TaskRequest::Submit { id, spec }).await?, json)
        }
        TasksCommand::Ls { nats, json } => print(&ask(&nats, &TaskRequest::List).await?, json),
        TasksCommand::Show { nats, id, json } => {
            let id = TaskId::new(id)?;
            print(&ask(&nats, &TaskRequest::Show { id }).await?, json)
        }
        TasksCommand::Cancel {
            nats,
            id,
            reason,
            json,
        } => {
            let id = TaskId::new(id)?;
            print(
                &ask(&nats, &TaskRequest::Cancel { id, reason }).await?,
                json,
            )
        }
        TasksCommand::Serve {
            nats,
            ack_wait_secs,
            progress_wait_secs,
            strategy,
        } => {
            if ack_wait_secs < 1 || progress_wait_secs < 1 {
                bail!("--ack-wait-secs and --progress-wait-secs must be at least 1");
            }
            serve(nats, ack_wait_secs, progress_wait_secs, strategy).await
        }
    }
}

async fn serve(
    nats: NatsArgs,
    ack_wait_secs: i64,
    progress_wait_secs: i64,
    strategy: StrategyArg,
) -> anyhow::Result<ExitCode> {
    let client = connect(&nats).await?;
    let kv = JetStreamKeyValue::open(client.clone(), REGISTRY_BUCKET, 1).await?;
    let registry = Registry::open(kv, PresenceConfig::default()).await?;
    let repo =
        JetStreamEventRepository::new(client.clone(), JetStreamConfig::named(TASK_EVENTS)).await?;
    let queue = JetStreamWorkQueue::open(
        client.clone(),
        DELIVERY_STREAM,
        task_stream_subjects(),
        Duration::from_secs(120),
    )
    .await?;
    let config = CoordinatorConfig {
        ack_wait: chrono::Duration::seconds(ack_wait_secs),
        progress_wait: chrono::Duration::seconds(progress_wait_secs),
        strategy: match strategy {
            StrategyArg::RoundRobin => Strategy::RoundRobin,
            StrategyArg::CapabilityMatch => Strategy::CapabilityMatch,
            StrategyArg::LeastLoaded => Strategy::LeastLoaded,
        },
    };
    let mut coordinator =
        TaskCoordinator::new(JetStreamEventStore::<Task>::new_event_store(repo), config);
    for record in registry.list() {
        coordinator.upsert_agent(&record);
    }
    let service = TaskService::new(coordinator, queue, SystemClock);
    let bus = NatsTransport::new(client);
    let driver = registry.clone();
    let registry_bus = bus.clone();
    tokio::spawn(async move {
        if let Err(error) = driver
            .run(registry_bus, SystemClock, Duration::from_secs(1))
            .await
        {
            tracing::error!(%error, "registry driver stopped");
        }
    });
    let lookup = registry.clone();
    let events = Box::pin(registry.events().map(move |event| {
        let id = match &event {
            cim_agent_coordination::registry::RegistryEvent::Joined(record) => Some(record.id),
            cim_agent_coordination::registry::RegistryEvent::PresenceChanged { id, .. } => {
                Some(*id)
            }
            cim_agent_coordination::registry::RegistryEvent::Left { .. } => None,
        };
        let record = id.and_then(|id| lookup.get(id));
        (event, record)
    }));
    tracing::info!(at = %SystemClock.now(), "task coordinator serving");
    let reports = ConsumerConfig {
        ack_wait: Duration::from_secs(30),
        max_deliver: 10,
    };
    tokio::select! {
        result = service.run(bus, events, Duration::from_secs(1), reports) => {
            result?;
        }
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}
