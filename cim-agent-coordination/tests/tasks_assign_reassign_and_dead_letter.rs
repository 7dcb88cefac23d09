//! Task coordination end to end over the event store: assign, acknowledge, complete; missed
//! acknowledgement and agent offline reassign; dead letter after the maximum attempts;
//! idempotent resubmit; priority and in-flight limit; cancel; contract net with and without
//! bids; a late acknowledgement fenced — one script on the in-memory and the JetStream store.

mod common;

use cim_agent_coordination::tasks::Task;
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{
    InMemoryEventRepository, InMemoryEventStore, JetStreamConfig, JetStreamEventRepository,
    JetStreamEventStore,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test]
async fn tasks_in_memory_follow_the_script() -> Result<(), Error> {
    common::tasks_script::run(|| {
        InMemoryEventStore::<Task>::new_event_store(InMemoryEventRepository::new())
    })
    .await
}

#[tokio::test]
async fn tasks_on_jetstream_follow_the_script() -> Result<(), Error> {
    let server = NatsServer::start().await?;
    let repo =
        JetStreamEventRepository::new(server.client().await?, JetStreamConfig::named("tasks"))
            .await?;
    common::tasks_script::run(|| JetStreamEventStore::<Task>::new_event_store(repo.clone())).await
}
