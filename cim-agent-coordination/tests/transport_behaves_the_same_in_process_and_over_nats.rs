//! The transport seam: the in-process default and core NATS pass one behaviour script.

mod common;

use cim_agent_coordination::transport::{InProcessTransport, NatsTransport};
use cim_jetstream::testing::NatsServer;

#[tokio::test]
async fn in_process_transport_follows_the_script() -> Result<(), Box<dyn std::error::Error>> {
    common::transport_script::run(InProcessTransport::default()).await?;
    Ok(())
}

#[tokio::test]
async fn nats_transport_follows_the_script() -> Result<(), Box<dyn std::error::Error>> {
    let server = NatsServer::start().await?;
    let client = server.client().await?;
    common::transport_script::run(NatsTransport::new(client)).await?;
    Ok(())
}
