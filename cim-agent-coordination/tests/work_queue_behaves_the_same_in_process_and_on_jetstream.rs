//! Durable delivery: the in-process work queue and a JetStream work-queue stream pass one
//! script (dedup, ack wait, in-progress, max deliveries, nak, durable resume).

mod common;

use std::time::Duration;

use cim_agent_coordination::transport::work_queue::{InProcessWorkQueue, JetStreamWorkQueue};
use cim_jetstream::testing::NatsServer;

#[tokio::test]
async fn in_process_work_queue_follows_the_script() -> Result<(), Box<dyn std::error::Error>> {
    common::work_queue_script::run(InProcessWorkQueue::default()).await?;
    Ok(())
}

#[tokio::test]
async fn jetstream_work_queue_follows_the_script() -> Result<(), Box<dyn std::error::Error>> {
    let server = NatsServer::start().await?;
    let queue = JetStreamWorkQueue::open(
        server.client().await?,
        "TASKS",
        vec!["cim.tasks.>".into()],
        Duration::from_secs(120),
    )
    .await?;
    common::work_queue_script::run(queue).await?;
    Ok(())
}
