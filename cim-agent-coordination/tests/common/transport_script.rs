//! One behaviour script for the transport seam, run against the in-process bus and a real
//! nats-server, so the embedded default cannot drift from production.

use std::time::Duration;

use bytes::Bytes;
use cim_agent_coordination::transport::{Transport, TransportError};
use futures::StreamExt;

const WAIT: Duration = Duration::from_secs(5);

async fn next(sub: &mut cim_agent_coordination::transport::Subscription) -> Option<String> {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .ok()
        .flatten()
        .map(|m| format!("{} {}", m.subject, String::from_utf8_lossy(&m.payload)))
}

async fn nothing_within(
    sub: &mut cim_agent_coordination::transport::Subscription,
    ms: u64,
) -> bool {
    tokio::time::timeout(Duration::from_millis(ms), sub.next())
        .await
        .is_err()
}

/// Runs every behaviour the coordination layer relies on.
pub async fn run<T: Transport>(bus: T) -> Result<(), TransportError> {
    // Wildcards: `*` is one token, `>` one or more.
    let mut one = bus.subscribe("cim.agents.*.heartbeat").await?;
    let mut all = bus.subscribe("cim.agents.>").await?;
    bus.flush().await?;
    bus.publish("cim.agents.sage.heartbeat", Bytes::from_static(b"1"))
        .await?;
    bus.publish("cim.agents.sage.deep.heartbeat", Bytes::from_static(b"2"))
        .await?;
    bus.flush().await?;
    assert_eq!(
        next(&mut one).await.as_deref(),
        Some("cim.agents.sage.heartbeat 1")
    );
    assert!(
        nothing_within(&mut one, 100).await,
        "`*` matched two tokens"
    );
    assert_eq!(
        next(&mut all).await.as_deref(),
        Some("cim.agents.sage.heartbeat 1")
    );
    assert_eq!(
        next(&mut all).await.as_deref(),
        Some("cim.agents.sage.deep.heartbeat 2")
    );

    // Order is kept per publisher.
    for i in 0..50 {
        bus.publish("cim.agents.x.heartbeat", Bytes::from(i.to_string()))
            .await?;
    }
    bus.flush().await?;
    for i in 0..50 {
        assert_eq!(
            next(&mut one).await,
            Some(format!("cim.agents.x.heartbeat {i}"))
        );
    }
    drop(one);
    drop(all);

    // Queue groups: each message reaches exactly one member.
    let mut a = bus.queue_subscribe("cim.tasks.work", "workers").await?;
    let mut b = bus.queue_subscribe("cim.tasks.work", "workers").await?;
    let mut plain = bus.subscribe("cim.tasks.work").await?;
    bus.flush().await?;
    for _ in 0..20 {
        bus.publish("cim.tasks.work", Bytes::from_static(b"w"))
            .await?;
    }
    bus.flush().await?;
    for _ in 0..20 {
        assert!(
            next(&mut plain).await.is_some(),
            "plain subscriber gets all"
        );
    }
    let mut group_total = 0;
    for sub in [&mut a, &mut b] {
        while !nothing_within(sub, 150).await {
            group_total += 1;
        }
    }
    assert_eq!(group_total, 20, "queue group delivers each message once");
    drop((a, b, plain));

    // Request/reply.
    let mut server = bus.subscribe("cim.test.echo").await?;
    let responder = bus.clone();
    let serving = tokio::spawn(async move {
        if let Some(request) = server.next().await
            && let Some(reply) = request.reply
        {
            let mut answer = b"echo ".to_vec();
            answer.extend_from_slice(&request.payload);
            let _ = responder.publish(&reply, Bytes::from(answer)).await;
            let _ = responder.flush().await;
        }
    });
    bus.flush().await?;
    let answer = bus
        .request("cim.test.echo", Bytes::from_static(b"hi"), WAIT)
        .await?;
    assert_eq!(&answer.payload[..], b"echo hi");
    let _ = serving.await;

    // Nobody serves the subject: fail fast.
    let started = std::time::Instant::now();
    match bus
        .request("cim.test.nobody", Bytes::new(), Duration::from_secs(5))
        .await
    {
        Err(TransportError::NoResponders { subject }) => assert_eq!(subject, "cim.test.nobody"),
        other => panic!("expected NoResponders, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(4));

    // Somebody listens but never answers: a timeout.
    let _silent = bus.subscribe("cim.test.silent").await?;
    bus.flush().await?;
    match bus
        .request("cim.test.silent", Bytes::new(), Duration::from_millis(200))
        .await
    {
        Err(TransportError::TimedOut { .. }) => {}
        other => panic!("expected TimedOut, got {other:?}"),
    }

    // Bad subjects are refused before anything is sent.
    for bad in ["", "cim..x", "cim.*.x", "cim.>", "a b", "cim.x\nPUB y"] {
        assert!(
            matches!(
                bus.publish(bad, Bytes::new()).await,
                Err(TransportError::InvalidSubject { .. })
            ),
            "{bad:?} accepted"
        );
    }
    assert!(matches!(
        bus.subscribe("cim.>.x").await,
        Err(TransportError::InvalidSubject { .. })
    ));
    assert!(matches!(
        bus.queue_subscribe("cim.x", "a.b").await,
        Err(TransportError::InvalidSubject { .. })
    ));

    // Oversized payloads are refused with the limit named.
    let too_big = Bytes::from(vec![0u8; bus.max_payload() + 1]);
    match bus.publish("cim.test.big", too_big).await {
        Err(TransportError::PayloadTooLarge { size, max, .. }) => {
            assert_eq!(size, max + 1);
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }

    // Dropping a subscription unsubscribes: a later publish has no responders.
    let gone = bus.subscribe("cim.test.gone").await?;
    drop(gone);
    tokio::time::sleep(Duration::from_millis(50)).await;
    bus.flush().await?;
    assert!(matches!(
        bus.request("cim.test.gone", Bytes::new(), Duration::from_secs(2))
            .await,
        Err(TransportError::NoResponders { .. })
    ));
    Ok(())
}
