//! The task coordinator: keeps the queue and the agents' loads, asks a strategy, and turns every
//! decision into a command on the task aggregate (so every decision is an event). Generic over
//! the cqrs-es event store: in memory for the embedded default, JetStream in production.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use cim_domain_agent::AgentName;
use cqrs_es::{AggregateContext, AggregateError, EventStore};
use thiserror::Error;

use super::queue::next_assignment;
use super::{
    Bid, Candidate, ReassignReason, Strategy, Task, TaskCommand, TaskError, TaskEvent, TaskId,
    TaskQueue, TaskSpec, TaskStatus,
};
use crate::registry::{AgentRecord, Presence};

/// A coordinator failure.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoordinatorError {
    /// The task aggregate refused the command.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The event store failed (or a concurrent writer won).
    #[error("event store: {0}")]
    Store(String),
}

fn from_aggregate(error: AggregateError<TaskError>) -> CoordinatorError {
    match error {
        AggregateError::UserError(e) => CoordinatorError::Task(e),
        other => CoordinatorError::Store(other.to_string()),
    }
}

/// Timing and strategy of a coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// How long an agent has to acknowledge an assignment.
    pub ack_wait: Duration,
    /// How long after an acknowledgement or progress report the next one (or a result) is due.
    pub progress_wait: Duration,
    /// How agents are picked.
    pub strategy: Strategy,
}

impl Default for CoordinatorConfig {
    /// 30 s to acknowledge, 5 min between progress reports, capability match.
    fn default() -> Self {
        Self {
            ack_wait: Duration::seconds(30),
            progress_wait: Duration::minutes(5),
            strategy: Strategy::CapabilityMatch,
        }
    }
}

/// A task handed to an agent: what delivery sends it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Assignment {
    /// The task.
    pub task: TaskId,
    /// The agent.
    pub agent: AgentName,
    /// The fencing token the agent repeats in every message about it.
    pub attempt: u32,
    /// What to do.
    pub payload: String,
    /// Acknowledge by then.
    pub ack_by: DateTime<Utc>,
}

/// Whether a submission was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// A new task was queued.
    New,
    /// The same id and spec were already submitted: nothing changed.
    AlreadySubmitted,
}

/// A live assignment as the coordinator tracks it for timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Live {
    agent: AgentName,
    attempt: u32,
    due: DateTime<Utc>,
    acknowledged: bool,
}

/// Dispatches tasks to agents and follows them to a terminal state.
pub struct TaskCoordinator<ES: EventStore<Task>> {
    store: ES,
    config: CoordinatorConfig,
    agents: BTreeMap<AgentName, Candidate>,
    queue: TaskQueue,
    live: HashMap<TaskId, Live>,
    /// Submission order and spec of every unfinished task.
    open: HashMap<TaskId, (u64, TaskSpec)>,
    /// Open calls for proposals: round and closing time.
    offers: HashMap<TaskId, (u32, DateTime<Utc>)>,
    submitted: u64,
    cursor: usize,
}

impl<ES: EventStore<Task>> TaskCoordinator<ES> {
    /// A coordinator writing to `store`.
    pub fn new(store: ES, config: CoordinatorConfig) -> Self {
        Self {
            store,
            config,
            agents: BTreeMap::new(),
            queue: TaskQueue::new(),
            live: HashMap::new(),
            open: HashMap::new(),
            offers: HashMap::new(),
            submitted: 0,
            cursor: 0,
        }
    }

    /// The event store.
    pub fn store(&self) -> &ES {
        &self.store
    }

    /// Loads `id`, decides `command`, commits the events; returns the new state and the events.
    async fn execute(
        &self,
        id: &TaskId,
        command: TaskCommand,
    ) -> Result<(Task, Vec<TaskEvent>), CoordinatorError> {
        let mut context = self
            .store
            .load_aggregate(id.as_str())
            .await
            .map_err(from_aggregate)?;
        let events = context.aggregate().decide(command)?;
        for event in &events {
            context.aggregate().apply_event(event.clone());
        }
        let after = context.aggregate().clone();
        if !events.is_empty() {
            self.store
                .commit(events.clone(), context, HashMap::new())
                .await
                .map_err(from_aggregate)?;
        }
        Ok((after, events))
    }

    /// The task's current state.
    ///
    /// # Errors
    /// [`CoordinatorError::Store`].
    pub async fn task(&self, id: &TaskId) -> Result<Task, CoordinatorError> {
        let mut context = self
            .store
            .load_aggregate(id.as_str())
            .await
            .map_err(from_aggregate)?;
        Ok(context.aggregate().clone())
    }

    /// The task's history, oldest first.
    ///
    /// # Errors
    /// [`CoordinatorError::Store`].
    pub async fn history(&self, id: &TaskId) -> Result<Vec<TaskEvent>, CoordinatorError> {
        Ok(self
            .store
            .load_events(id.as_str())
            .await
            .map_err(from_aggregate)?
            .into_iter()
            .map(|envelope| envelope.payload)
            .collect())
    }

    /// Adds or updates an agent from the registry (its capabilities, limit and presence). An
    /// agent that went offline keeps its tasks until [`Self::agent_offline`] takes them away.
    pub fn upsert_agent(&mut self, record: &AgentRecord) {
        let in_flight = self.in_flight_of(&record.name);
        self.agents.insert(
            record.name.clone(),
            Candidate::new(
                record.name.clone(),
                record.capabilities.clone(),
                in_flight,
                record.max_concurrent_tasks.max(1),
                record.presence == Presence::Online,
            ),
        );
    }

    fn in_flight_of(&self, agent: &AgentName) -> u32 {
        u32::try_from(self.live.values().filter(|l| &l.agent == agent).count()).unwrap_or(u32::MAX)
    }

    /// Marks `agent` offline and requeues (or dead-letters) every task it holds.
    ///
    /// # Errors
    /// Store errors; tasks already handled stay handled.
    pub async fn agent_offline(
        &mut self,
        agent: &AgentName,
        now: DateTime<Utc>,
    ) -> Result<Vec<TaskEvent>, CoordinatorError> {
        if let Some(candidate) = self.agents.get_mut(agent) {
            candidate.online = false;
        }
        let held: Vec<(TaskId, u32)> = self
            .live
            .iter()
            .filter(|(_, l)| &l.agent == agent)
            .map(|(id, l)| (id.clone(), l.attempt))
            .collect();
        let mut events = Vec::new();
        for (task, attempt) in held {
            events.extend(
                self.expire(&task, attempt, ReassignReason::AgentOffline, now)
                    .await?,
            );
        }
        Ok(events)
    }

    /// Submits a task (idempotent for the same id and spec).
    ///
    /// # Errors
    /// [`TaskError::Conflict`] when the id was used with another spec; store errors.
    pub async fn submit(
        &mut self,
        id: TaskId,
        spec: TaskSpec,
        now: DateTime<Utc>,
    ) -> Result<Submitted, CoordinatorError> {
        let (task, events) = self
            .execute(
                &id,
                TaskCommand::Submit {
                    id: id.clone(),
                    spec,
                    at: now,
                },
            )
            .await?;
        if events.is_empty() {
            return Ok(Submitted::AlreadySubmitted);
        }
        if let Some(spec) = task.spec() {
            self.submitted += 1;
            self.open.insert(id.clone(), (self.submitted, spec.clone()));
            self.requeue(&id);
        }
        Ok(Submitted::New)
    }

    fn requeue(&mut self, id: &TaskId) {
        if let Some((order, spec)) = self.open.get(id) {
            self.queue.push(
                id.clone(),
                spec.priority,
                *order,
                spec.required_capabilities.clone(),
            );
        }
    }

    /// Tasks waiting for an agent, in dispatch order.
    pub fn queued(&self) -> Vec<TaskId> {
        self.queue.iter().map(|(id, _)| id.clone()).collect()
    }

    /// The agents as the dispatcher sees them, in name order.
    pub fn candidates(&self) -> Vec<Candidate> {
        self.agents.values().cloned().collect()
    }

    /// Assigns queued tasks to agents while some agent can take some task; returns what to
    /// deliver. Tasks with an open call for proposals wait for their bidding to close.
    ///
    /// # Errors
    /// Store errors; assignments already made stay made.
    pub async fn dispatch(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, CoordinatorError> {
        let mut made = Vec::new();
        loop {
            let candidates: Vec<Candidate> = self.agents.values().cloned().collect();
            let Some((task, index)) =
                next_assignment(&self.queue, &candidates, self.config.strategy, self.cursor)
                    .map(|(t, i)| (t.clone(), i))
            else {
                return Ok(made);
            };
            self.cursor = index + 1;
            let agent = candidates[index].name.clone();
            let ack_by = now + self.config.ack_wait;
            self.queue.remove(&task);
            let (state, _) = self
                .execute(
                    &task,
                    TaskCommand::Assign {
                        agent: agent.clone(),
                        ack_by,
                        at: now,
                    },
                )
                .await?;
            if let Some(assignment) = self.track(&task, &state) {
                made.push(assignment);
            }
        }
    }

    /// Records a live assignment found in `state`; returns it for delivery.
    fn track(&mut self, task: &TaskId, state: &Task) -> Option<Assignment> {
        let TaskStatus::Assigned {
            agent,
            attempt,
            ack_by,
        } = state.status()
        else {
            return None;
        };
        self.live.insert(
            task.clone(),
            Live {
                agent: agent.clone(),
                attempt: *attempt,
                due: *ack_by,
                acknowledged: false,
            },
        );
        if let Some(candidate) = self.agents.get_mut(agent) {
            candidate.in_flight += 1;
        }
        Some(Assignment {
            task: task.clone(),
            agent: agent.clone(),
            attempt: *attempt,
            payload: state.spec().map(|s| s.payload.clone()).unwrap_or_default(),
            ack_by: *ack_by,
        })
    }

    fn release(&mut self, task: &TaskId) {
        if let Some(live) = self.live.remove(task)
            && let Some(candidate) = self.agents.get_mut(&live.agent)
        {
            candidate.in_flight = candidate.in_flight.saturating_sub(1);
        }
    }

    /// Follows up on the state after a command: terminal tasks leave every index, queued ones
    /// return to the queue.
    fn settle(&mut self, task: &TaskId, state: &Task) {
        match state.status() {
            TaskStatus::Queued => {
                self.release(task);
                self.offers.remove(task);
                self.requeue(task);
            }
            status if status.is_terminal() => {
                self.release(task);
                self.queue.remove(task);
                self.offers.remove(task);
                self.open.remove(task);
            }
            _ => {}
        }
    }

    /// The agent acknowledges assignment `attempt` of `task` (fenced: a stale attempt is
    /// refused).
    ///
    /// # Errors
    /// [`TaskError::Fenced`]; store errors.
    pub async fn acknowledge(
        &mut self,
        task: &TaskId,
        agent: &AgentName,
        attempt: u32,
        now: DateTime<Utc>,
    ) -> Result<(), CoordinatorError> {
        let progress_by = now + self.config.progress_wait;
        self.execute(
            task,
            TaskCommand::Acknowledge {
                agent: agent.clone(),
                attempt,
                progress_by,
                at: now,
            },
        )
        .await?;
        if let Some(live) = self.live.get_mut(task)
            && live.attempt == attempt
            && !live.acknowledged
        {
            live.acknowledged = true;
            live.due = progress_by;
        }
        Ok(())
    }

    /// The agent reports progress: the deadline moves by the progress wait.
    ///
    /// # Errors
    /// [`TaskError::Fenced`]; store errors.
    pub async fn progress(
        &mut self,
        task: &TaskId,
        agent: &AgentName,
        attempt: u32,
        note: String,
        now: DateTime<Utc>,
    ) -> Result<(), CoordinatorError> {
        let progress_by = now + self.config.progress_wait;
        self.execute(
            task,
            TaskCommand::Progress {
                agent: agent.clone(),
                attempt,
                note,
                progress_by,
                at: now,
            },
        )
        .await?;
        if let Some(live) = self.live.get_mut(task)
            && live.attempt == attempt
        {
            live.acknowledged = true;
            live.due = progress_by;
        }
        Ok(())
    }

    /// The agent finished (`Ok(result)`) or failed (`Err(reason)`) attempt `attempt`.
    ///
    /// # Errors
    /// [`TaskError::Fenced`]; store errors.
    pub async fn finish(
        &mut self,
        task: &TaskId,
        agent: &AgentName,
        attempt: u32,
        outcome: Result<String, String>,
        now: DateTime<Utc>,
    ) -> Result<(), CoordinatorError> {
        let command = match outcome {
            Ok(result) => TaskCommand::Complete {
                agent: agent.clone(),
                attempt,
                result,
                at: now,
            },
            Err(reason) => TaskCommand::Fail {
                agent: agent.clone(),
                attempt,
                reason,
                at: now,
            },
        };
        let (state, _) = self.execute(task, command).await?;
        self.settle(task, &state);
        Ok(())
    }

    /// Cancels `task`; returns the live assignment the agent must be told about.
    ///
    /// # Errors
    /// [`TaskError::NotSubmitted`]; store errors.
    pub async fn cancel(
        &mut self,
        task: &TaskId,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Option<(AgentName, u32)>, CoordinatorError> {
        let (state, events) = self
            .execute(task, TaskCommand::Cancel { reason, at: now })
            .await?;
        self.settle(task, &state);
        Ok(events.into_iter().find_map(|e| match e {
            TaskEvent::Cancelled { live, .. } => live,
            _ => None,
        }))
    }

    async fn expire(
        &mut self,
        task: &TaskId,
        attempt: u32,
        reason: ReassignReason,
        now: DateTime<Utc>,
    ) -> Result<Vec<TaskEvent>, CoordinatorError> {
        let (state, events) = self
            .execute(
                task,
                TaskCommand::Expire {
                    attempt,
                    reason,
                    at: now,
                },
            )
            .await?;
        self.settle(task, &state);
        Ok(events)
    }

    /// Applies time: assignments past their acknowledgement or progress deadline are taken
    /// away (requeued, or dead-lettered after the last attempt); tasks past their own deadline
    /// are dead-lettered. Returns the events written.
    ///
    /// # Errors
    /// Store errors; tasks already handled stay handled.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<Vec<TaskEvent>, CoordinatorError> {
        Ok(self
            .tick_tasks(now)
            .await?
            .into_iter()
            .map(|(_, event)| event)
            .collect())
    }

    /// [`Self::tick`], with the task each event belongs to.
    ///
    /// # Errors
    /// Store errors; tasks already handled stay handled.
    pub async fn tick_tasks(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(TaskId, TaskEvent)>, CoordinatorError> {
        let mut events = Vec::new();
        let mut overdue: Vec<(TaskId, u32, bool)> = self
            .live
            .iter()
            .filter(|(_, l)| l.due < now)
            .map(|(id, l)| (id.clone(), l.attempt, l.acknowledged))
            .collect();
        overdue.sort();
        for (task, attempt, acknowledged) in overdue {
            let reason = if acknowledged {
                ReassignReason::ProgressTimeout
            } else {
                ReassignReason::MissedAcknowledgement
            };
            let written = self.expire(&task, attempt, reason, now).await?;
            events.extend(written.into_iter().map(|e| (task.clone(), e)));
        }
        let mut late: Vec<TaskId> = self
            .open
            .iter()
            .filter(|(_, (_, spec))| spec.deadline.is_some_and(|d| d < now))
            .map(|(id, _)| id.clone())
            .collect();
        late.sort();
        for task in late {
            let (state, written) = self
                .execute(&task, TaskCommand::DeadlinePassed { at: now })
                .await?;
            self.settle(&task, &state);
            events.extend(written.into_iter().map(|e| (task.clone(), e)));
        }
        let mut closing: Vec<TaskId> = self
            .offers
            .iter()
            .filter(|(_, (_, closes))| *closes < now)
            .map(|(id, _)| id.clone())
            .collect();
        closing.sort();
        for task in closing {
            let written = self.close_bidding(&task, now).await?;
            events.extend(written.into_iter().map(|e| (task.clone(), e)));
        }
        Ok(events)
    }

    /// Opens a call for proposals on a queued task until `deadline`; returns its round. The
    /// task leaves the queue until the bidding closes.
    ///
    /// # Errors
    /// [`TaskError::InvalidState`] unless queued; store errors.
    pub async fn offer(
        &mut self,
        task: &TaskId,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u32, CoordinatorError> {
        let (_, events) = self
            .execute(task, TaskCommand::Offer { deadline, at: now })
            .await?;
        let round = events
            .iter()
            .find_map(|e| match e {
                TaskEvent::Offered { round, .. } => Some(*round),
                _ => None,
            })
            .unwrap_or(0);
        self.queue.remove(task);
        self.offers.insert(task.clone(), (round, deadline));
        Ok(round)
    }

    /// Records a bid on an open call.
    ///
    /// # Errors
    /// [`TaskError::BiddingClosed`], [`TaskError::DuplicateBid`]; store errors.
    pub async fn bid(&mut self, task: &TaskId, bid: Bid) -> Result<(), CoordinatorError> {
        self.execute(task, TaskCommand::Bid(bid)).await?;
        Ok(())
    }

    /// Closes the call on `task`: the best bid from an agent able to take it now wins, or a
    /// typed no-bid outcome is recorded and the task is queued again. Returns the events.
    ///
    /// # Errors
    /// [`TaskError::BiddingClosed`] when no call is open; store errors.
    pub async fn close_bidding(
        &mut self,
        task: &TaskId,
        now: DateTime<Utc>,
    ) -> Result<Vec<TaskEvent>, CoordinatorError> {
        let round = self.offers.get(task).map_or(0, |(round, _)| *round);
        let required = self
            .open
            .get(task)
            .map(|(_, spec)| spec.required_capabilities.clone())
            .unwrap_or_default();
        let eligible = self
            .agents
            .values()
            .filter(|c| c.can_take(&required))
            .map(|c| c.name.clone())
            .collect();
        let (state, events) = self
            .execute(
                task,
                TaskCommand::CloseBidding {
                    round,
                    eligible,
                    ack_by: now + self.config.ack_wait,
                    at: now,
                },
            )
            .await?;
        self.offers.remove(task);
        self.track(task, &state);
        self.settle(task, &state);
        Ok(events)
    }

    /// The delivery of `task`'s live assignment, while it waits for its acknowledgement (after a
    /// contract-net award, for example).
    pub fn pending_delivery(&self, task: &TaskId) -> Option<Assignment> {
        let live = self.live.get(task).filter(|l| !l.acknowledged)?;
        let (_, spec) = self.open.get(task)?;
        Some(Assignment {
            task: task.clone(),
            agent: live.agent.clone(),
            attempt: live.attempt,
            payload: spec.payload.clone(),
            ack_by: live.due,
        })
    }

    /// The live assignment of `task` the coordinator tracks (agent, attempt).
    pub fn live_assignment(&self, task: &TaskId) -> Option<(AgentName, u32)> {
        self.live.get(task).map(|l| (l.agent.clone(), l.attempt))
    }
}
