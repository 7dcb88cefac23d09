//! Edge kinds of a deployment graph and which node types each may join.

use serde::{Deserialize, Serialize};

use crate::node::DeploymentNodeType;

/// What an edge from one node to another means. The file format writes it as
/// `type: <snake_case variant>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeploymentEdgeType {
    /// The source starts after, and requires, the target (systemd `after` + `requires`).
    DependsOn,
    /// The source opens connections to the target; the target's host opens that port.
    ConnectsTo {
        /// The port; the target's main port when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
    },
    /// Data moves from the source to the target. It documents the design and adds no
    /// configuration of its own.
    DataFlow,
    /// A load balancer sends traffic to a service.
    LoadBalances,
    /// A node mounts a storage node.
    MountsVolume,
    /// A node publishes to a message bus.
    PublishesTo,
    /// A node subscribes to a message bus.
    SubscribesTo,
    /// A monitoring or agent node watches or manages the target.
    Manages,
    /// The source is placed on the target host.
    RunsOn,
    /// Two message buses are peers of one cluster.
    Replicates,
}

impl DeploymentEdgeType {
    /// The snake_case name used in files and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::DependsOn => "depends_on",
            Self::ConnectsTo { .. } => "connects_to",
            Self::DataFlow => "data_flow",
            Self::LoadBalances => "load_balances",
            Self::MountsVolume => "mounts_volume",
            Self::PublishesTo => "publishes_to",
            Self::SubscribesTo => "subscribes_to",
            Self::Manages => "manages",
            Self::RunsOn => "runs_on",
            Self::Replicates => "replicates",
        }
    }

    /// Whether the edge may go from a node of type `from` to one of type `to`; when not, the
    /// returned text says what the edge needs.
    pub fn check_endpoints(
        &self,
        from: &DeploymentNodeType,
        to: &DeploymentNodeType,
    ) -> Result<(), &'static str> {
        use DeploymentNodeType as T;
        let placeable = |node: &T| !node.is_host();
        let endpoint = |node: &T| !node.is_host() && !matches!(node, T::Storage(_));
        let (ok, needs) = match self {
            Self::RunsOn => (
                placeable(from) && to.is_host(),
                "a non-host source and a host target",
            ),
            Self::LoadBalances => (
                matches!(from, T::LoadBalancer(_)) && matches!(to, T::Service(_)),
                "a load_balancer source and a service target",
            ),
            Self::MountsVolume => (
                endpoint(from) && matches!(to, T::Storage(_)),
                "a non-host, non-storage source and a storage target",
            ),
            Self::PublishesTo | Self::SubscribesTo => (
                placeable(from) && matches!(to, T::MessageBus(_)),
                "a non-host source and a message_bus target",
            ),
            Self::Replicates => (
                matches!(from, T::MessageBus(_)) && matches!(to, T::MessageBus(_)),
                "message_bus nodes at both ends",
            ),
            Self::Manages => (
                matches!(from, T::Monitoring(_) | T::Agent(_)),
                "a monitoring or agent source",
            ),
            Self::DependsOn | Self::DataFlow => (
                placeable(from) && placeable(to),
                "non-host nodes at both ends",
            ),
            Self::ConnectsTo { .. } => (
                endpoint(from) && endpoint(to),
                "non-host, non-storage nodes at both ends",
            ),
        };
        if ok { Ok(()) } else { Err(needs) }
    }
}
