//! Property: for random electorates, weights, rules and ballots, the outcome the aggregate
//! decides equals a direct recount of the ballots it accepted, and equals a recount of every
//! ballot sent (so an early close, which refuses the later ballots, never changes the outcome).
//! The recount below is written independently of `consensus::tally`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cim_agent_coordination::consensus::{
    Choice, Comparison, Electorate, Outcome, Proposal, ProposalCommand, ProposalId,
    ProposalSubject, Protocol, Quorum, Rules, Tally, Threshold, VetoRule,
};
use cim_domain_agent::AgentId;
use cqrs_es::Aggregate;
use proptest::prelude::*;
use uuid::Uuid;

fn agent(i: usize) -> AgentId {
    AgentId(Uuid::from_u128(0xb000 + i as u128))
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn threshold() -> impl Strategy<Value = Threshold> {
    (1u64..7, any::<bool>())
        .prop_flat_map(|(den, above)| {
            let max = if above { den - 1 } else { den };
            (0..=max, Just(den), Just(above))
        })
        .prop_map(|(num, den, above)| {
            if above {
                Threshold::above(num, den)
            } else {
                Threshold::at_least(num, den)
            }
        })
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::SimpleMajority),
        threshold().prop_map(Protocol::QualifiedMajority),
        Just(Protocol::Unanimous),
        threshold().prop_map(Protocol::WeightedVoting),
    ]
}

fn choice() -> impl Strategy<Value = Choice> {
    prop_oneof![
        Just(Choice::For),
        Just(Choice::Against),
        Just(Choice::Abstain)
    ]
}

#[derive(Debug, Clone)]
struct Case {
    weights: Vec<u64>,
    rules: Rules,
    /// (voter index, choice); index == weights.len() is someone outside the electorate.
    ballots: Vec<(usize, Choice)>,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..10)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(1u64..6, n),
                protocol(),
                prop::option::of((threshold(), any::<bool>())),
                prop::option::of(0u32..3),
                prop::option::of(1u32..30),
                any::<bool>(),
                2u32..100,
                prop::collection::vec((0..=n, choice()), 0..25),
            )
        })
        .prop_map(
            |(weights, protocol, quorum, veto, extension, revoting, voting_secs, ballots)| {
                let quorum = quorum.map(|(threshold, count_abstentions)| Quorum {
                    threshold,
                    count_abstentions,
                });
                Case {
                    weights,
                    rules: Rules {
                        protocol,
                        late_quorum_extension_secs: extension.filter(|_| quorum.is_some()),
                        quorum,
                        veto: veto.map(|time_lock_secs| VetoRule {
                            vetoers: vec![agent(1000)],
                            time_lock_secs,
                        }),
                        discussion_secs: 0,
                        voting_secs,
                        revoting,
                    },
                    ballots,
                }
            },
        )
}

fn meets(part: u64, whole: u64, t: &Threshold) -> bool {
    // part/whole vs num/den, as exact rationals.
    let (a, b) = (
        u128::from(part) * u128::from(t.ratio.denominator),
        u128::from(t.ratio.numerator) * u128::from(whole),
    );
    match t.comparison {
        Comparison::Above => a > b,
        Comparison::AtLeast => a >= b,
    }
}

/// The outcome of `ballots` (one per voter index), counted from scratch.
fn recount(case: &Case, ballots: &BTreeMap<usize, Choice>) -> Outcome {
    let weighted = matches!(case.rules.protocol, Protocol::WeightedVoting(_));
    let units = |i: usize| if weighted { case.weights[i] } else { 1 };
    let total: u64 = (0..case.weights.len()).map(units).sum();
    let (mut yes, mut no, mut abstain) = (0u64, 0u64, 0u64);
    for (&i, &c) in ballots {
        match c {
            Choice::For => yes += units(i),
            Choice::Against => no += units(i),
            Choice::Abstain => abstain += units(i),
        }
    }
    if let Some(q) = &case.rules.quorum {
        let part = yes + no + if q.count_abstentions { abstain } else { 0 };
        if !meets(part, total, &q.threshold) {
            return Outcome::Expired;
        }
    }
    let passed = match &case.rules.protocol {
        Protocol::SimpleMajority => 2 * yes > yes + no,
        Protocol::QualifiedMajority(t) | Protocol::WeightedVoting(t) => {
            yes > 0 && meets(yes, yes + no, t)
        }
        Protocol::Unanimous => {
            (0..case.weights.len()).all(|i| ballots.get(&i) == Some(&Choice::For))
        }
    };
    if passed {
        Outcome::Passed
    } else {
        Outcome::Rejected
    }
}

/// Every ballot sent, reduced to one per eligible voter by the revoting rule.
fn intended(case: &Case) -> BTreeMap<usize, Choice> {
    let mut out = BTreeMap::new();
    for &(i, c) in &case.ballots {
        if i >= case.weights.len() {
            continue;
        }
        if case.rules.revoting {
            out.insert(i, c);
        } else {
            out.entry(i).or_insert(c);
        }
    }
    out
}

fn step(state: &mut Proposal, command: ProposalCommand) -> bool {
    match state.decide(command) {
        Ok(events) => {
            for event in events {
                state.apply(event);
            }
            true
        }
        Err(_) => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_decided_outcome_equals_a_direct_recount(case in case()) {
        let electorate = Electorate::new(
            case.weights.iter().enumerate().map(|(i, &w)| (agent(i), w)),
        );
        let mut state = Proposal::default();
        let opened = step(&mut state, ProposalCommand::Open {
            proposal: ProposalId(Uuid::from_u128(1)),
            subject: ProposalSubject::DeploymentGraphVersion { version: "h".into() },
            electorate: electorate.clone(),
            rules: case.rules.clone(),
            now: t0(),
        });
        prop_assert!(opened);
        for &(i, choice) in &case.ballots {
            step(&mut state, ProposalCommand::Vote {
                voter: agent(i),
                choice,
                now: t0() + Duration::seconds(1),
            });
        }
        // The running count kept by `apply` equals a count from scratch.
        prop_assert_eq!(state.tally(), Tally::count(&case.rules, &electorate, state.ballots()));
        let deadline = state.deadline().unwrap_or_else(t0);
        step(&mut state, ProposalCommand::Tick { now: deadline });
        let lock = Duration::seconds(i64::from(case.rules.time_lock_secs()));
        step(&mut state, ProposalCommand::Tick { now: deadline + lock });
        let decided = state.outcome();
        prop_assert!(decided.is_some(), "not decided after the deadline and the time lock");

        let accepted: BTreeMap<usize, Choice> = (0..case.weights.len())
            .filter_map(|i| state.ballots().get(&agent(i)).map(|c| (i, *c)))
            .collect();
        prop_assert_eq!(decided, Some(recount(&case, &accepted)));
        // Early close refused some ballots at most; counting them too changes nothing.
        prop_assert_eq!(decided, Some(recount(&case, &intended(&case))));
    }
}
