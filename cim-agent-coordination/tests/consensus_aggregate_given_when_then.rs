//! Given/when/then tests of the Proposal aggregate for every edge case the issue lists: ties,
//! exactly 50%, quorum met only by abstentions, a threshold exactly at quorum, veto inside and
//! after the time lock, early close, weight change after opening, double vote, revote,
//! ineligible voter, late vote, unreachable threshold; plus the discussion period, the
//! late-quorum extension, expiry, cancellation and the deadline driver's tick.

use chrono::{DateTime, Duration, TimeZone, Utc};
use cim_agent_coordination::consensus::{
    Choice, Electorate, Outcome, Phase, Proposal, ProposalCommand, ProposalError, ProposalEvent,
    ProposalId, ProposalSubject, Protocol, Quorum, Rules, RulesError, Tally, Threshold, VetoRule,
};
use cim_domain_agent::AgentId;
use cqrs_es::Aggregate;
use cqrs_es::test::TestFramework;
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn agent(i: u128) -> AgentId {
    AgentId(Uuid::from_u128(0xa000 + i))
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(secs)
}

fn pid() -> ProposalId {
    ProposalId(Uuid::from_u128(0x9e))
}

fn graph() -> ProposalSubject {
    ProposalSubject::DeploymentGraphVersion {
        version: "sha256-5f1c".into(),
    }
}

fn equal(n: u128) -> Electorate {
    Electorate::equal((0..n).map(agent))
}

fn open(electorate: Electorate, rules: Rules) -> ProposalCommand {
    ProposalCommand::Open {
        proposal: pid(),
        subject: graph(),
        electorate,
        rules,
        now: t0(),
    }
}

fn vote(i: u128, choice: Choice, secs: i64) -> ProposalCommand {
    ProposalCommand::Vote {
        voter: agent(i),
        choice,
        now: at(secs),
    }
}

/// Runs commands in order, every one must succeed; returns the state and all events.
fn run(
    commands: impl IntoIterator<Item = ProposalCommand>,
) -> Result<(Proposal, Vec<ProposalEvent>), ProposalError> {
    let mut state = Proposal::default();
    let mut all = Vec::new();
    for command in commands {
        for event in state.decide(command)? {
            state.apply(event.clone());
            all.push(event);
        }
    }
    Ok((state, all))
}

/// The outcome after `votes` (voter, choice) at second 1 and a tick at the deadline.
fn outcome(
    electorate: Electorate,
    rules: Rules,
    votes: &[(u128, Choice)],
) -> Result<Option<Outcome>, ProposalError> {
    let deadline = i64::from(rules.discussion_secs + rules.voting_secs);
    let mut commands = vec![open(electorate, rules)];
    commands.extend(votes.iter().map(|&(i, c)| vote(i, c, 1)));
    commands.push(ProposalCommand::Tick { now: at(deadline) });
    Ok(run(commands)?.0.outcome())
}

fn no_early_close(rules: Rules) -> Rules {
    // Revoting keeps every vote changeable, so nothing closes before the deadline.
    Rules {
        revoting: true,
        ..rules
    }
}

use Choice::{Abstain, Against, For};

#[test]
fn opening_records_rules_and_times() {
    let rules = Rules {
        discussion_secs: 30,
        ..Rules::new(Protocol::SimpleMajority, 60)
    };
    TestFramework::<Proposal>::with(())
        .given_no_previous_events()
        .when(open(equal(3), rules.clone()))
        .then_expect_events(vec![ProposalEvent::Opened {
            proposal: pid(),
            subject: graph(),
            electorate: equal(3),
            rules,
            opened_at: t0(),
            voting_opens_at: at(30),
            deadline: at(90),
        }]);
}

#[test]
fn a_tie_is_rejected_under_simple_majority() -> TestResult {
    let rules = no_early_close(Rules::new(Protocol::SimpleMajority, 60));
    let votes = [(0, For), (1, For), (2, Against), (3, Against)];
    assert_eq!(outcome(equal(4), rules, &votes)?, Some(Outcome::Rejected));
    Ok(())
}

#[test]
fn exactly_half_passes_only_with_at_least() -> TestResult {
    let votes = [(0, For), (1, For), (2, Against), (3, Against)];
    let at_least = no_early_close(Rules::new(
        Protocol::QualifiedMajority(Threshold::at_least(1, 2)),
        60,
    ));
    let above = no_early_close(Rules::new(
        Protocol::QualifiedMajority(Threshold::above(1, 2)),
        60,
    ));
    assert_eq!(outcome(equal(4), at_least, &votes)?, Some(Outcome::Passed));
    assert_eq!(outcome(equal(4), above, &votes)?, Some(Outcome::Rejected));
    Ok(())
}

#[test]
fn quorum_met_only_by_abstentions() -> TestResult {
    let quorum = |count_abstentions| Rules {
        quorum: Some(Quorum {
            threshold: Threshold::at_least(1, 2),
            count_abstentions,
        }),
        ..no_early_close(Rules::new(Protocol::SimpleMajority, 60))
    };
    let votes = [(0, Abstain), (1, Abstain), (2, For)];
    // Counting abstentions: 3 of 4 participate, 1 for, 0 against: passes.
    assert_eq!(
        outcome(equal(4), quorum(true), &votes)?,
        Some(Outcome::Passed)
    );
    // Not counting them: 1 of 4 participates: expired.
    assert_eq!(
        outcome(equal(4), quorum(false), &votes)?,
        Some(Outcome::Expired)
    );
    // Only abstentions: quorum met, but nobody is for: rejected, not passed.
    let only = [(0, Abstain), (1, Abstain), (2, Abstain)];
    assert_eq!(
        outcome(equal(4), quorum(true), &only)?,
        Some(Outcome::Rejected)
    );
    Ok(())
}

#[test]
fn a_threshold_exactly_at_quorum() -> TestResult {
    let rules = |threshold| Rules {
        quorum: Some(Quorum {
            threshold,
            count_abstentions: false,
        }),
        ..no_early_close(Rules::new(Protocol::SimpleMajority, 60))
    };
    let votes = [(0, For), (1, For), (2, Against), (3, For), (4, For)];
    // 5 of 10 participate: exactly the 1/2 quorum.
    assert_eq!(
        outcome(equal(10), rules(Threshold::at_least(1, 2)), &votes)?,
        Some(Outcome::Passed)
    );
    assert_eq!(
        outcome(equal(10), rules(Threshold::above(1, 2)), &votes)?,
        Some(Outcome::Expired)
    );
    Ok(())
}

fn vetoable(time_lock_secs: u32) -> Rules {
    Rules {
        veto: Some(VetoRule {
            vetoers: vec![agent(99)],
            time_lock_secs,
        }),
        ..Rules::new(Protocol::SimpleMajority, 60)
    }
}

#[test]
fn veto_inside_the_time_lock_stops_a_pass() -> TestResult {
    let (state, _) = run([
        open(equal(3), vetoable(30)),
        vote(0, For, 1),
        vote(1, For, 2),
    ])?;
    // Two of three for: settled, closed early, waiting out the time lock.
    assert_eq!(
        state.phase(),
        Some(Phase::TimeLocked { enforce_at: at(32) })
    );
    let events = state.decide(ProposalCommand::Veto {
        by: agent(99),
        reason: "breaks the GPU node".into(),
        now: at(31),
    })?;
    assert!(
        matches!(events.last(), Some(ProposalEvent::Decided { outcome: Outcome::Vetoed, subject, .. }) if *subject == graph())
    );
    Ok(())
}

#[test]
fn veto_after_the_time_lock_is_refused_and_the_pass_is_enforced() -> TestResult {
    let (state, _) = run([
        open(equal(3), vetoable(30)),
        vote(0, For, 1),
        vote(1, For, 2),
    ])?;
    let late = state.decide(ProposalCommand::Veto {
        by: agent(99),
        reason: "too late".into(),
        now: at(32),
    });
    assert_eq!(
        late,
        Err(ProposalError::VetoWindowOver { ended_at: at(32) })
    );
    let enforced = state.decide(ProposalCommand::Tick { now: at(32) })?;
    assert!(matches!(
        enforced.as_slice(),
        [ProposalEvent::Decided {
            outcome: Outcome::Passed,
            ..
        }]
    ));
    // Before the lock ends a tick does nothing.
    assert_eq!(state.decide(ProposalCommand::Tick { now: at(31) })?, vec![]);
    Ok(())
}

#[test]
fn a_veto_from_someone_not_named_is_refused() -> TestResult {
    let (state, _) = run([open(equal(3), vetoable(0))])?;
    let refused = state.decide(ProposalCommand::Veto {
        by: agent(0),
        reason: "no".into(),
        now: at(1),
    });
    assert_eq!(refused, Err(ProposalError::NotAVetoer(agent(0))));
    Ok(())
}

#[test]
fn without_a_time_lock_a_pass_waits_for_the_deadline_so_vetoers_can_act() -> TestResult {
    let (state, _) = run([
        open(equal(3), vetoable(0)),
        vote(0, For, 1),
        vote(1, For, 2),
    ])?;
    assert_eq!(state.phase(), Some(Phase::Open));
    let vetoed = state.decide(ProposalCommand::Veto {
        by: agent(99),
        reason: "no".into(),
        now: at(59),
    })?;
    assert!(matches!(
        vetoed.last(),
        Some(ProposalEvent::Decided {
            outcome: Outcome::Vetoed,
            ..
        })
    ));
    Ok(())
}

#[test]
fn closes_early_once_no_remaining_vote_can_change_the_outcome() -> TestResult {
    let rules = Rules::new(Protocol::SimpleMajority, 60);
    let (state, _) = run([
        open(equal(5), rules.clone()),
        vote(0, For, 1),
        vote(1, For, 2),
    ])?;
    assert_eq!(
        state.phase(),
        Some(Phase::Open),
        "2 of 5 decides nothing yet"
    );
    let events = state.decide(vote(2, For, 3))?;
    assert_eq!(
        events,
        vec![
            ProposalEvent::VoteCast {
                voter: agent(2),
                choice: For,
                previous: None,
                at: at(3)
            },
            ProposalEvent::VotingClosed {
                tally: Tally {
                    yes: 3,
                    no: 0,
                    abstain: 0,
                    eligible: 5,
                    voters: 3
                },
                result: Outcome::Passed,
                at: at(3),
                early: true
            },
            ProposalEvent::Decided {
                proposal: pid(),
                subject: graph(),
                outcome: Outcome::Passed,
                tally: Tally {
                    yes: 3,
                    no: 0,
                    abstain: 0,
                    eligible: 5,
                    voters: 3
                },
                at: at(3)
            },
        ]
    );
    // After the close, a vote is refused.
    let (closed, _) = run([
        open(equal(5), rules),
        vote(0, For, 1),
        vote(1, For, 2),
        vote(2, For, 3),
    ])?;
    assert_eq!(
        closed.decide(vote(3, Against, 4)),
        Err(ProposalError::AlreadyDecided(Outcome::Passed))
    );
    Ok(())
}

#[test]
fn unanimity_rejects_early_on_the_first_dissent() -> TestResult {
    let (state, events) = run([
        open(equal(4), Rules::new(Protocol::Unanimous, 60)),
        vote(0, For, 1),
        vote(1, Abstain, 2),
    ])?;
    assert_eq!(state.outcome(), Some(Outcome::Rejected));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ProposalEvent::VotingClosed { early: true, .. }))
    );
    Ok(())
}

#[test]
fn a_weight_change_after_opening_is_ignored() -> TestResult {
    let rules = Rules::new(Protocol::WeightedVoting(Threshold::above(1, 2)), 60);
    let weights = Electorate::new([(agent(0), 5), (agent(1), 1), (agent(2), 1)]);
    let (state, _) = run([open(weights, rules.clone())])?;
    // The registry now says agent 0 weighs 1: opening again with new weights is refused.
    let reweighed = Electorate::new([(agent(0), 1), (agent(1), 1), (agent(2), 1)]);
    assert_eq!(
        state.decide(open(reweighed, rules)),
        Err(ProposalError::AlreadyOpened(pid()))
    );
    // Agent 0's opening weight (5 of 7) still decides alone.
    let events = state.decide(vote(0, For, 1))?;
    assert!(matches!(
        events.last(),
        Some(ProposalEvent::Decided {
            outcome: Outcome::Passed,
            tally: Tally {
                yes: 5,
                eligible: 7,
                ..
            },
            ..
        })
    ));
    Ok(())
}

#[test]
fn a_second_vote_is_refused_without_revoting() -> TestResult {
    let (state, _) = run([
        open(equal(3), Rules::new(Protocol::SimpleMajority, 60)),
        vote(0, For, 1),
    ])?;
    assert_eq!(
        state.decide(vote(0, Against, 2)),
        Err(ProposalError::AlreadyVoted {
            voter: agent(0),
            choice: For
        })
    );
    Ok(())
}

#[test]
fn with_revoting_the_last_vote_counts() -> TestResult {
    let rules = no_early_close(Rules::new(Protocol::SimpleMajority, 60));
    let (state, events) = run([
        open(equal(3), rules),
        vote(0, For, 1),
        vote(1, For, 2),
        vote(0, Against, 3),
        vote(1, Against, 4),
        ProposalCommand::Tick { now: at(60) },
    ])?;
    assert!(events.iter().any(|e| matches!(
        e,
        ProposalEvent::VoteCast {
            previous: Some(For),
            choice: Against,
            ..
        }
    )));
    assert_eq!(state.outcome(), Some(Outcome::Rejected));
    // The same vote again records nothing.
    let (open_state, _) = run([
        open(
            equal(3),
            no_early_close(Rules::new(Protocol::SimpleMajority, 60)),
        ),
        vote(0, For, 1),
    ])?;
    assert_eq!(open_state.decide(vote(0, For, 2))?, vec![]);
    Ok(())
}

#[test]
fn a_voter_outside_the_electorate_is_refused() -> TestResult {
    let (state, _) = run([open(equal(3), Rules::new(Protocol::SimpleMajority, 60))])?;
    assert_eq!(
        state.decide(vote(7, For, 1)),
        Err(ProposalError::IneligibleVoter(agent(7)))
    );
    Ok(())
}

#[test]
fn a_vote_at_or_after_the_deadline_is_refused() -> TestResult {
    let (state, _) = run([open(equal(3), Rules::new(Protocol::SimpleMajority, 60))])?;
    assert_eq!(
        state.decide(vote(0, For, 60)),
        Err(ProposalError::LateVote {
            deadline: at(60),
            at: at(60)
        })
    );
    assert!(state.decide(vote(0, For, 59)).is_ok());
    Ok(())
}

#[test]
fn a_vote_during_discussion_is_refused() -> TestResult {
    let rules = Rules {
        discussion_secs: 30,
        ..Rules::new(Protocol::SimpleMajority, 60)
    };
    let (state, _) = run([open(equal(3), rules)])?;
    assert_eq!(
        state.decide(vote(0, For, 29)),
        Err(ProposalError::VotingNotOpen { opens_at: at(30) })
    );
    assert!(state.decide(vote(0, For, 30)).is_ok());
    Ok(())
}

#[test]
fn an_unreachable_threshold_is_refused_at_creation() {
    let refuse = |rules: Rules, expected: RulesError| {
        TestFramework::<Proposal>::with(())
            .given_no_previous_events()
            .when(open(equal(3), rules))
            .then_expect_error_message(&ProposalError::InvalidRules(expected).to_string());
    };
    let above_all = Threshold::above(1, 1);
    refuse(
        Rules::new(Protocol::QualifiedMajority(above_all), 60),
        RulesError::UnreachableThreshold {
            which: "protocol",
            threshold: above_all,
        },
    );
    let more_than_one = Threshold::at_least(3, 2);
    refuse(
        Rules::new(Protocol::WeightedVoting(more_than_one), 60),
        RulesError::UnreachableThreshold {
            which: "protocol",
            threshold: more_than_one,
        },
    );
    refuse(
        Rules {
            quorum: Some(Quorum {
                threshold: above_all,
                count_abstentions: true,
            }),
            ..Rules::new(Protocol::SimpleMajority, 60)
        },
        RulesError::UnreachableThreshold {
            which: "quorum",
            threshold: above_all,
        },
    );
    refuse(
        Rules::new(Protocol::QualifiedMajority(Threshold::at_least(1, 0)), 60),
        RulesError::ZeroDenominator { which: "protocol" },
    );
    refuse(
        Rules::new(Protocol::SimpleMajority, 0),
        RulesError::NoVotingPeriod,
    );
    // 100% with >= is reachable.
    assert!(
        Proposal::default()
            .decide(open(
                equal(3),
                Rules::new(Protocol::QualifiedMajority(Threshold::at_least(1, 1)), 60)
            ))
            .is_ok()
    );
}

#[test]
fn a_bad_electorate_is_refused_at_creation() {
    let rules = Rules::new(Protocol::SimpleMajority, 60);
    let check = |electorate: Electorate, expected: RulesError| {
        assert_eq!(
            Proposal::default().decide(open(electorate, rules.clone())),
            Err(ProposalError::InvalidRules(expected))
        );
    };
    check(Electorate::default(), RulesError::EmptyElectorate);
    check(
        Electorate::new([(agent(0), 1), (agent(0), 2)]),
        RulesError::DuplicateVoter(agent(0)),
    );
    check(
        Electorate::new([(agent(0), 0)]),
        RulesError::ZeroWeight(agent(0)),
    );
}

#[test]
fn quorum_reached_late_extends_the_deadline() -> TestResult {
    let rules = Rules {
        quorum: Some(Quorum {
            threshold: Threshold::at_least(1, 2),
            count_abstentions: true,
        }),
        late_quorum_extension_secs: Some(20),
        ..no_early_close(Rules::new(Protocol::SimpleMajority, 60))
    };
    let (state, events) = run([
        open(equal(4), rules),
        vote(0, For, 10),
        vote(1, Against, 50),
    ])?;
    assert!(events.contains(&ProposalEvent::DeadlineExtended {
        deadline: at(70),
        at: at(50)
    }));
    assert_eq!(state.deadline(), Some(at(70)));
    // A vote at the old deadline still counts; the tick at the old deadline closes nothing.
    assert!(state.decide(vote(2, For, 65)).is_ok());
    assert_eq!(state.decide(ProposalCommand::Tick { now: at(60) })?, vec![]);
    Ok(())
}

#[test]
fn without_quorum_the_deadline_expires_it() -> TestResult {
    let rules = Rules {
        quorum: Some(Quorum {
            threshold: Threshold::above(1, 2),
            count_abstentions: true,
        }),
        ..Rules::new(Protocol::SimpleMajority, 60)
    };
    assert_eq!(
        outcome(equal(4), rules, &[(0, For)])?,
        Some(Outcome::Expired)
    );
    Ok(())
}

#[test]
fn cancelling_decides_cancelled_and_stops_votes() -> TestResult {
    let (state, _) = run([
        open(equal(3), Rules::new(Protocol::SimpleMajority, 60)),
        ProposalCommand::Cancel {
            reason: "superseded".into(),
            now: at(5),
        },
    ])?;
    assert_eq!(state.outcome(), Some(Outcome::Cancelled));
    assert_eq!(
        state.decide(vote(0, For, 6)),
        Err(ProposalError::AlreadyDecided(Outcome::Cancelled))
    );
    Ok(())
}

#[test]
fn commands_before_opening_are_refused() {
    assert_eq!(
        Proposal::default().decide(vote(0, For, 1)),
        Err(ProposalError::NotOpened)
    );
}

#[test]
fn a_late_driver_closes_at_the_deadline_and_the_time_lock_runs_from_there() -> TestResult {
    let (state, _) = run([
        open(equal(3), no_early_close(vetoable(30))),
        vote(0, For, 1),
        vote(1, For, 2),
    ])?;
    // Nobody ticked at 60; a veto at 70 is still inside the lock that began at the deadline.
    let vetoed = state.decide(ProposalCommand::Veto {
        by: agent(99),
        reason: "caught it".into(),
        now: at(70),
    })?;
    assert!(matches!(
        vetoed.last(),
        Some(ProposalEvent::Decided {
            outcome: Outcome::Vetoed,
            ..
        })
    ));
    // The driver ticks at 75: voting closed at 60, the pass is enforced from 90.
    let closed = state.decide(ProposalCommand::Tick { now: at(75) })?;
    assert!(matches!(
        closed.as_slice(),
        [ProposalEvent::VotingClosed { result: Outcome::Passed, at: when, early: false, .. }] if *when == at(60)
    ));
    let (locked, _) = run([
        open(equal(3), no_early_close(vetoable(30))),
        vote(0, For, 1),
        vote(1, For, 2),
        ProposalCommand::Tick { now: at(75) },
    ])?;
    assert_eq!(
        locked.phase(),
        Some(Phase::TimeLocked { enforce_at: at(90) })
    );
    assert_eq!(
        locked.decide(ProposalCommand::Veto {
            by: agent(99),
            reason: "too late".into(),
            now: at(90),
        }),
        Err(ProposalError::VetoWindowOver { ended_at: at(90) })
    );
    Ok(())
}
