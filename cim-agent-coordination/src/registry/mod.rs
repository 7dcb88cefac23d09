//! The agent registry and presence.
//!
//! Agents announce themselves with the messages of [`cim_domain_agent::announce`] on
//! `cim.agents.<name>.{registered,heartbeat,deregistered}` (one format: what `cim-leaf agents
//! run` publishes). The registry keeps one record per agent id in a [`KeyValue`] bucket
//! (JetStream KV in production, key `agents.<id>`), written with compare-and-set, so a restarted
//! coordinator, or a second one on the same bucket, sees the same registry.
//!
//! - **Presence** is a pure function of the last time an agent was heard from
//!   ([`PresenceConfig::presence_at`]): online, suspect after k missed heartbeats, offline after
//!   n, online again on the next heartbeat. Time enters as data ([`Clock`], or `now` arguments).
//! - **Identity**: a registration whose id is held by a live agent under another name is
//!   refused ([`RegistryError::IdInUse`]); the same agent registering again after a restart is
//!   accepted (idempotent), and an offline agent's id may be taken over.
//! - **Discovery** by name and by capability, all or online only, ordered by name then id.
//! - **NATS service**: each agent runtime also runs [`start_agent_service`], so `$SRV.PING`,
//!   `$SRV.INFO` and `$SRV.STATS` list the fleet's agents with their capabilities.
//! - **Roll call**: a registry that starts after its agents publishes [`ROLL_CALL`] and every
//!   agent runtime announces its registration again.
//! - **Events**: joins, leaves and presence changes are a typed stream ([`Registry::events`]),
//!   derived from the stored records, so every coordinator following the bucket sees them.
//!
//! [`KeyValue`]: crate::transport::kv::KeyValue

mod error;
mod event;
mod inbox;
mod nats_service;
mod presence;
mod record;
mod roll_call;
mod store;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use error::RegistryError;
pub use event::{RegistryEvent, diff};
pub use inbox::{ANNOUNCEMENTS, Handled, MAX_ANNOUNCEMENT_BYTES};
pub use nats_service::{SERVICE_NAME, service_metadata, start_agent_service};
pub use presence::{Presence, PresenceConfig};
pub use record::{AgentRecord, key_of};
pub use roll_call::{ROLL_CALL, call_roll};
pub use store::{Registry, Scope};
