//! The NATS server configuration of one message bus, exactly as the fleet's translator writes
//! it, in nats-server's own format: NixOS renders `services.nats.settings` as JSON, which
//! nats-server reads as its configuration file. Tests start real servers with it.

use cim_domain_graph::translate::{HostModules, TranslationContext, TranslationError};
use cim_domain_nix::json::to_json;

use super::Fleet;

impl Fleet {
    /// `services.nats.settings` of the message bus `bus` as JSON (authorization, TLS,
    /// cluster, leaf nodes...), from the same translator [`translate`](Self::translate) uses.
    /// The options NixOS adds itself (`port`, `server_name`, the JetStream store) are not in
    /// it. `None` when `bus` is not a message bus of a NixOS host or has no settings.
    ///
    /// # Errors
    /// [`TranslationError`] when the bus's translator fails.
    pub fn nats_settings(&self, bus: &str) -> Result<Option<serde_json::Value>, TranslationError> {
        let Some(node) = self.graph.node(bus) else {
            return Ok(None);
        };
        let registry = self.translator.registry();
        let Some(translator) = registry.get(node.node_type.kind()) else {
            return Ok(None);
        };
        let context = TranslationContext::new(&self.graph, registry);
        let hosts = self
            .graph
            .nodes()
            .filter(|n| n.node_type.is_host())
            .map(|n| n.name.as_str());
        let mut modules = HostModules::new(hosts);
        translator.translate(node, &context, &mut modules)?;
        let host = context.host_name(node)?;
        Ok(modules
            .get(host)
            .and_then(|module| module.config().get_path(["services", "nats", "settings"]))
            .and_then(to_json))
    }
}
