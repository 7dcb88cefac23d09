//! A bounded per-agent queue that hands out higher priorities first.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cim_domain_agent::AgentId;
use tokio::sync::Notify;

use super::wire::Delivery;

/// One agent's inbox on a channel: at most `capacity` deliveries, urgent first, FIFO within a
/// priority. It never grows past its capacity: a push to a full mailbox is refused.
#[derive(Debug)]
pub struct Mailbox {
    agent: AgentId,
    capacity: usize,
    queues: Mutex<[VecDeque<Box<Delivery>>; 4]>,
    len: AtomicUsize,
    readable: Notify,
    writable: Notify,
}

impl Mailbox {
    pub(crate) fn new(agent: AgentId, capacity: usize) -> Self {
        Self {
            agent,
            capacity: capacity.max(1),
            queues: Mutex::new(Default::default()),
            len: AtomicUsize::new(0),
            readable: Notify::new(),
            writable: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [VecDeque<Box<Delivery>>; 4]> {
        // Queues stay consistent under a panic elsewhere (push/pop only); keep using them.
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whose mailbox it is.
    pub fn agent(&self) -> AgentId {
        self.agent
    }

    /// Most deliveries it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Deliveries waiting.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it is full.
    pub fn is_full(&self) -> bool {
        self.len() >= self.capacity
    }

    /// Adds a delivery, or gives it back when full.
    pub(crate) fn try_push(&self, delivery: Box<Delivery>) -> Result<(), Box<Delivery>> {
        {
            let mut queues = self.lock();
            if self.len() >= self.capacity {
                return Err(delivery);
            }
            queues[delivery.priority.rank()].push_back(delivery);
            self.len.fetch_add(1, Ordering::AcqRel);
        }
        self.readable.notify_waiters();
        Ok(())
    }

    /// The most urgent waiting delivery, if any.
    pub fn try_recv(&self) -> Option<Delivery> {
        let delivery = {
            let mut queues = self.lock();
            let delivery = queues.iter_mut().rev().find_map(VecDeque::pop_front)?;
            self.len.fetch_sub(1, Ordering::AcqRel);
            delivery
        };
        self.writable.notify_waiters();
        Some(*delivery)
    }

    /// Waits for the most urgent delivery.
    pub async fn recv(&self) -> Delivery {
        loop {
            let notified = self.readable.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(delivery) = self.try_recv() {
                return delivery;
            }
            notified.await;
        }
    }

    /// Waits until there is room, at most `limit`; `true` when there is.
    pub(crate) async fn wait_for_room(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.writable.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if !self.is_full() {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}
