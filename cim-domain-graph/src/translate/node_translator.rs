//! `NodeTranslator`: how one kind of node becomes NixOS configuration, and the registry that
//! finds the translator of each kind.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::node::DeploymentNode;
use crate::translate::{HostModules, TranslationContext, TranslationError};

/// Turns the nodes of one kind into NixOS configuration.
///
/// The graph translator calls [`translate`](Self::translate) once per node, in name order, after
/// the graph validated. A translator writes mostly to the module of the node's own host
/// (`modules.get_mut(context.host_of(&node.name)...)`), and may write to other hosts' modules
/// (monitoring enables exporters on the hosts it watches). Edges common to all kinds are handled
/// by the graph translator, not here: `depends_on` between nodes of one host orders the units
/// named by [`systemd_unit`](Self::systemd_unit); `connects_to`, `load_balances`,
/// `publishes_to` and `subscribes_to` between hosts open the target's port; `mounts_volume`
/// adds `RequiresMountsFor`.
///
/// A tool adds its own kinds by registering a translator under the kind of its
/// [`DeploymentNodeType::Custom`](crate::DeploymentNodeType::Custom) nodes, or under `agent`.
///
/// ```
/// use cim_domain_graph::translate::{
///     HostModules, NodeTranslator, NodeTranslatorRegistry, TranslationContext, TranslationError,
/// };
/// use cim_domain_graph::DeploymentNode;
///
/// /// Runs `restic` backups for `custom` nodes of kind `backup`.
/// struct Backup;
///
/// impl NodeTranslator for Backup {
///     fn systemd_unit(&self, node: &DeploymentNode) -> Option<String> {
///         Some(format!("restic-backups-{}", node.name))
///     }
///
///     fn translate(
///         &self,
///         node: &DeploymentNode,
///         context: &TranslationContext<'_>,
///         modules: &mut HostModules,
///     ) -> Result<(), TranslationError> {
///         let host = context.host_name(node)?;
///         modules.get_mut(host)?.set(
///             ["services", "restic", "backups", node.name.as_str(), "paths"],
///             cim_domain_nix::list(["/var/lib"]),
///         );
///         Ok(())
///     }
/// }
///
/// let mut registry = NodeTranslatorRegistry::with_builtins();
/// registry.register("backup", Backup);
/// assert!(registry.get("backup").is_some());
/// ```
pub trait NodeTranslator: Send + Sync {
    /// The systemd service (without `.service`) the node runs as on its host, so nodes that
    /// depend on it are ordered after it; `None` when it runs none.
    fn systemd_unit(&self, node: &DeploymentNode) -> Option<String>;

    /// Adds the configuration of `node` to the host modules.
    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError>;
}

/// Node translators by node kind (`service`, `database`, ..., `agent`, or a custom kind).
#[derive(Clone, Default)]
pub struct NodeTranslatorRegistry {
    translators: BTreeMap<String, Arc<dyn NodeTranslator>>,
}

impl std::fmt::Debug for NodeTranslatorRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.translators.keys()).finish()
    }
}

impl NodeTranslatorRegistry {
    /// A registry with no translators.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with the translators of this crate: `service`, `database`, `message_bus`,
    /// `load_balancer`, `storage` and `monitoring`. Agents are left to `cim-domain-agent`.
    pub fn with_builtins() -> Self {
        let mut registry = Self::new();
        super::builtin::register_all(&mut registry);
        registry
    }

    /// Registers `translator` for `kind`, returning the one it replaces.
    pub fn register(
        &mut self,
        kind: impl Into<String>,
        translator: impl NodeTranslator + 'static,
    ) -> Option<Arc<dyn NodeTranslator>> {
        self.translators.insert(kind.into(), Arc::new(translator))
    }

    /// The translator for `kind`.
    pub fn get(&self, kind: &str) -> Option<&dyn NodeTranslator> {
        self.translators.get(kind).map(|t| &**t)
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.translators.keys().map(String::as_str)
    }
}
