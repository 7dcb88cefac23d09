//! The embedded default: a work-queue stream with durable consumers in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Acker, ConsumerConfig, Deliveries, Delivery, Published, WorkQueue, WorkQueueError};
use crate::subject::{matches, validate_filter, validate_subject, validate_token};

/// An in-memory work queue. Clones share one queue.
#[derive(Clone)]
pub struct InProcessWorkQueue {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Woken on every publish, ack and nak.
    changed: Notify,
    duplicate_window: Duration,
}

struct Stored {
    subject: String,
    payload: Bytes,
}

#[derive(Default)]
struct State {
    next_sequence: u64,
    messages: BTreeMap<u64, Stored>,
    ids: HashMap<String, (u64, Instant)>,
    consumers: HashMap<String, Consumer>,
}

struct Consumer {
    filter: String,
    config: ConsumerConfig,
    /// Per message: how many deliveries so far and when the current one expires.
    pending: BTreeMap<u64, (u32, Option<Instant>)>,
}

impl Default for InProcessWorkQueue {
    /// A queue remembering message ids for two minutes (the JetStream default window).
    fn default() -> Self {
        Self::with_duplicate_window(Duration::from_secs(120))
    }
}

impl InProcessWorkQueue {
    /// A queue remembering message ids for `window`.
    pub fn with_duplicate_window(window: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                changed: Notify::new(),
                duplicate_window: window,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change completes under the lock; a poisoned lock still guards a whole state.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next delivery for `durable` now, or when to look again.
    fn poll(&self, durable: &str) -> Result<Delivery, Option<Instant>> {
        let now = Instant::now();
        let mut state = self.lock();
        let State {
            messages,
            consumers,
            ..
        } = &mut *state;
        let Some(consumer) = consumers.get_mut(durable) else {
            return Err(None);
        };
        let mut wake: Option<Instant> = None;
        for (sequence, message) in messages.iter() {
            if !matches(&consumer.filter, &message.subject) {
                continue;
            }
            let entry = consumer.pending.entry(*sequence).or_insert((0, None));
            let (count, expires) = *entry;
            if count >= consumer.config.max_deliver.max(1) {
                // Delivered as often as allowed: left in the stream, never delivered again.
                continue;
            }
            match expires {
                Some(at) if at > now => {
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                    continue;
                }
                _ => {}
            }
            *entry = (count + 1, Some(now + consumer.config.ack_wait));
            return Ok(Delivery {
                subject: message.subject.clone(),
                payload: message.payload.clone(),
                sequence: *sequence,
                delivered: count + 1,
                acker: Arc::new(InProcessAcker {
                    queue: self.clone(),
                    durable: durable.to_owned(),
                    sequence: *sequence,
                    delivered: count + 1,
                }),
            });
        }
        Err(wake)
    }
}

struct InProcessAcker {
    queue: InProcessWorkQueue,
    durable: String,
    sequence: u64,
    delivered: u32,
}

impl InProcessAcker {
    /// Applies `change` to this delivery's pending entry if it is still the current delivery.
    fn with_pending(&self, change: impl FnOnce(&mut State, &mut (u32, Option<Instant>), Duration)) {
        let mut state = self.queue.lock();
        let Some(consumer) = state.consumers.get(&self.durable) else {
            return;
        };
        let ack_wait = consumer.config.ack_wait;
        let current = consumer.pending.get(&self.sequence).copied();
        if let Some(mut entry) = current
            && entry.0 == self.delivered
        {
            change(&mut state, &mut entry, ack_wait);
            if let Some(consumer) = state.consumers.get_mut(&self.durable)
                && let Some(slot) = consumer.pending.get_mut(&self.sequence)
            {
                *slot = entry;
            }
        }
        drop(state);
        self.queue.inner.changed.notify_waiters();
    }
}

#[async_trait]
impl Acker for InProcessAcker {
    async fn ack(&self) -> Result<(), WorkQueueError> {
        let sequence = self.sequence;
        let durable = self.durable.clone();
        self.with_pending(|state, _, _| {
            // Work-queue retention: acknowledged means removed.
            state.messages.remove(&sequence);
            if let Some(consumer) = state.consumers.get_mut(&durable) {
                consumer.pending.remove(&sequence);
            }
        });
        Ok(())
    }

    async fn in_progress(&self) -> Result<(), WorkQueueError> {
        self.with_pending(|_, entry, ack_wait| {
            entry.1 = Some(Instant::now() + ack_wait);
        });
        Ok(())
    }

    async fn nak(&self) -> Result<(), WorkQueueError> {
        self.with_pending(|_, entry, _| entry.1 = None);
        Ok(())
    }
}

#[async_trait]
impl WorkQueue for InProcessWorkQueue {
    async fn publish(
        &self,
        subject: &str,
        message_id: &str,
        payload: Bytes,
    ) -> Result<Published, WorkQueueError> {
        validate_subject(subject)?;
        let now = Instant::now();
        let mut state = self.lock();
        let window = self.inner.duplicate_window;
        state
            .ids
            .retain(|_, (_, at)| now.duration_since(*at) < window);
        if let Some((sequence, _)) = state.ids.get(message_id) {
            return Ok(Published {
                sequence: *sequence,
                duplicate: true,
            });
        }
        state.next_sequence += 1;
        let sequence = state.next_sequence;
        state.messages.insert(
            sequence,
            Stored {
                subject: subject.to_owned(),
                payload,
            },
        );
        if !message_id.is_empty() {
            state.ids.insert(message_id.to_owned(), (sequence, now));
        }
        drop(state);
        self.inner.changed.notify_waiters();
        Ok(Published {
            sequence,
            duplicate: false,
        })
    }

    async fn consume(
        &self,
        durable: &str,
        filter: &str,
        config: ConsumerConfig,
    ) -> Result<Deliveries, WorkQueueError> {
        validate_token(durable)?;
        validate_filter(filter)?;
        self.lock()
            .consumers
            .entry(durable.to_owned())
            .or_insert_with(|| Consumer {
                filter: filter.to_owned(),
                config,
                pending: BTreeMap::new(),
            });
        let queue = self.clone();
        let durable = durable.to_owned();
        Ok(Box::pin(futures::stream::unfold(
            (queue, durable),
            |(queue, durable)| async move {
                loop {
                    let inner = Arc::clone(&queue.inner);
                    let notified = inner.changed.notified();
                    match queue.poll(&durable) {
                        Ok(delivery) => return Some((delivery, (queue, durable))),
                        Err(Some(at)) => {
                            tokio::select! {
                                () = notified => {}
                                () = tokio::time::sleep_until(at) => {}
                            }
                        }
                        Err(None) => notified.await,
                    }
                }
            },
        )))
    }
}
