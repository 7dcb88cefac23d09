//! One behaviour script for the registry, run over the in-process bucket and bus and over a real
//! nats-server (JetStream KV, core NATS), with time driven by hand.

use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use cim_agent_coordination::registry::Clock;
use cim_agent_coordination::registry::{
    AgentRecord, Handled, MAX_ANNOUNCEMENT_BYTES, ManualClock, Presence, PresenceConfig, Registry,
    RegistryError, RegistryEvent, Scope,
};
use cim_agent_coordination::transport::Transport;
use cim_agent_coordination::transport::kv::KeyValue;
use cim_domain_agent::announce::{
    AgentDeregistration, AgentHeartbeat, AgentRegistration, heartbeat_subject, registered_subject,
};
use cim_domain_agent::{AgentId, AgentName};
use futures::{Stream, StreamExt};
use uuid::Uuid;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn name(text: &str) -> Result<AgentName, Error> {
    Ok(AgentName::new(text)?)
}

/// A registration as `cim-leaf agents run` publishes it.
pub fn registration(
    id: u128,
    agent: &str,
    capabilities: &[&str],
    clock: &ManualClock,
) -> Result<AgentRegistration, Error> {
    Ok(AgentRegistration {
        agent_id: AgentId(Uuid::from_u128(id)),
        name: name(agent)?,
        display_name: agent.to_uppercase(),
        version: semver::Version::new(1, 0, 0),
        capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
        model: None,
        model_endpoint: None,
        heartbeat_secs: 10,
        started_at: clock.now(),
        host: Some("gpu-1".into()),
        max_concurrent_tasks: 2,
    })
}

fn heartbeat(r: &AgentRegistration, sequence: u64, clock: &ManualClock) -> AgentHeartbeat {
    AgentHeartbeat {
        agent_id: r.agent_id,
        name: r.name.clone(),
        sequence,
        at: clock.now(),
    }
}

async fn next_event<S: Stream<Item = RegistryEvent> + Unpin>(
    events: &mut S,
) -> Option<RegistryEvent> {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .ok()
        .flatten()
}

async fn eventually<F: Fn() -> bool>(check: F) -> bool {
    for _ in 0..200 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

fn names(records: &[AgentRecord]) -> Vec<String> {
    records.iter().map(|r| r.name.to_string()).collect()
}

/// Runs the script. `kv_a` and `kv_b` are two handles on one empty bucket (two connections on
/// NATS); `bus` carries the announcements.
pub async fn run<K: KeyValue, T: Transport>(kv_a: K, kv_b: K, bus: T) -> Result<(), Error> {
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
            .single()
            .ok_or("time")?,
    );
    let config = PresenceConfig::default();
    let a = Registry::open(kv_a.clone(), config).await?;
    let b = Registry::open(kv_b.clone(), config).await?;
    let mut events_a = Box::pin(a.events());
    let mut events_b = Box::pin(b.events());

    // Register: a join on both coordinators.
    let sage = registration(1, "sage", &["plan", "review"], &clock)?;
    let coder = registration(2, "coder", &["code", "review"], &clock)?;
    a.register(&sage, clock.now()).await?;
    a.register(&coder, clock.now()).await?;
    for events in [&mut events_a, &mut events_b] {
        assert!(
            matches!(next_event(events).await, Some(RegistryEvent::Joined(r)) if r.name.as_str() == "sage")
        );
        assert!(
            matches!(next_event(events).await, Some(RegistryEvent::Joined(r)) if r.name.as_str() == "coder")
        );
    }
    assert!(
        eventually(|| b.list().len() == 2).await,
        "second coordinator agrees"
    );
    assert_eq!(names(&a.list()), ["coder", "sage"], "ordered by name");
    assert_eq!(
        names(&b.find_by_capability("review", Scope::All)),
        ["coder", "sage"]
    );
    assert_eq!(
        names(&b.find_by_capability("plan", Scope::OnlineOnly)),
        ["sage"]
    );
    assert_eq!(a.find_by_name(&name("sage")?, Scope::All).len(), 1);
    let stored = a.get(sage.agent_id).ok_or("sage missing")?;
    assert_eq!(
        (stored.host.as_deref(), stored.max_concurrent_tasks),
        (Some("gpu-1"), 2)
    );

    // Heartbeats keep an agent online; missing them makes it suspect, then offline.
    clock.advance(chrono::Duration::seconds(10));
    a.heartbeat(&heartbeat(&sage, 1, &clock), clock.now())
        .await?;
    assert!(
        a.tick(clock.now()).await?.is_empty(),
        "nobody missed a heartbeat yet"
    );
    clock.advance(chrono::Duration::seconds(15)); // coder: 25 s silent, sage: 15 s.
    let changed = a.tick(clock.now()).await?;
    assert_eq!(
        changed
            .iter()
            .map(|(r, p)| (r.name.to_string(), *p))
            .collect::<Vec<_>>(),
        [("coder".to_owned(), Presence::Suspect)]
    );
    // Both coordinators tick at the same time: each change is written once.
    clock.advance(chrono::Duration::seconds(20)); // coder 45 s: offline; sage 35 s: suspect.
    let (ta, tb) = tokio::join!(a.tick(clock.now()), b.tick(clock.now()));
    let mut all: Vec<(String, Presence)> = ta?
        .into_iter()
        .chain(tb?)
        .map(|(r, p)| (r.name.to_string(), p))
        .collect();
    all.sort();
    assert_eq!(
        all,
        [
            ("coder".to_owned(), Presence::Offline),
            ("sage".to_owned(), Presence::Suspect)
        ]
    );
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match next_event(&mut events_b).await {
            Some(RegistryEvent::PresenceChanged { name, to, .. }) => {
                seen.push((name.to_string(), to))
            }
            other => panic!("expected a presence change, got {other:?} after {seen:?}"),
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("coder".to_owned(), Presence::Suspect),
            ("coder".to_owned(), Presence::Offline),
            ("sage".to_owned(), Presence::Suspect)
        ]
    );
    assert_eq!(
        names(&a.find_by_capability("review", Scope::OnlineOnly)),
        Vec::<String>::new()
    );
    // Back online on the next heartbeat.
    a.heartbeat(&heartbeat(&coder, 1, &clock), clock.now())
        .await?;
    assert!(matches!(
        next_event(&mut events_b).await,
        Some(RegistryEvent::PresenceChanged {
            to: Presence::Online,
            from: Presence::Offline,
            ..
        })
    ));
    assert_eq!(
        names(&a.find_by_capability("review", Scope::OnlineOnly)),
        ["coder"]
    );

    // A live id under another name is refused; the same agent re-registering is accepted.
    let impostor = AgentRegistration {
        name: name("mallory")?,
        ..coder.clone()
    };
    match b.register(&impostor, clock.now()).await {
        Err(RegistryError::IdInUse {
            held_by, refused, ..
        }) => {
            assert_eq!((held_by.as_str(), refused.as_str()), ("coder", "mallory"));
        }
        other => panic!("expected IdInUse, got {other:?}"),
    }
    b.register(&coder, clock.now()).await?;
    assert_eq!(b.list().len(), 2, "re-registration is idempotent");
    // Once offline, the id may be taken by a new agent.
    clock.advance(chrono::Duration::seconds(60));
    a.tick(clock.now()).await?;
    b.register(&impostor, clock.now()).await?;
    assert!(
        eventually(|| a
            .get(coder.agent_id)
            .is_some_and(|r| r.name.as_str() == "mallory"))
        .await
    );

    // Bad input is counted, never fatal; it changes nothing.
    let before = a.rejected();
    let bad_json = a
        .handle("cim.agents.sage.heartbeat", b"{not json", clock.now())
        .await;
    assert!(matches!(bad_json, Err(RegistryError::Malformed { .. })));
    let big = vec![b' '; MAX_ANNOUNCEMENT_BYTES + 1];
    assert!(matches!(
        a.handle("cim.agents.sage.heartbeat", &big, clock.now())
            .await,
        Err(RegistryError::TooLarge { .. })
    ));
    let forged = serde_json::to_vec(&heartbeat(&sage, 9, &clock))?;
    assert!(matches!(
        a.handle("cim.agents.coder.heartbeat", &forged, clock.now())
            .await,
        Err(RegistryError::NameMismatch { .. })
    ));
    assert_eq!(a.rejected(), before + 3);
    assert_eq!(
        a.handle("cim.agents.sage.other", b"", clock.now()).await?,
        Handled::Ignored
    );

    // A restarted coordinator sees the same registry.
    let listed = a.list();
    drop(events_a);
    drop(a);
    let restarted = Registry::open(kv_a.clone(), config).await?;
    assert_eq!(restarted.list(), listed);

    // Deregistration is a leave, seen by the other coordinator.
    let left = restarted
        .deregister(&AgentDeregistration {
            agent_id: sage.agent_id,
            name: sage.name.clone(),
            reason: "SIGTERM".into(),
            at: clock.now(),
        })
        .await?;
    assert!(left);
    let mut found_leave = false;
    while let Some(event) = next_event(&mut events_b).await {
        if matches!(&event, RegistryEvent::Left { name, .. } if name.as_str() == "sage") {
            found_leave = true;
            break;
        }
    }
    assert!(found_leave, "second coordinator saw the leave");

    // Announcements over the bus, as `cim-leaf agents run` publishes them, drive the registry.
    let driven = restarted.clone();
    let driver_bus = bus.clone();
    let driver_clock = clock.clone();
    let driver = tokio::spawn(async move {
        driven
            .run(driver_bus, driver_clock, Duration::from_secs(3600))
            .await
    });
    let scout = registration(3, "scout", &["search"], &clock)?;
    let registered = Bytes::from(serde_json::to_vec(&scout)?);
    let beat = Bytes::from(serde_json::to_vec(&heartbeat(&scout, 1, &clock))?);
    let found = {
        let mut found = false;
        for _ in 0..50 {
            bus.publish(&registered_subject(&scout.name), registered.clone())
                .await?;
            bus.publish(&heartbeat_subject(&scout.name), beat.clone())
                .await?;
            bus.publish("cim.agents.scout.heartbeat", Bytes::from_static(b"garbage"))
                .await?;
            bus.flush().await?;
            if eventually(|| restarted.find_by_name(&scout.name, Scope::OnlineOnly).len() == 1)
                .await
            {
                found = true;
                break;
            }
        }
        found
    };
    assert!(found, "the driver registered scout from the bus");
    assert!(
        eventually(|| restarted.rejected() > 0).await,
        "garbage on the bus was counted"
    );
    driver.abort();
    Ok(())
}
