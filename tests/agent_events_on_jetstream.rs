//! The Agent aggregate persists through `cim-jetstream` exactly as through the in-memory store:
//! commands run against a real `nats-server`, and a fresh store (events only, or with
//! snapshots) loads the same agent back.

use chrono::{TimeZone, Utc};
use cim_domain_agent::AgentDefinition;
use cim_domain_agent::aggregate::{
    Agent, AgentCommand, ApprovalId, ApprovalKind, Lifecycle, Presence, Task, TaskId,
};
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository, JetStreamEventStore};
use cqrs_es::{AggregateContext, CqrsFramework, EventStore};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn agent_lifecycle_round_trips_through_jetstream() -> TestResult {
    let server = NatsServer::start().await?;
    let config = JetStreamConfig::named("agents");
    let definition =
        AgentDefinition::from_markdown("---\nname: sage\nversion: 1.0.0\n---\n", "sage.md")?;
    let aggregate_id = definition.id.to_string();
    let at = Utc
        .with_ymd_and_hms(2026, 11, 22, 9, 0, 0)
        .single()
        .ok_or("bad time")?;
    let approval = ApprovalId::new();
    let ids = [TaskId::new(), TaskId::new()];
    let task = |n: usize| Task {
        id: ids[n - 1],
        description: format!("task {n}"),
    };

    let repo = JetStreamEventRepository::connect(&server.url(), config.clone()).await?;
    let store: JetStreamEventStore<Agent> = JetStreamEventStore::new_snapshot_store(repo, 2);
    let cqrs = CqrsFramework::new(store, vec![], ());
    for command in [
        AgentCommand::register(&definition),
        AgentCommand::Deploy {
            node: "gpu-1".into(),
        },
        AgentCommand::Activate,
        AgentCommand::AssignTask { task: task(1) },
        AgentCommand::AssignTask { task: task(2) },
        AgentCommand::CompleteTask {
            task: task(1).id,
            outcome: "ok".into(),
        },
        AgentCommand::RequestApproval {
            id: approval,
            kind: ApprovalKind::Scale,
            reason: "more memory".into(),
            at,
            timeout_secs: 60,
        },
    ] {
        cqrs.execute(&aggregate_id, command).await?;
    }

    for snapshots in [false, true] {
        let repo = JetStreamEventRepository::connect(&server.url(), config.clone()).await?;
        let store: JetStreamEventStore<Agent> = if snapshots {
            JetStreamEventStore::new_snapshot_store(repo, 2)
        } else {
            JetStreamEventStore::new_event_store(repo)
        };
        let mut context = store.load_aggregate(&aggregate_id).await?;
        let agent = context.aggregate();
        assert_eq!(agent.lifecycle(), Some(Lifecycle::Active));
        assert_eq!(agent.node(), Some("gpu-1"));
        assert_eq!(agent.running_task().map(|t| t.id), Some(task(2).id));
        assert_eq!(agent.queued_tasks().count(), 0);
        assert_eq!(agent.presence(), Presence::Blocked { approval });
    }
    Ok(())
}
