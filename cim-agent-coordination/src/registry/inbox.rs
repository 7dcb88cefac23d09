//! The edge: announcements as they arrive on `cim.agents.<name>.{registered,heartbeat,
//! deregistered}`, checked and decoded before they reach the registry, and the real-time driver.

use std::time::Duration;

use chrono::{DateTime, Utc};
use cim_domain_agent::AgentName;
use cim_domain_agent::announce::{AgentDeregistration, AgentHeartbeat, AgentRegistration};
use futures::StreamExt;
use serde::de::DeserializeOwned;

use super::{Clock, Registry, RegistryError};
use crate::transport::Transport;
use crate::transport::kv::KeyValue;

/// Largest announcement the registry decodes, in bytes; larger ones are counted and dropped.
pub const MAX_ANNOUNCEMENT_BYTES: usize = 64 * 1024;

/// The filter the registry subscribes to: every announcement of every agent.
pub const ANNOUNCEMENTS: &str = "cim.agents.*.*";

/// What an announcement did.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// A registration was accepted.
    Registered(Box<super::AgentRecord>),
    /// A heartbeat was recorded.
    Heartbeat,
    /// A deregistration removed the agent (`false`: it was not registered).
    Deregistered(bool),
    /// The subject is under `cim.agents` but is not an announcement the registry reads.
    Ignored,
}

fn decode<T: DeserializeOwned>(subject: &str, payload: &[u8]) -> Result<T, RegistryError> {
    serde_json::from_slice(payload).map_err(|e| RegistryError::Malformed {
        subject: subject.to_owned(),
        reason: e.to_string(),
    })
}

fn same_name(subject: &str, in_subject: &str, named: &AgentName) -> Result<(), RegistryError> {
    if named.as_str() == in_subject {
        Ok(())
    } else {
        Err(RegistryError::NameMismatch {
            subject: subject.to_owned(),
            payload_name: named.clone(),
        })
    }
}

impl<K: KeyValue> Registry<K> {
    /// Handles one message from [`ANNOUNCEMENTS`] received at `now`. Oversized, malformed and
    /// misaddressed messages are counted in [`Registry::rejected`] and returned as errors; they
    /// never panic.
    ///
    /// # Errors
    /// [`RegistryError::TooLarge`], [`RegistryError::Malformed`], [`RegistryError::NameMismatch`]
    /// and the errors of [`Registry::register`], [`Registry::heartbeat`],
    /// [`Registry::deregister`].
    pub async fn handle(
        &self,
        subject: &str,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Handled, RegistryError> {
        let result = self.handle_inner(subject, payload, now).await;
        if let Err(
            e @ (RegistryError::TooLarge { .. }
            | RegistryError::Malformed { .. }
            | RegistryError::NameMismatch { .. }),
        ) = &result
        {
            self.count_rejected();
            tracing::warn!(error = %e, "registry: refused an announcement");
        }
        result
    }

    async fn handle_inner(
        &self,
        subject: &str,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Handled, RegistryError> {
        if payload.len() > MAX_ANNOUNCEMENT_BYTES {
            return Err(RegistryError::TooLarge {
                subject: subject.to_owned(),
                size: payload.len(),
                max: MAX_ANNOUNCEMENT_BYTES,
            });
        }
        let tokens: Vec<&str> = subject.split('.').collect();
        let [_, _, name, kind] = tokens[..] else {
            return Ok(Handled::Ignored);
        };
        match kind {
            "registered" => {
                let registration: AgentRegistration = decode(subject, payload)?;
                same_name(subject, name, &registration.name)?;
                let record = self.register(&registration, now).await?;
                Ok(Handled::Registered(Box::new(record)))
            }
            "heartbeat" => {
                let heartbeat: AgentHeartbeat = decode(subject, payload)?;
                same_name(subject, name, &heartbeat.name)?;
                self.heartbeat(&heartbeat, now).await?;
                Ok(Handled::Heartbeat)
            }
            "deregistered" => {
                let deregistration: AgentDeregistration = decode(subject, payload)?;
                same_name(subject, name, &deregistration.name)?;
                Ok(Handled::Deregistered(
                    self.deregister(&deregistration).await?,
                ))
            }
            _ => Ok(Handled::Ignored),
        }
    }

    /// The real-time driver: consumes announcements from `transport` and re-evaluates presence
    /// every `tick`, reading time from `clock`, until the subscription ends. Refused
    /// announcements are logged and counted; the loop goes on.
    ///
    /// # Errors
    /// [`RegistryError::Malformed`] wrapping the transport error when subscribing fails.
    pub async fn run<T: Transport, C: Clock>(
        &self,
        transport: T,
        clock: C,
        tick: Duration,
    ) -> Result<(), RegistryError> {
        let mut announcements =
            transport
                .subscribe(ANNOUNCEMENTS)
                .await
                .map_err(|e| RegistryError::Malformed {
                    subject: ANNOUNCEMENTS.to_owned(),
                    reason: e.to_string(),
                })?;
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = announcements.next() => {
                    let Some(message) = message else { return Ok(()) };
                    if let Err(error) = self.handle(&message.subject, &message.payload, clock.now()).await {
                        tracing::warn!(%error, subject = %message.subject, "registry: announcement refused");
                    }
                }
                _ = ticker.tick() => {
                    if let Err(error) = self.tick(clock.now()).await {
                        tracing::warn!(%error, "registry: presence tick failed");
                    }
                }
            }
        }
    }
}
