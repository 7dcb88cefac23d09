//! The dialog as an event-sourced aggregate (cqrs-es): opening, every turn and closing are
//! events, so a conversation replays and can be audited. The aggregate re-checks the bounds the
//! router applies (participants, turn limit, hand-off chain), so a transcript that replays is
//! one that obeyed them.

use cim_domain_agent::AgentId;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::context::DialogContext;
use super::merge::MergePolicy;
use super::message::{DialogId, Priority, Strategy};

/// One turn of a dialog, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// 1-based position in the dialog.
    pub seq: u32,
    /// Who spoke.
    pub from: AgentId,
    /// How recipients were chosen (a hand-off carries its target and reason here).
    pub strategy: Strategy,
    /// How urgent it was.
    pub priority: Priority,
    /// What was said.
    pub content: String,
    /// Who received it, as routed.
    pub recipients: Vec<AgentId>,
    /// The context the speaker sent (before per-recipient filtering).
    pub context: DialogContext,
}

/// Commands of the dialog aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DialogCommand {
    /// Opens the dialog among distinct participants with its bounds.
    Open {
        /// The dialog.
        id: DialogId,
        /// Who takes part.
        participants: Vec<AgentId>,
        /// Most turns.
        max_turns: u32,
        /// Most hand-offs in a row.
        max_handoff_chain: u32,
        /// How turn contexts merge into the dialog's context.
        merge: MergePolicy,
    },
    /// Records a routed turn (its sequence number is assigned by the aggregate).
    TakeTurn {
        /// Who spoke.
        from: AgentId,
        /// How recipients were chosen.
        strategy: Strategy,
        /// How urgent.
        priority: Priority,
        /// What was said.
        content: String,
        /// Who received it.
        recipients: Vec<AgentId>,
        /// The context sent.
        context: DialogContext,
    },
    /// Ends the dialog.
    Close {
        /// Why.
        reason: String,
    },
}

/// Events of the dialog aggregate (past tense).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DialogEvent {
    /// The dialog was opened.
    Opened {
        /// The dialog.
        id: DialogId,
        /// Who takes part.
        participants: Vec<AgentId>,
        /// Most turns.
        max_turns: u32,
        /// Most hand-offs in a row.
        max_handoff_chain: u32,
        /// How turn contexts merge.
        merge: MergePolicy,
    },
    /// A turn was taken.
    TurnTaken {
        /// The turn.
        turn: Turn,
    },
    /// The dialog was closed.
    Closed {
        /// Why.
        reason: String,
    },
}

impl DomainEvent for DialogEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Opened { .. } => "Opened",
            Self::TurnTaken { .. } => "TurnTaken",
            Self::Closed { .. } => "Closed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why the dialog refused a command.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DialogError {
    /// `Open` on an open or closed dialog.
    #[error("dialog is already open")]
    AlreadyOpen,
    /// A turn or close before `Open`.
    #[error("dialog is not open")]
    NotOpen,
    /// A turn or close after `Close`.
    #[error("dialog is closed")]
    Closed,
    /// `Open` without participants.
    #[error("a dialog needs participants")]
    NoParticipants,
    /// `Open` naming an agent twice.
    #[error("agent {agent} is listed twice")]
    DuplicateParticipant {
        /// The agent.
        agent: AgentId,
    },
    /// A speaker or recipient outside the dialog.
    #[error("agent {agent} is not a participant")]
    NotAParticipant {
        /// The agent.
        agent: AgentId,
    },
    /// A turn with nobody receiving it.
    #[error("a turn needs recipients")]
    NoRecipients,
    /// One turn too many.
    #[error("turn limit of {max} reached")]
    TurnLimit {
        /// The bound.
        max: u32,
    },
    /// One hand-off too many in a row.
    #[error("hand-off chain limit of {max} reached")]
    HandOffChainLimit {
        /// The bound.
        max: u32,
    },
    /// A hand-off whose recipient is not its target.
    #[error("hand-off to {to} delivered elsewhere")]
    HandOffMismatch {
        /// The named target.
        to: AgentId,
    },
}

/// State of one dialog, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dialog {
    /// Set once opened.
    pub id: Option<DialogId>,
    /// Who takes part.
    pub participants: Vec<AgentId>,
    /// Most turns.
    pub max_turns: u32,
    /// Most hand-offs in a row.
    pub max_handoff_chain: u32,
    /// How turn contexts merge into [`Dialog::context`].
    pub merge: MergePolicy,
    /// Every turn, in order.
    pub turns: Vec<Turn>,
    /// Hand-offs in a row so far.
    pub handoff_chain: u32,
    /// Who holds the turn after a hand-off or a single-recipient turn.
    pub speaker: Option<AgentId>,
    /// Every turn's context merged by [`Dialog::merge`].
    pub context: DialogContext,
    /// Why it was closed, once closed.
    pub closed: Option<String>,
}

impl Dialog {
    /// The events a command produces, without changing the dialog (a pure decision).
    ///
    /// # Errors
    /// [`DialogError`] naming the broken rule.
    pub fn decide(&self, command: DialogCommand) -> Result<Vec<DialogEvent>, DialogError> {
        match command {
            DialogCommand::Open {
                id,
                participants,
                max_turns,
                max_handoff_chain,
                merge,
            } => {
                if self.id.is_some() {
                    return Err(DialogError::AlreadyOpen);
                }
                if participants.is_empty() {
                    return Err(DialogError::NoParticipants);
                }
                for (i, agent) in participants.iter().enumerate() {
                    if participants[..i].contains(agent) {
                        return Err(DialogError::DuplicateParticipant { agent: *agent });
                    }
                }
                Ok(vec![DialogEvent::Opened {
                    id,
                    participants,
                    max_turns,
                    max_handoff_chain,
                    merge,
                }])
            }
            DialogCommand::TakeTurn {
                from,
                strategy,
                priority,
                content,
                recipients,
                context,
            } => {
                self.check_open()?;
                if !self.participants.contains(&from) {
                    return Err(DialogError::NotAParticipant { agent: from });
                }
                if recipients.is_empty() {
                    return Err(DialogError::NoRecipients);
                }
                if let Some(agent) = recipients.iter().find(|r| !self.participants.contains(r)) {
                    return Err(DialogError::NotAParticipant { agent: *agent });
                }
                if self.turns.len() >= self.max_turns as usize {
                    return Err(DialogError::TurnLimit {
                        max: self.max_turns,
                    });
                }
                if let Strategy::HandOff { to, .. } = &strategy {
                    if self.handoff_chain >= self.max_handoff_chain {
                        return Err(DialogError::HandOffChainLimit {
                            max: self.max_handoff_chain,
                        });
                    }
                    if recipients != [*to] {
                        return Err(DialogError::HandOffMismatch { to: *to });
                    }
                }
                let seq = u32::try_from(self.turns.len() + 1).unwrap_or(u32::MAX);
                Ok(vec![DialogEvent::TurnTaken {
                    turn: Turn {
                        seq,
                        from,
                        strategy,
                        priority,
                        content,
                        recipients,
                        context,
                    },
                }])
            }
            DialogCommand::Close { reason } => {
                self.check_open()?;
                Ok(vec![DialogEvent::Closed { reason }])
            }
        }
    }

    fn check_open(&self) -> Result<(), DialogError> {
        if self.id.is_none() {
            return Err(DialogError::NotOpen);
        }
        if self.closed.is_some() {
            return Err(DialogError::Closed);
        }
        Ok(())
    }

    /// Applies one event (no I/O; the only way state changes).
    pub fn apply_event(&mut self, event: DialogEvent) {
        match event {
            DialogEvent::Opened {
                id,
                participants,
                max_turns,
                max_handoff_chain,
                merge,
            } => {
                self.id = Some(id);
                self.participants = participants;
                self.max_turns = max_turns;
                self.max_handoff_chain = max_handoff_chain;
                self.merge = merge;
            }
            DialogEvent::TurnTaken { turn } => {
                // Idempotent per turn (sequence numbers are 1, 2, 3, …): cqrs-es's snapshotting
                // store may apply a commit twice.
                if turn.seq as usize <= self.turns.len() {
                    return;
                }
                match &turn.strategy {
                    Strategy::HandOff { to, .. } => {
                        self.handoff_chain += 1;
                        self.speaker = Some(*to);
                    }
                    _ => {
                        self.handoff_chain = 0;
                        self.speaker = match turn.recipients.as_slice() {
                            [one] => Some(*one),
                            _ => None,
                        };
                    }
                }
                self.context.merge(&turn.context, &self.merge);
                self.turns.push(turn);
            }
            DialogEvent::Closed { reason } => self.closed = Some(reason),
        }
    }

    /// Rebuilds a dialog from its events (a transcript replays to the same state).
    pub fn replay(events: impl IntoIterator<Item = DialogEvent>) -> Self {
        let mut dialog = Self::default();
        for event in events {
            dialog.apply_event(event);
        }
        dialog
    }
}

impl Aggregate for Dialog {
    const TYPE: &'static str = "dialog";
    type Command = DialogCommand;
    type Event = DialogEvent;
    type Error = DialogError;
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
