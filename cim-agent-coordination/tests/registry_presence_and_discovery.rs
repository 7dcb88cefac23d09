//! The registry: presence from heartbeats with a hand-driven clock, duplicate ids refused,
//! discovery, a restarted coordinator and two coordinators on one bucket, bad input counted —
//! one script, in process and on a real nats-server.

mod common;

use cim_agent_coordination::transport::kv::{InProcessKeyValue, JetStreamKeyValue};
use cim_agent_coordination::transport::{InProcessTransport, NatsTransport};
use cim_jetstream::testing::NatsServer;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test]
async fn registry_in_process_follows_the_script() -> Result<(), Error> {
    let kv = InProcessKeyValue::new();
    common::registry_script::run(kv.clone(), kv, InProcessTransport::default()).await
}

#[tokio::test]
async fn registry_on_jetstream_follows_the_script() -> Result<(), Error> {
    let server = NatsServer::start().await?;
    let kv_a = JetStreamKeyValue::open(server.client().await?, "agents", 1).await?;
    let kv_b = JetStreamKeyValue::open(server.client().await?, "agents", 1).await?;
    let bus = NatsTransport::new(server.client().await?);
    common::registry_script::run(kv_a, kv_b, bus).await
}
