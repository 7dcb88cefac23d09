//! The node translators this crate ships, one file per kind.

mod database;
mod database_passwords;
mod load_balancer;
mod message_bus;
mod monitoring;
mod service;
mod storage;

pub use database_passwords::PASSWORD_UNIT;
pub use message_bus::MessageBusTranslator;
pub use service::ServiceTranslator;

use cim_domain_nix::Expr;

use crate::node::{DeploymentNode, Resources};
use crate::translate::{HostModule, NodeTranslatorRegistry, TranslationError};

/// Registers every built-in translator under its kind.
pub(super) fn register_all(registry: &mut NodeTranslatorRegistry) {
    registry.register("service", service::ServiceTranslator::default());
    registry.register("database", database::DatabaseTranslator);
    registry.register("message_bus", message_bus::MessageBusTranslator::default());
    registry.register("load_balancer", load_balancer::LoadBalancerTranslator);
    registry.register("storage", storage::StorageTranslator);
    registry.register("monitoring", monitoring::MonitoringTranslator);
}

/// The error for a translator handed a node of a kind it does not translate, which happens
/// only when a tool registers a built-in translator under another kind.
fn wrong_kind(node: &DeploymentNode, translates: &str) -> TranslationError {
    TranslationError::node(
        node,
        format!(
            "the {translates} translator cannot translate a `{}` node",
            node.node_type.kind()
        ),
    )
}

/// Limits the systemd service `unit` (set up by a NixOS module) to the node's resources.
fn limit_resources(module: &mut HostModule, unit: &str, resources: Resources) {
    let limits = resources.limits();
    if !limits.is_empty() {
        module.set(
            ["systemd", "services", unit, "serviceConfig"],
            Expr::AttrSet(limits.to_service_config()),
        );
    }
}
