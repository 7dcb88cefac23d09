//! The queue of tasks waiting for an agent: higher priority first, first-in first-out within a
//! priority. A task keeps its place (its submission order) when it comes back after a
//! reassignment.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use super::TaskId;

/// Queue position: priority (higher first), then submission order.
type Place = (Reverse<u8>, u64);

/// Waiting tasks in dispatch order, with the capabilities each requires.
#[derive(Debug, Clone, Default)]
pub struct TaskQueue {
    order: BTreeMap<Place, (TaskId, Vec<String>)>,
    places: HashMap<TaskId, Place>,
}

impl TaskQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `id` with `priority` at submission number `order` (a no-op when already queued).
    pub fn push(&mut self, id: TaskId, priority: u8, order: u64, required: Vec<String>) {
        if self.places.contains_key(&id) {
            return;
        }
        let place = (Reverse(priority), order);
        self.places.insert(id.clone(), place);
        self.order.insert(place, (id, required));
    }

    /// Takes `id` out; returns whether it was queued.
    pub fn remove(&mut self, id: &TaskId) -> bool {
        match self.places.remove(id) {
            Some(place) => self.order.remove(&place).is_some(),
            None => false,
        }
    }

    /// Whether `id` is queued.
    pub fn contains(&self, id: &TaskId) -> bool {
        self.places.contains_key(id)
    }

    /// How many tasks wait.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no task waits.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Waiting tasks with their required capabilities, in dispatch order.
    pub fn iter(&self) -> impl Iterator<Item = (&TaskId, &[String])> {
        self.order.values().map(|(id, req)| (id, req.as_slice()))
    }
}

/// The next assignment: the first task in queue order that `strategy` can place, with the index
/// of the chosen candidate. Pure; with a free capable agent for the head of the queue it looks at
/// one task only.
pub fn next_assignment<'q>(
    queue: &'q TaskQueue,
    candidates: &[super::Candidate],
    strategy: super::Strategy,
    cursor: usize,
) -> Option<(&'q TaskId, usize)> {
    if !candidates
        .iter()
        .any(|c| c.online && c.in_flight < c.max_in_flight)
    {
        return None;
    }
    queue.iter().find_map(|(id, required)| {
        super::choose(strategy, required, candidates, cursor).map(|index| (id, index))
    })
}
