//! Task coordination: a cqrs-es task aggregate, assignment strategies as pure functions, and a
//! coordinator that turns each decision into an event.
//!
//! - **Aggregate** ([`Task`]): the client supplies the id; resubmitting it with the same spec is
//!   a no-op, with another a typed [`TaskError::Conflict`]. Every assignment carries an attempt
//!   number, the fencing token: acknowledgements, progress and results naming another attempt
//!   are refused ([`TaskError::Fenced`]), so a task never has two live assignments. A missed
//!   acknowledgement, a progress timeout or the agent going offline requeues the task; after
//!   `max_attempts` it is dead-lettered with its whole history of attempts. Terminal states:
//!   completed, failed, dead-lettered, cancelled.
//! - **Strategies** ([`choose`]): round-robin, capability match, least-loaded, and contract net
//!   ([`award`]: best bid by cost, then estimate; no bid is a typed [`NoBidReason`]).
//! - **Queue** ([`TaskQueue`]): higher priority first, FIFO within a priority; an agent never
//!   holds more than its declared number of tasks.

mod aggregate;
mod command;
mod contract_net;
mod coordinator;
mod error;
mod event;
mod id;
mod queue;
mod service;
mod spec;
mod strategy;
mod wire;
mod worker;

pub use aggregate::{Task, TaskStatus};
pub use command::TaskCommand;
pub use contract_net::award;
pub use coordinator::{
    Assignment, CoordinatorConfig, CoordinatorError, Submitted, TaskCoordinator,
};
pub use error::TaskError;
pub use event::{DeadLetterReason, TaskEvent};
pub use id::{MAX_TASK_ID_LEN, TaskId, TaskIdError};
pub use queue::{TaskQueue, next_assignment};
pub use service::{REPORTS_CONSUMER, ReportOutcome, ServiceError, TaskService};
pub use spec::{Attempt, AttemptOutcome, Bid, NoBidReason, ReassignReason, TaskSpec};
pub use strategy::{Candidate, Strategy, capability_mask, choose};
pub use wire::{
    AgentReport, CancelMessage, MAX_TASK_MESSAGE_BYTES, ReportKind, TaskReply, TaskRequest,
    TaskSummary,
};
pub use worker::{InboxItem, Job, TaskWorker};
