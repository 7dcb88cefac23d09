//! The embedded default: a bus inside one process with core NATS's delivery rules.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::{DEFAULT_MAX_PAYLOAD, Envelope, Subscription, Transport, TransportError, check_size};
use crate::subject::{matches, validate_filter, validate_subject, validate_token};

/// How many undelivered messages one subscription holds before newer ones are dropped, like the
/// client-side pending limit of a NATS subscription (a slow consumer loses messages; memory stays
/// bounded).
pub const DEFAULT_PENDING_LIMIT: usize = 65_536;

/// An in-process bus with NATS subject, wildcard, queue-group, request/reply and payload-size
/// rules. Clones share one bus.
#[derive(Clone)]
pub struct InProcessTransport {
    inner: Arc<Inner>,
}

struct Inner {
    subscriptions: Mutex<Vec<Entry>>,
    next_inbox: AtomicU64,
    next_pick: AtomicU64,
    max_payload: usize,
    pending_limit: usize,
    dropped: AtomicU64,
}

struct Entry {
    filter: String,
    group: Option<String>,
    sender: mpsc::Sender<Envelope>,
}

impl Default for InProcessTransport {
    fn default() -> Self {
        Self::with_limits(DEFAULT_MAX_PAYLOAD, DEFAULT_PENDING_LIMIT)
    }
}

impl InProcessTransport {
    /// A bus carrying payloads up to `max_payload` bytes, each subscription holding at most
    /// `pending_limit` undelivered messages.
    pub fn with_limits(max_payload: usize, pending_limit: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                subscriptions: Mutex::new(Vec::new()),
                next_inbox: AtomicU64::new(0),
                next_pick: AtomicU64::new(0),
                max_payload,
                pending_limit: pending_limit.max(1),
                dropped: AtomicU64::new(0),
            }),
        }
    }

    /// How many messages were dropped because a subscriber's pending limit was reached.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        // A poisoned lock only means another thread panicked while holding it; the list itself
        // is always consistent (pushes and retains), so keep using it.
        self.inner
            .subscriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Delivers to every matching plain subscription and to one member of each matching queue
    /// group; returns how many subscriptions matched.
    fn deliver(&self, envelope: Envelope) -> usize {
        let mut subscriptions = self.lock();
        subscriptions.retain(|entry| !entry.sender.is_closed());
        let mut matched = 0;
        let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
        for (index, entry) in subscriptions.iter().enumerate() {
            if !matches(&entry.filter, &envelope.subject) {
                continue;
            }
            matched += 1;
            match &entry.group {
                None => self.offer(&entry.sender, envelope.clone()),
                Some(group) => match groups.iter_mut().find(|(g, _)| *g == group) {
                    Some((_, members)) => members.push(index),
                    None => groups.push((group, vec![index])),
                },
            }
        }
        for (_, members) in groups {
            let pick = self.inner.next_pick.fetch_add(1, Ordering::Relaxed) as usize;
            let index = members[pick % members.len()];
            self.offer(&subscriptions[index].sender, envelope.clone());
        }
        matched
    }

    fn offer(&self, sender: &mpsc::Sender<Envelope>, envelope: Envelope) {
        if sender.try_send(envelope).is_err() {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn add(&self, filter: &str, group: Option<&str>) -> Subscription {
        let (sender, mut receiver) = mpsc::channel(self.inner.pending_limit);
        self.lock().push(Entry {
            filter: filter.to_owned(),
            group: group.map(str::to_owned),
            sender,
        });
        Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
    }
}

#[async_trait]
impl Transport for InProcessTransport {
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), TransportError> {
        validate_subject(subject)?;
        check_size(subject, &payload, self.inner.max_payload)?;
        self.deliver(Envelope {
            subject: subject.to_owned(),
            reply: None,
            payload,
        });
        Ok(())
    }

    async fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        payload: Bytes,
    ) -> Result<(), TransportError> {
        validate_subject(subject)?;
        validate_subject(reply)?;
        check_size(subject, &payload, self.inner.max_payload)?;
        self.deliver(Envelope {
            subject: subject.to_owned(),
            reply: Some(reply.to_owned()),
            payload,
        });
        Ok(())
    }

    async fn subscribe(&self, filter: &str) -> Result<Subscription, TransportError> {
        validate_filter(filter)?;
        Ok(self.add(filter, None))
    }

    async fn queue_subscribe(
        &self,
        filter: &str,
        group: &str,
    ) -> Result<Subscription, TransportError> {
        validate_filter(filter)?;
        validate_token(group)?;
        Ok(self.add(filter, Some(group)))
    }

    async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Envelope, TransportError> {
        validate_subject(subject)?;
        check_size(subject, &payload, self.inner.max_payload)?;
        let inbox = self.new_inbox();
        let mut answers = self.add(&inbox, None);
        let matched = self.deliver(Envelope {
            subject: subject.to_owned(),
            reply: Some(inbox),
            payload,
        });
        if matched == 0 {
            return Err(TransportError::NoResponders {
                subject: subject.to_owned(),
            });
        }
        match tokio::time::timeout(timeout, answers.next()).await {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) | Err(_) => Err(TransportError::TimedOut {
                subject: subject.to_owned(),
                timeout_ms: timeout.as_millis(),
            }),
        }
    }

    async fn flush(&self) -> Result<(), TransportError> {
        Ok(())
    }

    fn new_inbox(&self) -> String {
        let n = self.inner.next_inbox.fetch_add(1, Ordering::Relaxed);
        format!("_INBOX.{}.{n}", uuid::Uuid::new_v4().simple())
    }

    fn max_payload(&self) -> usize {
        self.inner.max_payload
    }
}
