//! Time as data: the registry, the task coordinator and the consensus coordinator never read the
//! system clock themselves; a [`Clock`] hands them `now` (wall-clock UTC, the time their events
//! record), so tests drive time by hand and stay instant and deterministic. The knowledge
//! replica's sync timers use a monotonic clock of their own (`knowledge::Clock`), because they
//! measure intervals rather than stamp events.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// Where `now` comes from. Object safe, so coordinators may hold an `Arc<dyn Clock>`.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock, for the real-time drivers in services.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to. Clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, DateTime<Utc>> {
        // A poisoned lock only means a panicking test thread held it; the time is still valid.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the clock by `by` (backward when negative) and returns the new time.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        let mut now = self.lock();
        *now += by;
        *now
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.lock() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}
