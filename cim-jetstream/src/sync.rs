//! How often nats-server flushes the JetStream store to disk, and what an acknowledged commit
//! survives under each choice.
//!
//! nats-server decides this for the whole server (`jetstream { sync_interval: ... }`), not per
//! stream or per message, so the policy is a property of the deployment: [`SyncPolicy`] names it,
//! renders the server setting ([`SyncPolicy::server_setting`]) and the test harness starts servers
//! with it. `docs/event-store-durability.md` explains the default.

use std::time::Duration;

use crate::error::JetStreamError;

/// When nats-server forces written JetStream data to disk (`fsync`).
///
/// | policy | process crash (`kill -9`) | power loss / kernel crash, one server | one node lost, R3 |
/// |---|---|---|---|
/// | [`Always`](Self::Always) | kept | kept | kept |
/// | [`Interval`](Self::Interval) | kept (in the OS page cache) | up to one interval of acked commits lost | kept (a quorum of 2 holds it); lost only if a quorum loses power at once |
///
/// Under `Always` the server syncs each write before it acknowledges it, as PostgreSQL does with
/// its default `synchronous_commit = on`; under `Interval(d)` it acknowledges once the write is in
/// the OS page cache and syncs every `d` (nats-server's own default is two minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// `sync_interval: always`: every acknowledged commit is on disk.
    Always,
    /// `sync_interval: <d>`: acknowledged commits reach disk within `d`.
    Interval(Duration),
}

impl SyncPolicy {
    /// nats-server's default when the configuration says nothing: sync every two minutes.
    pub const SERVER_DEFAULT: Self = Self::Interval(Duration::from_secs(120));

    /// The line for the `jetstream { ... }` block of a nats-server configuration, e.g.
    /// `sync_interval: always` or `sync_interval: "120000ms"`.
    pub fn server_setting(&self) -> String {
        match self {
            Self::Always => "sync_interval: always".to_string(),
            Self::Interval(every) => format!("sync_interval: \"{}ms\"", every.as_millis()),
        }
    }

    /// Reads a policy as written in configuration: `always`, or a whole number of
    /// milliseconds or seconds with its unit (`500ms`, `120s`, `2m`).
    pub fn parse(text: &str) -> Result<Self, JetStreamError> {
        let text = text.trim();
        let invalid = || JetStreamError::InvalidConfig {
            field: "sync",
            reason: format!("{text:?} is neither `always` nor a duration like 500ms, 120s or 2m"),
        };
        if text.eq_ignore_ascii_case("always") {
            return Ok(Self::Always);
        }
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        let (number, unit) = text.split_at(split);
        let number: u64 = number.parse().map_err(|_| invalid())?;
        let every = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            _ => return Err(invalid()),
        };
        let policy = Self::Interval(every);
        policy.validate()?;
        Ok(policy)
    }

    /// An interval must be at least one millisecond (the unit the server setting is written in).
    pub fn validate(&self) -> Result<(), JetStreamError> {
        match self {
            Self::Interval(every) if every.as_millis() == 0 => Err(JetStreamError::InvalidConfig {
                field: "sync",
                reason: "a sync interval must be at least 1ms (use SyncPolicy::Always to sync \
                         every write)"
                    .to_string(),
            }),
            _ => Ok(()),
        }
    }
}

impl Default for SyncPolicy {
    /// [`SyncPolicy::Always`]: the event store is the system of record, so an acknowledged
    /// commit should survive a power loss as a PostgreSQL commit does (see
    /// `docs/event-store-durability.md`).
    fn default() -> Self {
        Self::Always
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_render_as_nats_server_config() {
        assert_eq!(SyncPolicy::Always.server_setting(), "sync_interval: always");
        assert_eq!(
            SyncPolicy::SERVER_DEFAULT.server_setting(),
            "sync_interval: \"120000ms\""
        );
    }

    #[test]
    fn policies_parse_from_text() -> Result<(), JetStreamError> {
        assert_eq!(SyncPolicy::parse("always")?, SyncPolicy::Always);
        assert_eq!(SyncPolicy::parse(" Always ")?, SyncPolicy::Always);
        assert_eq!(
            SyncPolicy::parse("2m")?,
            SyncPolicy::Interval(Duration::from_secs(120))
        );
        assert_eq!(
            SyncPolicy::parse("500ms")?,
            SyncPolicy::Interval(Duration::from_millis(500))
        );
        for bad in ["", "never", "10", "5h", "-1s", "0ms", "1.5s"] {
            assert!(SyncPolicy::parse(bad).is_err(), "{bad:?} was accepted");
        }
        Ok(())
    }
}
