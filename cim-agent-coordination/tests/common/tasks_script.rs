//! One behaviour script for task coordination, run over the in-memory event store and the
//! JetStream one, with time driven by hand.

use chrono::{DateTime, Duration, TimeZone, Utc};
use cim_agent_coordination::registry::{AgentRecord, Presence};
use cim_agent_coordination::tasks::{
    AttemptOutcome, Bid, CoordinatorConfig, CoordinatorError, DeadLetterReason, NoBidReason,
    ReassignReason, Strategy, Submitted, Task, TaskCoordinator, TaskError, TaskEvent, TaskId,
    TaskSpec, TaskStatus,
};
use cim_domain_agent::announce::AgentRegistration;
use cim_domain_agent::{AgentId, AgentName};
use cqrs_es::{DomainEvent, EventStore};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A registry record for `name` with `capabilities`, taking `max` tasks at once.
pub fn agent(
    name: &str,
    capabilities: &[&str],
    max: u32,
    now: DateTime<Utc>,
) -> Result<AgentRecord, Error> {
    let agent_name = AgentName::new(name)?;
    let registration = AgentRegistration {
        agent_id: AgentId::from_name(&agent_name),
        name: agent_name,
        display_name: name.into(),
        version: semver::Version::new(1, 0, 0),
        capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
        model: None,
        model_endpoint: None,
        heartbeat_secs: 10,
        started_at: now,
        host: None,
        max_concurrent_tasks: max,
    };
    Ok(AgentRecord::from_registration(&registration, now))
}

fn id(text: &str) -> Result<TaskId, Error> {
    Ok(TaskId::new(text)?)
}

fn types(events: &[TaskEvent]) -> Vec<String> {
    events.iter().map(DomainEvent::event_type).collect()
}

/// Start of every scenario.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Runs every scenario; `store` makes a fresh event store for each (scenarios use distinct ids
/// anyway, so one shared store also works).
pub async fn run<ES: EventStore<Task>, F: Fn() -> ES>(store: F) -> Result<(), Error> {
    let config = CoordinatorConfig {
        ack_wait: Duration::seconds(30),
        progress_wait: Duration::seconds(60),
        strategy: Strategy::CapabilityMatch,
    };
    let now = t0();

    // Assign, acknowledge, progress, complete; the history is the event stream.
    let mut c = TaskCoordinator::new(store(), config);
    c.upsert_agent(&agent("coder", &["code"], 1, now)?);
    let t = id("happy")?;
    assert_eq!(
        c.submit(t.clone(), TaskSpec::new("build").requiring(["code"]), now)
            .await?,
        Submitted::New
    );
    let made = c.dispatch(now).await?;
    assert_eq!(made.len(), 1);
    assert_eq!(
        (
            made[0].agent.as_str(),
            made[0].attempt,
            made[0].payload.as_str()
        ),
        ("coder", 1, "build")
    );
    c.acknowledge(&t, &made[0].agent, 1, now + Duration::seconds(1))
        .await?;
    c.progress(
        &t,
        &made[0].agent,
        1,
        "half".into(),
        now + Duration::seconds(50),
    )
    .await?;
    // Progress moved the deadline: a tick past the first one changes nothing.
    assert!(c.tick(now + Duration::seconds(70)).await?.is_empty());
    c.finish(
        &t,
        &made[0].agent,
        1,
        Ok("done".into()),
        now + Duration::seconds(80),
    )
    .await?;
    assert!(
        matches!(c.task(&t).await?.status(), TaskStatus::Completed { result } if result == "done")
    );
    assert_eq!(
        types(&c.history(&t).await?),
        [
            "Submitted",
            "Assigned",
            "Acknowledged",
            "Progressed",
            "Completed"
        ]
    );

    // Idempotent resubmit; another payload under the same id is a conflict.
    assert_eq!(
        c.submit(t.clone(), TaskSpec::new("build").requiring(["code"]), now)
            .await?,
        Submitted::AlreadySubmitted
    );
    assert!(matches!(
        c.submit(t.clone(), TaskSpec::new("other"), now).await,
        Err(CoordinatorError::Task(TaskError::Conflict(_)))
    ));
    assert_eq!(
        c.history(&t).await?.len(),
        5,
        "a resubmission writes nothing"
    );

    // A missed acknowledgement reassigns to another capable agent; the late ack is refused.
    let mut c = TaskCoordinator::new(store(), config);
    c.upsert_agent(&agent("a1", &["code"], 1, now)?);
    c.upsert_agent(&agent("a2", &["code"], 1, now)?);
    let t = id("missed-ack")?;
    c.submit(t.clone(), TaskSpec::new("x").requiring(["code"]), now)
        .await?;
    let first = c.dispatch(now).await?.remove(0);
    // Occupy nothing else; let the ack wait pass.
    let events = c.tick(now + Duration::seconds(31)).await?;
    assert!(matches!(
        &events[..],
        [TaskEvent::Reassigned {
            reason: ReassignReason::MissedAcknowledgement,
            attempt: 1,
            ..
        }]
    ));
    // The first agent is still free, so pin the second: mark the first offline.
    let mut offline = agent(first.agent.as_str(), &["code"], 1, now)?;
    offline.presence = Presence::Offline;
    c.upsert_agent(&offline);
    let second = c.dispatch(now + Duration::seconds(31)).await?.remove(0);
    assert_ne!(second.agent, first.agent, "reassigned to another agent");
    assert_eq!(second.attempt, 2);
    match c
        .acknowledge(&t, &first.agent, 1, now + Duration::seconds(32))
        .await
    {
        Err(CoordinatorError::Task(TaskError::Fenced {
            attempt: 1,
            live: Some((live, 2)),
            ..
        })) => assert_eq!(live, second.agent),
        other => panic!("late ack must be fenced, got {other:?}"),
    }
    c.acknowledge(&t, &second.agent, 2, now + Duration::seconds(33))
        .await?;
    assert_eq!(
        c.task(&t).await?.status().live(),
        Some((second.agent.clone(), 2))
    );

    // An agent going offline has its tasks reassigned.
    let mut c = TaskCoordinator::new(store(), config);
    c.upsert_agent(&agent("b1", &[], 2, now)?);
    let t = id("offline")?;
    c.submit(t.clone(), TaskSpec::new("x"), now).await?;
    let a = c.dispatch(now).await?.remove(0);
    c.acknowledge(&t, &a.agent, 1, now).await?;
    let events = c
        .agent_offline(&a.agent, now + Duration::seconds(5))
        .await?;
    assert!(matches!(
        &events[..],
        [TaskEvent::Reassigned {
            reason: ReassignReason::AgentOffline,
            ..
        }]
    ));
    assert_eq!(c.queued(), std::slice::from_ref(&t));
    c.upsert_agent(&agent("b2", &[], 1, now)?);
    let again = c.dispatch(now + Duration::seconds(6)).await?.remove(0);
    assert_eq!((again.agent.as_str(), again.attempt), ("b2", 2));

    // After the maximum attempts the task is dead-lettered with its whole history.
    let mut c = TaskCoordinator::new(store(), config);
    c.upsert_agent(&agent("flaky", &[], 1, now)?);
    let t = id("dead")?;
    c.submit(t.clone(), TaskSpec::new("x").with_max_attempts(2), now)
        .await?;
    let mut at = now;
    for _ in 0..2 {
        assert_eq!(c.dispatch(at).await?.len(), 1);
        at += Duration::seconds(31);
        c.tick(at).await?;
    }
    let task = c.task(&t).await?;
    assert!(matches!(
        task.status(),
        TaskStatus::DeadLettered {
            reason: DeadLetterReason::MaxAttemptsReached
        }
    ));
    let history = c.history(&t).await?;
    match history.last() {
        Some(TaskEvent::DeadLettered { attempts, .. }) => {
            assert_eq!(attempts.len(), 2);
            assert!(attempts.iter().all(|a| a.outcome
                == Some(AttemptOutcome::Reassigned {
                    reason: ReassignReason::MissedAcknowledgement
                })));
        }
        other => panic!("expected a dead letter, got {other:?}"),
    }
    assert!(
        c.dispatch(at).await?.is_empty(),
        "a dead letter is not dispatched again"
    );

    // Priority first, FIFO within a priority; at most the declared number in flight.
    let mut c = TaskCoordinator::new(store(), config);
    for (name, priority) in [("p-low", 1), ("p-high-1", 9), ("p-mid", 5), ("p-high-2", 9)] {
        c.submit(id(name)?, TaskSpec::new(name).with_priority(priority), now)
            .await?;
    }
    assert_eq!(
        c.queued(),
        [id("p-high-1")?, id("p-high-2")?, id("p-mid")?, id("p-low")?]
    );
    c.upsert_agent(&agent("solo", &[], 2, now)?);
    let made = c.dispatch(now).await?;
    assert_eq!(
        made.iter().map(|a| a.task.as_str()).collect::<Vec<_>>(),
        ["p-high-1", "p-high-2"]
    );
    assert!(
        c.dispatch(now).await?.is_empty(),
        "in-flight limit of 2 reached"
    );
    c.acknowledge(&made[0].task, &made[0].agent, 1, now).await?;
    c.finish(&made[0].task, &made[0].agent, 1, Err("broke".into()), now)
        .await?;
    assert!(
        matches!(c.task(&made[0].task).await?.status(), TaskStatus::Failed { reason } if reason == "broke")
    );
    let next = c.dispatch(now).await?;
    assert_eq!(
        next.iter().map(|a| a.task.as_str()).collect::<Vec<_>>(),
        ["p-mid"]
    );

    // Cancel: the live assignment is named so the agent can be told; a finished task stays.
    let cancelled = c
        .cancel(&next[0].task, "no longer needed".into(), now)
        .await?;
    assert_eq!(cancelled, Some((next[0].agent.clone(), 1)));
    assert!(matches!(
        c.acknowledge(&next[0].task, &next[0].agent, 1, now).await,
        Err(CoordinatorError::Task(TaskError::Fenced { live: None, .. }))
    ));
    assert_eq!(c.cancel(&made[0].task, "late".into(), now).await?, None);
    assert!(matches!(
        c.task(&made[0].task).await?.status(),
        TaskStatus::Failed { .. }
    ));
    let queued_cancel = c.cancel(&id("p-low")?, "skip".into(), now).await?;
    assert_eq!(queued_cancel, None);
    assert!(c.queued().is_empty());

    // Contract net: the best eligible bid wins.
    let mut c = TaskCoordinator::new(store(), config);
    for name in ["cheap", "dear", "busy"] {
        c.upsert_agent(&agent(name, &["search"], 1, now)?);
    }
    let t = id("cnp")?;
    c.submit(t.clone(), TaskSpec::new("find").requiring(["search"]), now)
        .await?;
    let round = c.offer(&t, now + Duration::seconds(5), now).await?;
    assert!(
        c.dispatch(now).await?.is_empty(),
        "an offered task waits for its bidding"
    );
    let bid = |agent: &str, cost: f64, secs: u64| -> Result<Bid, Error> {
        Ok(Bid {
            agent: AgentName::new(agent)?,
            round,
            cost,
            estimated_secs: secs,
            at: now + Duration::seconds(1),
        })
    };
    c.bid(&t, bid("dear", 9.0, 10)?).await?;
    c.bid(&t, bid("cheap", 2.0, 30)?).await?;
    assert!(matches!(
        c.bid(&t, bid("cheap", 1.0, 1)?).await,
        Err(CoordinatorError::Task(TaskError::DuplicateBid(_)))
    ));
    let late = Bid {
        at: now + Duration::seconds(6),
        ..bid("busy", 0.5, 1)?
    };
    assert!(matches!(
        c.bid(&t, late).await,
        Err(CoordinatorError::Task(TaskError::BiddingClosed { .. }))
    ));
    let events = c.tick(now + Duration::seconds(6)).await?;
    assert!(
        matches!(&events[..], [TaskEvent::Assigned { agent, attempt: 1, .. }] if agent.as_str() == "cheap")
    );
    assert_eq!(c.live_assignment(&t), Some((AgentName::new("cheap")?, 1)));

    // Contract net with no bid by the deadline: a typed outcome, and the task is queued again.
    let t = id("cnp-silent")?;
    c.submit(t.clone(), TaskSpec::new("find").requiring(["search"]), now)
        .await?;
    c.offer(&t, now + Duration::seconds(5), now).await?;
    let events = c.tick(now + Duration::seconds(6)).await?;
    assert!(matches!(
        &events[..],
        [TaskEvent::NoBid {
            reason: NoBidReason::NoBids,
            ..
        }]
    ));
    assert_eq!(c.queued(), std::slice::from_ref(&t));

    // Bad ids are refused at the edge.
    for bad in ["", "a.b", "a b", "*", "x>"] {
        assert!(TaskId::new(bad).is_err(), "{bad:?}");
    }
    Ok(())
}
