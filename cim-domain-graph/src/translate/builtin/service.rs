//! `service` nodes: a systemd service.

use cim_domain_nix::{AttrPath, Expr, StrPart, SystemdService, ident, interpolated, list};

use super::wrong_kind;
use crate::node::{DeploymentNode, DeploymentNodeType, ServiceSpec};
use crate::security::{nats_seed_path, postgres_password_path};
use crate::translate::connections::connection_environment;
use crate::translate::{HostModules, NodeTranslator, TranslationContext, TranslationError};

/// Translates `service` nodes into `systemd.services.<name>`.
///
/// Secrets a service needs reach it as systemd credentials (`LoadCredential`, read by systemd
/// as root at start and handed to the unit's own user, which with `DynamicUser` could not read
/// `/run/secrets`), with the file's path in an environment variable: its NATS NKey seed as
/// `NATS_NKEY_SEED_FILE` when the fleet's buses require NKeys ([`with_nats_seeds`]) and it
/// talks to a bus, and the password of its role as `PGPASSWORD_FILE` when a database on another
/// host sets one for it (which authenticates with `scram-sha-256`). The paths are
/// [`crate::security`]'s conventions; nothing secret is in the store.
///
/// [`with_nats_seeds`]: Self::with_nats_seeds
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceTranslator {
    nats_seeds: bool,
}

impl ServiceTranslator {
    /// A translator for fleets whose message buses require NKeys: services that talk to a bus
    /// get their seed.
    pub fn with_nats_seeds(nats_seeds: bool) -> Self {
        Self { nats_seeds }
    }
}

/// `/run/credentials/<unit>.service/<name>`: where systemd puts credential `name` of `unit`
/// (systemd.exec(5), `LoadCredential`, `$CREDENTIALS_DIRECTORY`).
fn credential_path(unit: &str, name: &str) -> String {
    format!("/run/credentials/{unit}.service/{name}")
}

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
        let mut credentials = Vec::new();
        if self.nats_seeds && environment.contains_key("NATS_URL") {
            credentials.push(format!("nats-seed:{}", nats_seed_path(name)));
            environment.insert(
                "NATS_NKEY_SEED_FILE".to_owned(),
                credential_path(name, "nats-seed"),
            );
        }
        // The database translator's own rule for who gets a password set.
        let password = context.graph().outgoing(&node.name).any(|view| {
            matches!(&view.to.node_type, DeploymentNodeType::Database(database)
                if super::database::logs_in_with_password(node, view.to, database, context))
        });
        if password {
            credentials.push(format!("pg-password:{}", postgres_password_path(name)));
            environment.insert(
                "PGPASSWORD_FILE".to_owned(),
                credential_path(name, "pg-password"),
            );
        }
        for (key, value) in &spec.environment {
            environment.insert(key.clone(), value.clone());
        }
        for (key, value) in &environment {
            unit = unit.env(key.as_str(), value.as_str());
        }
        if !credentials.is_empty() {
            unit = unit.service_config("LoadCredential", list(credentials));
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
