//! Resource tiers as data: a YAML catalog (the built-in one is `tiers.yaml`, embedded at compile
//! time) read into typed tiers and checked once, so manifests are built only from valid tiers.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::validate::{label_value_problem, qualified_name_problem};
use crate::deploy::error::DeployError;

/// The resource name Kubernetes' NVIDIA device plugin schedules GPUs by.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// The volume whose path the runtime gets as `--data-dir`.
pub const DATA_VOLUME: &str = "data";

/// Volumes every agent pod has besides its tier's (the identity ConfigMap and `/tmp`); a tier
/// volume of the same name would make the Deployment's volume list invalid.
pub const BUILTIN_VOLUMES: [&str; 2] = ["identity", "tmp"];

const BUILTIN: &str = include_str!("tiers.yaml");

/// Named tiers, sorted by name.
#[derive(Debug, Clone, PartialEq)]
pub struct TierCatalog {
    tiers: BTreeMap<String, ResourceTier>,
}

/// What a pod of one tier gets and where it may run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceTier {
    /// Container resource requests (`cpu`, `memory`, `nvidia.com/gpu`) as quantities.
    pub requests: BTreeMap<String, String>,
    /// Container resource limits as quantities.
    pub limits: BTreeMap<String, String>,
    /// Node labels the pod must match.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Taints the pod tolerates.
    #[serde(default)]
    pub tolerations: Vec<TierToleration>,
    /// Persisted directories by volume name; one PersistentVolumeClaim each.
    pub volumes: BTreeMap<String, TierVolume>,
}

/// A toleration, in Kubernetes' terms.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierToleration {
    /// Taint key.
    pub key: String,
    /// `Exists` or `Equal`.
    pub operator: String,
    /// Taint value, for `Equal`.
    #[serde(default)]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; empty matches all.
    #[serde(default)]
    pub effect: Option<String>,
}

/// One persisted directory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierVolume {
    /// Absolute mount path in the container.
    pub path: String,
    /// Claimed size in GiB; whole numbers so the quota can sum them exactly.
    pub size_gi: u32,
}

impl TierCatalog {
    /// The catalog shipped with this crate: `small`, `standard`, `large` and `gpu`.
    pub fn builtin() -> Result<Self, DeployError> {
        Self::from_yaml(BUILTIN, "built-in tiers.yaml")
    }

    /// Reads and checks a catalog; `source_name` appears in errors.
    pub fn from_yaml(text: &str, source_name: &str) -> Result<Self, DeployError> {
        let tiers: BTreeMap<String, ResourceTier> =
            serde_yaml_ng::from_str(text).map_err(|error| DeployError::TierCatalog {
                source_name: source_name.to_owned(),
                message: error.to_string(),
            })?;
        for (name, tier) in &tiers {
            tier.check(name)?;
        }
        Ok(Self { tiers })
    }

    /// The tier called `name`, or an error listing the known ones.
    pub fn get(&self, name: &str) -> Result<&ResourceTier, DeployError> {
        self.tiers
            .get(name)
            .ok_or_else(|| DeployError::UnknownTier {
                name: name.to_owned(),
                known: self.names().collect::<Vec<_>>().join(", "),
            })
    }

    /// Tier names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tiers.keys().map(String::as_str)
    }
}

impl ResourceTier {
    /// GPUs one pod of this tier is granted (its `nvidia.com/gpu` limit), 0 when none.
    pub fn gpus(&self) -> u32 {
        self.limits
            .get(GPU_RESOURCE)
            .and_then(|count| count.parse().ok())
            .unwrap_or(0)
    }

    /// Total claimed storage in GiB.
    pub fn storage_gi(&self) -> u64 {
        self.volumes.values().map(|v| u64::from(v.size_gi)).sum()
    }

    fn check(&self, tier: &str) -> Result<(), DeployError> {
        let invalid = |field: String, message: String| DeployError::InvalidTier {
            tier: tier.to_owned(),
            field,
            message,
        };
        let name_problem = if tier.is_empty() {
            Some("a tier name must not be empty")
        } else {
            label_value_problem(tier)
        };
        if let Some(problem) = name_problem {
            return Err(invalid("name".to_owned(), problem.to_owned()));
        }
        for (key, value) in &self.node_selector {
            if let Some(problem) = qualified_name_problem(key) {
                return Err(invalid(format!("node_selector.{key}"), problem.to_owned()));
            }
            if let Some(problem) = label_value_problem(value) {
                return Err(invalid(format!("node_selector.{key}"), problem.to_owned()));
            }
        }
        for (i, toleration) in self.tolerations.iter().enumerate() {
            let field = |name: &str| format!("tolerations[{i}].{name}");
            let key_problem = if toleration.key.is_empty() {
                (toleration.operator != "Exists")
                    .then_some("an empty key tolerates every taint only with operator Exists")
            } else {
                qualified_name_problem(&toleration.key)
            };
            if let Some(problem) = key_problem {
                return Err(invalid(field("key"), problem.to_owned()));
            }
            match (toleration.operator.as_str(), toleration.value.as_deref()) {
                ("Exists", Some(value)) if !value.is_empty() => {
                    return Err(invalid(
                        field("value"),
                        "operator Exists takes no value".to_owned(),
                    ));
                }
                ("Equal", value) => {
                    if let Some(problem) = label_value_problem(value.unwrap_or_default()) {
                        return Err(invalid(field("value"), problem.to_owned()));
                    }
                }
                ("Exists", _) => {}
                (other, _) => {
                    return Err(invalid(
                        field("operator"),
                        format!("{other:?} is not Exists or Equal"),
                    ));
                }
            }
            if let Some(effect) = toleration.effect.as_deref()
                && !matches!(effect, "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute")
            {
                return Err(invalid(
                    field("effect"),
                    format!("{effect:?} is not NoSchedule, PreferNoSchedule or NoExecute"),
                ));
            }
        }
        for (section, resources) in [("requests", &self.requests), ("limits", &self.limits)] {
            for (resource, quantity) in resources {
                if !is_quantity(quantity) {
                    return Err(invalid(
                        format!("{section}.{resource}"),
                        format!("{quantity:?} is not a Kubernetes quantity (like 500m, 2, 8Gi)"),
                    ));
                }
            }
        }
        if let Some(gpus) = self.limits.get(GPU_RESOURCE)
            && gpus.parse::<u32>().is_err()
        {
            return Err(invalid(
                format!("limits.{GPU_RESOURCE}"),
                format!("{gpus:?} is not a whole number of GPUs"),
            ));
        }
        if !self.volumes.contains_key(DATA_VOLUME) {
            return Err(invalid(
                "volumes".to_owned(),
                format!("a {DATA_VOLUME:?} volume (the runtime's data directory) is required"),
            ));
        }
        for (name, volume) in &self.volumes {
            if BUILTIN_VOLUMES.contains(&name.as_str()) {
                return Err(invalid(
                    format!("volumes.{name}"),
                    format!(
                        "{name:?} is a volume every agent pod already has ({}); choose another name",
                        BUILTIN_VOLUMES.join(", ")
                    ),
                ));
            }
            if !is_dns_label(name) {
                return Err(invalid(
                    format!("volumes.{name}"),
                    "volume names must be lowercase letters, digits and '-' (a DNS label)"
                        .to_owned(),
                ));
            }
            if !volume.path.starts_with('/') {
                return Err(invalid(
                    format!("volumes.{name}.path"),
                    format!("{:?} is not an absolute path", volume.path),
                ));
            }
            if volume.size_gi == 0 {
                return Err(invalid(
                    format!("volumes.{name}.size_gi"),
                    "must be at least 1".to_owned(),
                ));
            }
        }
        Ok(())
    }
}

/// Kubernetes' quantity syntax: a decimal number with an optional binary, decimal or exponent
/// suffix.
fn is_quantity(text: &str) -> bool {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    let number_ok = !number.is_empty()
        && number.matches('.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    let suffix_ok = matches!(
        suffix,
        "" | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
            | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
    ) || suffix.strip_prefix(['e', 'E']).is_some_and(|exp| {
        let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    });
    number_ok && suffix_ok
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_the_four_tiers() -> Result<(), DeployError> {
        let catalog = TierCatalog::builtin()?;
        assert_eq!(
            catalog.names().collect::<Vec<_>>(),
            ["gpu", "large", "small", "standard"]
        );
        assert_eq!(catalog.get("gpu")?.gpus(), 1);
        assert_eq!(catalog.get("standard")?.gpus(), 0);
        assert_eq!(catalog.get("gpu")?.storage_gi(), 250);
        Ok(())
    }

    #[test]
    fn quantities_follow_kubernetes_syntax() {
        for good in ["1", "500m", "2Gi", "0.5", "1e3", "128974848", "1.5G"] {
            assert!(is_quantity(good), "{good} rejected");
        }
        for bad in ["", "Gi", "2 Gi", "2GB", "1..5", "-", "1e", "two"] {
            assert!(!is_quantity(bad), "{bad} accepted");
        }
    }

    #[test]
    fn bad_tiers_are_named_with_their_field() {
        let cases = [
            (
                "t: {requests: {cpu: lots}, limits: {}, volumes: {data: {path: /d, size_gi: 1}}}",
                "tier t: requests.cpu:",
            ),
            (
                "t: {requests: {}, limits: {nvidia.com/gpu: 1.5}, volumes: {data: {path: /d, size_gi: 1}}}",
                "tier t: limits.nvidia.com/gpu:",
            ),
            (
                "t: {requests: {}, limits: {}, volumes: {cache: {path: /c, size_gi: 1}}}",
                "tier t: volumes:",
            ),
            (
                "t: {requests: {}, limits: {}, volumes: {data: {path: rel, size_gi: 1}}}",
                "tier t: volumes.data.path:",
            ),
            (
                "t: {requests: {}, limits: {}, volumes: {data: {path: /d, size_gi: 0}}}",
                "tier t: volumes.data.size_gi:",
            ),
            (
                "t: {requests: {}, limits: {}, volumes: {data: {path: /d, size_gi: 1}, Data_1: {path: /e, size_gi: 1}}}",
                "tier t: volumes.Data_1:",
            ),
            ("t: {requests: {}, limit: {}}", "tier catalog x.yaml: "),
            (
                "-t: {requests: {}, limits: {}, volumes: {data: {path: /d, size_gi: 1}}}",
                "tier -t: name:",
            ),
            (
                "t: {requests: {}, limits: {}, volumes: {data: {path: /d, size_gi: 1}, tmp: {path: /t, size_gi: 1}}}",
                "tier t: volumes.tmp:",
            ),
            (
                "t: {requests: {}, limits: {}, node_selector: {\"a b\": x}, volumes: {data: {path: /d, size_gi: 1}}}",
                "tier t: node_selector.a b:",
            ),
            (
                "t: {requests: {}, limits: {}, node_selector: {gpu: \"x;y\"}, volumes: {data: {path: /d, size_gi: 1}}}",
                "tier t: node_selector.gpu:",
            ),
            (
                "t: {requests: {}, limits: {}, tolerations: [{key: gpu, operator: Maybe}], volumes: {data: {path: /d, size_gi: 1}}}",
                "tier t: tolerations[0].operator:",
            ),
            (
                "t: {requests: {}, limits: {}, tolerations: [{key: gpu, operator: Exists, value: x}], volumes: {data: {path: /d, size_gi: 1}}}",
                "tier t: tolerations[0].value:",
            ),
            (
                "t: {requests: {}, limits: {}, tolerations: [{key: gpu, operator: Equal, value: x, effect: Never}], volumes: {data: {path: /d, size_gi: 1}}}",
                "tier t: tolerations[0].effect:",
            ),
        ];
        for (yaml, expected) in cases {
            match TierCatalog::from_yaml(yaml, "x.yaml") {
                Ok(_) => panic!("{yaml} accepted"),
                Err(error) => assert!(
                    error.to_string().starts_with(expected),
                    "{yaml}: {error} does not start with {expected}"
                ),
            }
        }
    }

    #[test]
    fn unknown_tier_lists_the_known_ones() -> Result<(), DeployError> {
        let catalog = TierCatalog::builtin()?;
        let error = catalog.get("huge").map(|_| ()).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("unknown Kubernetes tier \"huge\"; known tiers: gpu, large, small, standard")
        );
        Ok(())
    }
}
