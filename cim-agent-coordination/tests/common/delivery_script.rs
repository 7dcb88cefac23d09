//! One behaviour script for task delivery end to end: the task API over request/reply, durable
//! inboxes and reports, fencing of a late acknowledgement, cancellation reaching the agent —
//! over the in-process bus and queue, and over a real nats-server (core NATS + JetStream).

use std::time::Duration;

use bytes::Bytes;
use chrono::Duration as Span;
use cim_agent_coordination::registry::{Clock, ManualClock, Presence, RegistryEvent};
use cim_agent_coordination::subject::TASKS_API;
use cim_agent_coordination::tasks::{
    Bid, CoordinatorConfig, InboxItem, Job, Strategy, Task, TaskCoordinator, TaskEvent, TaskId,
    TaskReply, TaskRequest, TaskService, TaskSpec, TaskStatus, TaskWorker,
};
use cim_agent_coordination::transport::Transport;
use cim_agent_coordination::transport::work_queue::{ConsumerConfig, WorkQueue};
use cim_domain_agent::AgentName;
use cqrs_es::EventStore;
use futures::{Stream, StreamExt};

type Error = Box<dyn std::error::Error + Send + Sync>;

const WAIT: Duration = Duration::from_secs(10);

/// Sends one API request and decodes the reply.
pub async fn request<T: Transport>(bus: &T, request: &TaskRequest) -> Result<TaskReply, Error> {
    let answer = bus
        .request(TASKS_API, Bytes::from(serde_json::to_vec(request)?), WAIT)
        .await?;
    Ok(serde_json::from_slice(&answer.payload)?)
}

async fn next_item<S: Stream<Item = InboxItem> + Unpin>(inbox: &mut S) -> Result<InboxItem, Error> {
    tokio::time::timeout(WAIT, inbox.next())
        .await
        .map_err(|_| "inbox: nothing arrived")?
        .ok_or_else(|| "inbox ended".into())
}

async fn next_job<S: Stream<Item = InboxItem> + Unpin>(inbox: &mut S) -> Result<Job, Error> {
    match next_item(inbox).await? {
        InboxItem::Assigned(job) => Ok(job),
        InboxItem::Cancelled(c) => Err(format!("expected a job, got cancel {c:?}").into()),
    }
}

async fn history_has<ES: EventStore<Task> + 'static, W: WorkQueue>(
    service: &TaskService<ES, W, ManualClock>,
    task: &TaskId,
    what: impl Fn(&[TaskEvent]) -> bool,
) -> Result<bool, Error> {
    for _ in 0..500 {
        let history = service.coordinator().lock().await.history(task).await?;
        if what(&history) {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(false)
}

/// Runs the script.
pub async fn run<ES, W, T>(store: ES, queue: W, bus: T) -> Result<(), Error>
where
    ES: EventStore<Task> + 'static,
    ES::AC: Send,
    W: WorkQueue,
    T: Transport,
{
    let clock = ManualClock::new(super::tasks_script::t0());
    let config = CoordinatorConfig {
        ack_wait: Span::seconds(30),
        progress_wait: Span::seconds(60),
        strategy: Strategy::CapabilityMatch,
    };
    let service = TaskService::new(
        TaskCoordinator::new(store, config),
        queue.clone(),
        clock.clone(),
    );
    let consumer = ConsumerConfig {
        ack_wait: Duration::from_secs(30),
        max_deliver: 5,
    };
    let serving = service.clone();
    let server_bus = bus.clone();
    let server = tokio::spawn(async move {
        serving
            .run(
                server_bus,
                futures::stream::pending(),
                Duration::from_secs(3600),
                consumer,
            )
            .await
    });
    let ann_record = super::tasks_script::agent("ann", &["code"], 1, clock.now())?;
    let bob_record = super::tasks_script::agent("bob", &["code", "review"], 1, clock.now())?;
    for record in [&ann_record, &bob_record] {
        service
            .on_registry_event(&RegistryEvent::Joined(record.clone()), Some(record))
            .await?;
    }
    let ann = TaskWorker::new(queue.clone(), AgentName::new("ann")?, consumer);
    let bob = TaskWorker::new(queue.clone(), AgentName::new("bob")?, consumer);
    let mut ann_inbox = Box::pin(ann.inbox().await?);
    let mut bob_inbox = Box::pin(bob.inbox().await?);
    // Wait for the API subscription.
    let mut ready = false;
    for _ in 0..100 {
        if matches!(
            request(&bus, &TaskRequest::List).await,
            Ok(TaskReply::Listed(_))
        ) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ready, "task api never answered");

    // Submit, delivered to the agent, acknowledged, progress, done.
    let t1 = TaskId::new("t1")?;
    let spec = TaskSpec::new("build it").requiring(["code"]);
    let reply = request(
        &bus,
        &TaskRequest::Submit {
            id: t1.clone(),
            spec: spec.clone(),
        },
    )
    .await?;
    assert_eq!(
        reply,
        TaskReply::Submitted {
            id: t1.clone(),
            new: true
        }
    );
    let mut job = next_job(&mut ann_inbox).await?;
    assert_eq!(
        (
            job.task(),
            job.assignment.attempt,
            job.assignment.payload.as_str()
        ),
        (&t1, 1, "build it")
    );
    ann.acknowledge(&job).await?;
    assert!(
        history_has(&service, &t1, |h| h
            .iter()
            .any(|e| matches!(e, TaskEvent::Acknowledged { .. })))
        .await?
    );
    ann.progress(&mut job, "halfway").await?;
    ann.finish(job, Ok("built".into())).await?;
    assert!(
        history_has(&service, &t1, |h| matches!(
            h.last(),
            Some(TaskEvent::Completed { .. })
        ))
        .await?
    );
    match request(&bus, &TaskRequest::Show { id: t1.clone() }).await? {
        TaskReply::Shown {
            status: TaskStatus::Completed { result },
            history,
            ..
        } => {
            assert_eq!(result, "built");
            assert_eq!(history.len(), 5);
        }
        other => panic!("show: {other:?}"),
    }

    // Idempotent resubmit; another spec under the same id is refused.
    assert_eq!(
        request(
            &bus,
            &TaskRequest::Submit {
                id: t1.clone(),
                spec
            }
        )
        .await?,
        TaskReply::Submitted {
            id: t1.clone(),
            new: false
        }
    );
    assert!(matches!(
        request(
            &bus,
            &TaskRequest::Submit {
                id: t1.clone(),
                spec: TaskSpec::new("other")
            }
        )
        .await?,
        TaskReply::Refused { .. }
    ));

    // A missed acknowledgement: taken away, given to another agent; the first is told to stop,
    // and its late acknowledgement is fenced.
    let t2 = TaskId::new("t2")?;
    request(
        &bus,
        &TaskRequest::Submit {
            id: t2.clone(),
            spec: TaskSpec::new("x").requiring(["code"]),
        },
    )
    .await?;
    let stale = next_job(&mut ann_inbox).await?;
    assert_eq!((stale.task(), stale.assignment.attempt), (&t2, 1));
    let mut ann_offline = ann_record.clone();
    ann_offline.presence = Presence::Offline;
    service
        .coordinator()
        .lock()
        .await
        .upsert_agent(&ann_offline);
    clock.advance(Span::seconds(31));
    let events = service.tick().await?;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TaskEvent::Reassigned { attempt: 1, .. }))
    );
    let fresh = next_job(&mut bob_inbox).await?;
    assert_eq!((fresh.task(), fresh.assignment.attempt), (&t2, 2));
    match next_item(&mut ann_inbox).await? {
        InboxItem::Cancelled(cancel) => assert_eq!(
            (cancel.task, cancel.attempt, cancel.reason.as_str()),
            (t2.clone(), 1, "superseded")
        ),
        other => panic!("ann should be told to stop, got {other:?}"),
    }
    ann.acknowledge(&stale).await?;
    bob.acknowledge(&fresh).await?;
    assert!(
        history_has(&service, &t2, |h| h
            .iter()
            .any(|e| matches!(e, TaskEvent::Acknowledged { attempt: 2, .. })))
        .await?
    );
    let history = service.coordinator().lock().await.history(&t2).await?;
    assert!(
        !history
            .iter()
            .any(|e| matches!(e, TaskEvent::Acknowledged { attempt: 1, .. })),
        "late ack was recorded"
    );
    assert_eq!(
        service
            .coordinator()
            .lock()
            .await
            .task(&t2)
            .await?
            .status()
            .live(),
        Some((AgentName::new("bob")?, 2))
    );

    // Cancel through the API reaches the agent.
    match request(
        &bus,
        &TaskRequest::Cancel {
            id: t2.clone(),
            reason: "enough".into(),
        },
    )
    .await?
    {
        TaskReply::Cancelled {
            status: TaskStatus::Cancelled { .. },
            ..
        } => {}
        other => panic!("cancel: {other:?}"),
    }
    match next_item(&mut bob_inbox).await? {
        InboxItem::Cancelled(cancel) => assert_eq!(
            (cancel.task, cancel.attempt, cancel.reason.as_str()),
            (t2.clone(), 2, "enough")
        ),
        other => panic!("bob should be told to stop, got {other:?}"),
    }
    bob.abandon(fresh).await?;

    // Contract net: the award of a closed call for proposals is delivered like any assignment.
    let t3 = TaskId::new("t3")?;
    {
        let mut coordinator = service.coordinator().lock().await;
        coordinator
            .submit(
                t3.clone(),
                TaskSpec::new("review it").requiring(["review"]),
                clock.now(),
            )
            .await?;
        let round = coordinator
            .offer(&t3, clock.now() + Span::seconds(5), clock.now())
            .await?;
        let bid = Bid {
            agent: AgentName::new("bob")?,
            round,
            cost: 1.0,
            estimated_secs: 5,
            at: clock.now(),
        };
        coordinator.bid(&t3, bid).await?;
    }
    clock.advance(Span::seconds(6));
    service.tick().await?;
    let awarded = next_job(&mut bob_inbox).await?;
    assert_eq!(
        (
            awarded.task(),
            awarded.assignment.attempt,
            awarded.assignment.payload.as_str()
        ),
        (&t3, 1, "review it")
    );
    bob.acknowledge(&awarded).await?;
    assert!(
        history_has(&service, &t3, |h| h
            .iter()
            .any(|e| matches!(e, TaskEvent::Acknowledged { .. })))
        .await?
    );

    // Bad input is counted, never fatal.
    let before = service.rejected();
    queue
        .publish(
            "cim.tasks.bob.report",
            "junk-1",
            Bytes::from_static(b"{junk"),
        )
        .await?;
    let forged =
        serde_json::json!({"task": "t2", "agent": "ann", "attempt": 2, "kind": "acknowledged"});
    queue
        .publish(
            "cim.tasks.bob.report",
            "junk-2",
            Bytes::from(serde_json::to_vec(&forged)?),
        )
        .await?;
    let mut counted = false;
    for _ in 0..500 {
        if service.rejected() >= before + 2 {
            counted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(counted, "malformed and forged reports were not counted");
    assert!(matches!(
        bus.request(TASKS_API, Bytes::from_static(b"nonsense"), WAIT)
            .await
            .map(|m| serde_json::from_slice::<TaskReply>(&m.payload)),
        Ok(Ok(TaskReply::Refused { .. }))
    ));
    match request(&bus, &TaskRequest::List).await? {
        TaskReply::Listed(tasks) => assert_eq!(
            tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            ["t1", "t2"]
        ),
        other => panic!("list: {other:?}"),
    }
    server.abort();
    Ok(())
}
