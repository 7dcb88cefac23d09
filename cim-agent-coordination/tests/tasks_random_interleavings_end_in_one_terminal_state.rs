//! Property: for random interleavings of submit, dispatch, acknowledge (current or stale),
//! progress, timeouts, agents going offline, results and cancel, a task never has two live
//! assignments, no agent exceeds its limit, and once the run is drained every task has ended in
//! exactly one terminal state, recorded last in its history.

mod common;

use chrono::Duration;
use cim_agent_coordination::registry::Presence;
use cim_agent_coordination::tasks::{
    CoordinatorConfig, Strategy as Assign, Task, TaskCoordinator, TaskEvent, TaskId, TaskSpec,
};
use cim_domain_agent::AgentName;
use cim_jetstream::{InMemoryEventRepository, InMemoryEventStore};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Submit(u8, u8),
    Dispatch,
    Ack(u8, bool),
    Progress(u8),
    Finish(u8, bool),
    Advance(u8),
    Offline(u8),
    Online(u8),
    Cancel(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 0u8..3).prop_map(|(t, p)| Op::Submit(t, p)),
        Just(Op::Dispatch),
        Just(Op::Dispatch),
        (0u8..6, any::<bool>()).prop_map(|(t, stale)| Op::Ack(t, stale)),
        (0u8..6).prop_map(Op::Progress),
        (0u8..6, any::<bool>()).prop_map(|(t, ok)| Op::Finish(t, ok)),
        (1u8..90).prop_map(Op::Advance),
        (0u8..3).prop_map(Op::Offline),
        (0u8..3).prop_map(Op::Online),
        (0u8..6).prop_map(Op::Cancel),
    ]
}

const AGENTS: [&str; 3] = ["ann", "bob", "cyd"];

fn task_id(t: u8) -> TaskId {
    TaskId::new(format!("t{t}")).unwrap_or_else(|_| unreachable!("valid id"))
}

async fn check_invariants(
    c: &TaskCoordinator<InMemoryEventStore<Task>>,
    submitted: &[TaskId],
) -> Result<(), TestCaseError> {
    for candidate in c.candidates() {
        prop_assert!(
            candidate.in_flight <= candidate.max_in_flight,
            "{candidate:?}"
        );
    }
    for id in submitted {
        let task = c
            .task(id)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let open_attempts = task
            .attempts()
            .iter()
            .filter(|a| a.outcome.is_none())
            .count();
        prop_assert!(
            open_attempts <= 1,
            "two live attempts: {:?}",
            task.attempts()
        );
        prop_assert_eq!(open_attempts == 1, task.status().live().is_some());
        prop_assert_eq!(c.live_assignment(id), task.status().live());
    }
    Ok(())
}

async fn scenario(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let store = InMemoryEventStore::<Task>::new_event_store(InMemoryEventRepository::new());
    let config = CoordinatorConfig {
        ack_wait: Duration::seconds(30),
        progress_wait: Duration::seconds(60),
        strategy: Assign::LeastLoaded,
    };
    let mut c = TaskCoordinator::new(store, config);
    let mut now = common::tasks_script::t0();
    let record = |name: &str, presence: Presence, now| {
        common::tasks_script::agent(name, &[], 2, now)
            .map(|mut r| {
                r.presence = presence;
                r
            })
            .map_err(|e| TestCaseError::fail(e.to_string()))
    };
    for name in AGENTS {
        c.upsert_agent(&record(name, Presence::Online, now)?);
    }
    let mut submitted: Vec<TaskId> = Vec::new();
    for op in ops {
        // Refusals (fenced, invalid state, conflicts) are expected outcomes here; only the
        // invariants matter.
        match op {
            Op::Submit(t, p) => {
                let id = task_id(t);
                let spec = TaskSpec::new("work").with_priority(p).with_max_attempts(3);
                if c.submit(id.clone(), spec, now).await.is_ok() && !submitted.contains(&id) {
                    submitted.push(id);
                }
            }
            Op::Dispatch => {
                let _ = c.dispatch(now).await;
            }
            Op::Ack(t, stale) => {
                if let Some((agent, attempt)) = c.live_assignment(&task_id(t)) {
                    let attempt = if stale {
                        attempt.saturating_sub(1)
                    } else {
                        attempt
                    };
                    let _ = c.acknowledge(&task_id(t), &agent, attempt, now).await;
                }
            }
            Op::Progress(t) => {
                if let Some((agent, attempt)) = c.live_assignment(&task_id(t)) {
                    let _ = c
                        .progress(&task_id(t), &agent, attempt, "p".into(), now)
                        .await;
                }
            }
            Op::Finish(t, ok) => {
                if let Some((agent, attempt)) = c.live_assignment(&task_id(t)) {
                    let outcome = if ok { Ok("r".into()) } else { Err("e".into()) };
                    let _ = c.finish(&task_id(t), &agent, attempt, outcome, now).await;
                }
            }
            Op::Advance(secs) => {
                now += Duration::seconds(i64::from(secs));
                let _ = c.tick(now).await;
            }
            Op::Offline(a) => {
                let name = AgentName::new(AGENTS[a as usize])
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                c.upsert_agent(&record(AGENTS[a as usize], Presence::Offline, now)?);
                let _ = c.agent_offline(&name, now).await;
            }
            Op::Online(a) => c.upsert_agent(&record(AGENTS[a as usize], Presence::Online, now)?),
            Op::Cancel(t) => {
                let _ = c.cancel(&task_id(t), "stop".into(), now).await;
            }
        }
        check_invariants(&c, &submitted).await?;
    }
    // Drain: everyone online, every live task completed, time moves on.
    for name in AGENTS {
        c.upsert_agent(&record(name, Presence::Online, now)?);
    }
    for _ in 0..20 {
        let _ = c.dispatch(now).await;
        for id in &submitted {
            if let Some((agent, attempt)) = c.live_assignment(id) {
                let _ = c.finish(id, &agent, attempt, Ok("r".into()), now).await;
            }
        }
        check_invariants(&c, &submitted).await?;
    }
    for id in &submitted {
        let history = c
            .history(id)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let terminal = history
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    TaskEvent::Completed { .. }
                        | TaskEvent::Failed { .. }
                        | TaskEvent::DeadLettered { .. }
                        | TaskEvent::Cancelled { .. }
                )
            })
            .count();
        prop_assert_eq!(terminal, 1, "{} history {:?}", id, history);
        prop_assert!(
            c.task(id)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .status()
                .is_terminal()
        );
        let last_is_terminal = matches!(
            history.last(),
            Some(
                TaskEvent::Completed { .. }
                    | TaskEvent::Failed { .. }
                    | TaskEvent::DeadLettered { .. }
                    | TaskEvent::Cancelled { .. }
            )
        );
        prop_assert!(last_is_terminal, "terminal event not last");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn every_task_ends_in_exactly_one_terminal_state(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        runtime.block_on(scenario(ops))?;
    }
}
