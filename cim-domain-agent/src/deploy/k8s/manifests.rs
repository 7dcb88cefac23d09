//! Per-agent Kubernetes objects, built from `k8s-openapi` types so every field has the name and
//! type the API server expects.
//!
//! Each agent gets its own namespace (`cim-agent-<name>`), so its quota and network policy apply
//! to it alone and two agents never share a volume.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar,
    KeyToPath, Namespace, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceQuota,
    ResourceQuotaSpec, ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext,
    ServiceAccount, Toleration, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::tiers::{DATA_VOLUME, ResourceTier, TierCatalog};
use super::validate::{MAX_CONFIG_MAP_BYTES, image_problem};
use crate::deploy::error::DeployError;
use crate::deploy::settings::{AgentSettings, DeployOverrides};
use crate::deploy::source::AgentSource;

/// Where the identity ConfigMap is mounted; the runtime reads the agent file from there.
pub const CONFIG_DIR: &str = "/etc/cim-agent";
/// The ConfigMap key (and file name under [`CONFIG_DIR`]) holding the agent file.
pub const AGENT_FILE_KEY: &str = "agent.md";
/// Unprivileged user and group the agent runs as.
const AGENT_UID: i64 = 10001;

/// What to build manifests with.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeOptions {
    /// Tier name in the catalog (`small`, `standard`, `large`, `gpu`).
    pub tier: String,
    /// Container image that provides `cim-leaf` on `PATH`.
    pub image: String,
    /// Operator settings; NATS and Ollama URLs and the log level apply here, limits come from the
    /// tier.
    pub overrides: DeployOverrides,
}

/// One Kubernetes object of an agent's deployment.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a handful per agent, built once and serialised; boxing would only add noise"
)]
pub enum KubeManifest {
    /// The agent's namespace.
    Namespace(Namespace),
    /// The identity the pod runs under (no API token mounted).
    ServiceAccount(ServiceAccount),
    /// The agent file and identity.
    ConfigMap(ConfigMap),
    /// Storage for one persisted directory.
    PersistentVolumeClaim(PersistentVolumeClaim),
    /// The namespace's resource ceiling: one pod of the tier.
    ResourceQuota(ResourceQuota),
    /// No ingress; egress only to DNS, NATS and Ollama.
    NetworkPolicy(NetworkPolicy),
    /// The agent runtime.
    Deployment(Deployment),
}

impl KubeManifest {
    /// The object's `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Namespace(_) => "Namespace",
            Self::ServiceAccount(_) => "ServiceAccount",
            Self::ConfigMap(_) => "ConfigMap",
            Self::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Self::ResourceQuota(_) => "ResourceQuota",
            Self::NetworkPolicy(_) => "NetworkPolicy",
            Self::Deployment(_) => "Deployment",
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Self::Namespace(o) => &o.metadata,
            Self::ServiceAccount(o) => &o.metadata,
            Self::ConfigMap(o) => &o.metadata,
            Self::PersistentVolumeClaim(o) => &o.metadata,
            Self::ResourceQuota(o) => &o.metadata,
            Self::NetworkPolicy(o) => &o.metadata,
            Self::Deployment(o) => &o.metadata,
        }
    }
}

/// Builds every agent's objects with the tier `options.tier` from `tiers`. Agents are emitted in
/// name order, each as Namespace, ServiceAccount, ConfigMap, PersistentVolumeClaims (by volume
/// name), ResourceQuota, NetworkPolicy, Deployment, so the output does not depend on argument
/// order.
pub fn to_kube_manifests(
    agents: &[AgentSource],
    tiers: &TierCatalog,
    options: &KubeOptions,
) -> Result<Vec<KubeManifest>, DeployError> {
    let tier = tiers.get(&options.tier)?;
    if let Some(problem) = image_problem(&options.image) {
        return Err(DeployError::InvalidImage {
            image: options.image.escape_debug().to_string(),
            problem,
        });
    }
    let mut by_name = BTreeMap::new();
    for agent in agents {
        if by_name.insert(agent.name(), agent).is_some() {
            return Err(DeployError::DuplicateAgent {
                name: agent.name().to_owned(),
            });
        }
    }
    let mut manifests = Vec::new();
    for agent in by_name.into_values() {
        if agent.text.len() > MAX_CONFIG_MAP_BYTES {
            return Err(DeployError::ConfigMapTooLarge {
                agent: agent.name().to_owned(),
                bytes: agent.text.len(),
                max: MAX_CONFIG_MAP_BYTES,
            });
        }
        let settings = AgentSettings::resolve(&agent.definition, &options.overrides)?;
        let urls = [
            ("nats.url", Some(&settings.nats)),
            ("model.ollama.url", settings.ollama.as_ref()),
        ];
        for (field, endpoint) in urls {
            if let Some(url) = endpoint.map(|e| e.url())
                && cim_naming::redact::has_credentials(url)
            {
                return Err(DeployError::CredentialsInUrl {
                    agent: agent.name().to_owned(),
                    field,
                    url: cim_naming::redact::redact_url(url),
                });
            }
        }
        if settings.gpus > tier.gpus() {
            return Err(DeployError::GpuTierRequired {
                agent: agent.name().to_owned(),
                gpus: settings.gpus,
                tier: options.tier.clone(),
                granted: tier.gpus(),
            });
        }
        AgentObjects {
            agent,
            settings: &settings,
            tier,
            tier_name: &options.tier,
            image: &options.image,
        }
        .push_into(&mut manifests);
    }
    Ok(manifests)
}

/// The Secret (in the agent's namespace, [`namespace_of`]) the user creates with the agent's
/// NKey seed under the key [`NATS_SEED_KEY`], when agents authenticate with seeds:
/// `kubectl -n cim-agent-<name> create secret generic cim-agent-<name>-nats
/// --from-file=seed=<keys dir>/<name>.nk`. It is mounted read-only (mode 0400) at
/// `/run/secrets/cim/nats/<name>.nk`; no manifest carries the seed.
pub fn nats_seed_secret(agent_name: &str) -> String {
    format!("{}-nats", namespace_of(agent_name))
}

/// The key of the seed inside [`nats_seed_secret`].
pub const NATS_SEED_KEY: &str = "seed";

/// The namespace an agent's objects live in.
pub fn namespace_of(agent_name: &str) -> String {
    format!("cim-agent-{agent_name}")
}

struct AgentObjects<'a> {
    agent: &'a AgentSource,
    settings: &'a AgentSettings,
    tier: &'a ResourceTier,
    tier_name: &'a str,
    image: &'a str,
}

impl AgentObjects<'_> {
    fn push_into(&self, out: &mut Vec<KubeManifest>) {
        out.push(KubeManifest::Namespace(self.namespace()));
        out.push(KubeManifest::ServiceAccount(ServiceAccount {
            metadata: self.meta(self.resource_name()),
            automount_service_account_token: Some(false),
            ..ServiceAccount::default()
        }));
        out.push(KubeManifest::ConfigMap(self.config_map()));
        for (volume, spec) in &self.tier.volumes {
            out.push(KubeManifest::PersistentVolumeClaim(PersistentVolumeClaim {
                metadata: self.meta(volume.clone()),
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(quantities([(
                            "storage".to_owned(),
                            format!("{}Gi", spec.size_gi),
                        )])),
                        ..VolumeResourceRequirements::default()
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                ..PersistentVolumeClaim::default()
            }));
        }
        out.push(KubeManifest::ResourceQuota(self.quota()));
        out.push(KubeManifest::NetworkPolicy(self.network_policy()));
        out.push(KubeManifest::Deployment(self.deployment()));
    }

    fn name(&self) -> &str {
        self.agent.name()
    }

    fn resource_name(&self) -> String {
        namespace_of(self.name())
    }

    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), "cim-agent".to_owned()),
            (
                "app.kubernetes.io/instance".to_owned(),
                self.name().to_owned(),
            ),
            (
                "app.kubernetes.io/managed-by".to_owned(),
                "cim-leaf".to_owned(),
            ),
            ("cim-leaf/tier".to_owned(), self.tier_name.to_owned()),
        ])
    }

    fn selector_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), "cim-agent".to_owned()),
            (
                "app.kubernetes.io/instance".to_owned(),
                self.name().to_owned(),
            ),
        ])
    }

    fn meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.resource_name()),
            labels: Some(self.labels()),
            ..ObjectMeta::default()
        }
    }

    fn namespace(&self) -> Namespace {
        let mut labels = self.labels();
        // The pod below satisfies the `restricted` Pod Security Standard; enforcing it keeps
        // anything added to the namespace later to the same bar.
        labels.insert(
            "pod-security.kubernetes.io/enforce".to_owned(),
            "restricted".to_owned(),
        );
        Namespace {
            metadata: ObjectMeta {
                name: Some(self.resource_name()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }
    }

    fn config_map(&self) -> ConfigMap {
        let definition = &self.agent.definition;
        let mut data = BTreeMap::from([
            (AGENT_FILE_KEY.to_owned(), self.agent.text.clone()),
            ("agent-id".to_owned(), definition.id.to_string()),
            ("agent-name".to_owned(), self.name().to_owned()),
            ("display-name".to_owned(), definition.display_name.clone()),
            (
                "capabilities".to_owned(),
                definition.capabilities.join("\n"),
            ),
        ]);
        // An unversioned definition has no `version` key, as its file has none.
        if let Some(version) = &definition.version {
            data.insert("version".to_owned(), version.to_string());
        }
        ConfigMap {
            metadata: self.meta(format!("{}-identity", self.resource_name())),
            data: Some(data),
            ..ConfigMap::default()
        }
    }

    fn quota(&self) -> ResourceQuota {
        let mut hard = BTreeMap::from([
            ("pods".to_owned(), "1".to_owned()),
            (
                "persistentvolumeclaims".to_owned(),
                self.tier.volumes.len().to_string(),
            ),
            (
                "requests.storage".to_owned(),
                format!("{}Gi", self.tier.storage_gi()),
            ),
        ]);
        for (resource, quantity) in &self.tier.requests {
            hard.insert(format!("requests.{resource}"), quantity.clone());
        }
        for (resource, quantity) in &self.tier.limits {
            // Extended resources such as GPUs can only be limited through `requests.`.
            if resource.contains('/') {
                hard.insert(format!("requests.{resource}"), quantity.clone());
            } else {
                hard.insert(format!("limits.{resource}"), quantity.clone());
            }
        }
        ResourceQuota {
            metadata: self.meta(format!("{}-quota", self.resource_name())),
            spec: Some(ResourceQuotaSpec {
                hard: Some(quantities(hard)),
                ..ResourceQuotaSpec::default()
            }),
            ..ResourceQuota::default()
        }
    }

    fn network_policy(&self) -> NetworkPolicy {
        let port = |number: u16, protocol: &str| NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(number))),
            protocol: Some(protocol.to_owned()),
            ..NetworkPolicyPort::default()
        };
        let mut egress = vec![NetworkPolicyEgressRule {
            ports: Some(vec![port(53, "UDP"), port(53, "TCP")]),
            ..NetworkPolicyEgressRule::default()
        }];
        let mut service_ports = vec![self.settings.nats.port()];
        service_ports.extend(self.settings.ollama.as_ref().map(|o| o.port()));
        service_ports.dedup();
        egress.push(NetworkPolicyEgressRule {
            ports: Some(service_ports.into_iter().map(|p| port(p, "TCP")).collect()),
            ..NetworkPolicyEgressRule::default()
        });
        NetworkPolicy {
            metadata: self.meta(format!("{}-egress-only", self.resource_name())),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
                egress: Some(egress),
                ingress: None,
            }),
        }
    }

    fn runtime_args(&self, data_dir: &str) -> Vec<String> {
        let mut args: Vec<String> = [
            "agents",
            "run",
            "--agent-file",
            &format!("{CONFIG_DIR}/{AGENT_FILE_KEY}"),
            "--nats-url",
            self.settings.nats.url(),
            "--data-dir",
            data_dir,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        if let Some(ollama) = &self.settings.ollama {
            args.extend(["--ollama-url".to_owned(), ollama.url().to_owned()]);
        }
        if let Some(seed) = &self.settings.nats_seed_file {
            args.extend(["--nkey-seed".to_owned(), seed.clone()]);
        }
        args
    }

    /// The seed's volume and mount: the user's Secret, one key projected to the seed's path.
    fn nats_seed_volume(&self) -> Option<(Volume, VolumeMount)> {
        let seed = self.settings.nats_seed_file.as_deref()?;
        let (dir, file) = seed.rsplit_once('/')?;
        let volume = Volume {
            name: "nats-seed".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(nats_seed_secret(self.name())),
                items: Some(vec![KeyToPath {
                    key: NATS_SEED_KEY.to_owned(),
                    path: file.to_owned(),
                    mode: None,
                }]),
                default_mode: Some(0o400),
                optional: Some(false),
            }),
            ..Volume::default()
        };
        let mount = VolumeMount {
            name: "nats-seed".to_owned(),
            mount_path: dir.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        };
        Some((volume, mount))
    }

    fn deployment(&self) -> Deployment {
        let data_dir = self
            .tier
            .volumes
            .get(DATA_VOLUME)
            .map_or("/var/lib/cim-agent", |v| v.path.as_str());
        let mut env = vec![EnvVar {
            name: "CIM_AGENT_ID".to_owned(),
            value: Some(self.agent.definition.id.to_string()),
            ..EnvVar::default()
        }];
        if let Some(level) = self.settings.log_level {
            env.push(EnvVar {
                name: "RUST_LOG".to_owned(),
                value: Some(level.as_str().to_owned()),
                ..EnvVar::default()
            });
        }
        if let Some(format) = &self.settings.log_format {
            env.push(EnvVar {
                name: "CIM_LOG_FORMAT".to_owned(),
                value: Some(format.clone()),
                ..EnvVar::default()
            });
        }
        let mut mounts = vec![
            VolumeMount {
                name: "identity".to_owned(),
                mount_path: CONFIG_DIR.to_owned(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "tmp".to_owned(),
                mount_path: "/tmp".to_owned(),
                ..VolumeMount::default()
            },
        ];
        let mut volumes = vec![
            Volume {
                name: "identity".to_owned(),
                config_map: Some(ConfigMapVolumeSource {
                    name: format!("{}-identity", self.resource_name()),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume {
                name: "tmp".to_owned(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            },
        ];
        if let Some((volume, mount)) = self.nats_seed_volume() {
            volumes.push(volume);
            mounts.push(mount);
        }
        for (name, spec) in &self.tier.volumes {
            mounts.push(VolumeMount {
                name: name.clone(),
                mount_path: spec.path.clone(),
                ..VolumeMount::default()
            });
            volumes.push(Volume {
                name: name.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: name.clone(),
                    read_only: None,
                }),
                ..Volume::default()
            });
        }
        let container = Container {
            name: "agent".to_owned(),
            image: Some(self.image.to_owned()),
            command: Some(vec!["cim-leaf".to_owned()]),
            args: Some(self.runtime_args(data_dir)),
            env: Some(env),
            resources: Some(ResourceRequirements {
                requests: Some(quantities(self.tier.requests.clone())),
                limits: Some(quantities(self.tier.limits.clone())),
                ..ResourceRequirements::default()
            }),
            volume_mounts: Some(mounts),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                read_only_root_filesystem: Some(true),
                run_as_non_root: Some(true),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".to_owned()]),
                    add: None,
                }),
                ..SecurityContext::default()
            }),
            ..Container::default()
        };
        let tolerations: Vec<Toleration> = self
            .tier
            .tolerations
            .iter()
            .map(|t| Toleration {
                key: Some(t.key.clone()),
                operator: Some(t.operator.clone()),
                value: t.value.clone(),
                effect: t.effect.clone(),
                toleration_seconds: None,
            })
            .collect();
        let pod = PodSpec {
            service_account_name: Some(self.resource_name()),
            automount_service_account_token: Some(false),
            containers: vec![container],
            volumes: Some(volumes),
            node_selector: (!self.tier.node_selector.is_empty())
                .then(|| self.tier.node_selector.clone()),
            tolerations: (!tolerations.is_empty()).then_some(tolerations),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(AGENT_UID),
                run_as_group: Some(AGENT_UID),
                fs_group: Some(AGENT_UID),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".to_owned(),
                    localhost_profile: None,
                }),
                ..PodSecurityContext::default()
            }),
            ..PodSpec::default()
        };
        Deployment {
            metadata: self.meta(self.resource_name()),
            spec: Some(DeploymentSpec {
                replicas: Some(1),
                selector: LabelSelector {
                    match_labels: Some(self.selector_labels()),
                    match_expressions: None,
                },
                // Volumes are ReadWriteOnce and an agent id must run once: stop the old pod first.
                strategy: Some(DeploymentStrategy {
                    type_: Some("Recreate".to_owned()),
                    rolling_update: None,
                }),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(self.labels()),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(pod),
                },
                ..DeploymentSpec::default()
            }),
            ..Deployment::default()
        }
    }
}

fn quantities(map: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, Quantity> {
    map.into_iter().map(|(k, v)| (k, Quantity(v))).collect()
}
