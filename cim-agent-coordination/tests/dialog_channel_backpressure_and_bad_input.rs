//! A dialog channel's limits, as one script over the in-process bus and a real nats-server:
//! full mailboxes refuse or wait by configuration, offline recipients' deliveries are held and
//! released, and malformed, misaddressed, oversized or overflowing payloads are counted and
//! dropped without stopping the channel.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cim_agent_coordination::dialog::{
    ChannelConfig, ChannelError, DialogChannel, DialogId, Message, OfflinePolicy, Presence,
    QueueFullPolicy, RouterConfig, StatsSnapshot, Strategy, create_agent_channel_with_id,
};
use cim_agent_coordination::subject::dialog_inbox;
use cim_agent_coordination::transport::{InProcessTransport, NatsTransport, Transport};
use cim_domain_agent::AgentId;
use cim_jetstream::testing::NatsServer;
use common::dialog_script::{ALL, GPU, NIX, ORCHESTRATOR, PLANNER, ScriptResult, next, team};
use uuid::Uuid;

async fn channel<T: Transport>(
    transport: T,
    dialog: u128,
    router: RouterConfig,
    config: ChannelConfig,
) -> ScriptResult<DialogChannel<T>> {
    let router = Arc::new(Mutex::new(team(router)));
    Ok(create_agent_channel_with_id(
        transport,
        router,
        DialogId(Uuid::from_u128(dialog)),
        &ALL,
        config,
    )
    .await?)
}

fn direct<T: Transport>(channel: &DialogChannel<T>, to: AgentId, text: &str) -> Message {
    Message::new(channel.id(), ORCHESTRATOR, Strategy::Direct { to }, text)
}

/// Waits until `agent`'s mailbox holds `len` deliveries (they cross the transport first).
async fn settle<T: Transport>(
    channel: &DialogChannel<T>,
    agent: AgentId,
    len: usize,
) -> ScriptResult<()> {
    let mailbox = channel.mailbox(agent).ok_or("no mailbox")?;
    for _ in 0..500 {
        if mailbox.len() == len {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Err(format!("mailbox of {agent} holds {} not {len}", mailbox.len()).into())
}

async fn run<T: Transport>(transport: T) -> ScriptResult<()> {
    // A full mailbox refuses the send: typed error, no turn recorded, nothing published.
    let reject = ChannelConfig {
        queue_capacity: 2,
        on_full: QueueFullPolicy::Reject,
        ..ChannelConfig::default()
    };
    let ch = channel(
        transport.clone(),
        1,
        RouterConfig::default(),
        reject.clone(),
    )
    .await?;
    ch.send(&direct(&ch, PLANNER, "one")).await?;
    ch.send(&direct(&ch, PLANNER, "two")).await?;
    settle(&ch, PLANNER, 2).await?;
    let full = ch.send(&direct(&ch, PLANNER, "three")).await;
    assert!(
        matches!(full, Err(ChannelError::QueueFull { agent, capacity: 2 }) if agent == PLANNER),
        "{full:?}"
    );
    assert_eq!(ch.dialog().turns.len(), 2);
    assert_eq!(next(&ch, PLANNER).await?.content, "one");
    ch.send(&direct(&ch, PLANNER, "three")).await?;
    assert_eq!(next(&ch, PLANNER).await?.content, "two");
    assert_eq!(next(&ch, PLANNER).await?.content, "three");

    // A message arriving at a full mailbox anyway (another sender) is counted, never queued.
    let subject = dialog_inbox(&ch.id().to_string(), &PLANNER.to_string())?;
    for seq in 1..=3 {
        let delivery = serde_json::json!({
            "dialog": ch.id(), "seq": 100 + seq, "from": GPU,
            "strategy": {"type": "Broadcast"}, "priority": "Normal", "content": "x",
            "context": {}
        });
        transport
            .publish(&subject, Bytes::from(delivery.to_string()))
            .await?;
    }
    transport.flush().await?;
    settle(&ch, PLANNER, 2).await?;

    // Bad payloads: not JSON, meant for another dialog, over the size limit.
    let small = ChannelConfig {
        max_message_bytes: 2048,
        ..ChannelConfig::default()
    };
    let bad = channel(transport.clone(), 2, RouterConfig::default(), small).await?;
    let subject = dialog_inbox(&bad.id().to_string(), &PLANNER.to_string())?;
    transport
        .publish(&subject, Bytes::from_static(b"{not json"))
        .await?;
    let misaddressed = serde_json::json!({
        "dialog": DialogId(Uuid::from_u128(77)), "seq": 1, "from": GPU,
        "strategy": {"type": "Broadcast"}, "priority": "Normal", "content": "x", "context": {}
    });
    transport
        .publish(&subject, Bytes::from(misaddressed.to_string()))
        .await?;
    transport
        .publish(&subject, Bytes::from(vec![b'{'; 4096]))
        .await?;
    transport.flush().await?;
    // The channel still works, and the valid message comes after the bad ones were handled.
    bad.send(&direct(&bad, PLANNER, "still here")).await?;
    assert_eq!(next(&bad, PLANNER).await?.content, "still here");
    assert_eq!(
        bad.stats(),
        StatsSnapshot {
            delivered: 1,
            malformed: 2,
            oversized: 1,
            overflowed: 0
        }
    );
    // Sending something too large is refused before anything is recorded.
    let huge = direct(&bad, PLANNER, &"x".repeat(4096));
    assert!(matches!(
        bad.send(&huge).await,
        Err(ChannelError::MessageTooLarge { max: 2048, .. })
    ));
    assert_eq!(bad.dialog().turns.len(), 1);
    let elsewhere = Message::new(
        DialogId(Uuid::from_u128(77)),
        ORCHESTRATOR,
        Strategy::Broadcast,
        "?",
    );
    assert!(matches!(
        bad.send(&elsewhere).await,
        Err(ChannelError::WrongDialog { .. })
    ));
    assert_eq!(
        ch.stats().overflowed,
        1,
        "one of three extra deliveries found the mailbox full"
    );
    assert_eq!(ch.stats().malformed, 0);

    // Wait: the send waits for room, and gives up with the typed error after its limit.
    let wait = ChannelConfig {
        queue_capacity: 1,
        on_full: QueueFullPolicy::Wait(Duration::from_secs(2)),
        ..ChannelConfig::default()
    };
    let patient = channel(transport.clone(), 3, RouterConfig::default(), wait).await?;
    patient.send(&direct(&patient, GPU, "first")).await?;
    settle(&patient, GPU, 1).await?;
    let second = direct(&patient, GPU, "second");
    let (sent, first) = tokio::join!(patient.send(&second), async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        next(&patient, GPU).await
    });
    assert_eq!(sent?.seq, 2);
    assert_eq!(first?.content, "first");
    assert_eq!(next(&patient, GPU).await?.content, "second");
    let short = ChannelConfig {
        queue_capacity: 1,
        on_full: QueueFullPolicy::Wait(Duration::from_millis(40)),
        ..ChannelConfig::default()
    };
    let impatient = channel(transport.clone(), 4, RouterConfig::default(), short).await?;
    impatient.send(&direct(&impatient, GPU, "first")).await?;
    settle(&impatient, GPU, 1).await?;
    assert!(matches!(
        impatient.send(&direct(&impatient, GPU, "second")).await,
        Err(ChannelError::QueueFull { capacity: 1, .. })
    ));

    // Offline under `Queue`: held (bounded), released when the agent comes online.
    let queue = RouterConfig {
        offline: OfflinePolicy::Queue,
        ..RouterConfig::default()
    };
    let held = channel(transport.clone(), 5, queue, reject).await?;
    held.set_presence(NIX, Presence::Offline).await?;
    let sent = held.send(&direct(&held, NIX, "later")).await?;
    assert_eq!(
        (sent.delivered.len(), sent.held.as_slice()),
        (0, [NIX].as_slice())
    );
    held.send(&direct(&held, NIX, "later 2")).await?;
    assert!(matches!(
        held.send(&direct(&held, NIX, "one too many")).await,
        Err(ChannelError::QueueFull { capacity: 2, .. })
    ));
    assert_eq!(held.held(NIX), 2);
    assert!(held.mailbox(NIX).ok_or("no mailbox")?.is_empty());
    assert_eq!(held.set_presence(NIX, Presence::Online).await?, 2);
    assert_eq!(next(&held, NIX).await?.content, "later");
    assert_eq!(next(&held, NIX).await?.content, "later 2");
    assert_eq!(held.held(NIX), 0);
    Ok(())
}

#[tokio::test]
async fn in_process_channel_keeps_its_limits() -> ScriptResult<()> {
    run(InProcessTransport::default()).await
}

#[tokio::test]
async fn nats_channel_keeps_its_limits() -> ScriptResult<()> {
    let server = NatsServer::start().await?;
    run(NatsTransport::new(server.client().await?)).await
}
