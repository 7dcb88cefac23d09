//! Each running agent runtime is also a NATS service (the micro-service protocol of async-nats:
//! `$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`), so the standard NATS tooling (`nats micro ls`)
//! lists the fleet's agents, with their capabilities in the service metadata.

use std::collections::HashMap;

use async_nats::service::ServiceExt;
use cim_domain_agent::announce::AgentRegistration;

use super::RegistryError;

/// The service name every agent runtime registers under (`$SRV.INFO.cim-agent` lists them all).
pub const SERVICE_NAME: &str = "cim-agent";

/// The service metadata of an agent: `agent_id`, `name`, `capabilities` (comma-separated,
/// sorted), `max_concurrent_tasks`, `heartbeat_secs`, and `host` and `model` when known.
pub fn service_metadata(registration: &AgentRegistration) -> HashMap<String, String> {
    let mut capabilities = registration.capabilities.clone();
    capabilities.sort();
    capabilities.dedup();
    let mut metadata = HashMap::from([
        ("agent_id".to_owned(), registration.agent_id.to_string()),
        ("name".to_owned(), registration.name.to_string()),
        ("capabilities".to_owned(), capabilities.join(",")),
        (
            "max_concurrent_tasks".to_owned(),
            registration.max_concurrent_tasks.to_string(),
        ),
        (
            "heartbeat_secs".to_owned(),
            registration.heartbeat_secs.to_string(),
        ),
    ]);
    if let Some(host) = &registration.host {
        metadata.insert("host".to_owned(), host.clone());
    }
    if let Some(model) = &registration.model {
        metadata.insert("model".to_owned(), model.clone());
    }
    metadata
}

/// Starts the NATS service of an agent on `client`; it answers PING, INFO and STATS until the
/// returned service is stopped or dropped with the connection.
///
/// # Errors
/// [`RegistryError::Malformed`] (subject `$SRV`) when the server refuses the subscriptions.
pub async fn start_agent_service(
    client: &async_nats::Client,
    registration: &AgentRegistration,
) -> Result<async_nats::service::Service, RegistryError> {
    client
        .service_builder()
        .description(format!(
            "CIM agent {} ({})",
            registration.name, registration.display_name
        ))
        .metadata(service_metadata(registration))
        .start(SERVICE_NAME, registration.version.to_string())
        .await
        .map_err(|e| RegistryError::Malformed {
            subject: "$SRV".to_owned(),
            reason: e.to_string(),
        })
}
