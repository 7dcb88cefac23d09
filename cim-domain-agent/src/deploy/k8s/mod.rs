//! Kubernetes output: per agent a Namespace, ServiceAccount, identity ConfigMap, a
//! PersistentVolumeClaim per persisted directory, ResourceQuota, egress-only NetworkPolicy and
//! Deployment, sized by a named [`ResourceTier`] from a [`TierCatalog`].

mod manifests;
mod tiers;
mod validate;
mod yaml;

pub use manifests::{
    AGENT_FILE_KEY, CONFIG_DIR, KubeManifest, KubeOptions, NATS_SEED_KEY, namespace_of,
    nats_seed_secret, to_kube_manifests,
};
pub use tiers::{DATA_VOLUME, GPU_RESOURCE, ResourceTier, TierCatalog, TierToleration, TierVolume};
pub use validate::{
    MAX_CONFIG_MAP_BYTES, image_problem, label_value_problem, qualified_name_problem,
};
pub use yaml::manifests_to_yaml;
