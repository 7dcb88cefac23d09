//! The task aggregate: a pure `decide` (command + state -> events or a typed refusal) and
//! `apply` (event -> state), so any event store rebuilds the same task.

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentName;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::contract_net::award;
use super::{
    Attempt, AttemptOutcome, Bid, DeadLetterReason, TaskCommand, TaskError, TaskEvent, TaskId,
    TaskSpec,
};

/// Where a task stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum TaskStatus {
    /// Nothing submitted under this id.
    #[default]
    NotSubmitted,
    /// Waiting for an agent.
    Queued,
    /// A call for proposals is open.
    Offered {
        /// Its round.
        round: u32,
        /// Bids after this are refused.
        deadline: DateTime<Utc>,
    },
    /// Given to an agent that has not acknowledged yet.
    Assigned {
        /// The agent.
        agent: AgentName,
        /// The attempt (fencing token).
        attempt: u32,
        /// It must acknowledge by then.
        ack_by: DateTime<Utc>,
    },
    /// Acknowledged and being worked on.
    Running {
        /// The agent.
        agent: AgentName,
        /// The attempt (fencing token).
        attempt: u32,
        /// It must report progress or a result by then.
        progress_by: DateTime<Utc>,
    },
    /// Finished (terminal).
    Completed {
        /// The agent's result.
        result: String,
    },
    /// The agent reported failure (terminal).
    Failed {
        /// The agent's reason.
        reason: String,
    },
    /// Given up (terminal).
    DeadLettered {
        /// Why.
        reason: DeadLetterReason,
    },
    /// Cancelled (terminal).
    Cancelled {
        /// The client's reason.
        reason: String,
    },
}

impl TaskStatus {
    /// A one-word name: `queued`, `assigned`, `completed`, …
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotSubmitted => "not-submitted",
            Self::Queued => "queued",
            Self::Offered { .. } => "offered",
            Self::Assigned { .. } => "assigned",
            Self::Running { .. } => "running",
            Self::Completed { .. } => "completed",
            Self::Failed { .. } => "failed",
            Self::DeadLettered { .. } => "dead-lettered",
            Self::Cancelled { .. } => "cancelled",
        }
    }

    /// Whether the task has ended (completed, failed, dead-lettered or cancelled).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Completed { .. }
                | Self::Failed { .. }
                | Self::DeadLettered { .. }
                | Self::Cancelled { .. }
        )
    }

    /// The live assignment (agent, attempt): at most one, by construction.
    pub fn live(&self) -> Option<(AgentName, u32)> {
        match self {
            Self::Assigned { agent, attempt, .. } | Self::Running { agent, attempt, .. } => {
                Some((agent.clone(), *attempt))
            }
            _ => None,
        }
    }
}

/// One task's event-sourced state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Task {
    id: Option<TaskId>,
    spec: Option<TaskSpec>,
    submitted_at: Option<DateTime<Utc>>,
    status: TaskStatus,
    attempts: Vec<Attempt>,
    round: u32,
    bids: Vec<Bid>,
}

impl Task {
    /// Its id, once submitted.
    pub fn id(&self) -> Option<&TaskId> {
        self.id.as_ref()
    }

    /// What was submitted.
    pub fn spec(&self) -> Option<&TaskSpec> {
        self.spec.as_ref()
    }

    /// When it was submitted.
    pub fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.submitted_at
    }

    /// Where it stands.
    pub fn status(&self) -> &TaskStatus {
        &self.status
    }

    /// Every assignment so far, oldest first.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// Bids of the open round.
    pub fn bids(&self) -> &[Bid] {
        &self.bids
    }

    fn max_attempts(&self) -> u32 {
        self.spec.as_ref().map_or(1, |s| s.max_attempts.max(1))
    }

    fn next_attempt(&self) -> Result<u32, TaskError> {
        let used = u32::try_from(self.attempts.len()).unwrap_or(u32::MAX);
        if used >= self.max_attempts() {
            Err(TaskError::AttemptsExhausted(self.max_attempts()))
        } else {
            Ok(used + 1)
        }
    }

    /// Checks that (`agent`, `attempt`) is the live assignment.
    fn fence(&self, agent: &AgentName, attempt: u32) -> Result<(), TaskError> {
        match self.status.live() {
            Some((live, n)) if &live == agent && n == attempt => Ok(()),
            live => Err(TaskError::Fenced {
                agent: agent.clone(),
                attempt,
                live,
            }),
        }
    }

    /// The attempts with the live one ended by `outcome`.
    fn history_ending(&self, outcome: AttemptOutcome) -> Vec<Attempt> {
        let mut attempts = self.attempts.clone();
        if self.status.live().is_some()
            && let Some(last) = attempts.last_mut()
            && last.outcome.is_none()
        {
            last.outcome = Some(outcome);
        }
        attempts
    }

    /// The events `command` produces, or why it is refused. Pure: no clock, no I/O.
    ///
    /// # Errors
    /// [`TaskError`] naming the rule the command breaks.
    pub fn decide(&self, command: TaskCommand) -> Result<Vec<TaskEvent>, TaskError> {
        use TaskCommand as C;
        use TaskEvent as E;
        if let C::Submit { id, spec, at } = command {
            let spec = spec.normalized();
            return match (&self.id, &self.spec) {
                (None, _) => Ok(vec![E::Submitted { id, spec, at }]),
                (Some(mine), Some(stored)) if *mine == id && *stored == spec => Ok(Vec::new()),
                _ => Err(TaskError::Conflict(id)),
            };
        }
        if self.id.is_none() {
            return Err(TaskError::NotSubmitted);
        }
        let status = &self.status;
        Ok(match command {
            C::Submit { .. } => Vec::new(),
            C::Cancel { .. } | C::DeadlinePassed { .. } if status.is_terminal() => Vec::new(),
            C::Cancel { reason, at } => vec![E::Cancelled {
                reason,
                live: status.live(),
                at,
            }],
            C::DeadlinePassed { at } => vec![E::DeadLettered {
                reason: DeadLetterReason::DeadlinePassed,
                attempts: self.history_ending(AttemptOutcome::DeadlinePassed),
                at,
            }],
            C::Offer { deadline, at } => match status {
                TaskStatus::Queued => {
                    self.next_attempt()?;
                    vec![E::Offered {
                        round: self.round + 1,
                        deadline,
                        at,
                    }]
                }
                other => return Err(TaskError::invalid("offer", other)),
            },
            C::Bid(bid) => match status {
                TaskStatus::Offered { round, deadline }
                    if *round == bid.round && bid.at <= *deadline =>
                {
                    if self.bids.iter().any(|b| b.agent == bid.agent) {
                        return Err(TaskError::DuplicateBid(bid.agent));
                    }
                    vec![E::BidReceived { bid }]
                }
                _ => return Err(TaskError::BiddingClosed { round: bid.round }),
            },
            C::CloseBidding {
                round,
                eligible,
                ack_by,
                at,
            } => match status {
                TaskStatus::Offered { round: open, .. } if *open == round => {
                    match award(&self.bids, &eligible) {
                        Ok(winner) => vec![E::Assigned {
                            agent: winner.agent.clone(),
                            attempt: self.next_attempt()?,
                            ack_by,
                            at,
                        }],
                        Err(reason) => vec![E::NoBid { round, reason, at }],
                    }
                }
                _ => return Err(TaskError::BiddingClosed { round }),
            },
            C::Assign { agent, ack_by, at } => match status {
                TaskStatus::Queued => vec![E::Assigned {
                    agent,
                    attempt: self.next_attempt()?,
                    ack_by,
                    at,
                }],
                other => return Err(TaskError::invalid("assign", other)),
            },
            C::Acknowledge {
                agent,
                attempt,
                progress_by,
                at,
            } => {
                self.fence(&agent, attempt)?;
                if matches!(status, TaskStatus::Running { .. }) {
                    Vec::new()
                } else {
                    vec![E::Acknowledged {
                        agent,
                        attempt,
                        progress_by,
                        at,
                    }]
                }
            }
            C::Progress {
                agent,
                attempt,
                note,
                progress_by,
                at,
            } => {
                self.fence(&agent, attempt)?;
                let mut events = Vec::new();
                if matches!(status, TaskStatus::Assigned { .. }) {
                    events.push(E::Acknowledged {
                        agent: agent.clone(),
                        attempt,
                        progress_by,
                        at,
                    });
                }
                events.push(E::Progressed {
                    agent,
                    attempt,
                    note,
                    progress_by,
                    at,
                });
                events
            }
            C::Expire {
                attempt,
                reason,
                at,
            } => {
                let Some((agent, live)) = status.live().filter(|(_, n)| *n == attempt) else {
                    let agent = self
                        .attempts
                        .get(attempt.saturating_sub(1) as usize)
                        .map(|a| a.agent.clone())
                        .ok_or(TaskError::invalid("expire", status))?;
                    return Err(TaskError::Fenced {
                        agent,
                        attempt,
                        live: status.live(),
                    });
                };
                let mut events = vec![E::Reassigned {
                    agent,
                    attempt: live,
                    reason,
                    at,
                }];
                if self.attempts.len() >= self.max_attempts() as usize {
                    events.push(E::DeadLettered {
                        reason: DeadLetterReason::MaxAttemptsReached,
                        attempts: self.history_ending(AttemptOutcome::Reassigned { reason }),
                        at,
                    });
                }
                events
            }
            C::Complete {
                agent,
                attempt,
                result,
                at,
            } => {
                self.fence(&agent, attempt)?;
                vec![E::Completed {
                    agent,
                    attempt,
                    result,
                    at,
                }]
            }
            C::Fail {
                agent,
                attempt,
                reason,
                at,
            } => {
                self.fence(&agent, attempt)?;
                vec![E::Failed {
                    agent,
                    attempt,
                    reason,
                    at,
                }]
            }
        })
    }

    fn end_live(&mut self, outcome: AttemptOutcome) {
        if self.status.live().is_some()
            && let Some(last) = self.attempts.last_mut()
            && last.outcome.is_none()
        {
            last.outcome = Some(outcome);
        }
    }

    /// Applies one event (idempotent: applying an event twice leaves the same state).
    pub fn apply_event(&mut self, event: TaskEvent) {
        use TaskEvent as E;
        match event {
            E::Submitted { id, spec, at } => {
                self.id = Some(id);
                self.spec = Some(spec);
                self.submitted_at = Some(at);
                self.status = TaskStatus::Queued;
            }
            E::Offered {
                round, deadline, ..
            } => {
                if round != self.round {
                    self.bids.clear();
                }
                self.round = round;
                self.status = TaskStatus::Offered { round, deadline };
            }
            E::BidReceived { bid } => {
                if !self.bids.iter().any(|b| b.agent == bid.agent) {
                    self.bids.push(bid);
                }
            }
            E::NoBid { .. } => {
                self.bids.clear();
                self.status = TaskStatus::Queued;
            }
            E::Assigned {
                agent,
                attempt,
                ack_by,
                at,
            } => {
                if self.attempts.len() < attempt as usize {
                    self.attempts.push(Attempt {
                        attempt,
                        agent: agent.clone(),
                        assigned_at: at,
                        acknowledged_at: None,
                        outcome: None,
                    });
                }
                self.bids.clear();
                self.status = TaskStatus::Assigned {
                    agent,
                    attempt,
                    ack_by,
                };
            }
            E::Acknowledged {
                agent,
                attempt,
                progress_by,
                at,
            } => {
                if let Some(record) = self.attempts.last_mut()
                    && record.acknowledged_at.is_none()
                {
                    record.acknowledged_at = Some(at);
                }
                self.status = TaskStatus::Running {
                    agent,
                    attempt,
                    progress_by,
                };
            }
            E::Progressed {
                agent,
                attempt,
                progress_by,
                ..
            } => {
                self.status = TaskStatus::Running {
                    agent,
                    attempt,
                    progress_by,
                };
            }
            E::Reassigned { reason, .. } => {
                self.end_live(AttemptOutcome::Reassigned { reason });
                self.status = TaskStatus::Queued;
            }
            E::Completed { result, .. } => {
                self.end_live(AttemptOutcome::Completed);
                self.status = TaskStatus::Completed { result };
            }
            E::Failed { reason, .. } => {
                self.end_live(AttemptOutcome::Failed {
                    reason: reason.clone(),
                });
                self.status = TaskStatus::Failed { reason };
            }
            E::DeadLettered {
                reason, attempts, ..
            } => {
                self.attempts = attempts;
                self.status = TaskStatus::DeadLettered { reason };
            }
            E::Cancelled { reason, .. } => {
                self.end_live(AttemptOutcome::Cancelled);
                self.status = TaskStatus::Cancelled { reason };
            }
        }
    }
}

impl Aggregate for Task {
    const TYPE: &'static str = "task";
    type Command = TaskCommand;
    type Event = TaskEvent;
    type Error = TaskError;
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

    fn apply(&mut self, event: Self::Event) {
        self.apply_event(event);
    }
}
