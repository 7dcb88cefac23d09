//! The `DeploymentGraph` aggregate: a graph changed by commands and rebuilt from past-tense
//! events, generic over the cqrs-es event store (in memory or JetStream).
//!
//! Every edit puts the graph back in [`GraphStatus::Draft`]; `Validate` moves a graph with no
//! problems to [`GraphStatus::Validated`], and only a validated graph can be approved.
//!
//! ```
//! use cim_domain_graph::aggregate::{DeploymentGraphAggregate, DeploymentGraphCommand};
//! use cim_domain_graph::{DeploymentNode, DeploymentNodeType, HostSpec};
//! use cqrs_es::CqrsFramework;
//! use cqrs_es::mem_store::MemStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let cqrs = CqrsFramework::new(MemStore::<DeploymentGraphAggregate>::default(), vec![], ());
//! let host = DeploymentNode::new("edge-1", DeploymentNodeType::Host(HostSpec::default()));
//! cqrs.execute("fleet", DeploymentGraphCommand::AddNode { node: host }).await?;
//! cqrs.execute("fleet", DeploymentGraphCommand::Validate).await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod command;
mod event;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

pub use command::{DeploymentGraphCommand, GraphCommandError};
pub use event::DeploymentGraphEvent;

use crate::graph::DeploymentGraph;
use crate::name::node_name_problem;
use crate::validate::validate_deployment_graph;

/// Where a graph is on its way to deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GraphStatus {
    /// Changed since it was last validated.
    #[default]
    Draft,
    /// Validated with no problems and unchanged since.
    Validated,
    /// Approved for deployment.
    Approved {
        /// Who approved it.
        approved_by: String,
    },
}

/// The aggregate: the current graph and its status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentGraphAggregate {
    graph: DeploymentGraph,
    status: GraphStatus,
}

impl DeploymentGraphAggregate {
    /// The current graph.
    pub fn graph(&self) -> &DeploymentGraph {
        &self.graph
    }

    /// The current status.
    pub fn status(&self) -> &GraphStatus {
        &self.status
    }
}

impl Aggregate for DeploymentGraphAggregate {
    const TYPE: &'static str = "deployment_graph";
    type Command = DeploymentGraphCommand;
    type Event = DeploymentGraphEvent;
    type Error = GraphCommandError;
    type Services = ();

    async fn handle(
        &mut self,
        command: DeploymentGraphCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), GraphCommandError> {
        let event = self.decide(command)?;
        if let Some(event) = event {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: DeploymentGraphEvent) {
        // `decide` checked each event against the state it applies to, so these edits succeed;
        // an event that no longer fits (a stream edited by hand) leaves the graph unchanged
        // rather than failing a replay.
        let graph = &mut self.graph;
        let edited = match event {
            DeploymentGraphEvent::NodeAdded { node } => graph.add_node(node).is_ok(),
            DeploymentGraphEvent::NodeUpdated { node } => graph.update_node(node).is_ok(),
            DeploymentGraphEvent::NodeRemoved { name } => graph.remove_node(&name).is_ok(),
            DeploymentGraphEvent::NodesConnected { from, to, edge } => {
                graph.connect(&from, &to, edge).is_ok()
            }
            DeploymentGraphEvent::NodesDisconnected { from, to, edge } => {
                graph.disconnect(&from, &to, &edge).is_ok()
            }
            DeploymentGraphEvent::NodePlaced { node, host } => {
                graph.place_on_host(&node, &host).is_ok()
            }
            DeploymentGraphEvent::FlakeConfigured { settings } => {
                graph.set_settings(settings);
                true
            }
            DeploymentGraphEvent::GraphValidated => {
                self.status = GraphStatus::Validated;
                false
            }
            DeploymentGraphEvent::GraphApproved { approved_by } => {
                self.status = GraphStatus::Approved { approved_by };
                false
            }
        };
        if edited {
            self.status = GraphStatus::Draft;
        }
    }
}

impl DeploymentGraphAggregate {
    /// The event a command produces, `None` when it changes nothing, or why it is refused.
    fn decide(
        &self,
        command: DeploymentGraphCommand,
    ) -> Result<Option<DeploymentGraphEvent>, GraphCommandError> {
        use DeploymentGraphCommand as C;
        use DeploymentGraphEvent as E;
        let graph = &self.graph;
        let event = match command {
            C::AddNode { node } => {
                if let Some(reason) = node_name_problem(&node) {
                    return Err(GraphCommandError::InvalidName {
                        name: node.name,
                        reason,
                    });
                }
                graph.check_add(&node.name)?;
                E::NodeAdded { node }
            }
            C::UpdateNode { node } => {
                match graph.node(&node.name) {
                    None => return Err(unknown(&node.name)),
                    Some(current) if *current == node => return Ok(None),
                    Some(_) => {}
                }
                E::NodeUpdated { node }
            }
            C::RemoveNode { name } => {
                if !graph.contains(&name) {
                    return Err(unknown(&name));
                }
                E::NodeRemoved { name }
            }
            C::Connect { from, to, edge } => {
                graph.check_connect(&from, &to, &edge)?;
                E::NodesConnected { from, to, edge }
            }
            C::Disconnect { from, to, edge } => {
                graph.check_disconnect(&from, &to, &edge)?;
                E::NodesDisconnected { from, to, edge }
            }
            C::PlaceOnHost { node, host } => {
                if !graph.contains(&node) {
                    return Err(unknown(&node));
                }
                match graph.node(&host) {
                    None => return Err(unknown(&host)),
                    Some(target) if !target.node_type.is_host() => {
                        return Err(GraphCommandError::NotAHost { name: host });
                    }
                    Some(_) => {}
                }
                let current: Vec<&str> = graph.hosts_of(&node).map(|h| h.name.as_str()).collect();
                if current == [host.as_str()] {
                    return Ok(None);
                }
                E::NodePlaced { node, host }
            }
            C::ConfigureFlake { settings } => {
                if *graph.settings() == settings {
                    return Ok(None);
                }
                E::FlakeConfigured { settings }
            }
            C::Validate => {
                validate_deployment_graph(graph).map_err(GraphCommandError::Invalid)?;
                if self.status != GraphStatus::Draft {
                    return Ok(None);
                }
                E::GraphValidated
            }
            C::Approve { approved_by } => {
                if approved_by.trim().is_empty() {
                    return Err(GraphCommandError::NoApprover);
                }
                match &self.status {
                    GraphStatus::Draft => return Err(GraphCommandError::NotValidated),
                    GraphStatus::Approved { approved_by } => {
                        return Err(GraphCommandError::AlreadyApproved {
                            approved_by: approved_by.clone(),
                        });
                    }
                    GraphStatus::Validated => {}
                }
                E::GraphApproved { approved_by }
            }
        };
        Ok(Some(event))
    }
}

fn unknown(name: &str) -> GraphCommandError {
    GraphCommandError::Graph(crate::graph::GraphError::UnknownNode {
        name: name.to_owned(),
    })
}
