//! Errors of dialog routing and dialog channels.

use cim_domain_agent::AgentId;
use thiserror::Error;

use super::message::DialogId;
use crate::transport::TransportError;

/// Why the router could not route a message. Every variant names the dialog or agent involved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RoutingError {
    /// The participant list was empty: nobody can receive anything (fails before any work).
    #[error("dialog {dialog}: no participants")]
    NoParticipants {
        /// The dialog.
        dialog: DialogId,
    },
    /// The strategy left nobody to deliver to.
    #[error(
        "dialog {dialog}: {strategy} routing found no recipient ({offline_skipped} offline skipped)"
    )]
    NoRecipient {
        /// The dialog.
        dialog: DialogId,
        /// The strategy's name.
        strategy: &'static str,
        /// How many candidates were left out because they were offline.
        offline_skipped: usize,
    },
    /// A participant the router has never been told about (see `upsert_agent`).
    #[error("agent {agent} is not known to the router")]
    UnknownAgent {
        /// The agent.
        agent: AgentId,
    },
    /// A named recipient (direct, hand-off) or a selector's answer is not a participant.
    #[error("dialog {dialog}: agent {agent} is not a participant")]
    NotAParticipant {
        /// The dialog.
        dialog: DialogId,
        /// The agent named.
        agent: AgentId,
    },
    /// A recipient is offline and the offline policy is `Error`.
    #[error("dialog {dialog}: recipient {agent} is offline")]
    RecipientOffline {
        /// The dialog.
        dialog: DialogId,
        /// The offline recipient.
        agent: AgentId,
    },
    /// The dialog has had its maximum number of turns.
    #[error("dialog {dialog}: turn limit of {max} reached")]
    TurnLimit {
        /// The dialog.
        dialog: DialogId,
        /// The configured maximum.
        max: u32,
    },
    /// Too many hand-offs in a row without any other turn.
    #[error("dialog {dialog}: hand-off chain limit of {max} reached")]
    HandOffChainLimit {
        /// The dialog.
        dialog: DialogId,
        /// The configured maximum.
        max: u32,
    },
    /// A hand-off to the speaker itself, or by an agent that is not a participant.
    #[error("dialog {dialog}: agent {agent} cannot hand the turn to itself")]
    HandOffToSelf {
        /// The dialog.
        dialog: DialogId,
        /// The agent.
        agent: AgentId,
    },
    /// A hand-off without a reason.
    #[error("dialog {dialog}: a hand-off needs a reason")]
    HandOffWithoutReason {
        /// The dialog.
        dialog: DialogId,
    },
    /// `Strategy::Selector` with no selector installed.
    #[error("dialog {dialog}: selector routing without a selector")]
    NoSelector {
        /// The dialog.
        dialog: DialogId,
    },
    /// The selector gave no valid answer within its attempts and the fallback is `Error`.
    #[error("dialog {dialog}: selector gave no valid participant in {attempts} attempts")]
    SelectorExhausted {
        /// The dialog.
        dialog: DialogId,
        /// Attempts made.
        attempts: u32,
        /// The answers refused, in order (`None` for "nobody").
        rejected: Vec<Option<AgentId>>,
    },
}

/// Why a dialog channel could not send or deliver.
#[derive(Debug, Error)]
pub enum ChannelError {
    /// Routing refused the message.
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// The dialog aggregate refused the turn.
    #[error(transparent)]
    Dialog(#[from] super::aggregate::DialogError),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A recipient's queue is full (policy `Reject`, or `Wait` that waited its limit).
    #[error("queue of agent {agent} is full ({capacity} messages)")]
    QueueFull {
        /// The recipient.
        agent: AgentId,
        /// The queue's capacity in messages.
        capacity: usize,
    },
    /// The encoded message is larger than the channel's limit.
    #[error("message of {size} bytes exceeds the channel limit of {max} bytes")]
    MessageTooLarge {
        /// Encoded size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The message belongs to another dialog.
    #[error("message for dialog {got} sent on the channel of dialog {expected}")]
    WrongDialog {
        /// This channel's dialog.
        expected: DialogId,
        /// The message's dialog.
        got: DialogId,
    },
    /// The agent has no mailbox on this channel (it is not one of the channel's agents).
    #[error("agent {agent} has no mailbox on this channel")]
    NoMailbox {
        /// The agent.
        agent: AgentId,
    },
    /// A message could not be encoded (should not happen with the crate's types).
    #[error("could not encode a dialog message: {0}")]
    Encode(#[from] serde_json::Error),
}
