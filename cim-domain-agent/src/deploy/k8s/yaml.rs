//! Manifests as one multi-document YAML stream, in the order given, `---` between documents.

use super::manifests::KubeManifest;
use crate::deploy::error::DeployError;

/// Serialises `manifests` as YAML documents separated by `---` lines. k8s-openapi writes fields in
/// a fixed order and maps are sorted, so equal input gives byte-identical output.
pub fn manifests_to_yaml(manifests: &[KubeManifest]) -> Result<String, DeployError> {
    let mut out = String::new();
    for (index, manifest) in manifests.iter().enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        let document = match manifest {
            KubeManifest::Namespace(o) => serde_yaml_ng::to_string(o),
            KubeManifest::ServiceAccount(o) => serde_yaml_ng::to_string(o),
            KubeManifest::ConfigMap(o) => serde_yaml_ng::to_string(o),
            KubeManifest::PersistentVolumeClaim(o) => serde_yaml_ng::to_string(o),
            KubeManifest::ResourceQuota(o) => serde_yaml_ng::to_string(o),
            KubeManifest::NetworkPolicy(o) => serde_yaml_ng::to_string(o),
            KubeManifest::Deployment(o) => serde_yaml_ng::to_string(o),
        }
        .map_err(|source| DeployError::Yaml {
            kind: manifest.kind(),
            name: manifest.metadata().name.clone().unwrap_or_default(),
            source,
        })?;
        out.push_str(&document);
    }
    Ok(out)
}
