//! The agent side of delivery: a durable consumer on the agent's inbox, and reports back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cim_domain_agent::AgentName;
use futures::{Stream, StreamExt};

use super::wire::{AgentReport, CancelMessage, MAX_TASK_MESSAGE_BYTES, ReportKind};
use super::{Assignment, TaskId};
use crate::subject::{task_inbox_filter, task_report};
use crate::transport::work_queue::{ConsumerConfig, Delivery, WorkQueue, WorkQueueError};

/// What arrives in an agent's inbox.
#[derive(Debug)]
pub enum InboxItem {
    /// A task to do.
    Assigned(Job),
    /// Stop working on an assignment.
    Cancelled(CancelMessage),
}

/// An agent receiving assignments and reporting on them.
#[derive(Clone)]
pub struct TaskWorker<W: WorkQueue> {
    queue: W,
    agent: AgentName,
    config: ConsumerConfig,
    rejected: Arc<AtomicU64>,
}

/// One assignment being worked on. The inbox delivery stays unacknowledged while the agent
/// works: each report also tells JetStream the work is in progress, so the assignment is
/// delivered again only if the agent goes silent (for example after a crash).
#[derive(Debug)]
pub struct Job {
    /// The assignment.
    pub assignment: Assignment,
    delivery: Delivery,
    progress: u64,
}

impl<W: WorkQueue> TaskWorker<W> {
    /// A worker for `agent`; `config.ack_wait` should be the coordinator's ack wait.
    pub fn new(queue: W, agent: AgentName, config: ConsumerConfig) -> Self {
        Self {
            queue,
            agent,
            config,
            rejected: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many inbox messages were malformed, oversized or addressed to another agent.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// The agent's inbox as a durable consumer (`task-agent-<name>`): assignments and
    /// cancellations, including those sent while the agent was away.
    ///
    /// # Errors
    /// [`WorkQueueError`] when the consumer cannot be created.
    pub async fn inbox(
        &self,
    ) -> Result<impl Stream<Item = InboxItem> + Send + use<W>, WorkQueueError> {
        let filter = task_inbox_filter(self.agent.as_str())?;
        let durable = format!("task-agent-{}", self.agent);
        let deliveries = self.queue.consume(&durable, &filter, self.config).await?;
        let agent = self.agent.clone();
        let rejected = Arc::clone(&self.rejected);
        Ok(deliveries.filter_map(move |delivery| {
            let agent = agent.clone();
            let rejected = Arc::clone(&rejected);
            async move {
                let item = decode(&agent, &delivery);
                if item.is_none() {
                    rejected.fetch_add(1, Ordering::Relaxed);
                    // Malformed: acknowledge so it is not delivered again.
                    let _ = delivery.ack().await;
                    return None;
                }
                match item {
                    Some(Decoded::Assigned(assignment)) => Some(InboxItem::Assigned(Job {
                        assignment,
                        delivery,
                        progress: 0,
                    })),
                    Some(Decoded::Cancelled(cancel)) => {
                        let _ = delivery.ack().await;
                        Some(InboxItem::Cancelled(cancel))
                    }
                    None => None,
                }
            }
        }))
    }

    async fn report(&self, job: &Job, kind: ReportKind) -> Result<(), WorkQueueError> {
        let report = AgentReport {
            task: job.assignment.task.clone(),
            agent: self.agent.clone(),
            attempt: job.assignment.attempt,
            kind,
        };
        let payload = serde_json::to_vec(&report).map_err(|e| WorkQueueError::Backend {
            operation: "encode report",
            message: e.to_string(),
        })?;
        self.queue
            .publish(
                &task_report(self.agent.as_str())?,
                &report.message_id(),
                Bytes::from(payload),
            )
            .await?;
        Ok(())
    }

    /// Takes the job: reports the acknowledgement (fenced by its attempt at the coordinator).
    ///
    /// # Errors
    /// [`WorkQueueError`] when the report cannot be stored.
    pub async fn acknowledge(&self, job: &Job) -> Result<(), WorkQueueError> {
        self.report(job, ReportKind::Acknowledged).await?;
        job.delivery.in_progress().await
    }

    /// Reports progress: the coordinator's deadline and JetStream's ack wait both restart.
    ///
    /// # Errors
    /// [`WorkQueueError`].
    pub async fn progress(
        &self,
        job: &mut Job,
        note: impl Into<String>,
    ) -> Result<(), WorkQueueError> {
        job.progress += 1;
        let kind = ReportKind::Progress {
            note: note.into(),
            sequence: job.progress,
        };
        self.report(job, kind).await?;
        job.delivery.in_progress().await
    }

    /// Reports the result (`Ok`) or the failure (`Err`) and releases the inbox delivery.
    ///
    /// # Errors
    /// [`WorkQueueError`].
    pub async fn finish(
        &self,
        job: Job,
        outcome: Result<String, String>,
    ) -> Result<(), WorkQueueError> {
        let kind = match outcome {
            Ok(result) => ReportKind::Done { result },
            Err(reason) => ReportKind::Failed { reason },
        };
        self.report(&job, kind).await?;
        job.delivery.ack().await
    }

    /// Drops a job without a result (after a cancellation): the inbox delivery is released.
    ///
    /// # Errors
    /// [`WorkQueueError`].
    pub async fn abandon(&self, job: Job) -> Result<(), WorkQueueError> {
        job.delivery.ack().await
    }
}

impl Job {
    /// The task.
    pub fn task(&self) -> &TaskId {
        &self.assignment.task
    }

    /// How many times this assignment has been delivered (more than 1 after a crash).
    pub fn delivered(&self) -> u32 {
        self.delivery.delivered
    }
}

enum Decoded {
    Assigned(Assignment),
    Cancelled(CancelMessage),
}

fn decode(agent: &AgentName, delivery: &Delivery) -> Option<Decoded> {
    if delivery.payload.len() > MAX_TASK_MESSAGE_BYTES {
        tracing::warn!(subject = %delivery.subject, size = delivery.payload.len(), "task inbox: oversized message dropped");
        return None;
    }
    let decoded = if delivery.subject.ends_with(".assign") {
        serde_json::from_slice::<Assignment>(&delivery.payload)
            .ok()
            .filter(|a| &a.agent == agent)
            .map(Decoded::Assigned)
    } else if delivery.subject.ends_with(".cancel") {
        serde_json::from_slice::<CancelMessage>(&delivery.payload)
            .ok()
            .map(Decoded::Cancelled)
    } else {
        None
    };
    if decoded.is_none() {
        tracing::warn!(subject = %delivery.subject, "task inbox: malformed message dropped");
    }
    decoded
}
