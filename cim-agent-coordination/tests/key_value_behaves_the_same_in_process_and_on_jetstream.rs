//! The key-value seam: the in-process bucket and a JetStream KV bucket pass one script.

mod common;

use cim_agent_coordination::transport::kv::{InProcessKeyValue, JetStreamKeyValue};
use cim_jetstream::testing::NatsServer;

#[tokio::test]
async fn in_process_bucket_follows_the_script() -> Result<(), Box<dyn std::error::Error>> {
    common::kv_script::run(InProcessKeyValue::new()).await?;
    Ok(())
}

#[tokio::test]
async fn jetstream_bucket_follows_the_script() -> Result<(), Box<dyn std::error::Error>> {
    let server = NatsServer::start().await?;
    let kv = JetStreamKeyValue::open(server.client().await?, "script", 5).await?;
    common::kv_script::run(kv).await?;
    Ok(())
}
