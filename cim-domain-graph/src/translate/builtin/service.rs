//! `service` nodes: a systemd service.

use cim_domain_nix::{AttrPath, AttrSet, Expr, StrPart, ident, interpolated, list};

use super::{resource_limits, wrong_kind};
use crate::node::{DeploymentNode, DeploymentNodeType, ServiceSpec};
use crate::translate::{HostModules, NodeTranslator, TranslationContext, TranslationError};

/// Translates `service` nodes into `systemd.services.<name>`.
pub(super) struct ServiceTranslator;

impl NodeTranslator for ServiceTranslator {
    fn systemd_unit(&self, node: &DeploymentNode) -> Option<String> {
        Some(node.name.clone())
    }

    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        let DeploymentNodeType::Service(spec) = &node.node_type else {
            return Err(wrong_kind(node, "service"));
        };
        let exec_start = exec_start(node, spec)?;
        let module = modules.get_mut(context.host_name(node)?)?;
        let name = node.name.as_str();
        let mut unit = AttrSet::new();
        unit.insert("description", format!("{name} (deployment graph service)"));
        unit.insert("wantedBy", list(["multi-user.target"]));
        if !spec.environment.is_empty() {
            let environment: AttrSet = spec
                .environment
                .iter()
                .map(|(key, value)| (key.as_str(), Expr::from(value.as_str())))
                .collect();
            unit.insert("environment", Expr::AttrSet(environment));
        }
        let mut service_config = AttrSet::new();
        service_config.insert("ExecStart", exec_start);
        service_config.insert("DynamicUser", true);
        service_config.insert("Restart", "on-failure");
        service_config.merge(resource_limits(spec.resources));
        unit.insert("serviceConfig", Expr::AttrSet(service_config));
        module.set(["systemd", "services", name], Expr::AttrSet(unit));
        module.order_after(name, "network.target");
        Ok(())
    }
}

/// `"${pkgs.p}/bin/command"`, `lib.getExe pkgs.p`, or the command as written.
fn exec_start(node: &DeploymentNode, spec: &ServiceSpec) -> Result<Expr, TranslationError> {
    let nix = |e| TranslationError::nix(&node.name, e);
    let package = match &spec.package {
        Some(package) => Some(
            ident("pkgs")
                .map_err(nix)?
                .select(AttrPath::dotted(package)),
        ),
        None => None,
    };
    match (package, &spec.command) {
        (Some(package), Some(command)) => Ok(interpolated([
            StrPart::interp(package),
            StrPart::lit(format!("/bin/{command}")),
        ])),
        (Some(package), None) => Ok(ident("lib").map_err(nix)?.select("getExe").apply(package)),
        (None, Some(command)) => Ok(command.as_str().into()),
        (None, None) => Err(TranslationError::node(
            node,
            "a service needs a `package` or a `command`",
        )),
    }
}
