//! `storage` nodes: a file system mount.

use cim_domain_nix::{AttrSet, Expr, list};

use super::wrong_kind;
use crate::node::{DeploymentNode, DeploymentNodeType, StorageSource};
use crate::translate::{HostModules, NodeTranslator, TranslationContext, TranslationError};

/// Translates `storage` nodes into `fileSystems."<mount point>"`.
pub(super) struct StorageTranslator;

impl NodeTranslator for StorageTranslator {
    fn systemd_unit(&self, _node: &DeploymentNode) -> Option<String> {
        None
    }

    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        let DeploymentNodeType::Storage(spec) = &node.node_type else {
            return Err(wrong_kind(node, "storage"));
        };
        let mut options = Vec::new();
        let mut mount = AttrSet::new();
        match &spec.source {
            StorageSource::Volume { device, fs_type } => {
                mount.insert("device", device.as_str());
                mount.insert("fsType", fs_type.as_str());
            }
            StorageSource::Bind { path } => {
                mount.insert("device", path.as_str());
                mount.insert("fsType", "none");
                options.push("bind");
            }
        }
        if spec.read_only {
            options.push("ro");
        }
        if !options.is_empty() {
            mount.insert("options", list(options));
        }
        modules.get_mut(context.host_name(node)?)?.set(
            ["fileSystems", spec.mount_point.as_str()],
            Expr::AttrSet(mount),
        );
        Ok(())
    }
}
