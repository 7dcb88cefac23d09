//! Consensus voting: proposals that agents open, discuss, vote on and enforce, as an
//! event-sourced aggregate whose event stream is the audit trail.
//!
//! - [`rules`]: protocol ([`Protocol::SimpleMajority`], [`Protocol::QualifiedMajority`],
//!   [`Protocol::Unanimous`], [`Protocol::WeightedVoting`]), quorum, veto with time lock,
//!   discussion period, deadline, late-quorum extension, revoting; the electorate and weights.
//!   All fixed at opening and checked then (an unreachable threshold is refused).
//! - [`tally`]: the pure count and decision, exact integer arithmetic, and the sound test for
//!   an early close ([`settled`]).
//! - [`Proposal`]: the cqrs-es aggregate (commands carry `now`; typed [`ProposalError`]s).
//! - [`Coordinator`], [`Voter`]: the same over any [`crate::transport::Transport`], on any
//!   cqrs-es event store; subjects in [`wire`].
//!
//! The transport guarantees nothing beyond core NATS (at-most-once); the aggregate decides.
//! A vote counts once it is an event in the store; its receipt says so, and a voter retries
//! until it has one, so a coordinator restart loses nothing and a missing voter is simply a
//! missing vote.

mod clock;
mod command;
mod coordinator;
mod error;
mod event;
mod ids;
mod proposal;
pub mod rules;
pub mod tally;
mod voter;
pub mod wire;

pub use clock::{Clock, ManualClock, SystemClock};
pub use command::ProposalCommand;
pub use coordinator::{Coordinator, CoordinatorError, QUEUE_GROUP, ServeHandle, Stats};
pub use error::{ProposalError, Refusal};
pub use event::ProposalEvent;
pub use ids::{ProposalId, ProposalSubject};
pub use proposal::{Phase, Proposal};
pub use rules::{
    Comparison, Electorate, Member, Protocol, Quorum, Ratio, Rules, RulesError, Threshold, VetoRule,
};
pub use tally::{Choice, Outcome, Tally, evaluate, settled};
pub use voter::{MessageStream, Voter, VoterError};
