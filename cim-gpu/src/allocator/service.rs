//! Running pool commands against an event store, safely under concurrency.

use std::collections::HashMap;

use cqrs_es::{AggregateContext, AggregateError, EventStore};

use crate::allocator::error::PoolError;
use crate::allocator::events::{Allocation, PoolCommand, PoolEvent};
use crate::allocator::pool::GpuPool;
use crate::allocator::rejection::RejectionReason;
use crate::allocator::request::{AllocationId, AllocationRequest};

/// How often a command is retried when another writer committed first.
const MAX_ATTEMPTS: u32 = 8;

/// Failure to run a pool command.
#[derive(Debug, thiserror::Error)]
pub enum AllocatorError {
    /// The pool refused the command.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The event store failed.
    #[error("GPU pool {pool_id}: event store: {source}")]
    Store {
        /// The pool's aggregate id.
        pool_id: String,
        /// The store's error.
        #[source]
        source: AggregateError<PoolError>,
    },
    /// Other writers kept committing first.
    #[error("GPU pool {pool_id}: gave up after {attempts} optimistic-concurrency conflicts")]
    Contended {
        /// The pool's aggregate id.
        pool_id: String,
        /// Attempts made.
        attempts: u32,
    },
}

/// The answer to an allocation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocationOutcome {
    /// Granted, possibly after preempting lower-priority allocations.
    Allocated {
        /// The grant.
        allocation: Allocation,
        /// Allocations taken away to make room.
        preempted: Vec<AllocationId>,
    },
    /// Refused; the reason is recorded in the pool's events too.
    Rejected(RejectionReason),
}

/// One pool in an event store, with commands serialised in this process and retried on
/// optimistic-concurrency conflicts across processes.
///
/// Every decision is made on the state rebuilt from the store and committed against that
/// state's sequence number, so two writers can never both hand out the same bytes: with a
/// store that checks sequences (the JetStream store), the second commit conflicts and is
/// decided again; within one process the lock keeps writers from racing at all, which also
/// makes stores that do not check sequences (cqrs-es's `MemStore`) safe.
pub struct GpuAllocator<ES> {
    store: ES,
    pool_id: String,
    writer: tokio::sync::Mutex<()>,
}

impl<ES: EventStore<GpuPool>> GpuAllocator<ES> {
    /// Manages the pool stored under aggregate id `pool_id`.
    pub fn new(store: ES, pool_id: impl Into<String>) -> Self {
        Self {
            store,
            pool_id: pool_id.into(),
            writer: tokio::sync::Mutex::new(()),
        }
    }

    fn store_error(&self, source: AggregateError<PoolError>) -> AllocatorError {
        match source {
            AggregateError::UserError(error) => AllocatorError::Pool(error),
            source => AllocatorError::Store {
                pool_id: self.pool_id.clone(),
                source,
            },
        }
    }

    /// Runs one command and returns the events it committed.
    pub async fn execute(&self, command: PoolCommand) -> Result<Vec<PoolEvent>, AllocatorError> {
        let _writer = self.writer.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            let mut context = self
                .store
                .load_aggregate(&self.pool_id)
                .await
                .map_err(|error| self.store_error(error))?;
            let events = context.aggregate().plan(command.clone())?;
            if events.is_empty() {
                return Ok(events);
            }
            match self
                .store
                .commit(events.clone(), context, HashMap::new())
                .await
            {
                Ok(_) => return Ok(events),
                Err(AggregateError::AggregateConflict) => continue,
                Err(error) => return Err(self.store_error(error)),
            }
        }
        Err(AllocatorError::Contended {
            pool_id: self.pool_id.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Asks for GPU capacity.
    pub async fn allocate(
        &self,
        request: AllocationRequest,
    ) -> Result<AllocationOutcome, AllocatorError> {
        let events = self.execute(PoolCommand::Allocate { request }).await?;
        let mut preempted = Vec::new();
        for event in events {
            match event {
                PoolEvent::AllocationPreempted { allocation_id, .. } => {
                    preempted.push(allocation_id);
                }
                PoolEvent::GpuAllocated { allocation } => {
                    return Ok(AllocationOutcome::Allocated {
                        allocation,
                        preempted,
                    });
                }
                PoolEvent::AllocationRejected { reason, .. } => {
                    return Ok(AllocationOutcome::Rejected(reason));
                }
                _ => {}
            }
        }
        // `plan` ends every Allocate in one of the two events above.
        Err(AllocatorError::Store {
            pool_id: self.pool_id.clone(),
            source: AggregateError::UnexpectedError(
                "allocate committed neither an allocation nor a rejection".into(),
            ),
        })
    }

    /// Gives an allocation back.
    pub async fn release(&self, allocation_id: AllocationId) -> Result<(), AllocatorError> {
        self.execute(PoolCommand::Release { allocation_id })
            .await
            .map(drop)
    }

    /// The pool as the store holds it now.
    pub async fn pool(&self) -> Result<GpuPool, AllocatorError> {
        let mut context = self
            .store
            .load_aggregate(&self.pool_id)
            .await
            .map_err(|error| self.store_error(error))?;
        Ok(std::mem::take(context.aggregate()))
    }
}
