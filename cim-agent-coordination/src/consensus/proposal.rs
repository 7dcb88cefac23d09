//! The Proposal aggregate (cqrs-es): a pure `decide` (state + command → events or a typed
//! error) and an idempotent `apply` (event → state).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use cim_domain_agent::AgentId;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::command::ProposalCommand;
use super::error::ProposalError;
use super::event::ProposalEvent;
use super::ids::{ProposalId, ProposalSubject};
use super::rules::{Electorate, Rules};
use super::tally::{Choice, Outcome, Tally, evaluate, settled};

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Opened; votes accepted between `voting_opens_at` and the deadline.
    Open,
    /// Passed, waiting out the veto time lock until `enforce_at`.
    TimeLocked {
        /// When the pass becomes final.
        enforce_at: DateTime<Utc>,
    },
    /// Final.
    Decided(Outcome),
}

/// What is fixed at opening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Charter {
    proposal: ProposalId,
    subject: ProposalSubject,
    electorate: Electorate,
    rules: Rules,
    opened_at: DateTime<Utc>,
    voting_opens_at: DateTime<Utc>,
}

/// One proposal's event-sourced state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    charter: Option<Charter>,
    deadline: Option<DateTime<Utc>>,
    ballots: BTreeMap<AgentId, Choice>,
    phase: Option<Phase>,
    closing_tally: Option<Tally>,
    /// `Tally::count` of `ballots`, kept up to date by `apply` so a vote costs O(log n).
    counted: Tally,
}

fn seconds(secs: u32) -> Duration {
    Duration::seconds(i64::from(secs))
}

impl Proposal {
    /// Its id, once opened.
    pub fn id(&self) -> Option<ProposalId> {
        self.charter.as_ref().map(|c| c.proposal)
    }

    /// What it decides, once opened.
    pub fn subject(&self) -> Option<&ProposalSubject> {
        self.charter.as_ref().map(|c| &c.subject)
    }

    /// Its rules, once opened.
    pub fn rules(&self) -> Option<&Rules> {
        self.charter.as_ref().map(|c| &c.rules)
    }

    /// Its electorate, once opened.
    pub fn electorate(&self) -> Option<&Electorate> {
        self.charter.as_ref().map(|c| &c.electorate)
    }

    /// Where it stands (`None` before opening).
    pub fn phase(&self) -> Option<Phase> {
        self.phase
    }

    /// The final outcome, once decided.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.phase {
            Some(Phase::Decided(outcome)) => Some(outcome),
            _ => None,
        }
    }

    /// The current deadline (after any extension).
    pub fn deadline(&self) -> Option<DateTime<Utc>> {
        self.deadline
    }

    /// When voting opens.
    pub fn voting_opens_at(&self) -> Option<DateTime<Utc>> {
        self.charter.as_ref().map(|c| c.voting_opens_at)
    }

    /// The recorded ballots (the last one per voter).
    pub fn ballots(&self) -> &BTreeMap<AgentId, Choice> {
        &self.ballots
    }

    /// The count of the recorded ballots now.
    pub fn tally(&self) -> Tally {
        self.counted
    }

    /// The tally after `voter` (eligible) votes `choice` instead of `previous`.
    fn recounted(
        &self,
        charter: &Charter,
        voter: &AgentId,
        choice: Choice,
        previous: Option<Choice>,
    ) -> Tally {
        let mut tally = self.counted;
        let units = charter
            .electorate
            .get(voter)
            .map_or(0, |m| charter.rules.units(m));
        match previous {
            Some(old) => tally.remove(old, units),
            None => tally.voters = tally.voters.saturating_add(1),
        }
        tally.add(choice, units);
        tally
    }

    /// The events `command` produces, or why it is refused. Pure: no clock, no I/O.
    ///
    /// # Errors
    /// A [`ProposalError`] naming the rule the command breaks; nothing is recorded then.
    pub fn decide(&self, command: ProposalCommand) -> Result<Vec<ProposalEvent>, ProposalError> {
        let (charter, deadline, phase) = match (&self.charter, self.deadline, self.phase) {
            (Some(charter), Some(deadline), Some(phase)) => (charter, deadline, phase),
            _ => {
                return match command {
                    ProposalCommand::Open {
                        proposal,
                        subject,
                        electorate,
                        rules,
                        now,
                    } => {
                        rules.validate(&electorate)?;
                        let voting_opens_at = now + seconds(rules.discussion_secs);
                        let deadline = voting_opens_at + seconds(rules.voting_secs);
                        Ok(vec![ProposalEvent::Opened {
                            proposal,
                            subject,
                            electorate,
                            rules,
                            opened_at: now,
                            voting_opens_at,
                            deadline,
                        }])
                    }
                    _ => Err(ProposalError::NotOpened),
                };
            }
        };
        if let Phase::Decided(outcome) = phase {
            return Err(match command {
                ProposalCommand::Open { proposal, .. } => ProposalError::AlreadyOpened(proposal),
                ProposalCommand::Tick { .. } => return Ok(Vec::new()),
                _ => ProposalError::AlreadyDecided(outcome),
            });
        }
        match command {
            ProposalCommand::Open { proposal, .. } => Err(ProposalError::AlreadyOpened(proposal)),
            ProposalCommand::Vote { voter, choice, now } => {
                if phase != Phase::Open {
                    return Err(ProposalError::VotingClosed);
                }
                self.decide_vote(charter, deadline, voter, choice, now)
            }
            ProposalCommand::Veto { by, reason, now } => {
                if !charter.rules.is_vetoer(&by) {
                    return Err(ProposalError::NotAVetoer(by));
                }
                // Vetoes run from opening to the deadline and, for a pass, on through the time
                // lock, which starts when voting closes (at the deadline if the driver is late).
                let lock = seconds(charter.rules.time_lock_secs());
                let ended_at = match phase {
                    Phase::TimeLocked { enforce_at } => enforce_at,
                    _ if now >= deadline
                        && evaluate(&charter.rules, &self.tally()) == Outcome::Passed =>
                    {
                        deadline + lock
                    }
                    _ => deadline,
                };
                if now >= ended_at {
                    return Err(ProposalError::VetoWindowOver { ended_at });
                }
                Ok(vec![
                    ProposalEvent::Vetoed {
                        by,
                        reason,
                        at: now,
                    },
                    self.decided(charter, Outcome::Vetoed, now),
                ])
            }
            ProposalCommand::Cancel { reason, now } => Ok(vec![
                ProposalEvent::Cancelled { reason, at: now },
                self.decided(charter, Outcome::Cancelled, now),
            ]),
            ProposalCommand::Tick { now } => Ok(match phase {
                Phase::Open if now >= deadline => {
                    // Voting closed at the deadline, however late the driver noticed.
                    let tally = self.tally();
                    self.close(
                        charter,
                        tally,
                        evaluate(&charter.rules, &tally),
                        deadline,
                        false,
                    )
                }
                Phase::TimeLocked { enforce_at } if now >= enforce_at => {
                    vec![self.decided(charter, Outcome::Passed, now)]
                }
                _ => Vec::new(),
            }),
        }
    }

    fn decide_vote(
        &self,
        charter: &Charter,
        deadline: DateTime<Utc>,
        voter: AgentId,
        choice: Choice,
        now: DateTime<Utc>,
    ) -> Result<Vec<ProposalEvent>, ProposalError> {
        let rules = &charter.rules;
        if charter.electorate.get(&voter).is_none() {
            return Err(ProposalError::IneligibleVoter(voter));
        }
        if now < charter.voting_opens_at {
            return Err(ProposalError::VotingNotOpen {
                opens_at: charter.voting_opens_at,
            });
        }
        if now >= deadline {
            return Err(ProposalError::LateVote { deadline, at: now });
        }
        let previous = self.ballots.get(&voter).copied();
        match previous {
            Some(standing) if !rules.revoting => {
                return Err(ProposalError::AlreadyVoted {
                    voter,
                    choice: standing,
                });
            }
            Some(standing) if standing == choice => return Ok(Vec::new()),
            _ => {}
        }
        let mut events = vec![ProposalEvent::VoteCast {
            voter,
            choice,
            previous,
            at: now,
        }];
        let before = self.tally();
        let after = self.recounted(charter, &voter, choice, previous);

        if let (Some(extension), Some(quorum)) = (rules.late_quorum_extension_secs, &rules.quorum) {
            let met = |t: &Tally| {
                quorum
                    .threshold
                    .met(t.participation(quorum.count_abstentions), t.eligible)
            };
            let extended = now + seconds(extension);
            if !met(&before) && met(&after) && extended > deadline {
                events.push(ProposalEvent::DeadlineExtended {
                    deadline: extended,
                    at: now,
                });
            }
        }

        // Early close: split the ballots into those that can no longer change and the units
        // of voters who may still vote (everyone, when revoting is on).
        let (fixed, free) = if rules.revoting {
            let fixed = Tally {
                eligible: after.eligible,
                ..Tally::default()
            };
            (fixed, after.eligible)
        } else {
            let counted = after
                .yes
                .saturating_add(after.no)
                .saturating_add(after.abstain);
            (after, after.eligible.saturating_sub(counted))
        };
        if let Some(result) = settled(rules, &fixed, free) {
            // Without a time lock a vetoer may still veto until the deadline, so a pass waits.
            let veto_pending =
                result == Outcome::Passed && rules.veto.is_some() && rules.time_lock_secs() == 0;
            if !veto_pending {
                events.extend(self.close(charter, after, result, now, true));
            }
        }
        Ok(events)
    }

    /// `VotingClosed`, then `Decided` unless a pass must wait out a time lock.
    fn close(
        &self,
        charter: &Charter,
        tally: Tally,
        result: Outcome,
        now: DateTime<Utc>,
        early: bool,
    ) -> Vec<ProposalEvent> {
        let mut events = vec![ProposalEvent::VotingClosed {
            tally,
            result,
            at: now,
            early,
        }];
        if result != Outcome::Passed || charter.rules.time_lock_secs() == 0 {
            events.push(ProposalEvent::Decided {
                proposal: charter.proposal,
                subject: charter.subject.clone(),
                outcome: result,
                tally,
                at: now,
            });
        }
        events
    }

    fn decided(&self, charter: &Charter, outcome: Outcome, now: DateTime<Utc>) -> ProposalEvent {
        ProposalEvent::Decided {
            proposal: charter.proposal,
            subject: charter.subject.clone(),
            outcome,
            tally: self.closing_tally.unwrap_or_else(|| self.tally()),
            at: now,
        }
    }
}

impl Aggregate for Proposal {
    const TYPE: &'static str = "consensus_proposal";
    type Command = ProposalCommand;
    type Event = ProposalEvent;
    type Error = ProposalError;
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

    /// Idempotent per event: cqrs-es's snapshotting store may apply a commit's events twice.
    fn apply(&mut self, event: Self::Event) {
        match event {
            ProposalEvent::Opened {
                proposal,
                subject,
                electorate,
                rules,
                opened_at,
                voting_opens_at,
                deadline,
            } => {
                self.charter = Some(Charter {
                    proposal,
                    subject,
                    electorate,
                    rules,
                    opened_at,
                    voting_opens_at,
                });
                self.deadline = Some(deadline);
                self.phase = Some(Phase::Open);
                self.counted = self
                    .charter
                    .as_ref()
                    .map(|c| Tally::count(&c.rules, &c.electorate, &BTreeMap::new()))
                    .unwrap_or_default();
            }
            ProposalEvent::VoteCast { voter, choice, .. } => {
                // Idempotent: applying the same VoteCast twice finds the ballot already there.
                let standing = self.ballots.get(&voter).copied();
                if standing != Some(choice)
                    && let Some(charter) = &self.charter
                {
                    self.counted = self.recounted(charter, &voter, choice, standing);
                    self.ballots.insert(voter, choice);
                }
            }
            ProposalEvent::DeadlineExtended { deadline, .. } => self.deadline = Some(deadline),
            ProposalEvent::VotingClosed {
                tally, result, at, ..
            } => {
                self.closing_tally = Some(tally);
                if result == Outcome::Passed
                    && let Some(charter) = &self.charter
                {
                    let lock = charter.rules.time_lock_secs();
                    if lock > 0 {
                        self.phase = Some(Phase::TimeLocked {
                            enforce_at: at + seconds(lock),
                        });
                    }
                }
            }
            ProposalEvent::Vetoed { .. } | ProposalEvent::Cancelled { .. } => {}
            ProposalEvent::Decided { outcome, .. } => self.phase = Some(Phase::Decided(outcome)),
        }
    }
}
