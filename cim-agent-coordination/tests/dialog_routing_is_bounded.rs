//! The router's bounds and refusals: turn limit, hand-off chain, no participants or recipient
//! (fails fast), offline recipients under each policy, a selector naming a non-participant
//! (validated, retried a bounded number of times, then a deterministic fallback or an error).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use cim_agent_coordination::dialog::{
    AgentDialogRouter, Message, OfflinePolicy, Presence, RouterConfig, RoutingError,
    SelectorFallback, Strategy,
};
use cim_domain_agent::AgentId;
use common::dialog_script::{ALL, DIALOG, GPU, NIX, ORCHESTRATOR, PLANNER, REVIEWER, team};
use uuid::Uuid;

fn say(from: AgentId, strategy: Strategy) -> Message {
    Message::new(DIALOG, from, strategy, "hi")
}

fn handoff(from: AgentId, to: AgentId) -> Message {
    say(
        from,
        Strategy::HandOff {
            to,
            reason: "yours".into(),
        },
    )
}

#[test]
fn the_turn_limit_ends_a_dialog() {
    let mut router = team(RouterConfig {
        max_turns: 3,
        ..RouterConfig::default()
    });
    for _ in 0..3 {
        assert!(
            router
                .route_message(&say(ORCHESTRATOR, Strategy::RoundRobin), &ALL)
                .is_ok()
        );
    }
    assert_eq!(
        router.route_message(&say(ORCHESTRATOR, Strategy::Broadcast), &ALL),
        Err(RoutingError::TurnLimit {
            dialog: DIALOG,
            max: 3
        })
    );
    // A refused message changes nothing; forgetting the dialog resets it.
    assert_eq!(router.counters(DIALOG).turns, 3);
    router.forget_dialog(DIALOG);
    assert!(
        router
            .route_message(&say(ORCHESTRATOR, Strategy::Broadcast), &ALL)
            .is_ok()
    );
}

#[test]
fn hand_offs_in_a_row_are_bounded_and_another_turn_resets_the_chain() {
    let mut router = team(RouterConfig {
        max_handoff_chain: 2,
        ..RouterConfig::default()
    });
    assert_eq!(
        router.route_message(&handoff(NIX, GPU), &ALL),
        Ok(vec![GPU])
    );
    assert_eq!(
        router.route_message(&handoff(GPU, NIX), &ALL),
        Ok(vec![NIX])
    );
    // A ping-pong would never end: the third hand-off in a row is refused.
    assert_eq!(
        router.route_message(&handoff(NIX, GPU), &ALL),
        Err(RoutingError::HandOffChainLimit {
            dialog: DIALOG,
            max: 2
        })
    );
    assert!(
        router
            .route_message(&say(NIX, Strategy::Direct { to: REVIEWER }), &ALL)
            .is_ok()
    );
    assert_eq!(
        router.route_message(&handoff(REVIEWER, GPU), &ALL),
        Ok(vec![GPU])
    );
}

#[test]
fn a_hand_off_needs_a_reason_another_agent_and_a_participant_speaker() {
    let mut router = team(RouterConfig::default());
    let no_reason = say(
        NIX,
        Strategy::HandOff {
            to: GPU,
            reason: "  ".into(),
        },
    );
    assert_eq!(
        router.route_message(&no_reason, &ALL),
        Err(RoutingError::HandOffWithoutReason { dialog: DIALOG })
    );
    assert_eq!(
        router.route_message(&handoff(NIX, NIX), &ALL),
        Err(RoutingError::HandOffToSelf {
            dialog: DIALOG,
            agent: NIX
        })
    );
    assert_eq!(
        router.route_message(&handoff(NIX, GPU), &[GPU, REVIEWER]),
        Err(RoutingError::NotAParticipant {
            dialog: DIALOG,
            agent: NIX
        })
    );
    assert_eq!(router.counters(DIALOG).turns, 0);
}

#[test]
fn no_participants_or_no_recipient_fail_fast() {
    let mut router = team(RouterConfig::default());
    assert_eq!(
        router.route_message(&say(ORCHESTRATOR, Strategy::Broadcast), &[]),
        Err(RoutingError::NoParticipants { dialog: DIALOG })
    );
    // Alone in a dialog: nobody to hear it.
    assert!(matches!(
        router.route_message(&say(ORCHESTRATOR, Strategy::Broadcast), &[ORCHESTRATOR]),
        Err(RoutingError::NoRecipient {
            strategy: "broadcast",
            ..
        })
    ));
    let quantum = Strategy::Capability {
        required: vec!["quantum".into()],
        preferred: vec![],
        limit: None,
    };
    assert!(matches!(
        router.route_message(&say(ORCHESTRATOR, quantum), &ALL),
        Err(RoutingError::NoRecipient {
            strategy: "capability",
            ..
        })
    ));
    let both = Strategy::Capability {
        required: vec!["gpu".into(), "review".into()],
        preferred: vec![],
        limit: None,
    };
    assert!(matches!(
        router.route_message(&say(ORCHESTRATOR, both), &ALL),
        Err(RoutingError::NoRecipient { .. })
    ));
    let stranger = AgentId(Uuid::from_u128(99));
    assert_eq!(
        router.route_message(&say(ORCHESTRATOR, Strategy::Direct { to: stranger }), &ALL),
        Err(RoutingError::NotAParticipant {
            dialog: DIALOG,
            agent: stranger
        })
    );
    assert_eq!(
        router.route_message(
            &say(ORCHESTRATOR, Strategy::Broadcast),
            &[ORCHESTRATOR, stranger]
        ),
        Err(RoutingError::UnknownAgent { agent: stranger })
    );
    assert_eq!(router.counters(DIALOG).turns, 0, "refusals are not turns");
}

fn offline(policy: OfflinePolicy) -> AgentDialogRouter {
    let mut router = team(RouterConfig {
        offline: policy,
        ..RouterConfig::default()
    });
    assert!(router.set_presence(NIX, Presence::Offline));
    router
}

#[test]
fn an_offline_recipient_is_skipped_queued_or_refused_by_policy() {
    let direct = say(ORCHESTRATOR, Strategy::Direct { to: NIX });
    let broadcast = say(ORCHESTRATOR, Strategy::Broadcast);

    let mut skip = offline(OfflinePolicy::Skip);
    assert_eq!(
        skip.route_message(&broadcast, &ALL),
        Ok(vec![PLANNER, GPU, REVIEWER])
    );
    assert_eq!(
        skip.route_message(&direct, &ALL),
        Err(RoutingError::NoRecipient {
            dialog: DIALOG,
            strategy: "direct",
            offline_skipped: 1
        })
    );
    // Round-robin passes over the offline agent.
    let rr = say(ORCHESTRATOR, Strategy::RoundRobin);
    let picks: Vec<_> = (0..4)
        .map(|_| {
            skip.route_message(&rr, &ALL)
                .ok()
                .and_then(|r| r.first().copied())
        })
        .collect();
    assert_eq!(
        picks,
        [Some(PLANNER), Some(GPU), Some(REVIEWER), Some(PLANNER)]
    );

    let mut queue = offline(OfflinePolicy::Queue);
    assert_eq!(queue.route_message(&direct, &ALL), Ok(vec![NIX]));
    assert_eq!(
        queue.route_message(&broadcast, &ALL),
        Ok(vec![PLANNER, NIX, GPU, REVIEWER])
    );

    let mut error = offline(OfflinePolicy::Error);
    assert_eq!(
        error.route_message(&broadcast, &ALL),
        Err(RoutingError::RecipientOffline {
            dialog: DIALOG,
            agent: NIX
        })
    );
    // Back online: delivered.
    error.set_presence(NIX, Presence::Online);
    assert_eq!(error.route_message(&direct, &ALL), Ok(vec![NIX]));
}

#[test]
fn a_selector_naming_a_non_participant_is_retried_then_falls_back() {
    let stranger = AgentId(Uuid::from_u128(99));
    let asked = Arc::new(AtomicU32::new(0));
    let mut router = team(RouterConfig {
        selector_attempts: 3,
        selector_fallback: SelectorFallback::RoundRobin,
        ..RouterConfig::default()
    });
    let counter = Arc::clone(&asked);
    router.set_selector(Arc::new(move |input| {
        counter.fetch_add(1, Ordering::Relaxed);
        // Names a stranger, then itself... never a valid participant.
        match input.attempt {
            0 => Some(stranger),
            1 => Some(input.message.from),
            _ => None,
        }
    }));
    let pick = say(ORCHESTRATOR, Strategy::Selector);
    assert_eq!(router.route_message(&pick, &ALL), Ok(vec![PLANNER]));
    assert_eq!(asked.load(Ordering::Relaxed), 3, "bounded retries");
    assert_eq!(
        router.route_message(&pick, &ALL),
        Ok(vec![NIX]),
        "fallback rotates"
    );

    let mut strict = team(RouterConfig {
        selector_attempts: 2,
        selector_fallback: SelectorFallback::Error,
        ..RouterConfig::default()
    });
    strict.set_selector(Arc::new(move |_| Some(stranger)));
    assert_eq!(
        strict.route_message(&pick, &ALL),
        Err(RoutingError::SelectorExhausted {
            dialog: DIALOG,
            attempts: 2,
            rejected: vec![Some(stranger), Some(stranger)]
        })
    );
    let mut none = team(RouterConfig::default());
    assert_eq!(
        none.route_message(&pick, &ALL),
        Err(RoutingError::NoSelector { dialog: DIALOG })
    );
}

#[test]
fn a_selector_that_corrects_itself_is_accepted_and_sees_its_refusals() {
    let mut router = team(RouterConfig::default());
    router.set_selector(Arc::new(|input| {
        if input.rejected.is_empty() {
            Some(AgentId(Uuid::from_u128(99)))
        } else {
            // Pick the reviewer by name through the router's view.
            input.participants.iter().copied().find(|id| {
                input
                    .router
                    .agent(*id)
                    .is_some_and(|a| a.name == "reviewer")
            })
        }
    }));
    assert_eq!(
        router.route_message(&say(ORCHESTRATOR, Strategy::Selector), &ALL),
        Ok(vec![REVIEWER])
    );
}

#[test]
fn priority_routing_prefers_preferred_agents_and_fans_out_when_urgent() {
    use cim_agent_coordination::dialog::Priority;
    let mut router = team(RouterConfig {
        urgent_fanout: 2,
        ..RouterConfig::default()
    });
    let normal = say(ORCHESTRATOR, Strategy::Priority);
    assert_eq!(router.route_message(&normal, &ALL), Ok(vec![NIX]));
    let urgent = normal.clone().with_priority(Priority::Urgent);
    assert_eq!(router.route_message(&urgent, &ALL), Ok(vec![NIX, GPU]));
    router.set_presence(NIX, Presence::Offline);
    assert_eq!(router.route_message(&normal, &ALL), Ok(vec![GPU]));
}
