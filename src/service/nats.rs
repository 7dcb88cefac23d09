//! The service on NATS: the async-nats service API (`$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`
//! list it as [`SERVICE_NAME`]) with one endpoint per [`Command`].

use std::future::Future;
use std::sync::Arc;

use async_nats::service::ServiceExt as _;
use cim_agent_coordination::knowledge::KnowledgeStore;
use cim_agent_coordination::transport::Transport;
use cim_agent_coordination::transport::kv::KeyValue;
use futures::StreamExt as _;
use tokio::task::JoinSet;

use super::{Command, DeploymentService};
use crate::pipeline::EventStores;

/// The service's name in `$SRV` discovery.
pub const SERVICE_NAME: &str = "cim-deployment";

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The service or an endpoint could not be started.
    #[error("starting the NATS service: {0}")]
    Start(String),
}

/// Serves `service` on `client` until `shutdown` resolves, then drains: stops taking requests
/// (the endpoints are removed from the server), lets the requests already taken finish and
/// answer, and returns.
///
/// # Errors
/// [`ServeError::Start`] when the service cannot be registered.
pub async fn serve<T, K, S, E>(
    service: Arc<DeploymentService<T, K, S, E>>,
    client: async_nats::Client,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError>
where
    T: Transport,
    K: KeyValue,
    S: KnowledgeStore,
    E: EventStores,
{
    let nats_service = client
        .service_builder()
        .description("CIM Leaf deployment service: agents review and approve every change")
        .start(SERVICE_NAME, env!("CARGO_PKG_VERSION"))
        .await
        .map_err(|error| ServeError::Start(error.to_string()))?;
    let mut endpoints = Vec::new();
    for command in Command::ALL {
        let endpoint = nats_service
            .endpoint_builder()
            .name(command.name())
            .add(command.subject())
            .await
            .map_err(|error| ServeError::Start(error.to_string()))?;
        endpoints.push(endpoint.map(move |request| (command, request)).boxed());
    }
    client
        .flush()
        .await
        .map_err(|error| ServeError::Start(error.to_string()))?;
    let mut requests = futures::stream::select_all(endpoints);
    let mut in_flight = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            next = requests.next() => {
                let Some((command, request)) = next else { break };
                let service = Arc::clone(&service);
                in_flight.spawn(async move {
                    let reply = service.handle(command, &request.message.payload).await;
                    if let Err(error) = request.respond(Ok(reply.into())).await {
                        tracing::warn!(%error, command = command.name(), "could not send the reply");
                    }
                });
            }
            () = &mut shutdown => break,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        }
    }
    tracing::info!(
        in_flight = in_flight.len(),
        "draining the deployment service"
    );
    // Stop taking requests first, then finish those already taken.
    drop(requests);
    if let Err(error) = nats_service.stop().await {
        tracing::warn!(%error, "stopping the NATS service");
    }
    while in_flight.join_next().await.is_some() {}
    if let Err(error) = client.flush().await {
        tracing::warn!(%error, "flushing the last replies");
    }
    Ok(())
}
