//! An agent runtime answers the NATS service protocol: `$SRV.PING` and `$SRV.INFO` list it
//! with its capabilities in the metadata.

use std::time::Duration;

use chrono::Utc;
use cim_agent_coordination::registry::{SERVICE_NAME, start_agent_service};
use cim_domain_agent::announce::AgentRegistration;
use cim_domain_agent::{AgentId, AgentName};
use cim_jetstream::testing::NatsServer;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test]
async fn ping_and_info_list_the_agent_with_its_capabilities() -> Result<(), Error> {
    let server = NatsServer::start().await?;
    let client = server.client().await?;
    let name = AgentName::new("sage")?;
    let registration = AgentRegistration {
        agent_id: AgentId::from_name(&name),
        name,
        display_name: "Sage".into(),
        version: semver::Version::new(1, 2, 3),
        capabilities: vec!["review".into(), "plan".into()],
        model: Some("llama3".into()),
        model_endpoint: None,
        heartbeat_secs: 10,
        started_at: Utc::now(),
        host: Some("gpu-1".into()),
        max_concurrent_tasks: 2,
    };
    let _service = start_agent_service(&client, &registration).await?;
    let asker = server.client().await?;
    let info = asker
        .request(format!("$SRV.INFO.{SERVICE_NAME}"), "".into())
        .await?;
    let info: async_nats::service::Info = serde_json::from_slice(&info.payload)?;
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        (SERVICE_NAME, "1.2.3")
    );
    assert_eq!(
        info.metadata.get("capabilities").map(String::as_str),
        Some("plan,review")
    );
    assert_eq!(info.metadata.get("name").map(String::as_str), Some("sage"));
    assert_eq!(info.metadata.get("host").map(String::as_str), Some("gpu-1"));
    let ping = tokio::time::timeout(
        Duration::from_secs(5),
        asker.request("$SRV.PING".to_owned(), "".into()),
    )
    .await??;
    let ping: serde_json::Value = serde_json::from_slice(&ping.payload)?;
    assert_eq!(ping["name"], SERVICE_NAME);
    Ok(())
}
