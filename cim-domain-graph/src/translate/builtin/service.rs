//! `service` nodes: a systemd service.

use cim_domain_nix::{AttrPath, Expr, StrPart, SystemdService, ident, interpolated};

use super::wrong_kind;
use crate::node::{DeploymentNode, DeploymentNodeType, ServiceSpec};
use crate::translate::connections::connection_environment;
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
        let name = node.name.as_str();
        let nix = |e| TranslationError::nix(name, e);
        // The typed builder: hardened (`NoNewPrivileges`, `ProtectSystem = "strict"`,
        // `ProtectHome`, `PrivateTmp`), restarted on failure, wanted by multi-user.target.
        let mut unit = SystemdService::new(name, exec_start(node, spec)?)
            .map_err(nix)?
            .description(format!("{name} (deployment graph service)"))
            .dynamic_user()
            .limits(spec.resources.limits())
            .map_err(nix)?;
        // Where its dependencies are, under the node's own variables (which win).
        let mut environment = connection_environment(node, context);
        for (key, value) in &spec.environment {
            environment.insert(key.clone(), value.clone());
        }
        for (key, value) in &environment {
            unit = unit.env(key.as_str(), value.as_str());
        }
        let module = modules.get_mut(context.host_name(node)?)?;
        module.set(["systemd", "services", name], unit.to_expr());
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
