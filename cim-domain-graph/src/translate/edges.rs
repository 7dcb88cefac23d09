//! Configuration that comes from edges, whatever the kinds of their nodes.

use crate::edge::DeploymentEdgeType;
use crate::graph::EdgeView;
use crate::node::{DeploymentNode, DeploymentNodeType};
use crate::translate::{HostModules, TranslationContext, TranslationError};

/// The port a connection along `edge` reaches on `to`: the edge's own port, the leaf-node port
/// between two message buses, else the target's main port; `None` for edges that open no
/// connection (`depends_on`, `mounts`, …). The translator opens exactly these ports on the
/// target's host firewall, so reviewers that check the firewall use this same rule.
pub fn connection_port(
    from: &DeploymentNode,
    to: &DeploymentNode,
    edge: &DeploymentEdgeType,
) -> Option<u16> {
    match (edge, &from.node_type, &to.node_type) {
        (DeploymentEdgeType::ConnectsTo { port: Some(port) }, _, _) => Some(*port),
        (
            DeploymentEdgeType::ConnectsTo { port: None },
            DeploymentNodeType::MessageBus(_),
            DeploymentNodeType::MessageBus(hub),
        ) => Some(hub.leaf_port),
        (
            DeploymentEdgeType::ConnectsTo { .. }
            | DeploymentEdgeType::LoadBalances
            | DeploymentEdgeType::PublishesTo
            | DeploymentEdgeType::SubscribesTo,
            _,
            _,
        ) => to.node_type.primary_port(),
        _ => None,
    }
}

/// Orders units after their same-host dependencies, opens the ports that connections from other
/// hosts reach, and makes units wait for the volumes they mount. Runs over nodes and their edges
/// sorted by name, so list order does not depend on the order edges were added in.
pub(super) fn apply(
    context: &TranslationContext<'_>,
    modules: &mut HostModules,
) -> Result<(), TranslationError> {
    let graph = context.graph();
    let mut nodes: Vec<&DeploymentNode> =
        graph.nodes().filter(|n| !n.node_type.is_host()).collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut edges: Vec<EdgeView<'_>> = Vec::new();
    for node in nodes {
        edges.clear();
        edges.extend(graph.outgoing(&node.name));
        edges.sort_by(|a, b| (&a.to.name, a.edge).cmp(&(&b.to.name, b.edge)));
        for view in &edges {
            apply_edge(context, modules, view)?;
        }
    }
    Ok(())
}

fn apply_edge(
    context: &TranslationContext<'_>,
    modules: &mut HostModules,
    view: &EdgeView<'_>,
) -> Result<(), TranslationError> {
    let (from, to) = (view.from, view.to);
    let same_host = context.same_host(&from.name, &to.name);
    match view.edge {
        DeploymentEdgeType::DependsOn if same_host => {
            if let (Some(unit), Some(target)) =
                (context.systemd_unit(from), context.systemd_unit(to))
            {
                let target = format!("{target}.service");
                modules
                    .get_mut(context.host_name(from)?)?
                    .order_after(&unit, &target)
                    .require(&unit, &target);
            }
        }
        DeploymentEdgeType::ConnectsTo { .. }
        | DeploymentEdgeType::LoadBalances
        | DeploymentEdgeType::PublishesTo
        | DeploymentEdgeType::SubscribesTo
            if !same_host =>
        {
            if let Some(port) = connection_port(from, to, view.edge) {
                modules
                    .get_mut(context.host_name(to)?)?
                    .open_tcp_port(port)?;
            }
        }
        DeploymentEdgeType::MountsVolume => {
            if let (Some(unit), DeploymentNodeType::Storage(storage)) =
                (context.systemd_unit(from), &to.node_type)
            {
                modules
                    .get_mut(context.host_name(from)?)?
                    .require_mounts_for(&unit, &storage.mount_point);
            }
        }
        _ => {}
    }
    Ok(())
}
