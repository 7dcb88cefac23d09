//! The Agent aggregate (cqrs-es): one agent's lifecycle, presence, task queue and approval
//! requests. It is generic over the event store like every cqrs-es aggregate, so callers pick
//! the in-memory store or `cim-jetstream` without touching this code.
//!
//! Handling is split into a pure `decide` (command + state → events or a typed error) and
//! `apply` (event → state), so the same events rebuild the same state from any store.

mod command;
mod error;
mod event;
mod ids;
mod state;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

pub use command::AgentCommand;
pub use error::AgentError;
pub use event::AgentEvent;
pub use ids::{ApprovalId, TaskId};
pub use state::{ApprovalKind, ApprovalOutcome, ApprovalRequest, Lifecycle, Presence, Task};

use crate::definition::{AgentId, AgentName};

/// Who the agent is, fixed at registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Identity {
    id: AgentId,
    name: AgentName,
    version: Option<semver::Version>,
    capabilities: Vec<String>,
}

/// One agent's event-sourced state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    identity: Option<Identity>,
    lifecycle: Option<Lifecycle>,
    node: Option<String>,
    offline: bool,
    running: Option<Task>,
    queue: VecDeque<Task>,
    /// In request order, so the oldest request is the one presence reports.
    pending: Vec<ApprovalRequest>,
    decided: BTreeMap<ApprovalId, ApprovalOutcome>,
    /// Every task ever assigned, so a retried assignment is refused instead of run twice.
    known_tasks: BTreeSet<TaskId>,
}

impl Agent {
    /// The agent's id, once registered.
    pub fn id(&self) -> Option<AgentId> {
        self.identity.as_ref().map(|i| i.id)
    }

    /// The agent's name, once registered.
    pub fn name(&self) -> Option<&AgentName> {
        self.identity.as_ref().map(|i| &i.name)
    }

    /// Registered capabilities.
    pub fn capabilities(&self) -> &[String] {
        self.identity.as_ref().map_or(&[], |i| &i.capabilities)
    }

    /// The lifecycle stage, once registered.
    pub fn lifecycle(&self) -> Option<Lifecycle> {
        self.lifecycle
    }

    /// The node it is deployed on.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// What it is doing now. Pending approvals outrank the running task: a blocked agent is
    /// not making progress on it.
    pub fn presence(&self) -> Presence {
        let serving = matches!(
            self.lifecycle,
            Some(Lifecycle::Active | Lifecycle::Suspended)
        );
        if !serving || self.offline {
            Presence::Offline
        } else if let Some(request) = self.pending.first() {
            Presence::Blocked {
                approval: request.id,
            }
        } else if let Some(task) = &self.running {
            Presence::Working { task: task.id }
        } else {
            Presence::Idle
        }
    }

    /// The running task.
    pub fn running_task(&self) -> Option<&Task> {
        self.running.as_ref()
    }

    /// Tasks waiting, in the order they will run.
    pub fn queued_tasks(&self) -> impl Iterator<Item = &Task> {
        self.queue.iter()
    }

    /// Approval requests waiting for a decision, oldest first.
    pub fn pending_approvals(&self) -> &[ApprovalRequest] {
        &self.pending
    }

    /// How a past approval request ended.
    pub fn approval_outcome(&self, id: ApprovalId) -> Option<ApprovalOutcome> {
        self.decided.get(&id).copied()
    }

    /// The events `command` produces, or why it is refused. Pure: no clock, no I/O.
    pub fn decide(&self, command: AgentCommand) -> Result<Vec<AgentEvent>, AgentError> {
        use AgentCommand as C;
        use AgentEvent as E;
        let stage = match self.lifecycle {
            Some(Lifecycle::Decommissioned) => return Err(AgentError::Decommissioned),
            Some(stage) => stage,
            None => {
                return match command {
                    C::Register {
                        id,
                        name,
                        version,
                        capabilities,
                    } => Ok(vec![E::Registered {
                        id,
                        name,
                        version,
                        capabilities,
                    }]),
                    _ => Err(AgentError::NotRegistered),
                };
            }
        };
        let transition = |allowed: &[Lifecycle], command: &'static str| {
            if allowed.contains(&stage) {
                Ok(())
            } else {
                Err(AgentError::InvalidTransition {
                    from: stage,
                    command,
                })
            }
        };
        let serving = || {
            if matches!(stage, Lifecycle::Active | Lifecycle::Suspended) {
                Ok(())
            } else {
                Err(AgentError::NotServing(stage))
            }
        };
        Ok(match command {
            C::Register { id, .. } => return Err(AgentError::AlreadyRegistered(id)),
            C::Deploy { node } => {
                transition(&[Lifecycle::Registered], "deploy")?;
                vec![E::Deployed { node }]
            }
            C::Activate => {
                transition(&[Lifecycle::Deployed], "activate")?;
                vec![E::Activated]
            }
            C::Suspend { reason } => {
                transition(&[Lifecycle::Active], "suspend")?;
                vec![E::Suspended { reason }]
            }
            C::Resume => {
                transition(&[Lifecycle::Suspended], "resume")?;
                self.then_start_next(vec![E::Resumed], true, self.offline)
            }
            C::Decommission { reason } => {
                // An active agent may be mid-task: suspend it first, then retire it.
                transition(
                    &[
                        Lifecycle::Registered,
                        Lifecycle::Deployed,
                        Lifecycle::Suspended,
                    ],
                    "decommission",
                )?;
                vec![E::Decommissioned {
                    reason,
                    abandoned_tasks: self
                        .running
                        .iter()
                        .chain(&self.queue)
                        .map(|t| t.id)
                        .collect(),
                    cancelled_approvals: self.pending.iter().map(|r| r.id).collect(),
                }]
            }
            C::MarkOffline if self.offline => Vec::new(),
            C::MarkOffline => vec![E::WentOffline],
            C::MarkOnline if !self.offline => Vec::new(),
            C::MarkOnline => {
                self.then_start_next(vec![E::CameOnline], stage == Lifecycle::Active, false)
            }
            C::AssignTask { task } => {
                serving()?;
                if self.known_tasks.contains(&task.id) {
                    return Err(AgentError::DuplicateTask(task.id));
                }
                let free = stage == Lifecycle::Active && !self.offline && self.running.is_none();
                if free {
                    vec![E::TaskStarted { task }]
                } else {
                    vec![E::TaskQueued {
                        task,
                        position: self.queue.len() + 1,
                    }]
                }
            }
            C::CompleteTask { task, outcome } => {
                self.check_running(task)?;
                self.then_start_next(
                    vec![E::TaskCompleted { task, outcome }],
                    stage == Lifecycle::Active,
                    self.offline,
                )
            }
            C::FailTask { task, reason } => {
                self.check_running(task)?;
                self.then_start_next(
                    vec![E::TaskFailed { task, reason }],
                    stage == Lifecycle::Active,
                    self.offline,
                )
            }
            C::RequestApproval {
                id,
                kind,
                reason,
                at,
                timeout_secs,
            } => {
                serving()?;
                if timeout_secs == 0 {
                    return Err(AgentError::ZeroTimeout);
                }
                if self.decided.contains_key(&id) || self.pending.iter().any(|r| r.id == id) {
                    return Err(AgentError::DuplicateApproval(id));
                }
                vec![E::ApprovalRequested {
                    request: ApprovalRequest {
                        id,
                        kind,
                        reason,
                        requested_at: at,
                        expires_at: at + chrono::Duration::seconds(i64::from(timeout_secs)),
                    },
                }]
            }
            C::Approve { id, by, at } => {
                let request = self.pending_request(id)?;
                if at >= request.expires_at {
                    return Err(AgentError::ApprovalTimedOut {
                        id,
                        expired_at: request.expires_at,
                    });
                }
                vec![E::ApprovalGranted { id, by }]
            }
            C::Deny { id, by, reason } => {
                self.pending_request(id)?;
                vec![E::ApprovalDenied { id, by, reason }]
            }
            C::ExpireApprovals { now } => self
                .pending
                .iter()
                .filter(|r| r.expires_at <= now)
                .map(|r| E::ApprovalExpired {
                    id: r.id,
                    expired_at: r.expires_at,
                })
                .collect(),
        })
    }

    /// Appends the start of the next queued task when the agent will be free to run it.
    fn then_start_next(
        &self,
        mut events: Vec<AgentEvent>,
        active: bool,
        offline: bool,
    ) -> Vec<AgentEvent> {
        let running_after = self.running.is_some()
            && !events.iter().any(|e| {
                matches!(
                    e,
                    AgentEvent::TaskCompleted { .. } | AgentEvent::TaskFailed { .. }
                )
            });
        if active
            && !offline
            && !running_after
            && let Some(next) = self.queue.front()
        {
            events.push(AgentEvent::TaskStarted { task: next.clone() });
        }
        events
    }

    fn check_running(&self, task: TaskId) -> Result<(), AgentError> {
        match &self.running {
            Some(running) if running.id == task => Ok(()),
            _ => Err(AgentError::NotRunningTask { task }),
        }
    }

    fn pending_request(&self, id: ApprovalId) -> Result<&ApprovalRequest, AgentError> {
        if let Some(request) = self.pending.iter().find(|r| r.id == id) {
            return Ok(request);
        }
        Err(match self.decided.get(&id) {
            Some(&outcome) => AgentError::ApprovalAlreadyDecided { id, outcome },
            None => AgentError::UnknownApproval(id),
        })
    }

    fn decide_approval(&mut self, id: ApprovalId, outcome: ApprovalOutcome) {
        self.pending.retain(|r| r.id != id);
        self.decided.insert(id, outcome);
    }
}

impl Aggregate for Agent {
    const TYPE: &'static str = "agent";
    type Command = AgentCommand;
    type Event = AgentEvent;
    type Error = AgentError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    /// Idempotent per event: cqrs-es's snapshotting store applies a commit's events a second
    /// time to an aggregate that the event sink has already applied them to.
    fn apply(&mut self, event: Self::Event) {
        match event {
            AgentEvent::Registered {
                id,
                name,
                version,
                capabilities,
            } => {
                self.identity = Some(Identity {
                    id,
                    name,
                    version,
                    capabilities,
                });
                self.lifecycle = Some(Lifecycle::Registered);
            }
            AgentEvent::Deployed { node } => {
                self.node = Some(node);
                self.lifecycle = Some(Lifecycle::Deployed);
            }
            AgentEvent::Activated | AgentEvent::Resumed => {
                self.lifecycle = Some(Lifecycle::Active);
            }
            AgentEvent::Suspended { .. } => self.lifecycle = Some(Lifecycle::Suspended),
            AgentEvent::Decommissioned { .. } => {
                self.lifecycle = Some(Lifecycle::Decommissioned);
                self.running = None;
                self.queue.clear();
                for request in std::mem::take(&mut self.pending) {
                    self.decided.insert(request.id, ApprovalOutcome::Cancelled);
                }
            }
            AgentEvent::WentOffline => self.offline = true,
            AgentEvent::CameOnline => self.offline = false,
            AgentEvent::TaskStarted { task } => {
                if self
                    .queue
                    .front()
                    .is_some_and(|queued| queued.id == task.id)
                {
                    self.queue.pop_front();
                }
                self.known_tasks.insert(task.id);
                self.running = Some(task);
            }
            AgentEvent::TaskQueued { task, .. } => {
                self.known_tasks.insert(task.id);
                if !self.queue.iter().any(|queued| queued.id == task.id) {
                    self.queue.push_back(task);
                }
            }
            AgentEvent::TaskCompleted { task, .. } | AgentEvent::TaskFailed { task, .. } => {
                if self
                    .running
                    .as_ref()
                    .is_some_and(|running| running.id == task)
                {
                    self.running = None;
                }
            }
            AgentEvent::ApprovalRequested { request } => {
                if !self.pending.iter().any(|pending| pending.id == request.id) {
                    self.pending.push(request);
                }
            }
            AgentEvent::ApprovalGranted { id, .. } => {
                self.decide_approval(id, ApprovalOutcome::Granted);
            }
            AgentEvent::ApprovalDenied { id, .. } => {
                self.decide_approval(id, ApprovalOutcome::Denied);
            }
            AgentEvent::ApprovalExpired { id, .. } => {
                self.decide_approval(id, ApprovalOutcome::Expired);
            }
        }
    }
}
