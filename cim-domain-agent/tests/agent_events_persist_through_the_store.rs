//! Agent events go through cqrs-es's store abstraction: commands executed by a
//! `CqrsFramework` over the in-memory store are persisted, reloaded in order, and rebuild the
//! same state; a rejected command stores nothing.

use chrono::{TimeZone, Utc};
use cim_domain_agent::AgentDefinition;
use cim_domain_agent::aggregate::{
    Agent, AgentCommand, AgentError, ApprovalId, ApprovalKind, Lifecycle, Presence, Task, TaskId,
};
use cqrs_es::mem_store::MemStore;
use cqrs_es::{AggregateError, CqrsFramework, EventStore};
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn a_lifecycle_is_stored_and_reloaded() -> TestResult {
    let text = "---\nname: sage\nversion: 1.0.0\ncapabilities: [orchestration]\n---\n";
    let definition = AgentDefinition::from_markdown(text, "sage.md")?;
    let aggregate_id = definition.id.to_string();
    let store = MemStore::<Agent>::default();
    let cqrs = CqrsFramework::new(store.clone(), vec![], ());
    let at = Utc
        .with_ymd_and_hms(2026, 11, 22, 9, 0, 0)
        .single()
        .ok_or("bad time")?;
    let approval = ApprovalId(Uuid::from_u128(7));
    for command in [
        AgentCommand::register(&definition),
        AgentCommand::Deploy {
            node: "gpu-1".into(),
        },
        AgentCommand::Activate,
        AgentCommand::AssignTask {
            task: Task {
                id: TaskId(Uuid::from_u128(1)),
                description: "plan".into(),
            },
        },
        AgentCommand::RequestApproval {
            id: approval,
            kind: ApprovalKind::Sudo,
            reason: "install".into(),
            at,
            timeout_secs: 30,
        },
    ] {
        cqrs.execute(&aggregate_id, command).await?;
    }

    let rejected = cqrs.execute(&aggregate_id, AgentCommand::Activate).await;
    assert!(matches!(
        rejected,
        Err(AggregateError::UserError(AgentError::InvalidTransition {
            from: Lifecycle::Active,
            ..
        }))
    ));

    let envelopes = store.load_events(&aggregate_id).await?;
    let types: Vec<String> = envelopes
        .iter()
        .map(|e| cqrs_es::DomainEvent::event_type(&e.payload))
        .collect();
    assert_eq!(
        types,
        [
            "Registered",
            "Deployed",
            "Activated",
            "TaskStarted",
            "ApprovalRequested"
        ]
    );
    let sequences: Vec<usize> = envelopes.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5]);

    let mut rebuilt = Agent::default();
    for envelope in envelopes {
        cqrs_es::Aggregate::apply(&mut rebuilt, envelope.payload);
    }
    assert_eq!(rebuilt.name().map(|n| n.as_str()), Some("sage"));
    assert_eq!(rebuilt.lifecycle(), Some(Lifecycle::Active));
    assert_eq!(rebuilt.presence(), Presence::Blocked { approval });

    cqrs.execute(
        &aggregate_id,
        AgentCommand::ExpireApprovals {
            now: at + chrono::Duration::seconds(30),
        },
    )
    .await?;
    let last = store.load_events(&aggregate_id).await?;
    assert_eq!(
        last.last()
            .map(|e| cqrs_es::DomainEvent::event_type(&e.payload))
            .as_deref(),
        Some("ApprovalExpired")
    );
    Ok(())
}

/// cqrs-es's snapshotting `PersistedEventStore` applies a commit's events again to the aggregate
/// the event sink already applied them to; the snapshot must still equal a clean replay.
#[tokio::test]
async fn applying_a_commit_twice_leaves_the_same_state() -> TestResult {
    use cqrs_es::Aggregate;
    use cqrs_es::event_sink::EventSink;

    let text = "---\nname: sage\nversion: 1.0.0\n---\n";
    let definition = AgentDefinition::from_markdown(text, "sage.md")?;
    let at = Utc
        .with_ymd_and_hms(2026, 11, 22, 9, 0, 0)
        .single()
        .ok_or("bad time")?;
    let task = |n| Task {
        id: TaskId(Uuid::from_u128(n)),
        description: format!("task {n}"),
    };
    let commands = [
        AgentCommand::register(&definition),
        AgentCommand::Deploy {
            node: "gpu-1".into(),
        },
        AgentCommand::Activate,
        AgentCommand::AssignTask { task: task(1) },
        AgentCommand::AssignTask { task: task(2) },
        AgentCommand::AssignTask { task: task(3) },
        AgentCommand::RequestApproval {
            id: ApprovalId(Uuid::from_u128(9)),
            kind: ApprovalKind::Network,
            reason: "fetch".into(),
            at,
            timeout_secs: 5,
        },
        AgentCommand::CompleteTask {
            task: TaskId(Uuid::from_u128(1)),
            outcome: "ok".into(),
        },
        AgentCommand::FailTask {
            task: TaskId(Uuid::from_u128(2)),
            reason: "no".into(),
        },
        AgentCommand::ExpireApprovals {
            now: at + chrono::Duration::seconds(5),
        },
        AgentCommand::Suspend {
            reason: "done".into(),
        },
        AgentCommand::Decommission {
            reason: "retired".into(),
        },
    ];
    let mut live = Agent::default();
    let mut clean = Agent::default();
    for command in commands {
        let sink = EventSink::default();
        live.handle(command, &(), &sink).await?;
        let events = sink.collect().await;
        for event in events.clone() {
            live.apply(event.clone());
            clean.apply(event);
        }
        assert_eq!(live, clean);
    }
    Ok(())
}
