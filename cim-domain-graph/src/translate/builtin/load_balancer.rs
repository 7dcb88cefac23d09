//! `load_balancer` nodes: an nginx upstream and virtual host.

use std::collections::BTreeSet;

use cim_domain_nix::{AttrSet, Expr, attrs, list};
use cim_naming::HostPort;

use super::wrong_kind;
use crate::edge::DeploymentEdgeType;
use crate::node::{DeploymentNode, DeploymentNodeType, LoadBalancerSpec};
use crate::translate::{HostModules, NodeTranslator, TranslationContext, TranslationError};

/// The virtual host's listeners, on every IPv4 and IPv6 address: `port` alone, or with `tls`
/// `port` with `ssl = true` and the plain-HTTP `http_port` that redirects to it.
fn listen(spec: &LoadBalancerSpec) -> Vec<Expr> {
    let mut ports = vec![(spec.port, spec.tls.is_some())];
    if let Some(tls) = &spec.tls {
        ports.insert(0, (tls.http_port, false));
    }
    let mut listen = Vec::new();
    for addr in ["0.0.0.0", "[::]"] {
        for (port, ssl) in &ports {
            let mut entry = vec![("addr", addr.into()), ("port", (*port).into())];
            if *ssl {
                entry.push(("ssl", true.into()));
            }
            listen.push(attrs(entry));
        }
    }
    listen
}

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
        let mut virtual_host = AttrSet::new();
        virtual_host.insert("listen", list(listen(spec)));
        virtual_host.insert(
            ["locations", "/", "proxyPass"],
            format!("http://{}", node.name),
        );
        let module = modules.get_mut(context.host_name(node)?)?;
        if let Some(tls) = &spec.tls {
            // nginx's `forceSSL` answers on the plain-HTTP listeners with a redirect (and the
            // ACME challenge), and serves the site only on the TLS ones.
            virtual_host.insert("forceSSL", true);
            if let Some(acme) = &tls.acme {
                virtual_host.insert("enableACME", true);
                module.set(["security", "acme", "acceptTerms"], acme.accept_terms);
                let cert = |field| vec!["security", "acme", "certs", server_name, field];
                module.set(cert("email"), acme.email.as_str());
                if let Some(server) = &acme.server {
                    module.set(cert("server"), server.as_str());
                }
            }
            if let (Some(certificate), Some(key)) = (&tls.certificate, &tls.key) {
                virtual_host.insert("sslCertificate", certificate.as_str());
                virtual_host.insert("sslCertificateKey", key.as_str());
            }
            module.open_tcp_port(tls.http_port)?;
        }
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
