//! Properties of the router: round-robin is fair, capability routing returns only capable
//! agents (best match first), and the same state and message always give the same recipients.

use cim_agent_coordination::dialog::{
    AgentDialogRouter, DialogAgent, DialogId, Message, OfflinePolicy, Presence, Priority,
    RouterConfig, Strategy,
};
use cim_domain_agent::AgentId;
use proptest::prelude::{
    Just, ProptestConfig, any, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::strategy::Strategy as _;
use uuid::Uuid;

const CAPS: [&str; 6] = ["nix", "gpu", "review", "plan", "db", "net"];
const OUTSIDER: AgentId = AgentId(Uuid::from_u128(u128::MAX));

fn id(n: usize) -> AgentId {
    AgentId(Uuid::from_u128(n as u128 + 1))
}

/// Agents 0..n with capability bit masks, preferences and presence.
fn router(agents: &[(u8, i8, bool)], policy: OfflinePolicy) -> (AgentDialogRouter, Vec<AgentId>) {
    let mut router = AgentDialogRouter::new(RouterConfig {
        offline: policy,
        max_turns: u32::MAX,
        ..RouterConfig::default()
    });
    let mut ids = Vec::new();
    for (n, &(mask, preference, online)) in agents.iter().enumerate() {
        let caps = CAPS
            .iter()
            .enumerate()
            .filter(|(bit, _)| mask & (1 << bit) != 0)
            .map(|(_, c)| *c);
        let mut agent =
            DialogAgent::online(id(n), format!("a{n}"), caps).with_preference(preference.into());
        if !online {
            agent.presence = Presence::Offline;
        }
        router.upsert_agent(agent);
        ids.push(id(n));
    }
    router.upsert_agent(DialogAgent::online(
        OUTSIDER,
        "orchestrator",
        ["orchestration"],
    ));
    (router, ids)
}

fn strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
    use Strategy as S;
    prop_oneof![
        Just(S::Broadcast),
        Just(S::RoundRobin),
        Just(S::Priority),
        (0..6usize, proptest::option::of(1..4usize)).prop_map(|(c, limit)| S::Capability {
            required: vec![CAPS[c].into()],
            preferred: vec![CAPS[(c + 1) % 6].into()],
            limit
        }),
        (0..8usize).prop_map(|n| S::Direct { to: id(n) }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_robin_is_fair_over_any_window(n in 1usize..12, messages in 1usize..60) {
        let agents = vec![(0u8, 0i8, true); n];
        let (mut router, ids) = router(&agents, OfflinePolicy::Skip);
        let dialog = DialogId(Uuid::from_u128(1));
        let rr = Message::new(dialog, OUTSIDER, Strategy::RoundRobin, "next");
        let mut picks = Vec::new();
        for _ in 0..messages {
            let to = router.route_message(&rr, &ids);
            prop_assert!(to.as_ref().is_ok_and(|r| r.len() == 1), "{to:?}");
            picks.extend(to.unwrap_or_default());
        }
        for window in picks.windows(n.min(picks.len())) {
            let counts: Vec<usize> = ids.iter().map(|a| window.iter().filter(|p| *p == a).count()).collect();
            let (min, max) = (counts.iter().min(), counts.iter().max());
            prop_assert!(max.zip(min).is_some_and(|(max, min)| max - min <= 1), "{counts:?}");
        }
    }

    #[test]
    fn capability_routing_returns_only_capable_agents_best_first(
        agents in proptest::collection::vec((0u8..64, -3i8..3, any::<bool>()), 1..30),
        required in proptest::collection::btree_set(0usize..6, 1..3),
        preferred in proptest::collection::btree_set(0usize..6, 0..3),
    ) {
        let (mut router, ids) = router(&agents, OfflinePolicy::Skip);
        let required: Vec<String> = required.iter().map(|c| CAPS[*c].to_string()).collect();
        let preferred: Vec<String> = preferred.iter().map(|c| CAPS[*c].to_string()).collect();
        let message = Message::new(
            DialogId(Uuid::from_u128(2)),
            OUTSIDER,
            Strategy::Capability { required: required.clone(), preferred: preferred.clone(), limit: None },
            "who?",
        );
        let capable: Vec<AgentId> = ids
            .iter()
            .copied()
            .filter(|a| {
                router.agent(*a).is_some_and(|agent| {
                    agent.presence == Presence::Online && required.iter().all(|c| agent.has_capability(c))
                })
            })
            .collect();
        match router.route_message(&message, &ids) {
            Ok(got) => {
                let mut sorted = got.clone();
                sorted.sort();
                prop_assert_eq!(sorted, capable);
                let score = |a: &AgentId| {
                    router.agent(*a).map(|agent| {
                        let hits = preferred.iter().filter(|c| agent.has_capability(c)).count();
                        (std::cmp::Reverse(hits), std::cmp::Reverse(agent.preference), *a)
                    })
                };
                let keys: Vec<_> = got.iter().map(score).collect();
                prop_assert!(keys.windows(2).all(|w| w[0] <= w[1]), "not best first");
            }
            Err(_) => prop_assert!(capable.is_empty()),
        }
    }

    #[test]
    fn the_same_state_and_message_give_the_same_recipients(
        agents in proptest::collection::vec((0u8..64, -3i8..3, any::<bool>()), 1..20),
        history in proptest::collection::vec(strategy(), 0..10),
        last in strategy(),
        urgent in any::<bool>(),
        queue in any::<bool>(),
    ) {
        let policy = if queue { OfflinePolicy::Queue } else { OfflinePolicy::Skip };
        let (mut router, ids) = router(&agents, policy);
        let dialog = DialogId(Uuid::from_u128(3));
        for s in history {
            // Earlier turns move the state (round-robin position, counters); errors are fine.
            let _ = router.route_message(&Message::new(dialog, OUTSIDER, s, "."), &ids);
        }
        let priority = if urgent { Priority::Urgent } else { Priority::Normal };
        let message = Message::new(dialog, OUTSIDER, last, "?").with_priority(priority);
        let mut copy = router.clone();
        let planned = router.plan(&message, &ids).map(|p| p.recipients);
        prop_assert_eq!(&planned, &router.plan(&message, &ids).map(|p| p.recipients));
        prop_assert_eq!(&planned, &router.route_message(&message, &ids));
        prop_assert_eq!(&planned, &copy.route_message(&message, &ids));
        // Removing an agent drops the cached participant slots: the hash-lookup path agrees.
        let mut uncached = copy.clone();
        let dummy = AgentId(Uuid::from_u128(u128::MAX - 1));
        uncached.upsert_agent(DialogAgent::online(dummy, "dummy", ["x"]));
        prop_assert!(uncached.remove_agent(dummy).is_some());
        prop_assert_eq!(
            copy.plan(&message, &ids).map(|p| p.recipients),
            uncached.plan(&message, &ids).map(|p| p.recipients)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn priority_routing_picks_the_most_preferred_online_agents(
        agents in proptest::collection::vec((0u8..64, -3i8..3, any::<bool>()), 1..40),
        fanout in 1usize..6,
        urgent in any::<bool>(),
    ) {
        let (mut router, ids) = router(&agents, OfflinePolicy::Skip);
        let mut config = router.config().clone();
        config.urgent_fanout = fanout;
        let mut reconfigured = AgentDialogRouter::new(config);
        for id in ids.iter().chain([OUTSIDER].iter()) {
            if let Some(agent) = router.agent(*id) {
                reconfigured.upsert_agent(agent.clone());
            }
        }
        router = reconfigured;
        let priority = if urgent { Priority::Urgent } else { Priority::Normal };
        let message = Message::new(DialogId(Uuid::from_u128(4)), OUTSIDER, Strategy::Priority, "!")
            .with_priority(priority);
        // The model: sort every online agent by (preference desc, id asc), keep the first k.
        let mut expected: Vec<(std::cmp::Reverse<i32>, AgentId)> = ids
            .iter()
            .filter_map(|id| router.agent(*id))
            .filter(|a| a.presence == Presence::Online)
            .map(|a| (std::cmp::Reverse(a.preference), a.id))
            .collect();
        expected.sort();
        expected.truncate(if urgent { fanout } else { 1 });
        let expected: Vec<AgentId> = expected.into_iter().map(|(_, id)| id).collect();
        match router.route_message(&message, &ids) {
            Ok(got) => prop_assert_eq!(got, expected),
            Err(_) => prop_assert!(expected.is_empty()),
        }
    }
}
