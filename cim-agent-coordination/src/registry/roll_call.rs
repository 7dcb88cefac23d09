//! The roll call: a registry that starts (or restarts) after the agents asks every running
//! agent to announce its registration again, so it does not have to wait for agents it missed.
//! The agent runtime answers it, and also registers again after every reconnect.

use bytes::Bytes;

use crate::transport::{Transport, TransportError};

/// `cim.agents.roll-call`: published (empty payload) by whoever needs every live agent's
/// registration; each agent runtime answers by publishing its registration on
/// `cim.agents.<name>.registered`. It has three tokens, so the registry's own filter
/// [`ANNOUNCEMENTS`](super::ANNOUNCEMENTS) (`cim.agents.*.*`) never sees it.
pub const ROLL_CALL: &str = "cim.agents.roll-call";

/// Publishes a roll call on `transport`.
///
/// # Errors
/// The transport's error when publishing fails.
pub async fn call_roll<T: Transport>(transport: &T) -> Result<(), TransportError> {
    transport.publish(ROLL_CALL, Bytes::new()).await?;
    transport.flush().await
}
