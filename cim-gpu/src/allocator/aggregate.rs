//! The pool as a cqrs-es aggregate: commands become events; events alone change state.

use crate::allocator::decide::Decision;
use crate::allocator::error::PoolError;
use crate::allocator::events::{Allocation, PoolCommand, PoolEvent};
use crate::allocator::pool::GpuPool;
use crate::allocator::request::MemoryRequest;

impl GpuPool {
    /// The events `command` produces against the current state, without applying them.
    ///
    /// [`cqrs_es::Aggregate::handle`] is this plus applying; it is exposed so callers without
    /// an event store (tests, planners) can drive a pool synchronously.
    pub fn plan(&self, command: PoolCommand) -> Result<Vec<PoolEvent>, PoolError> {
        if !matches!(command, PoolCommand::CreatePool { .. }) && self.config.is_none() {
            return Err(PoolError::NotCreated);
        }
        match command {
            PoolCommand::CreatePool { config } => {
                if self.config.is_some() {
                    return Err(PoolError::AlreadyCreated);
                }
                if !(1..=100).contains(&config.allocatable_percent) {
                    return Err(PoolError::InvalidConfig {
                        field: "allocatable_percent",
                        value: u64::from(config.allocatable_percent),
                        expected: "1 to 100",
                    });
                }
                if config.max_agents_per_gpu == 0 {
                    return Err(PoolError::InvalidConfig {
                        field: "max_agents_per_gpu",
                        value: 0,
                        expected: "at least 1",
                    });
                }
                Ok(vec![PoolEvent::PoolCreated { config }])
            }
            PoolCommand::RegisterDevice { device } => {
                if self.by_uuid.contains_key(&device.uuid) {
                    return Err(PoolError::DuplicateDevice { uuid: device.uuid });
                }
                Ok(vec![PoolEvent::DeviceRegistered { device }])
            }
            PoolCommand::Allocate { request } => Ok(match self.decide(&request)? {
                Decision::Place {
                    device,
                    bytes,
                    preempt,
                } => {
                    let mut events: Vec<PoolEvent> = preempt
                        .into_iter()
                        .filter_map(|id| self.allocation(&id))
                        .map(|victim| PoolEvent::AllocationPreempted {
                            allocation_id: victim.id,
                            device: victim.device.clone(),
                            bytes: victim.bytes,
                            by: request.allocation_id,
                        })
                        .collect();
                    events.push(PoolEvent::GpuAllocated {
                        allocation: Allocation {
                            id: request.allocation_id,
                            agent: request.agent,
                            device,
                            bytes,
                            whole_gpu: request.memory == MemoryRequest::WholeGpu,
                            priority: request.priority,
                        },
                    });
                    events
                }
                Decision::Reject(reason) => vec![PoolEvent::AllocationRejected {
                    allocation_id: request.allocation_id,
                    agent: request.agent,
                    reason,
                }],
            }),
            PoolCommand::Release { allocation_id } => {
                let allocation = self
                    .allocation(&allocation_id)
                    .ok_or(PoolError::UnknownAllocation { id: allocation_id })?;
                Ok(vec![PoolEvent::AllocationReleased {
                    allocation_id,
                    device: allocation.device.clone(),
                    bytes: allocation.bytes,
                }])
            }
            PoolCommand::MarkUnhealthy { uuid, reason } => {
                let usage = self
                    .device_usage(&uuid)
                    .ok_or_else(|| PoolError::UnknownDevice { uuid: uuid.clone() })?;
                // Already excluded: recording it again would only repeat history.
                Ok(if usage.healthy {
                    vec![PoolEvent::DeviceMarkedUnhealthy { uuid, reason }]
                } else {
                    Vec::new()
                })
            }
            PoolCommand::MarkRecovered { uuid } => {
                let usage = self
                    .device_usage(&uuid)
                    .ok_or_else(|| PoolError::UnknownDevice { uuid: uuid.clone() })?;
                Ok(if usage.healthy {
                    Vec::new()
                } else {
                    vec![PoolEvent::DeviceRecovered { uuid }]
                })
            }
        }
    }
}

impl GpuPool {
    /// Plans `command` and applies its events, returning them: the synchronous, store-less way
    /// to drive a pool (planning, tests). Persisted pools go through an event store instead.
    pub fn execute(&mut self, command: PoolCommand) -> Result<Vec<PoolEvent>, PoolError> {
        let events = self.plan(command)?;
        for event in &events {
            self.apply_event(event.clone());
        }
        Ok(events)
    }
}

impl cqrs_es::Aggregate for GpuPool {
    const TYPE: &'static str = "gpu_pool";
    type Command = PoolCommand;
    type Event = PoolEvent;
    type Error = PoolError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &cqrs_es::event_sink::EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.plan(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.apply_event(event);
    }
}
