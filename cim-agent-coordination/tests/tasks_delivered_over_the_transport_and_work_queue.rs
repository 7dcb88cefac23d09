//! Task delivery end to end (API, durable inboxes and reports, fencing, cancellation), one
//! script: in process, and on a real nats-server with JetStream.

mod common;

use std::time::Duration;

use cim_agent_coordination::subject::task_stream_subjects;
use cim_agent_coordination::tasks::Task;
use cim_agent_coordination::transport::work_queue::{InProcessWorkQueue, JetStreamWorkQueue};
use cim_agent_coordination::transport::{InProcessTransport, NatsTransport};
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{
    InMemoryEventRepository, InMemoryEventStore, JetStreamConfig, JetStreamEventRepository,
    JetStreamEventStore,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test]
async fn delivery_in_process_follows_the_script() -> Result<(), Error> {
    let store = InMemoryEventStore::<Task>::new_event_store(InMemoryEventRepository::new());
    common::delivery_script::run(
        store,
        InProcessWorkQueue::default(),
        InProcessTransport::default(),
    )
    .await
}

#[tokio::test]
async fn delivery_over_nats_follows_the_script() -> Result<(), Error> {
    let server = NatsServer::start().await?;
    let repo =
        JetStreamEventRepository::new(server.client().await?, JetStreamConfig::named("tasks"))
            .await?;
    let queue = JetStreamWorkQueue::open(
        server.client().await?,
        "TASK_DELIVERY",
        task_stream_subjects(),
        Duration::from_secs(120),
    )
    .await?;
    let bus = NatsTransport::new(server.client().await?);
    common::delivery_script::run(
        JetStreamEventStore::<Task>::new_event_store(repo),
        queue,
        bus,
    )
    .await
}
