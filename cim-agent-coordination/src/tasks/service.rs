//! The coordinator as a service: the task API over request/reply, agents' reports from the
//! durable stream, assignments and cancellations into agents' durable inboxes, registry changes
//! and time. Each step is a method, so tests drive it one step at a time; [`TaskService::run`]
//! loops over all of them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cim_domain_agent::AgentName;
use cqrs_es::EventStore;
use futures::{Stream, StreamExt};
use tokio::sync::Mutex;

use super::wire::{
    AgentReport, CancelMessage, MAX_TASK_MESSAGE_BYTES, ReportKind, TaskReply, TaskRequest,
    TaskSummary,
};
use super::{Assignment, CoordinatorError, Submitted, Task, TaskCoordinator, TaskError, TaskEvent};
use crate::registry::{Clock, Presence, RegistryEvent};
use crate::subject::{TASK_REPORTS, TASKS_API, task_inbox};
use crate::transport::Transport;
use crate::transport::work_queue::{ConsumerConfig, Delivery, WorkQueue, WorkQueueError};

/// Name of the coordinators' durable consumer of agents' reports.
pub const REPORTS_CONSUMER: &str = "task-coordinator";

/// What became of one report.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportOutcome {
    /// Recorded on the task.
    Recorded,
    /// Refused: it named an assignment that is no longer live; the agent was told to stop.
    Fenced(TaskError),
    /// Refused for another rule of the task (the report is dropped).
    Refused(TaskError),
    /// Malformed, oversized or sent under another agent's name (counted, dropped).
    Rejected,
}

/// The task coordinator service.
pub struct TaskService<ES: EventStore<Task>, W: WorkQueue, C: Clock> {
    coordinator: Arc<Mutex<TaskCoordinator<ES>>>,
    queue: W,
    clock: C,
    known: Arc<Mutex<BTreeSet<super::TaskId>>>,
    rejected: Arc<AtomicU64>,
}

impl<ES: EventStore<Task>, W: WorkQueue, C: Clock> Clone for TaskService<ES, W, C> {
    fn clone(&self) -> Self {
        Self {
            coordinator: Arc::clone(&self.coordinator),
            queue: self.queue.clone(),
            clock: self.clock.clone(),
            known: Arc::clone(&self.known),
            rejected: Arc::clone(&self.rejected),
        }
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Bytes, WorkQueueError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| WorkQueueError::Backend {
            operation: "encode",
            message: e.to_string(),
        })
}

impl<ES, W, C> TaskService<ES, W, C>
where
    ES: EventStore<Task> + 'static,
    W: WorkQueue,
    C: Clock,
{
    /// A service around `coordinator`, delivering through `queue`, reading time from `clock`.
    pub fn new(coordinator: TaskCoordinator<ES>, queue: W, clock: C) -> Self {
        Self {
            coordinator: Arc::new(Mutex::new(coordinator)),
            queue,
            clock,
            known: Arc::new(Mutex::new(BTreeSet::new())),
            rejected: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The coordinator, for inspection.
    pub fn coordinator(&self) -> &Arc<Mutex<TaskCoordinator<ES>>> {
        &self.coordinator
    }

    /// How many reports or requests were malformed, oversized or misaddressed.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    async fn deliver(&self, assignments: Vec<Assignment>) -> Result<(), WorkQueueError> {
        for assignment in assignments {
            let subject = task_inbox(assignment.agent.as_str(), "assign")?;
            let id = format!("assign-{}-{}", assignment.task, assignment.attempt);
            self.queue
                .publish(&subject, &id, encode(&assignment)?)
                .await?;
        }
        Ok(())
    }

    async fn send_cancel(
        &self,
        agent: &AgentName,
        cancel: CancelMessage,
    ) -> Result<(), WorkQueueError> {
        let subject = task_inbox(agent.as_str(), "cancel")?;
        let id = format!("cancel-{}-{}", cancel.task, cancel.attempt);
        self.queue.publish(&subject, &id, encode(&cancel)?).await?;
        Ok(())
    }

    /// Assigns what can be assigned now and delivers it.
    ///
    /// # Errors
    /// Store or delivery errors.
    pub async fn dispatch(&self) -> Result<(), ServiceError> {
        let assignments = self
            .coordinator
            .lock()
            .await
            .dispatch(self.clock.now())
            .await?;
        self.deliver(assignments).await?;
        Ok(())
    }

    /// Answers one API request (malformed ones are refused, never fatal).
    pub async fn handle_request(&self, payload: &[u8]) -> TaskReply {
        if payload.len() > MAX_TASK_MESSAGE_BYTES {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return TaskReply::Refused {
                reason: format!(
                    "request of {} bytes exceeds {MAX_TASK_MESSAGE_BYTES}",
                    payload.len()
                ),
            };
        }
        let request: TaskRequest = match serde_json::from_slice(payload) {
            Ok(request) => request,
            Err(e) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                return TaskReply::Refused {
                    reason: format!("malformed request: {e}"),
                };
            }
        };
        match self.answer(request).await {
            Ok(reply) => reply,
            Err(e) => TaskReply::Refused {
                reason: e.to_string(),
            },
        }
    }

    async fn answer(&self, request: TaskRequest) -> Result<TaskReply, ServiceError> {
        let now = self.clock.now();
        Ok(match request {
            TaskRequest::Submit { id, spec } => {
                let outcome = self
                    .coordinator
                    .lock()
                    .await
                    .submit(id.clone(), spec, now)
                    .await?;
                self.known.lock().await.insert(id.clone());
                self.dispatch().await?;
                TaskReply::Submitted {
                    id,
                    new: outcome == Submitted::New,
                }
            }
            TaskRequest::Cancel { id, reason } => {
                let mut coordinator = self.coordinator.lock().await;
                let live = coordinator.cancel(&id, reason.clone(), now).await?;
                let status = coordinator.task(&id).await?.status().clone();
                drop(coordinator);
                if let Some((agent, attempt)) = live {
                    self.send_cancel(
                        &agent,
                        CancelMessage {
                            task: id.clone(),
                            attempt,
                            reason,
                        },
                    )
                    .await?;
                }
                self.dispatch().await?;
                TaskReply::Cancelled { id, status }
            }
            TaskRequest::Show { id } => {
                let coordinator = self.coordinator.lock().await;
                let task = coordinator.task(&id).await?;
                if task.id().is_none() {
                    return Err(CoordinatorError::Task(TaskError::NotSubmitted).into());
                }
                TaskReply::Shown {
                    id: id.clone(),
                    status: task.status().clone(),
                    attempts: task.attempts().to_vec(),
                    history: coordinator.history(&id).await?,
                }
            }
            TaskRequest::List => {
                let ids: Vec<_> = self.known.lock().await.iter().cloned().collect();
                let coordinator = self.coordinator.lock().await;
                let mut listed = Vec::with_capacity(ids.len());
                for id in ids {
                    let task = coordinator.task(&id).await?;
                    listed.push(TaskSummary {
                        priority: task.spec().map_or(0, |s| s.priority),
                        attempts: task.attempts().len(),
                        status: task.status().clone(),
                        id,
                    });
                }
                TaskReply::Listed(listed)
            }
        })
    }

    /// Applies one agent report from `subject`. Stale reports are fenced and the agent is told
    /// to stop that attempt.
    ///
    /// # Errors
    /// Store or delivery errors (the report should be delivered again).
    pub async fn handle_report(
        &self,
        subject: &str,
        payload: &[u8],
    ) -> Result<ReportOutcome, ServiceError> {
        let report = match decode_report(subject, payload) {
            Some(report) => report,
            None => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%subject, "task reports: malformed or misaddressed report dropped");
                return Ok(ReportOutcome::Rejected);
            }
        };
        let now = self.clock.now();
        let AgentReport {
            task,
            agent,
            attempt,
            kind,
        } = report;
        let result = {
            let mut coordinator = self.coordinator.lock().await;
            match kind {
                ReportKind::Acknowledged => {
                    coordinator.acknowledge(&task, &agent, attempt, now).await
                }
                ReportKind::Progress { note, .. } => {
                    coordinator
                        .progress(&task, &agent, attempt, note, now)
                        .await
                }
                ReportKind::Done { result } => {
                    coordinator
                        .finish(&task, &agent, attempt, Ok(result), now)
                        .await
                }
                ReportKind::Failed { reason } => {
                    coordinator
                        .finish(&task, &agent, attempt, Err(reason), now)
                        .await
                }
            }
        };
        match result {
            Ok(()) => {
                self.dispatch().await?;
                Ok(ReportOutcome::Recorded)
            }
            Err(CoordinatorError::Task(e @ TaskError::Fenced { .. })) => {
                self.send_cancel(
                    &agent,
                    CancelMessage {
                        task,
                        attempt,
                        reason: "superseded".to_owned(),
                    },
                )
                .await?;
                Ok(ReportOutcome::Fenced(e))
            }
            Err(CoordinatorError::Task(e)) => Ok(ReportOutcome::Refused(e)),
            Err(e) => Err(e.into()),
        }
    }

    /// Follows the registry: agents joining or coming online can take tasks; agents going
    /// offline or leaving lose theirs (requeued to others).
    ///
    /// # Errors
    /// Store or delivery errors.
    pub async fn on_registry_event(
        &self,
        event: &RegistryEvent,
        record: Option<&crate::registry::AgentRecord>,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let going: Option<&AgentName> = match event {
            RegistryEvent::Left { name, .. } => Some(name),
            RegistryEvent::PresenceChanged {
                name,
                to: Presence::Offline,
                ..
            } => Some(name),
            _ => None,
        };
        {
            let mut coordinator = self.coordinator.lock().await;
            if let Some(record) = record {
                coordinator.upsert_agent(record);
            }
            if let Some(name) = going {
                coordinator.agent_offline(name, now).await?;
            }
        }
        self.dispatch().await
    }

    /// Applies time: expired assignments are taken away (and the agents told), closed calls
    /// for proposals are decided; then whatever can be assigned is.
    ///
    /// # Errors
    /// Store or delivery errors.
    pub async fn tick(&self) -> Result<Vec<TaskEvent>, ServiceError> {
        let events = self
            .coordinator
            .lock()
            .await
            .tick_tasks(self.clock.now())
            .await?;
        // Awards of calls for proposals that closed are delivered like any assignment.
        let awarded: Vec<Assignment> = {
            let coordinator = self.coordinator.lock().await;
            events
                .iter()
                .filter(|(_, e)| matches!(e, TaskEvent::Assigned { .. }))
                .filter_map(|(task, _)| coordinator.pending_delivery(task))
                .collect()
        };
        self.deliver(awarded).await?;
        for (task, event) in &events {
            if let TaskEvent::Reassigned { agent, attempt, .. } = event {
                self.send_cancel(
                    agent,
                    CancelMessage {
                        task: task.clone(),
                        attempt: *attempt,
                        reason: "superseded".to_owned(),
                    },
                )
                .await?;
            }
        }
        self.dispatch().await?;
        Ok(events.into_iter().map(|(_, event)| event).collect())
    }

    /// Serves until the API subscription ends: API requests from `transport`, reports from the
    /// durable stream, registry changes from `registry_events` (with the record to use), and a
    /// tick every `tick`. Errors of single steps are logged; the loop goes on.
    ///
    /// # Errors
    /// [`ServiceError`] when subscribing or creating the reports consumer fails.
    pub async fn run<T, R>(
        &self,
        transport: T,
        registry_events: R,
        tick: Duration,
        reports: ConsumerConfig,
    ) -> Result<(), ServiceError>
    where
        T: Transport,
        R: Stream<Item = (RegistryEvent, Option<crate::registry::AgentRecord>)> + Send + Unpin,
    {
        let mut api = transport
            .queue_subscribe(TASKS_API, "task-coordinators")
            .await
            .map_err(WorkQueueError::from)?;
        let mut deliveries = self
            .queue
            .consume(REPORTS_CONSUMER, TASK_REPORTS, reports)
            .await?;
        let mut registry_events = registry_events;
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                request = api.next() => {
                    let Some(request) = request else { return Ok(()) };
                    let reply = self.handle_request(&request.payload).await;
                    if let Some(to) = request.reply
                        && let Ok(bytes) = encode(&reply)
                        && let Err(error) = transport.publish(&to, bytes).await
                    {
                        tracing::warn!(%error, "task api: reply lost");
                    }
                }
                delivery = deliveries.next() => {
                    let Some(delivery) = delivery else { return Ok(()) };
                    self.settle_report(delivery).await;
                }
                event = registry_events.next() => {
                    if let Some((event, record)) = event
                        && let Err(error) = self.on_registry_event(&event, record.as_ref()).await
                    {
                        tracing::warn!(%error, "tasks: registry change not applied");
                    }
                }
                _ = ticker.tick() => {
                    if let Err(error) = self.tick().await {
                        tracing::warn!(%error, "tasks: tick failed");
                    }
                }
            }
        }
    }

    /// Handles one delivered report and settles its delivery: acknowledged once handled
    /// (recorded, fenced, refused or rejected), given back when the store failed.
    pub async fn settle_report(&self, delivery: Delivery) {
        match self
            .handle_report(&delivery.subject, &delivery.payload)
            .await
        {
            Ok(_) => {
                if let Err(error) = delivery.ack().await {
                    tracing::warn!(%error, "task reports: ack not confirmed; it may come again");
                }
            }
            Err(error) => {
                tracing::warn!(%error, "task reports: not recorded; asking for redelivery");
                let _ = delivery.nak().await;
            }
        }
    }
}

fn decode_report(subject: &str, payload: &[u8]) -> Option<AgentReport> {
    if payload.len() > MAX_TASK_MESSAGE_BYTES {
        return None;
    }
    let report: AgentReport = serde_json::from_slice(payload).ok()?;
    let from = subject.split('.').nth(2)?;
    (report.agent.as_str() == from).then_some(report)
}

/// A service step failure.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ServiceError {
    /// The coordinator or its store failed.
    #[error(transparent)]
    Coordinator(#[from] CoordinatorError),
    /// Delivery failed.
    #[error(transparent)]
    Delivery(#[from] WorkQueueError),
}
