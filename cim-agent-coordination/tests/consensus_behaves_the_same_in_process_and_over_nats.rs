//! Consensus over the transport: the same script runs in process (in-memory event store) and
//! over a real nats-server (JetStream event store): ten agents, an agent killed during voting,
//! the coordinator restarted mid-vote, malformed ballots.

mod common;

use cim_agent_coordination::consensus::Proposal;
use cim_agent_coordination::transport::{InProcessTransport, NatsTransport};
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{
    InMemoryEventRepository, InMemoryEventStore, JetStreamConfig, JetStreamEventRepository,
    JetStreamEventStore,
};

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consensus_in_process_with_the_in_memory_store() -> Result<(), Failure> {
    let repo = InMemoryEventRepository::new();
    common::consensus_script::run(InProcessTransport::default(), || {
        let repo = repo.clone();
        async move { Ok(InMemoryEventStore::<Proposal>::new_event_store(repo)) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consensus_over_nats_with_the_jetstream_store() -> Result<(), Failure> {
    let server = NatsServer::start().await?;
    let bus = NatsTransport::new(server.client().await?);
    let url = server.url();
    common::consensus_script::run(bus, || {
        let url = url.clone();
        async move {
            // A new connection each time, as a restarted coordinator process would open.
            let repo = JetStreamEventRepository::connect(&url, JetStreamConfig::default()).await?;
            Ok(JetStreamEventStore::<Proposal>::new_event_store(repo))
        }
    })
    .await
}
