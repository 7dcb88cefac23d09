//! The registry over a [`KeyValue`] bucket: every change is a compare-and-set on the agent's key,
//! every coordinator on the bucket follows the same changes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use cim_domain_agent::announce::{AgentDeregistration, AgentHeartbeat, AgentRegistration};
use cim_domain_agent::{AgentId, AgentName};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;

use super::event::diff;
use super::record::key_of;
use super::{AgentRecord, Presence, PresenceConfig, RegistryError, RegistryEvent};
use crate::transport::kv::{KeyValue, KvChange, KvEntry, KvError};

/// How many times a write is retried when another coordinator wins the compare-and-set.
const CAS_ATTEMPTS: u32 = 16;
/// How many registry events a slow subscriber may fall behind before it loses the oldest.
const EVENT_BUFFER: usize = 4096;

/// Which agents discovery returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every registered agent, whatever its presence.
    All,
    /// Online agents only.
    OnlineOnly,
}

/// The agent registry. Clones share one registry; the follower task that applies the bucket's
/// changes stops when the last clone is dropped.
#[derive(Clone)]
pub struct Registry<K: KeyValue> {
    inner: Arc<Inner<K>>,
}

struct Inner<K> {
    kv: K,
    config: PresenceConfig,
    cache: Mutex<BTreeMap<AgentId, (AgentRecord, u64)>>,
    /// Highest revision applied per key, deletes included, so late or duplicate changes are
    /// ignored.
    revisions: Mutex<BTreeMap<AgentId, u64>>,
    events: broadcast::Sender<RegistryEvent>,
    rejected: AtomicU64,
    follower: Mutex<Option<tokio::task::AbortHandle>>,
}

impl<K> Drop for Inner<K> {
    fn drop(&mut self) {
        if let Some(handle) = self
            .follower
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            handle.abort();
        }
    }
}

fn decode(entry: &KvEntry) -> Option<AgentRecord> {
    match serde_json::from_slice(&entry.value) {
        Ok(record) => Some(record),
        Err(error) => {
            tracing::warn!(key = %entry.key, %error, "registry: undecodable record in the bucket");
            None
        }
    }
}

fn encode(record: &AgentRecord) -> Result<Bytes, RegistryError> {
    serde_json::to_vec(record)
        .map(Bytes::from)
        .map_err(|e| RegistryError::Malformed {
            subject: key_of(record.id),
            reason: e.to_string(),
        })
}

fn id_of_key(key: &str) -> Option<AgentId> {
    key.strip_prefix("agents.")?.parse().ok()
}

impl<K: KeyValue> Registry<K> {
    /// Opens the registry on `kv`: starts following its changes, then loads every record, so no
    /// change between the two is missed. Must run inside a tokio runtime (it spawns the follower).
    ///
    /// # Errors
    /// [`RegistryError::Store`] when the bucket cannot be read or watched.
    pub async fn open(kv: K, config: PresenceConfig) -> Result<Self, RegistryError> {
        let watch = kv.watch().await?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let registry = Self {
            inner: Arc::new(Inner {
                kv,
                config,
                cache: Mutex::new(BTreeMap::new()),
                revisions: Mutex::new(BTreeMap::new()),
                events,
                rejected: AtomicU64::new(0),
                follower: Mutex::new(None),
            }),
        };
        for key in registry.inner.kv.keys().await? {
            if let Some(entry) = registry.inner.kv.get(&key).await?
                && let Some(id) = id_of_key(&key)
            {
                registry.observe(id, entry.revision, decode(&entry), false);
            }
        }
        let weak: Weak<Inner<K>> = Arc::downgrade(&registry.inner);
        let task = tokio::spawn(async move {
            let mut watch = watch;
            while let Some(change) = watch.next().await {
                let Some(inner) = weak.upgrade() else { return };
                Self { inner }.apply(change);
            }
        });
        *registry.lock_follower() = Some(task.abort_handle());
        Ok(registry)
    }

    fn lock_follower(&self) -> MutexGuard<'_, Option<tokio::task::AbortHandle>> {
        self.inner
            .follower
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cache(&self) -> MutexGuard<'_, BTreeMap<AgentId, (AgentRecord, u64)>> {
        // Entries are replaced whole under the lock; a poisoned lock still guards whole entries.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The presence thresholds in use.
    pub fn config(&self) -> PresenceConfig {
        self.inner.config
    }

    /// The registry's changes from now on. A subscriber more than 4,096 events behind loses the
    /// oldest (logged); the stream ends when the registry is dropped.
    pub fn events(&self) -> impl Stream<Item = RegistryEvent> + Send + 'static {
        let receiver = self.inner.events.subscribe();
        futures::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((event, receiver)),
                    Err(broadcast::error::RecvError::Lagged(lost)) => {
                        tracing::warn!(lost, "registry events: a slow subscriber lost events");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }

    /// How many announcements were refused (malformed, oversized, conflicting, unknown).
    pub fn rejected(&self) -> u64 {
        self.inner.rejected.load(Ordering::Relaxed)
    }

    pub(crate) fn count_rejected(&self) {
        self.inner.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Applies one change of the bucket (from the follower).
    fn apply(&self, change: KvChange) {
        let Some(id) = id_of_key(change.key()) else {
            return;
        };
        match change {
            KvChange::Put(entry) => {
                let record = decode(&entry);
                if record.is_some() {
                    self.observe(id, entry.revision, record, true);
                }
            }
            KvChange::Delete { revision, .. } => self.observe(id, revision, None, true),
        }
    }

    /// Records `record` (or its absence) at `revision` if newer than what is known, and emits
    /// the events the change means.
    fn observe(&self, id: AgentId, revision: u64, record: Option<AgentRecord>, emit: bool) {
        {
            let mut revisions = self
                .inner
                .revisions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let known = revisions.entry(id).or_insert(0);
            if revision <= *known {
                return;
            }
            *known = revision;
        }
        let mut cache = self.cache();
        let before = cache.get(&id).map(|(r, _)| r.clone());
        match &record {
            Some(record) => {
                cache.insert(id, (record.clone(), revision));
            }
            None => {
                cache.remove(&id);
            }
        }
        drop(cache);
        if emit {
            for event in diff(before.as_ref(), record.as_ref()) {
                // No subscriber is not an error.
                let _ = self.inner.events.send(event);
            }
        }
    }

    /// Reads, changes and compare-and-sets one agent's record, retrying when another writer
    /// wins. `change` gets the stored record (if any) and returns the new one, `None` to leave
    /// it as is, or an error to refuse.
    async fn modify<F>(
        &self,
        id: AgentId,
        mut change: F,
    ) -> Result<Option<AgentRecord>, RegistryError>
    where
        F: FnMut(Option<&AgentRecord>) -> Result<Option<AgentRecord>, RegistryError> + Send,
    {
        let key = key_of(id);
        for _ in 0..CAS_ATTEMPTS {
            let stored = self.inner.kv.get(&key).await?;
            let current = stored.as_ref().and_then(decode);
            let Some(next) = change(current.as_ref())? else {
                return Ok(current);
            };
            let value = encode(&next)?;
            let written = match &stored {
                None => self.inner.kv.create(&key, value).await,
                Some(entry) => self.inner.kv.update(&key, value, entry.revision).await,
            };
            match written {
                Ok(revision) => {
                    self.observe(id, revision, Some(next.clone()), true);
                    return Ok(Some(next));
                }
                Err(KvError::AlreadyExists { .. } | KvError::WrongRevision { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(RegistryError::Contended {
            id,
            attempts: CAS_ATTEMPTS,
        })
    }

    /// Accepts a registration received at `now`. The same agent (same id and name)
    /// re-registering after a restart is accepted and comes back online; an id held by a live
    /// agent under another name is refused.
    ///
    /// # Errors
    /// [`RegistryError::IdInUse`], [`RegistryError::Contended`], [`RegistryError::Store`].
    pub async fn register(
        &self,
        registration: &AgentRegistration,
        now: DateTime<Utc>,
    ) -> Result<AgentRecord, RegistryError> {
        let config = self.inner.config;
        let record = self
            .modify(registration.agent_id, |stored| {
                if let Some(held) = stored {
                    let live = config.presence_at(held.heartbeat_secs, held.last_seen, now)
                        != Presence::Offline
                        && held.presence != Presence::Offline;
                    if held.name != registration.name && live {
                        return Err(RegistryError::IdInUse {
                            id: held.id,
                            held_by: held.name.clone(),
                            refused: registration.name.clone(),
                        });
                    }
                }
                Ok(Some(AgentRecord::from_registration(registration, now)))
            })
            .await;
        match record {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err(RegistryError::Contended {
                id: registration.agent_id,
                attempts: 0,
            }),
            Err(e) => {
                self.count_rejected();
                Err(e)
            }
        }
    }

    /// Records a heartbeat received at `now`: the agent is online again.
    ///
    /// # Errors
    /// [`RegistryError::UnknownAgent`] when it never registered (or deregistered),
    /// [`RegistryError::IdInUse`] when the id belongs to another name, and store errors.
    pub async fn heartbeat(
        &self,
        heartbeat: &AgentHeartbeat,
        now: DateTime<Utc>,
    ) -> Result<AgentRecord, RegistryError> {
        let result = self
            .modify(heartbeat.agent_id, |stored| {
                let Some(held) = stored else {
                    return Err(RegistryError::UnknownAgent {
                        id: heartbeat.agent_id,
                        name: heartbeat.name.clone(),
                    });
                };
                if held.name != heartbeat.name {
                    return Err(RegistryError::IdInUse {
                        id: held.id,
                        held_by: held.name.clone(),
                        refused: heartbeat.name.clone(),
                    });
                }
                let mut next = held.clone();
                next.last_seen = now.max(held.last_seen);
                next.last_sequence = heartbeat.sequence.max(held.last_sequence);
                next.presence = Presence::Online;
                Ok(Some(next))
            })
            .await;
        match result {
            Ok(Some(record)) => Ok(record),
            Ok(None) => Err(RegistryError::UnknownAgent {
                id: heartbeat.agent_id,
                name: heartbeat.name.clone(),
            }),
            Err(e) => {
                self.count_rejected();
                Err(e)
            }
        }
    }

    /// Removes an agent that stopped cleanly. Returns whether it was registered.
    ///
    /// # Errors
    /// [`RegistryError::IdInUse`] when the id belongs to another name, and store errors.
    pub async fn deregister(
        &self,
        deregistration: &AgentDeregistration,
    ) -> Result<bool, RegistryError> {
        let key = key_of(deregistration.agent_id);
        let Some(entry) = self.inner.kv.get(&key).await? else {
            return Ok(false);
        };
        if let Some(held) = decode(&entry)
            && held.name != deregistration.name
        {
            self.count_rejected();
            return Err(RegistryError::IdInUse {
                id: held.id,
                held_by: held.name,
                refused: deregistration.name.clone(),
            });
        }
        self.inner.kv.delete(&key).await?;
        // The delete's revision is the next one the follower sees; apply it now as well so the
        // caller's own view is current. Any revision above the put's will do.
        self.observe(deregistration.agent_id, entry.revision + 1, None, true);
        Ok(true)
    }

    /// Re-evaluates every agent's presence at `now` and writes the ones that changed. Returns
    /// the agents whose presence changed, with the new presence. Two coordinators ticking at
    /// once write each change once (the compare-and-set loser re-reads and finds it done).
    ///
    /// # Errors
    /// Store errors; agents already written stay written.
    pub async fn tick(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(AgentRecord, Presence)>, RegistryError> {
        let config = self.inner.config;
        let due: Vec<AgentId> = self
            .cache()
            .values()
            .filter(|(r, _)| config.presence_at(r.heartbeat_secs, r.last_seen, now) != r.presence)
            .map(|(r, _)| r.id)
            .collect();
        let mut changed = Vec::new();
        for id in due {
            let mut from = None;
            let written = self
                .modify(id, |stored| {
                    // Reset on every attempt: a retry may find another coordinator did it.
                    from = None;
                    let Some(held) = stored else { return Ok(None) };
                    let presence = config.presence_at(held.heartbeat_secs, held.last_seen, now);
                    if presence == held.presence {
                        return Ok(None);
                    }
                    from = Some(held.presence);
                    let mut next = held.clone();
                    next.presence = presence;
                    Ok(Some(next))
                })
                .await?;
            if let (Some(record), Some(before)) = (written, from)
                && record.presence != before
            {
                let presence = record.presence;
                changed.push((record, presence));
            }
        }
        Ok(changed)
    }

    /// Every registered agent, ordered by name, then id.
    pub fn list(&self) -> Vec<AgentRecord> {
        let mut all: Vec<AgentRecord> = self.cache().values().map(|(r, _)| r.clone()).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        all
    }

    /// The agent with `id`.
    pub fn get(&self, id: AgentId) -> Option<AgentRecord> {
        self.cache().get(&id).map(|(r, _)| r.clone())
    }

    /// The agents named `name` (normally one), ordered by id.
    pub fn find_by_name(&self, name: &AgentName, scope: Scope) -> Vec<AgentRecord> {
        self.list()
            .into_iter()
            .filter(|r| &r.name == name && in_scope(r, scope))
            .collect()
    }

    /// The agents that declare `capability`, ordered by name, then id.
    pub fn find_by_capability(&self, capability: &str, scope: Scope) -> Vec<AgentRecord> {
        self.list()
            .into_iter()
            .filter(|r| r.has_capability(capability) && in_scope(r, scope))
            .collect()
    }

    /// Re-reads every record from the bucket (what a restarted coordinator sees).
    ///
    /// # Errors
    /// Store errors.
    pub async fn reload(&self) -> Result<(), RegistryError> {
        for key in self.inner.kv.keys().await? {
            if let Some(entry) = self.inner.kv.get(&key).await?
                && let Some(id) = id_of_key(&key)
            {
                self.observe(id, entry.revision, decode(&entry), true);
            }
        }
        Ok(())
    }
}

fn in_scope(record: &AgentRecord, scope: Scope) -> bool {
    scope == Scope::All || record.presence == Presence::Online
}
