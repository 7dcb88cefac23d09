//! `kill -9` of the nats-server in the middle of a run, then a restart on the same store: every
//! task whose submission was acknowledged is still there and is completed, and no task ever had
//! two live assignments (checked on its stored history).

mod common;

use std::time::Duration;

use bytes::Bytes;
use chrono::Duration as Span;
use cim_agent_coordination::registry::{Clock, ManualClock, RegistryEvent};
use cim_agent_coordination::subject::{TASKS_API, task_stream_subjects};
use cim_agent_coordination::tasks::{
    CoordinatorConfig, InboxItem, Strategy, Task, TaskCoordinator, TaskEvent, TaskId, TaskReply,
    TaskRequest, TaskService, TaskSpec, TaskWorker,
};
use cim_agent_coordination::transport::NatsTransport;
use cim_agent_coordination::transport::Transport;
use cim_agent_coordination::transport::work_queue::{ConsumerConfig, JetStreamWorkQueue};
use cim_domain_agent::AgentName;
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository, JetStreamEventStore};
use futures::StreamExt;

type Error = Box<dyn std::error::Error + Send + Sync>;

const TASKS: usize = 30;

/// Never two live assignments: every `Assigned` is ended before the next one.
fn at_most_one_live(history: &[TaskEvent]) -> bool {
    let mut live = false;
    for event in history {
        match event {
            TaskEvent::Assigned { .. } if live => return false,
            TaskEvent::Assigned { .. } => live = true,
            TaskEvent::Reassigned { .. }
            | TaskEvent::Completed { .. }
            | TaskEvent::Failed { .. }
            | TaskEvent::DeadLettered { .. }
            | TaskEvent::Cancelled { .. } => live = false,
            _ => {}
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_tasks_survive_kill_9_and_never_have_two_live_assignments() -> Result<(), Error>
{
    let mut server = NatsServer::start().await?;
    let client = server.client().await?;
    let repo =
        JetStreamEventRepository::new(client.clone(), JetStreamConfig::named("tasks")).await?;
    let queue = JetStreamWorkQueue::open(
        client.clone(),
        "TASK_DELIVERY",
        task_stream_subjects(),
        Duration::from_secs(120),
    )
    .await?;
    let bus = NatsTransport::new(client.clone());
    let clock = ManualClock::new(common::tasks_script::t0());
    let config = CoordinatorConfig {
        ack_wait: Span::seconds(30),
        progress_wait: Span::seconds(60),
        strategy: Strategy::LeastLoaded,
    };
    let service = TaskService::new(
        TaskCoordinator::new(JetStreamEventStore::<Task>::new_event_store(repo), config),
        queue.clone(),
        clock.clone(),
    );
    let consumer = ConsumerConfig {
        ack_wait: Duration::from_secs(2),
        max_deliver: 20,
    };
    for name in ["ann", "bob"] {
        let record = common::tasks_script::agent(name, &[], 4, clock.now())?;
        service
            .on_registry_event(&RegistryEvent::Joined(record.clone()), Some(&record))
            .await?;
        let worker = TaskWorker::new(queue.clone(), AgentName::new(name)?, consumer);
        tokio::spawn(async move {
            let Ok(inbox) = worker.inbox().await else {
                return;
            };
            let mut inbox = Box::pin(inbox);
            while let Some(item) = inbox.next().await {
                if let InboxItem::Assigned(job) = item {
                    // Retry through the outage; the reports are de-duplicated by message id.
                    for _ in 0..100 {
                        if worker.acknowledge(&job).await.is_ok() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    let _ = worker.finish(job, Ok("ok".into())).await;
                }
            }
        });
    }
    let serving = service.clone();
    let server_bus = bus.clone();
    tokio::spawn(async move {
        serving
            .run(
                server_bus,
                futures::stream::pending(),
                Duration::from_secs(3600),
                consumer,
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut acknowledged: Vec<TaskId> = Vec::new();
    for i in 0..TASKS {
        if i == TASKS / 2 {
            server.kill();
            // Submissions while the server is down are not acknowledged.
            let id = TaskId::new("during-outage")?;
            let request = TaskRequest::Submit {
                id,
                spec: TaskSpec::new("x"),
            };
            let refused = bus
                .request(
                    TASKS_API,
                    Bytes::from(serde_json::to_vec(&request)?),
                    Duration::from_secs(1),
                )
                .await;
            assert!(
                refused.is_err(),
                "a submission was acknowledged with the server down"
            );
            server.restart().await?;
        }
        let id = TaskId::new(format!("job-{i}"))?;
        let spec = TaskSpec::new(format!("work {i}")).with_max_attempts(20);
        for _ in 0..100 {
            match common::delivery_script::request(
                &bus,
                &TaskRequest::Submit {
                    id: id.clone(),
                    spec: spec.clone(),
                },
            )
            .await
            {
                Ok(TaskReply::Submitted { .. }) => {
                    acknowledged.push(id.clone());
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    assert_eq!(
        acknowledged.len(),
        TASKS,
        "submissions after the restart are acknowledged"
    );

    // Drive time until everything acknowledged is completed: assignments lost in the outage
    // are taken away after the ack wait and given again.
    let fresh =
        JetStreamEventRepository::new(server.client().await?, JetStreamConfig::named("tasks"))
            .await?;
    let reader = TaskCoordinator::new(JetStreamEventStore::<Task>::new_event_store(fresh), config);
    let mut done = false;
    for _ in 0..60 {
        let mut completed = 0;
        for id in &acknowledged {
            if matches!(
                reader.history(id).await?.last(),
                Some(TaskEvent::Completed { .. })
            ) {
                completed += 1;
            }
        }
        if completed == acknowledged.len() {
            done = true;
            break;
        }
        clock.advance(Span::seconds(31));
        let _ = service.tick().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        done,
        "not every acknowledged task completed after the restart"
    );
    for id in &acknowledged {
        let history = reader.history(id).await?;
        let submitted = history
            .iter()
            .filter(|e| matches!(e, TaskEvent::Submitted { .. }))
            .count();
        let completed = history
            .iter()
            .filter(|e| matches!(e, TaskEvent::Completed { .. }))
            .count();
        assert_eq!((submitted, completed), (1, 1), "{id}: {history:?}");
        assert!(
            at_most_one_live(&history),
            "{id} had two live assignments: {history:?}"
        );
    }
    Ok(())
}
