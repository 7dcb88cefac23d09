//! Presence as a pure function of when an agent was last heard from.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Whether an agent is reachable, as the registry sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Heard from within the last `suspect_after_missed` heartbeat intervals.
    Online,
    /// Missed at least `suspect_after_missed` heartbeats, fewer than `offline_after_missed`.
    Suspect,
    /// Missed at least `offline_after_missed` heartbeats; its tasks are given to others.
    Offline,
}

impl Presence {
    /// `online`, `suspect` or `offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Suspect => "suspect",
            Self::Offline => "offline",
        }
    }
}

/// How many missed heartbeats make an agent suspect, then offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceConfig {
    /// Missed heartbeats (whole intervals without news) after which an agent is suspect (k).
    pub suspect_after_missed: u32,
    /// Missed heartbeats after which an agent is offline (n, at least k).
    pub offline_after_missed: u32,
    /// Interval assumed for an agent whose registration says 0 seconds, in seconds.
    pub default_heartbeat_secs: u64,
}

impl Default for PresenceConfig {
    /// Suspect after 2 missed heartbeats, offline after 4; a 10 s interval when none is given.
    fn default() -> Self {
        Self {
            suspect_after_missed: 2,
            offline_after_missed: 4,
            default_heartbeat_secs: 10,
        }
    }
}

impl PresenceConfig {
    /// The presence of an agent with heartbeat interval `heartbeat_secs` (0: the default), last
    /// heard from at `last_seen`, at time `now`. Missed heartbeats are the whole intervals elapsed
    /// since `last_seen`; a clock that runs backwards counts as no time elapsed.
    pub fn presence_at(
        &self,
        heartbeat_secs: u64,
        last_seen: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Presence {
        let secs = if heartbeat_secs == 0 {
            self.default_heartbeat_secs.max(1)
        } else {
            heartbeat_secs
        };
        let interval_ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let elapsed = (now - last_seen).max(Duration::zero()).num_milliseconds();
        let missed = u64::try_from(elapsed / interval_ms).unwrap_or(0);
        if missed >= u64::from(self.offline_after_missed.max(self.suspect_after_missed)) {
            Presence::Offline
        } else if missed >= u64::from(self.suspect_after_missed) {
            Presence::Suspect
        } else {
            Presence::Online
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn missed_heartbeats_make_an_agent_suspect_then_offline() {
        let config = PresenceConfig::default();
        let seen = Utc.timestamp_opt(1_000, 0).single().unwrap_or_default();
        let at = |secs| seen + Duration::seconds(secs);
        assert_eq!(config.presence_at(10, seen, at(19)), Presence::Online);
        assert_eq!(config.presence_at(10, seen, at(20)), Presence::Suspect);
        assert_eq!(config.presence_at(10, seen, at(39)), Presence::Suspect);
        assert_eq!(config.presence_at(10, seen, at(40)), Presence::Offline);
        assert_eq!(config.presence_at(10, seen, at(-5)), Presence::Online);
        assert_eq!(config.presence_at(0, seen, at(25)), Presence::Suspect);
    }
}
