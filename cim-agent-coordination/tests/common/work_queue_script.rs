//! One behaviour script for durable delivery, run against the in-process queue and a JetStream
//! stream: de-duplication by message id, redelivery after the ack wait, in-progress extending
//! it, max deliveries, nak, durable resume, removal on ack.

use std::time::Duration;

use bytes::Bytes;
use cim_agent_coordination::transport::work_queue::{
    ConsumerConfig, Deliveries, Delivery, WorkQueue, WorkQueueError,
};
use futures::StreamExt;

/// The ack wait the script uses: short, so the script is quick, long enough for 2 cores.
pub const ACK_WAIT: Duration = Duration::from_millis(800);

async fn next(deliveries: &mut Deliveries, within: Duration) -> Option<Delivery> {
    tokio::time::timeout(within, deliveries.next())
        .await
        .ok()
        .flatten()
}

fn text(d: &Delivery) -> String {
    format!(
        "{} {} #{}",
        d.subject,
        String::from_utf8_lossy(&d.payload),
        d.delivered
    )
}

/// Runs the script; the queue's stream must cover `cim.tasks.>`.
pub async fn run<W: WorkQueue>(queue: W) -> Result<(), WorkQueueError> {
    let config = ConsumerConfig {
        ack_wait: ACK_WAIT,
        max_deliver: 3,
    };
    let long = ACK_WAIT * 4;

    // De-duplication: a repeated message id is reported and not stored again. Messages stored
    // before the consumer exists are delivered to it.
    let first = queue
        .publish("cim.tasks.ann.assign", "t1.1", Bytes::from_static(b"t1"))
        .await?;
    let again = queue
        .publish("cim.tasks.ann.assign", "t1.1", Bytes::from_static(b"t1"))
        .await?;
    assert!(!first.duplicate && again.duplicate);
    assert_eq!(again.sequence, first.sequence);
    queue
        .publish("cim.tasks.ann.assign", "t2.1", Bytes::from_static(b"t2"))
        .await?;
    let mut ann = queue
        .consume("agent-ann", "cim.tasks.ann.assign", config)
        .await?;
    let d1 = next(&mut ann, long)
        .await
        .ok_or_else(|| fail("t1 not delivered"))?;
    let d2 = next(&mut ann, long)
        .await
        .ok_or_else(|| fail("t2 not delivered"))?;
    assert_eq!(
        (text(&d1), text(&d2)),
        (
            "cim.tasks.ann.assign t1 #1".to_owned(),
            "cim.tasks.ann.assign t2 #1".to_owned()
        )
    );

    // t1 is acknowledged: gone. t2 is not: delivered again after the ack wait, counted.
    d1.ack().await?;
    let started = tokio::time::Instant::now();
    let d2b = next(&mut ann, long)
        .await
        .ok_or_else(|| fail("t2 not redelivered"))?;
    assert_eq!(text(&d2b), "cim.tasks.ann.assign t2 #2");
    assert!(started.elapsed() >= ACK_WAIT / 2, "redelivered too early");

    // In progress restarts the ack wait: no redelivery while progress keeps coming.
    for _ in 0..3 {
        assert!(
            next(&mut ann, ACK_WAIT / 2).await.is_none(),
            "redelivered despite progress"
        );
        d2b.in_progress().await?;
    }
    // Nak: delivered again at once.
    d2b.nak().await?;
    let d2c = next(&mut ann, long)
        .await
        .ok_or_else(|| fail("nak did not redeliver"))?;
    assert_eq!(text(&d2c), "cim.tasks.ann.assign t2 #3");
    // Max deliveries (3) reached: never again.
    assert!(
        next(&mut ann, ACK_WAIT * 2).await.is_none(),
        "delivered beyond max_deliver"
    );

    // Durable resume: a consumer that goes away and comes back gets what it had not acked,
    // and what was published while it was away.
    queue
        .publish("cim.tasks.bob.assign", "t3.1", Bytes::from_static(b"t3"))
        .await?;
    let mut bob = queue
        .consume("agent-bob", "cim.tasks.bob.assign", config)
        .await?;
    let d3 = next(&mut bob, long)
        .await
        .ok_or_else(|| fail("t3 not delivered"))?;
    assert_eq!(d3.delivered, 1);
    drop(d3);
    drop(bob);
    queue
        .publish("cim.tasks.bob.assign", "t4.1", Bytes::from_static(b"t4"))
        .await?;
    let mut bob = queue
        .consume("agent-bob", "cim.tasks.bob.assign", config)
        .await?;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let d = next(&mut bob, long)
            .await
            .ok_or_else(|| fail(&format!("resume got only {seen:?}")))?;
        seen.push(text(&d));
        d.ack().await?;
    }
    seen.sort();
    assert_eq!(
        seen,
        ["cim.tasks.bob.assign t3 #2", "cim.tasks.bob.assign t4 #1"]
    );
    assert!(
        next(&mut bob, ACK_WAIT * 2).await.is_none(),
        "acknowledged messages came back"
    );

    // A consumer sees only its filter.
    queue
        .publish("cim.tasks.cyd.assign", "t5.1", Bytes::from_static(b"t5"))
        .await?;
    assert!(
        next(&mut bob, ACK_WAIT / 2).await.is_none(),
        "bob got cyd's message"
    );

    // Bad subjects and names are refused before anything is sent.
    assert!(matches!(
        queue.publish("cim.tasks.*.assign", "x", Bytes::new()).await,
        Err(WorkQueueError::Subject(_))
    ));
    assert!(queue.consume("a.b", "cim.tasks.x", config).await.is_err());
    Ok(())
}

fn fail(what: &str) -> WorkQueueError {
    WorkQueueError::Backend {
        operation: "script",
        message: what.to_owned(),
    }
}
