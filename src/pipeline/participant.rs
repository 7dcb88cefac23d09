//! One agent taking part in a deployment decision, as its runtime does: it receives the
//! proposal over the transport, runs the reviewers its capabilities select, posts its findings
//! to the dialog and votes from them.

use std::time::Duration;

use cim_agent_coordination::consensus::wire::Announcement;
use cim_agent_coordination::consensus::{
    Choice, MessageStream, ProposalId, Refusal, Voter, VoterError,
};
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
    /// Whether the vote was counted (a vote arriving after the proposal closed early is not).
    pub counted: bool,
}

/// How long an agent waits for the proposal's announcement.
const ANNOUNCEMENT_WAIT: Duration = Duration::from_secs(10);

impl<T: Transport> Participant<T> {
    /// Waits for `proposal`'s announcement, reviews, and posts the findings as one broadcast
    /// turn of `dialog` (when there is anyone to hear it). Returns the turn and the ballot to
    /// cast: against when any finding is blocking, else for; none when the review could not be
    /// done (the consensus counts a missing vote).
    pub async fn review(
        mut self,
        proposal: ProposalId,
        reviewers: &ReviewerSet,
        context: ReviewContext<'_>,
        dialog: &DialogChannel<T>,
        dialog_context: &DialogContext,
    ) -> (Turn, Option<Ballot<T>>) {
        let mut turn = Turn {
            name: self.name.clone(),
            findings: Vec::new(),
            vote: Err(String::new()),
            counted: false,
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
            return (turn, None);
        }
        let capabilities = self.capabilities.iter().map(String::as_str);
        let (content, choice) = match review_and_choose(reviewers, capabilities, &context) {
            Ok((findings, choice)) => {
                let content = serde_json::json!({ "findings": findings }).to_string();
                turn.findings = findings;
                (content, Some(choice))
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
        let ballot = choice.map(|choice| Ballot {
            voter: self.voter,
            choice,
        });
        (turn, ballot)
    }
}

/// Runs the reviewers `capabilities` select and chooses the vote from the findings: against
/// when any is blocking, for otherwise. One rule for agents in this process and in others.
///
/// # Errors
/// The [`ReviewError`](super::review::ReviewError) of a review that could not be done.
pub(crate) fn review_and_choose<'a>(
    reviewers: &'a ReviewerSet,
    capabilities: impl IntoIterator<Item = &'a str>,
    context: &ReviewContext<'_>,
) -> Result<(Vec<Finding>, Choice), super::review::ReviewError> {
    let findings = reviewers.review(capabilities, context)?;
    let choice = choice_for(&findings);
    Ok((findings, choice))
}

/// The vote findings lead to: against when any is blocking, for otherwise.
pub(crate) fn choice_for(findings: &[Finding]) -> Choice {
    if findings.iter().any(Finding::is_blocking) {
        Choice::Against
    } else {
        Choice::For
    }
}

/// A vote an agent is about to cast.
pub(super) struct Ballot<T: Transport> {
    voter: Voter<T>,
    choice: Choice,
}

impl<T: Transport> Ballot<T> {
    /// Casts it and notes the result in `turn`: counted, not counted because the proposal had
    /// already closed (no remaining vote could change it), or not delivered.
    pub async fn cast(self, proposal: ProposalId, turn: &mut Turn) {
        match self.voter.vote(proposal, self.choice).await {
            Ok(()) => {
                turn.vote = Ok(self.choice);
                turn.counted = true;
            }
            Err(VoterError::Refused(Refusal::Closed)) => {
                turn.vote = Ok(self.choice);
                turn.counted = false;
            }
            Err(error) => turn.vote = Err(format!("vote not delivered: {error}")),
        }
    }
}
