//! `load_balancer` nodes: an nginx upstream and virtual host.

use std::collections::BTreeSet;

use cim_domain_nix::{AttrSet, Expr, attrs, list};
use cim_naming::HostPort;

use super::wrong_kind;
use crate::edge::DeploymentEdgeType;
use crate::node::{DeploymentNode, DeploymentNodeType};
use crate::translate::{HostModules, NodeTranslator, TranslationContext, TranslationError};

/// Translates `load_balancer` nodes into `services.nginx` upstreams and virtual hosts.
pub(super) struct LoadBalancerTranslator;

impl NodeTranslator for LoadBalancerTranslator {
    fn systemd_unit(&self, _node: &DeploymentNode) -> Option<String> {
        Some("nginx".to_owned())
    }

    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        let DeploymentNodeType::LoadBalancer(spec) = &node.node_type else {
            return Err(wrong_kind(node, "load_balancer"));
        };
        let mut servers: BTreeSet<String> = BTreeSet::new();
        for view in context.graph().outgoing(&node.name) {
            if *view.edge != DeploymentEdgeType::LoadBalances {
                continue;
            }
            let (Some(address), Some(port)) = (
                context.address_from(&node.name, &view.to.name),
                view.to.node_type.primary_port(),
            ) else {
                continue;
            };
            servers.insert(HostPort::new(address, port).to_string());
        }
        let servers: AttrSet = servers
            .into_iter()
            .map(|server| (server, Expr::AttrSet(AttrSet::new())))
            .collect();
        let server_name = spec.server_name.as_deref().unwrap_or(&node.name);
        let listen = ["0.0.0.0", "[::]"]
            .map(|addr| attrs([("addr", addr.into()), ("port", spec.port.into())]));
        let mut virtual_host = AttrSet::new();
        virtual_host.insert("listen", list(listen));
        virtual_host.insert(
            ["locations", "/", "proxyPass"],
            format!("http://{}", node.name),
        );
        let module = modules.get_mut(context.host_name(node)?)?;
        module
            .set(["services", "nginx", "enable"], true)
            .set(
                [
                    "services",
                    "nginx",
                    "upstreams",
                    node.name.as_str(),
                    "servers",
                ],
                Expr::AttrSet(servers),
            )
            .set(
                ["services", "nginx", "virtualHosts", server_name],
                Expr::AttrSet(virtual_host),
            )
            .open_tcp_port(spec.port)?;
        Ok(())
    }
}
