//! `NodeTranslator`: how one kind of node becomes NixOS configuration, and the registry that
//! finds the translator of each kind.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::node::DeploymentNode;
use crate::translate::{HostModules, TranslationContext, TranslationError};
use crate::validate::ValidationError;

/// Turns the nodes of one kind into NixOS configuration.
///
/// The graph translator first asks [`check`](Self::check) about every node and reports what it
/// finds with the graph's other problems; then it calls [`translate`](Self::translate) once per
/// node, in name order, and reports the errors of every node together. A translator writes mostly to the module of the node's own host
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
/// use cim_domain_graph::{DeploymentNode, DeploymentNodeType, ValidationError};
///
/// /// Runs `restic` backups of `config.paths` for `custom` nodes of kind `backup`.
/// struct Backup;
///
/// fn paths(node: &DeploymentNode) -> Option<Vec<String>> {
///     let DeploymentNodeType::Custom { config, .. } = &node.node_type else { return None };
///     serde_json::from_value(config.get("paths")?.clone()).ok()
/// }
///
/// impl NodeTranslator for Backup {
///     fn check(&self, node: &DeploymentNode, _: &TranslationContext<'_>) -> Vec<ValidationError> {
///         match paths(node) {
///             Some(_) => Vec::new(),
///             None => vec![ValidationError::InvalidField {
///                 node: node.name.clone(),
///                 field: "config.paths".to_owned(),
///                 reason: "a list of paths to back up is required".to_owned(),
///             }],
///         }
///     }
///
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
///             cim_domain_nix::list(paths(node).unwrap_or_default()),
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
    /// The problems of `node` this translator would hit, found before anything is translated so
    /// they are reported together with the graph's own problems: a custom kind checks its
    /// `config` here. The default finds none.
    fn check(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
    ) -> Vec<ValidationError> {
        let _ = (node, context);
        Vec::new()
    }

    /// The systemd service (without `.service`) the node runs as on its host, so nodes that
    /// depend on it are ordered after it; `None` (the default) when it runs none.
    fn systemd_unit(&self, node: &DeploymentNode) -> Option<String> {
        let _ = node;
        None
    }

    /// Adds the configuration of `node` to the host modules. Called only for graphs whose
    /// checks passed; it does no I/O.
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

    /// Adds every translator of `other`, replacing those of the same kinds.
    pub fn merge(&mut self, other: &NodeTranslatorRegistry) {
        for (kind, translator) in &other.translators {
            self.translators
                .insert(kind.clone(), Arc::clone(translator));
        }
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
