//! One agent taking part in a deployment decision, as its runtime does: it receives the
//! proposal over the transport, runs the reviewers its capabilities select, posts its findings
//! to the dialog and votes from them.

use std::time::Duration;

use cim_agent_coordination::consensus::wire::Announcement;
use cim_agent_coordination::consensus::{Choice, MessageStream, ProposalId, Voter};
use cim_agent_coordination::dialog::{DialogChannel, DialogContext, Message, Strategy};
use cim_agent_coordination::transport::Transport;
use cim_domain_agent::AgentId;
use futures::StreamExt as _;

use super::review::{Finding, ReviewContext, ReviewerSet};

/// An agent of the fleet, as the pipeline runs it.
pub(super) struct Participant<T: Transport> {
    pub name: String,
    pub id: AgentId,
    pub capabilities: Vec<String>,
    pub voter: Voter<T>,
    /// Subscribed before the proposal opened, so the announcement cannot be missed.
    pub proposals: MessageStream<Announcement>,
}

/// What one agent did.
pub(super) struct Turn {
    pub name: String,
    pub findings: Vec<Finding>,
    /// `Err` with the reason when it cast no vote.
    pub vote: Result<Choice, String>,
}

/// How long an agent waits for the proposal's announcement.
const ANNOUNCEMENT_WAIT: Duration = Duration::from_secs(10);

impl<T: Transport> Participant<T> {
    /// Waits for `proposal`'s announcement, reviews, posts the findings as one broadcast turn
    /// of `dialog` (when there is anyone to hear it), then votes: against when any finding is
    /// blocking, else for. A review that fails, or a vote that cannot be delivered, leaves the
    /// agent without a vote; the consensus counts that as a missing vote.
    pub async fn take_part(
        mut self,
        proposal: ProposalId,
        reviewers: &ReviewerSet,
        context: ReviewContext<'_>,
        dialog: &DialogChannel<T>,
        dialog_context: &DialogContext,
    ) -> Turn {
        let mut turn = Turn {
            name: self.name.clone(),
            findings: Vec::new(),
            vote: Err(String::new()),
        };
        let announced = tokio::time::timeout(ANNOUNCEMENT_WAIT, async {
            while let Some(announcement) = self.proposals.next().await {
                if announcement.proposal == proposal {
                    return true;
                }
            }
            false
        })
        .await;
        if announced != Ok(true) {
            turn.vote = Err(format!("never received proposal {proposal}"));
            return turn;
        }
        let capabilities = self.capabilities.iter().map(String::as_str);
        let (content, choice) = match reviewers.review(capabilities, &context) {
            Ok(findings) => {
                let blocking = findings.iter().any(Finding::is_blocking);
                let content = serde_json::json!({ "findings": findings }).to_string();
                turn.findings = findings;
                (
                    content,
                    Some(if blocking {
                        Choice::Against
                    } else {
                        Choice::For
                    }),
                )
            }
            Err(error) => {
                let reason = error.to_string();
                turn.vote = Err(reason.clone());
                (serde_json::json!({ "failed": reason }).to_string(), None)
            }
        };
        if dialog.participants().len() > 1 {
            let message = Message::new(dialog.id(), self.id, Strategy::Broadcast, content)
                .with_context(dialog_context.clone());
            if let Err(error) = dialog.send(&message).await {
                tracing::warn!(agent = %self.name, %error, "could not post findings to the dialog");
            }
        }
        if let Some(choice) = choice {
            turn.vote = match self.voter.vote(proposal, choice).await {
                Ok(()) => Ok(choice),
                Err(error) => Err(format!("vote not delivered: {error}")),
            };
        }
        turn
    }
}
