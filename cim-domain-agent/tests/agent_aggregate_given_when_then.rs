//! Given/when/then tests for every Agent command, accepted and rejected: lifecycle
//! (registered → deployed → active ⇄ suspended → decommissioned), presence, the one-at-a-time
//! task queue, and approvals with their timeout.

use chrono::{DateTime, Duration, TimeZone, Utc};
use cim_domain_agent::aggregate::{
    Agent, AgentCommand, AgentError, AgentEvent, ApprovalId, ApprovalKind, ApprovalOutcome,
    ApprovalRequest, Lifecycle, Presence, Task, TaskId,
};
use cim_domain_agent::definition::{AgentId, AgentName};
use cqrs_es::Aggregate;
use cqrs_es::test::TestFramework;
use uuid::Uuid;

type Framework = TestFramework<Agent>;
type TestResult = Result<(), Box<dyn std::error::Error>>;

fn id() -> AgentId {
    AgentId(Uuid::from_u128(0xa6e7))
}

fn registered() -> Result<AgentEvent, Box<dyn std::error::Error>> {
    Ok(AgentEvent::Registered {
        id: id(),
        name: AgentName::new("sage")?,
        version: Some(semver::Version::new(1, 0, 0)),
        capabilities: vec!["orchestration".into()],
    })
}

fn deployed() -> AgentEvent {
    AgentEvent::Deployed {
        node: "gpu-1".into(),
    }
}

fn active() -> Result<Vec<AgentEvent>, Box<dyn std::error::Error>> {
    Ok(vec![registered()?, deployed(), AgentEvent::Activated])
}

fn suspended() -> Result<Vec<AgentEvent>, Box<dyn std::error::Error>> {
    let mut events = active()?;
    events.push(AgentEvent::Suspended {
        reason: "maintenance".into(),
    });
    Ok(events)
}

fn task(n: u128) -> Task {
    Task {
        id: TaskId(Uuid::from_u128(n)),
        description: format!("task {n}"),
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn approval(n: u128) -> ApprovalId {
    ApprovalId(Uuid::from_u128(0xa000 + n))
}

fn request(n: u128, kind: ApprovalKind, timeout: i64) -> ApprovalRequest {
    ApprovalRequest {
        id: approval(n),
        kind,
        reason: format!("need {n}"),
        requested_at: t0(),
        expires_at: t0() + Duration::seconds(timeout),
    }
}

fn requested(n: u128, kind: ApprovalKind, timeout: i64) -> AgentEvent {
    AgentEvent::ApprovalRequested {
        request: request(n, kind, timeout),
    }
}

fn replay(events: Vec<AgentEvent>) -> Agent {
    let mut agent = Agent::default();
    for event in events {
        agent.apply(event);
    }
    agent
}

// ---- lifecycle -------------------------------------------------------------------------

#[test]
fn register_creates_the_agent() -> TestResult {
    Framework::with(())
        .given_no_previous_events()
        .when(AgentCommand::Register {
            id: id(),
            name: AgentName::new("sage")?,
            version: Some(semver::Version::new(1, 0, 0)),
            capabilities: vec!["orchestration".into()],
        })
        .then_expect_events(vec![registered()?]);
    Ok(())
}

#[test]
fn register_twice_is_rejected() -> TestResult {
    Framework::with(())
        .given(vec![registered()?])
        .when(AgentCommand::Register {
            id: id(),
            name: AgentName::new("sage")?,
            version: Some(semver::Version::new(1, 0, 0)),
            capabilities: vec![],
        })
        .then_expect_error(AgentError::AlreadyRegistered(id()));
    Ok(())
}

#[test]
fn commands_before_registration_are_rejected() {
    Framework::with(())
        .given_no_previous_events()
        .when(AgentCommand::Activate)
        .then_expect_error(AgentError::NotRegistered);
}

#[test]
fn deploy_places_a_registered_agent() -> TestResult {
    Framework::with(())
        .given(vec![registered()?])
        .when(AgentCommand::Deploy {
            node: "gpu-1".into(),
        })
        .then_expect_events(vec![deployed()]);
    Framework::with(())
        .given(active()?)
        .when(AgentCommand::Deploy {
            node: "gpu-2".into(),
        })
        .then_expect_error(AgentError::InvalidTransition {
            from: Lifecycle::Active,
            command: "deploy",
        });
    Ok(())
}

#[test]
fn activate_needs_a_deployed_agent() -> TestResult {
    Framework::with(())
        .given(vec![registered()?, deployed()])
        .when(AgentCommand::Activate)
        .then_expect_events(vec![AgentEvent::Activated]);
    Framework::with(())
        .given(vec![registered()?])
        .when(AgentCommand::Activate)
        .then_expect_error(AgentError::InvalidTransition {
            from: Lifecycle::Registered,
            command: "activate",
        });
    Ok(())
}

#[test]
fn suspend_and_resume_toggle_an_active_agent() -> TestResult {
    Framework::with(())
        .given(active()?)
        .when(AgentCommand::Suspend {
            reason: "maintenance".into(),
        })
        .then_expect_events(vec![AgentEvent::Suspended {
            reason: "maintenance".into(),
        }]);
    Framework::with(())
        .given(suspended()?)
        .when(AgentCommand::Resume)
        .then_expect_events(vec![AgentEvent::Resumed]);
    Framework::with(())
        .given(suspended()?)
        .when(AgentCommand::Suspend {
            reason: "again".into(),
        })
        .then_expect_error(AgentError::InvalidTransition {
            from: Lifecycle::Suspended,
            command: "suspend",
        });
    Framework::with(())
        .given(active()?)
        .when(AgentCommand::Resume)
        .then_expect_error(AgentError::InvalidTransition {
            from: Lifecycle::Active,
            command: "resume",
        });
    Ok(())
}

#[test]
fn decommission_drops_work_and_is_final() -> TestResult {
    let mut given = active()?;
    given.extend([
        AgentEvent::TaskStarted { task: task(1) },
        AgentEvent::TaskQueued {
            task: task(2),
            position: 1,
        },
        requested(1, ApprovalKind::Sudo, 60),
        AgentEvent::Suspended {
            reason: "retiring".into(),
        },
    ]);
    Framework::with(())
        .given(given.clone())
        .when(AgentCommand::Decommission {
            reason: "replaced".into(),
        })
        .then_expect_events(vec![AgentEvent::Decommissioned {
            reason: "replaced".into(),
            abandoned_tasks: vec![task(1).id, task(2).id],
            cancelled_approvals: vec![approval(1)],
        }]);
    given.push(AgentEvent::Decommissioned {
        reason: "replaced".into(),
        abandoned_tasks: vec![task(1).id, task(2).id],
        cancelled_approvals: vec![approval(1)],
    });
    let agent = replay(given.clone());
    assert_eq!(agent.lifecycle(), Some(Lifecycle::Decommissioned));
    assert_eq!(agent.presence(), Presence::Offline);
    assert_eq!(
        agent.approval_outcome(approval(1)),
        Some(ApprovalOutcome::Cancelled)
    );
    for command in [
        AgentCommand::Resume,
        AgentCommand::Decommission {
            reason: "twice".into(),
        },
        AgentCommand::MarkOnline,
    ] {
        Framework::with(())
            .given(given.clone())
            .when(command)
            .then_expect_error(AgentError::Decommissioned);
    }
    Ok(())
}

#[test]
fn an_active_agent_must_be_suspended_before_decommissioning() -> TestResult {
    Framework::with(())
        .given(active()?)
        .when(AgentCommand::Decommission {
            reason: "now".into(),
        })
        .then_expect_error(AgentError::InvalidTransition {
            from: Lifecycle::Active,
            command: "decommission",
        });
    Framework::with(())
        .given(vec![registered()?])
        .when(AgentCommand::Decommission {
            reason: "never used".into(),
        })
        .then_expect_events(vec![AgentEvent::Decommissioned {
            reason: "never used".into(),
            abandoned_tasks: vec![],
            cancelled_approvals: vec![],
        }]);
    Ok(())
}

// ---- presence --------------------------------------------------------------------------

#[test]
fn offline_and_online_are_idempotent_and_drive_presence() -> TestResult {
    Framework::with(())
        .given(active()?)
        .when(AgentCommand::MarkOffline)
        .then_expect_events(vec![AgentEvent::WentOffline]);
    let mut offline = active()?;
    offline.push(AgentEvent::WentOffline);
    Framework::with(())
        .given(offline.clone())
        .when(AgentCommand::MarkOffline)
        .then_expect_events(vec![]);
    Framework::with(())
        .given(active()?)
        .when(AgentCommand::MarkOnline)
        .then_expect_events(vec![]);
    assert_eq!(replay(offline).presence(), Presence::Offline);
    assert_eq!(replay(active()?).presence(), Presence::Idle);
    assert_eq!(replay(vec![registered()?]).presence(), Presence::Offline);
    Ok(())
}

#[test]
fn presence_reports_work_then_blocking_approvals() -> TestResult {
    let mut events = active()?;
    events.push(AgentEvent::TaskStarted { task: task(1) });
    assert_eq!(
        replay(events.clone()).presence(),
        Presence::Working { task: task(1).id }
    );
    events.push(requested(1, ApprovalKind::Network, 30));
    assert_eq!(
        replay(events).presence(),
        Presence::Blocked {
            approval: approval(1)
        }
    );
    Ok(())
}

// ---- tasks -----------------------------------------------------------------------------

#[test]
fn a_free_agent_starts_a_task_and_a_busy_one_queues_it() -> TestResult {
    Framework::with(())
        .given(active()?)
        .when(AgentCommand::AssignTask { task: task(1) })
        .then_expect_events(vec![AgentEvent::TaskStarted { task: task(1) }]);
    let mut busy = active()?;
    busy.extend([
        AgentEvent::TaskStarted { task: task(1) },
        AgentEvent::TaskQueued {
            task: task(2),
            position: 1,
        },
    ]);
    Framework::with(())
        .given(busy)
        .when(AgentCommand::AssignTask { task: task(3) })
        .then_expect_events(vec![AgentEvent::TaskQueued {
            task: task(3),
            position: 2,
        }]);
    Ok(())
}

#[test]
fn suspended_or_offline_agents_queue_tasks_and_unregistered_stages_refuse_them() -> TestResult {
    Framework::with(())
        .given(suspended()?)
        .when(AgentCommand::AssignTask { task: task(1) })
        .then_expect_events(vec![AgentEvent::TaskQueued {
            task: task(1),
            position: 1,
        }]);
    let mut offline = active()?;
    offline.push(AgentEvent::WentOffline);
    Framework::with(())
        .given(offline)
        .when(AgentCommand::AssignTask { task: task(1) })
        .then_expect_events(vec![AgentEvent::TaskQueued {
            task: task(1),
            position: 1,
        }]);
    Framework::with(())
        .given(vec![registered()?, deployed()])
        .when(AgentCommand::AssignTask { task: task(1) })
        .then_expect_error(AgentError::NotServing(Lifecycle::Deployed));
    Ok(())
}

#[test]
fn a_task_id_is_never_assigned_twice() -> TestResult {
    let mut given = active()?;
    given.extend([
        AgentEvent::TaskStarted { task: task(1) },
        AgentEvent::TaskCompleted {
            task: task(1).id,
            outcome: "done".into(),
        },
    ]);
    Framework::with(())
        .given(given)
        .when(AgentCommand::AssignTask { task: task(1) })
        .then_expect_error(AgentError::DuplicateTask(task(1).id));
    Ok(())
}

#[test]
fn completing_a_task_starts_the_next_queued_one() -> TestResult {
    let mut given = active()?;
    given.extend([
        AgentEvent::TaskStarted { task: task(1) },
        AgentEvent::TaskQueued {
            task: task(2),
            position: 1,
        },
    ]);
    Framework::with(())
        .given(given.clone())
        .when(AgentCommand::CompleteTask {
            task: task(1).id,
            outcome: "ok".into(),
        })
        .then_expect_events(vec![
            AgentEvent::TaskCompleted {
                task: task(1).id,
                outcome: "ok".into(),
            },
            AgentEvent::TaskStarted { task: task(2) },
        ]);
    Framework::with(())
        .given(given)
        .when(AgentCommand::FailTask {
            task: task(1).id,
            reason: "boom".into(),
        })
        .then_expect_events(vec![
            AgentEvent::TaskFailed {
                task: task(1).id,
                reason: "boom".into(),
            },
            AgentEvent::TaskStarted { task: task(2) },
        ]);
    Ok(())
}

#[test]
fn only_the_running_task_can_complete_or_fail() -> TestResult {
    let mut given = active()?;
    given.extend([
        AgentEvent::TaskStarted { task: task(1) },
        AgentEvent::TaskQueued {
            task: task(2),
            position: 1,
        },
    ]);
    Framework::with(())
        .given(given.clone())
        .when(AgentCommand::CompleteTask {
            task: task(2).id,
            outcome: "early".into(),
        })
        .then_expect_error(AgentError::NotRunningTask { task: task(2).id });
    Framework::with(())
        .given(active()?)
        .when(AgentCommand::FailTask {
            task: task(9).id,
            reason: "?".into(),
        })
        .then_expect_error(AgentError::NotRunningTask { task: task(9).id });
    Ok(())
}

#[test]
fn a_suspended_agent_finishes_its_task_but_starts_nothing_until_resumed() -> TestResult {
    let mut given = active()?;
    given.extend([
        AgentEvent::TaskStarted { task: task(1) },
        AgentEvent::TaskQueued {
            task: task(2),
            position: 1,
        },
        AgentEvent::Suspended {
            reason: "pause".into(),
        },
    ]);
    Framework::with(())
        .given(given.clone())
        .when(AgentCommand::CompleteTask {
            task: task(1).id,
            outcome: "ok".into(),
        })
        .then_expect_events(vec![AgentEvent::TaskCompleted {
            task: task(1).id,
            outcome: "ok".into(),
        }]);
    given.push(AgentEvent::TaskCompleted {
        task: task(1).id,
        outcome: "ok".into(),
    });
    Framework::with(())
        .given(given)
        .when(AgentCommand::Resume)
        .then_expect_events(vec![
            AgentEvent::Resumed,
            AgentEvent::TaskStarted { task: task(2) },
        ]);
    Ok(())
}

#[test]
fn coming_back_online_starts_queued_work() -> TestResult {
    let mut given = active()?;
    given.extend([
        AgentEvent::WentOffline,
        AgentEvent::TaskQueued {
            task: task(1),
            position: 1,
        },
    ]);
    Framework::with(())
        .given(given)
        .when(AgentCommand::MarkOnline)
        .then_expect_events(vec![
            AgentEvent::CameOnline,
            AgentEvent::TaskStarted { task: task(1) },
        ]);
    Ok(())
}

// ---- approvals -------------------------------------------------------------------------

#[test]
fn every_approval_kind_can_be_requested_with_a_deadline() -> TestResult {
    for (n, kind) in [
        ApprovalKind::Sudo,
        ApprovalKind::Delegate,
        ApprovalKind::Scale,
        ApprovalKind::Network,
    ]
    .into_iter()
    .enumerate()
    {
        let n = u128::try_from(n)?;
        Framework::with(())
            .given(active()?)
            .when(AgentCommand::RequestApproval {
                id: approval(n),
                kind,
                reason: format!("need {n}"),
                at: t0(),
                timeout_secs: 90,
            })
            .then_expect_events(vec![requested(n, kind, 90)]);
    }
    Ok(())
}

#[test]
fn approval_requests_need_a_timeout_a_fresh_id_and_a_serving_agent() -> TestResult {
    let request = |id| AgentCommand::RequestApproval {
        id,
        kind: ApprovalKind::Sudo,
        reason: "x".into(),
        at: t0(),
        timeout_secs: 10,
    };
    Framework::with(())
        .given(active()?)
        .when(AgentCommand::RequestApproval {
            id: approval(1),
            kind: ApprovalKind::Sudo,
            reason: "x".into(),
            at: t0(),
            timeout_secs: 0,
        })
        .then_expect_error(AgentError::ZeroTimeout);
    let mut pending = active()?;
    pending.push(requested(1, ApprovalKind::Sudo, 10));
    Framework::with(())
        .given(pending)
        .when(request(approval(1)))
        .then_expect_error(AgentError::DuplicateApproval(approval(1)));
    Framework::with(())
        .given(vec![registered()?])
        .when(request(approval(1)))
        .then_expect_error(AgentError::NotServing(Lifecycle::Registered));
    Ok(())
}

#[test]
fn approve_before_the_deadline_grants() -> TestResult {
    let mut given = active()?;
    given.push(requested(1, ApprovalKind::Scale, 60));
    Framework::with(())
        .given(given.clone())
        .when(AgentCommand::Approve {
            id: approval(1),
            by: "ops".into(),
            at: t0() + Duration::seconds(59),
        })
        .then_expect_events(vec![AgentEvent::ApprovalGranted {
            id: approval(1),
            by: "ops".into(),
        }]);
    Framework::with(())
        .given(given)
        .when(AgentCommand::Approve {
            id: approval(1),
            by: "ops".into(),
            at: t0() + Duration::seconds(60),
        })
        .then_expect_error(AgentError::ApprovalTimedOut {
            id: approval(1),
            expired_at: t0() + Duration::seconds(60),
        });
    Ok(())
}

#[test]
fn deny_refuses_and_decided_or_unknown_requests_cannot_be_decided_again() -> TestResult {
    let mut given = active()?;
    given.push(requested(1, ApprovalKind::Delegate, 60));
    Framework::with(())
        .given(given.clone())
        .when(AgentCommand::Deny {
            id: approval(1),
            by: "ops".into(),
            reason: "no".into(),
        })
        .then_expect_events(vec![AgentEvent::ApprovalDenied {
            id: approval(1),
            by: "ops".into(),
            reason: "no".into(),
        }]);
    given.push(AgentEvent::ApprovalDenied {
        id: approval(1),
        by: "ops".into(),
        reason: "no".into(),
    });
    Framework::with(())
        .given(given.clone())
        .when(AgentCommand::Approve {
            id: approval(1),
            by: "ops".into(),
            at: t0(),
        })
        .then_expect_error(AgentError::ApprovalAlreadyDecided {
            id: approval(1),
            outcome: ApprovalOutcome::Denied,
        });
    Framework::with(())
        .given(given)
        .when(AgentCommand::Deny {
            id: approval(7),
            by: "ops".into(),
            reason: "?".into(),
        })
        .then_expect_error(AgentError::UnknownApproval(approval(7)));
    Ok(())
}

#[test]
fn expire_approvals_denies_exactly_those_past_their_deadline() -> TestResult {
    let mut given = active()?;
    given.extend([
        requested(1, ApprovalKind::Sudo, 30),
        requested(2, ApprovalKind::Network, 120),
        requested(3, ApprovalKind::Scale, 60),
    ]);
    Framework::with(())
        .given(given.clone())
        .when(AgentCommand::ExpireApprovals {
            now: t0() + Duration::seconds(60),
        })
        .then_expect_events(vec![
            AgentEvent::ApprovalExpired {
                id: approval(1),
                expired_at: t0() + Duration::seconds(30),
            },
            AgentEvent::ApprovalExpired {
                id: approval(3),
                expired_at: t0() + Duration::seconds(60),
            },
        ]);
    Framework::with(())
        .given(given.clone())
        .when(AgentCommand::ExpireApprovals {
            now: t0() + Duration::seconds(29),
        })
        .then_expect_events(vec![]);
    given.push(AgentEvent::ApprovalExpired {
        id: approval(1),
        expired_at: t0() + Duration::seconds(30),
    });
    let agent = replay(given.clone());
    assert_eq!(
        agent.approval_outcome(approval(1)),
        Some(ApprovalOutcome::Expired)
    );
    assert_eq!(
        agent.presence(),
        Presence::Blocked {
            approval: approval(2)
        }
    );
    Framework::with(())
        .given(given)
        .when(AgentCommand::Approve {
            id: approval(1),
            by: "late".into(),
            at: t0(),
        })
        .then_expect_error(AgentError::ApprovalAlreadyDecided {
            id: approval(1),
            outcome: ApprovalOutcome::Expired,
        });
    Ok(())
}
