//! `monitoring` nodes: Prometheus, and exporters on the hosts it watches.

use std::collections::{BTreeMap, BTreeSet};

use cim_domain_nix::{AttrSet, Expr, attrs, list};
use cim_naming::HostPort;

use super::wrong_kind;
use crate::edge::DeploymentEdgeType;
use crate::node::{DeploymentNode, DeploymentNodeType, Exporter};
use crate::translate::nvidia::{NVIDIA_GPU_EXPORTER, NVIDIA_GPU_EXPORTER_PORT};
use crate::translate::{HostModules, NodeTranslator, TranslationContext, TranslationError, nvidia};

/// Translates `monitoring` nodes into `services.prometheus` and its exporters.
pub(super) struct MonitoringTranslator;

impl NodeTranslator for MonitoringTranslator {
    fn systemd_unit(&self, _node: &DeploymentNode) -> Option<String> {
        Some("prometheus".to_owned())
    }

    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        let DeploymentNodeType::Monitoring(spec) = &node.node_type else {
            return Err(wrong_kind(node, "monitoring"));
        };
        let own_host = context.host_name(node)?;
        let mut watched: BTreeMap<&str, &DeploymentNode> = BTreeMap::new();
        for view in context.graph().outgoing(&node.name) {
            if *view.edge != DeploymentEdgeType::Manages {
                continue;
            }
            let host = if view.to.node_type.is_host() {
                Some(view.to)
            } else {
                context.host_of(&view.to.name)
            };
            if let Some(host) = host {
                watched.insert(&host.name, host);
            }
        }
        let exporters: BTreeSet<Exporter> = spec.exporters.iter().copied().collect();
        let mut scrape_configs = Vec::new();
        for exporter in exporters {
            let mut targets = Vec::new();
            for (name, host) in &watched {
                let runs_database = context
                    .nodes_on(name)
                    .iter()
                    .any(|n| matches!(n.node_type, DeploymentNodeType::Database(_)));
                if exporter == Exporter::Postgres && !runs_database {
                    continue;
                }
                let path = ["services", "prometheus", "exporters", exporter.attribute()];
                let module = modules.get_mut(name)?;
                module.set(path.as_slice(), exporter_config(exporter));
                if *name != own_host {
                    module.open_tcp_port(exporter.port())?;
                }
                let address = context.address_from(&node.name, &host.name).unwrap_or(name);
                targets.push(HostPort::new(address, exporter.port()).to_string());
            }
            if !targets.is_empty() {
                scrape_configs.push(attrs([
                    ("job_name", exporter.attribute().into()),
                    (
                        "static_configs",
                        list([attrs([("targets", list(targets))])]),
                    ),
                ]));
            }
        }
        // GPU metrics: nixpkgs' `nvidia-gpu` exporter (nvidia_gpu_exporter, reading
        // `nvidia-smi`) on every watched host with NVIDIA GPUs, whatever `exporters` lists.
        let mut gpu_targets = Vec::new();
        for (name, host) in &watched {
            let DeploymentNodeType::Host(host_spec) = &host.node_type else {
                continue;
            };
            if !matches!(nvidia::plan(name, host_spec), Ok(Some(_))) {
                continue;
            }
            let module = modules.get_mut(name)?;
            module.set(
                [
                    "services",
                    "prometheus",
                    "exporters",
                    NVIDIA_GPU_EXPORTER,
                    "enable",
                ],
                true,
            );
            if *name != own_host {
                module.open_tcp_port(NVIDIA_GPU_EXPORTER_PORT)?;
            }
            let address = context.address_from(&node.name, &host.name).unwrap_or(name);
            gpu_targets.push(HostPort::new(address, NVIDIA_GPU_EXPORTER_PORT).to_string());
        }
        if !gpu_targets.is_empty() {
            scrape_configs.push(attrs([
                ("job_name", NVIDIA_GPU_EXPORTER.into()),
                (
                    "static_configs",
                    list([attrs([("targets", list(gpu_targets))])]),
                ),
            ]));
        }
        let mut prometheus = AttrSet::new();
        prometheus.insert("enable", true);
        prometheus.insert("port", spec.port);
        prometheus.insert("scrapeConfigs", list(scrape_configs));
        modules
            .get_mut(own_host)?
            .set(["services", "prometheus"], Expr::AttrSet(prometheus));
        Ok(())
    }
}

fn exporter_config(exporter: Exporter) -> Expr {
    let mut config = AttrSet::new();
    config.insert("enable", true);
    if exporter == Exporter::Postgres {
        // Reads statistics over the local socket as the postgres superuser, needing no password.
        config.insert("runAsLocalSuperUser", true);
    }
    Expr::AttrSet(config)
}
