//! Kubernetes output: per agent a namespace with its ServiceAccount, identity ConfigMap, volume
//! claims, quota, egress-only network policy and Deployment, sized by a tier; YAML that reads back
//! into the same `k8s-openapi` objects; byte-identical output matching the golden files.

use std::path::{Path, PathBuf};

use cim_domain_agent::deploy::k8s::{
    KubeManifest, KubeOptions, TierCatalog, manifests_to_yaml, to_kube_manifests,
};
use cim_domain_agent::deploy::{AgentSource, DeployError, DeployOverrides};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, ResourceQuota, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn agent(name: &str) -> Result<AgentSource, Box<dyn std::error::Error>> {
    Ok(AgentSource::read(
        golden().join("agents").join(format!("{name}.md")),
    )?)
}

fn options(tier: &str) -> KubeOptions {
    KubeOptions {
        tier: tier.to_owned(),
        image: "registry.example/cim-leaf:0.1.0".to_owned(),
        overrides: DeployOverrides::default(),
    }
}

/// Compares with the golden file; `UPDATE_GOLDEN=1` rewrites it instead.
fn assert_golden(file: &str, actual: &str) -> TestResult {
    let path = golden().join(file);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, actual)?;
    }
    let expected = std::fs::read_to_string(&path)?;
    assert!(
        expected == actual,
        "{file} differs from the generated output; review and rerun with UPDATE_GOLDEN=1"
    );
    Ok(())
}

fn deployment_of(manifests: &[KubeManifest]) -> Result<&Deployment, &'static str> {
    manifests
        .iter()
        .find_map(|m| match m {
            KubeManifest::Deployment(d) => Some(d),
            _ => None,
        })
        .ok_or("no Deployment")
}

fn q(text: &str) -> Quantity {
    Quantity(text.to_owned())
}

#[test]
fn yaml_deserialises_back_into_the_same_k8s_openapi_objects() -> TestResult {
    let agents = [agent("nix-expert")?, agent("ddd-expert")?, agent("sage")?];
    let manifests = to_kube_manifests(&agents, &TierCatalog::builtin()?, &options("gpu"))?;
    let yaml = manifests_to_yaml(&manifests)?;

    let mut read_back = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(&yaml) {
        let value = serde_yaml_ng::Value::deserialize(document)?;
        let kind = value["kind"]
            .as_str()
            .ok_or("document without kind")?
            .to_owned();
        let manifest = match kind.as_str() {
            "Namespace" => KubeManifest::Namespace(serde_yaml_ng::from_value::<Namespace>(value)?),
            "ServiceAccount" => {
                KubeManifest::ServiceAccount(serde_yaml_ng::from_value::<ServiceAccount>(value)?)
            }
            "ConfigMap" => KubeManifest::ConfigMap(serde_yaml_ng::from_value::<ConfigMap>(value)?),
            "PersistentVolumeClaim" => {
                KubeManifest::PersistentVolumeClaim(serde_yaml_ng::from_value::<
                    PersistentVolumeClaim,
                >(value)?)
            }
            "ResourceQuota" => {
                KubeManifest::ResourceQuota(serde_yaml_ng::from_value::<ResourceQuota>(value)?)
            }
            "NetworkPolicy" => {
                KubeManifest::NetworkPolicy(serde_yaml_ng::from_value::<NetworkPolicy>(value)?)
            }
            "Deployment" => {
                KubeManifest::Deployment(serde_yaml_ng::from_value::<Deployment>(value)?)
            }
            other => return Err(format!("unexpected kind {other}").into()),
        };
        read_back.push(manifest);
    }
    assert_eq!(read_back, manifests);
    Ok(())
}

#[test]
fn each_agent_gets_its_own_namespace_with_every_object_kind() -> TestResult {
    let agents = [agent("nix-expert")?, agent("ddd-expert")?];
    let manifests = to_kube_manifests(&agents, &TierCatalog::builtin()?, &options("standard"))?;
    let listed: Vec<(&str, &str, &str)> = manifests
        .iter()
        .map(|m| {
            let meta = m.metadata();
            (
                m.kind(),
                meta.namespace.as_deref().unwrap_or("-"),
                meta.name.as_deref().unwrap_or("-"),
            )
        })
        .collect();
    let ns = "cim-agent-ddd-expert";
    let ns2 = "cim-agent-nix-expert";
    assert_eq!(
        listed,
        [
            ("Namespace", "-", ns),
            ("ServiceAccount", ns, ns),
            ("ConfigMap", ns, "cim-agent-ddd-expert-identity"),
            ("PersistentVolumeClaim", ns, "data"),
            ("ResourceQuota", ns, "cim-agent-ddd-expert-quota"),
            ("NetworkPolicy", ns, "cim-agent-ddd-expert-egress-only"),
            ("Deployment", ns, ns),
            ("Namespace", "-", ns2),
            ("ServiceAccount", ns2, ns2),
            ("ConfigMap", ns2, "cim-agent-nix-expert-identity"),
            ("PersistentVolumeClaim", ns2, "data"),
            ("ResourceQuota", ns2, "cim-agent-nix-expert-quota"),
            ("NetworkPolicy", ns2, "cim-agent-nix-expert-egress-only"),
            ("Deployment", ns2, ns2),
        ]
    );
    Ok(())
}

#[test]
fn deployment_runs_the_agent_runtime_with_tier_resources_and_no_privileges() -> TestResult {
    let nix = agent("nix-expert")?;
    let id = nix.definition.id.to_string();
    let manifests = to_kube_manifests(&[nix], &TierCatalog::builtin()?, &options("standard"))?;
    let deployment = deployment_of(&manifests)?;
    let spec = deployment.spec.as_ref().ok_or("no spec")?;
    assert_eq!(spec.replicas, Some(1));
    let pod = spec.template.spec.as_ref().ok_or("no pod spec")?;
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("cim-agent-nix-expert")
    );
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.node_selector, None);
    let container = pod.containers.first().ok_or("no container")?;
    assert_eq!(
        container.image.as_deref(),
        Some("registry.example/cim-leaf:0.1.0")
    );
    assert_eq!(container.command, Some(vec!["cim-leaf".to_owned()]));
    assert_eq!(
        container.args.as_deref(),
        Some(
            &[
                "agents",
                "run",
                "--agent-file",
                "/etc/cim-agent/agent.md",
                "--nats-url",
                "nats://10.0.0.1:4222",
                "--data-dir",
                "/var/lib/cim-agent",
                "--ollama-url",
                "http://gpu-1:11434",
            ]
            .map(str::to_owned)[..]
        )
    );
    let resources = container.resources.as_ref().ok_or("no resources")?;
    let limits = resources.limits.as_ref().ok_or("no limits")?;
    assert_eq!(limits.get("cpu"), Some(&q("2")));
    assert_eq!(limits.get("memory"), Some(&q("8Gi")));
    assert_eq!(limits.get("nvidia.com/gpu"), None);
    let security = container
        .security_context
        .as_ref()
        .ok_or("no security context")?;
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    let env = container.env.as_ref().ok_or("no env")?;
    assert!(
        env.iter()
            .any(|e| e.name == "CIM_AGENT_ID" && e.value.as_deref() == Some(id.as_str()))
    );
    assert!(
        env.iter()
            .any(|e| e.name == "RUST_LOG" && e.value.as_deref() == Some("debug"))
    );
    let mounts: Vec<&str> = container
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.mount_path.as_str())
        .collect();
    assert_eq!(mounts, ["/etc/cim-agent", "/tmp", "/var/lib/cim-agent"]);
    Ok(())
}

#[test]
fn config_map_carries_the_agent_file_and_identity() -> TestResult {
    let ddd = agent("ddd-expert")?;
    let text = ddd.text.clone();
    let id = ddd.definition.id.to_string();
    let manifests = to_kube_manifests(&[ddd], &TierCatalog::builtin()?, &options("small"))?;
    let data = manifests
        .iter()
        .find_map(|m| match m {
            KubeManifest::ConfigMap(c) => c.data.clone(),
            _ => None,
        })
        .ok_or("no ConfigMap data")?;
    assert_eq!(data.get("agent.md"), Some(&text));
    assert_eq!(data.get("agent-id"), Some(&id));
    assert_eq!(
        data.get("agent-name").map(String::as_str),
        Some("ddd-expert")
    );
    assert_eq!(data.get("version").map(String::as_str), Some("0.3.0"));
    assert_eq!(
        data.get("capabilities").map(String::as_str),
        Some("domain-modeling\nevent-storming")
    );
    Ok(())
}

#[test]
fn gpu_tier_requests_a_gpu_on_gpu_nodes_with_a_model_cache() -> TestResult {
    let manifests =
        to_kube_manifests(&[agent("sage")?], &TierCatalog::builtin()?, &options("gpu"))?;
    let pod = deployment_of(&manifests)?
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .ok_or("no pod spec")?;
    let container = pod.containers.first().ok_or("no container")?;
    let limits = container
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .ok_or("no limits")?;
    assert_eq!(limits.get("nvidia.com/gpu"), Some(&q("1")));
    assert_eq!(
        pod.node_selector
            .as_ref()
            .and_then(|s| s.get("nvidia.com/gpu.present"))
            .map(String::as_str),
        Some("true")
    );
    let toleration = pod
        .tolerations
        .as_ref()
        .and_then(|t| t.first())
        .ok_or("no toleration")?;
    assert_eq!(toleration.key.as_deref(), Some("nvidia.com/gpu"));
    assert_eq!(toleration.effect.as_deref(), Some("NoSchedule"));
    let claims: Vec<&str> = manifests
        .iter()
        .filter(|m| m.kind() == "PersistentVolumeClaim")
        .filter_map(|m| m.metadata().name.as_deref())
        .collect();
    assert_eq!(claims, ["data", "models"]);
    let quota = manifests
        .iter()
        .find_map(|m| match m {
            KubeManifest::ResourceQuota(r) => r.spec.as_ref().and_then(|s| s.hard.clone()),
            _ => None,
        })
        .ok_or("no quota")?;
    assert_eq!(quota.get("pods"), Some(&q("1")));
    assert_eq!(quota.get("persistentvolumeclaims"), Some(&q("2")));
    assert_eq!(quota.get("requests.storage"), Some(&q("250Gi")));
    assert_eq!(quota.get("requests.nvidia.com/gpu"), Some(&q("1")));
    assert_eq!(quota.get("limits.memory"), Some(&q("64Gi")));
    Ok(())
}

#[test]
fn network_policy_denies_ingress_and_allows_only_dns_nats_and_ollama() -> TestResult {
    let mut opts = options("standard");
    opts.overrides.nats_url = Some("tls://nats.cluster:7422".to_owned());
    let manifests = to_kube_manifests(&[agent("nix-expert")?], &TierCatalog::builtin()?, &opts)?;
    let policy = manifests
        .iter()
        .find_map(|m| match m {
            KubeManifest::NetworkPolicy(p) => p.spec.clone(),
            _ => None,
        })
        .ok_or("no NetworkPolicy")?;
    assert_eq!(
        policy.policy_types,
        Some(vec!["Ingress".to_owned(), "Egress".to_owned()])
    );
    assert_eq!(
        policy.ingress, None,
        "no ingress rule means all ingress is denied"
    );
    let ports: Vec<(i32, String)> = policy
        .egress
        .iter()
        .flatten()
        .flat_map(|rule| rule.ports.iter().flatten())
        .map(|p| match (&p.port, &p.protocol) {
            (Some(IntOrString::Int(port)), Some(protocol)) => Ok((*port, protocol.clone())),
            _ => Err("egress port without number or protocol"),
        })
        .collect::<Result<_, _>>()?;
    assert_eq!(
        ports,
        [
            (53, "UDP".to_owned()),
            (53, "TCP".to_owned()),
            (7422, "TCP".to_owned()),
            (11434, "TCP".to_owned()),
        ]
    );
    Ok(())
}

#[test]
fn output_is_byte_identical_whatever_the_argument_order_and_matches_golden() -> TestResult {
    let catalog = TierCatalog::builtin()?;
    let forward = [agent("ddd-expert")?, agent("nix-expert")?];
    let backward = [agent("nix-expert")?, agent("ddd-expert")?];
    let a = manifests_to_yaml(&to_kube_manifests(
        &forward,
        &catalog,
        &options("standard"),
    )?)?;
    let b = manifests_to_yaml(&to_kube_manifests(
        &backward,
        &catalog,
        &options("standard"),
    )?)?;
    assert_eq!(a, b);
    assert_eq!(
        a.matches("\n---\n").count(),
        13,
        "14 documents, `---` between them"
    );
    assert_golden("k8s-standard.yaml", &a)?;
    let gpu = manifests_to_yaml(&to_kube_manifests(
        &[agent("sage")?],
        &catalog,
        &options("gpu"),
    )?)?;
    assert_golden("k8s-gpu.yaml", &gpu)
}

#[test]
fn unknown_tier_gpu_agent_on_cpu_tier_duplicates_and_bad_urls_are_errors() -> TestResult {
    let catalog = TierCatalog::builtin()?;
    let unknown = to_kube_manifests(&[agent("ddd-expert")?], &catalog, &options("huge"));
    assert!(
        matches!(&unknown, Err(DeployError::UnknownTier { name, .. }) if name == "huge"),
        "{unknown:?}"
    );

    let needs_gpu = to_kube_manifests(&[agent("sage")?], &catalog, &options("large"));
    assert!(
        matches!(&needs_gpu, Err(DeployError::GpuTierRequired { agent, gpus: 1, tier, granted: 0 }) if agent == "sage" && tier == "large"),
        "{needs_gpu:?}"
    );

    let twice = to_kube_manifests(&[agent("sage")?, agent("sage")?], &catalog, &options("gpu"));
    assert!(
        matches!(&twice, Err(DeployError::DuplicateAgent { name }) if name == "sage"),
        "{twice:?}"
    );

    let mut opts = options("standard");
    opts.overrides.ollama_url = Some("gpu-1:11434".to_owned());
    let bad_url = to_kube_manifests(&[agent("ddd-expert")?], &catalog, &opts);
    let message = bad_url.err().map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some("agent ddd-expert: --ollama-url \"gpu-1:11434\" is not a URL like http://host:11434")
    );
    Ok(())
}

#[test]
fn an_agent_asking_for_more_gpus_than_the_tier_grants_is_an_error() -> TestResult {
    let catalog = TierCatalog::builtin()?;
    // The gpu tier grants one GPU per pod; an agent asking for two must not get one silently.
    let sage = std::fs::read_to_string(golden().join("agents/sage.md"))?;
    let two_gpus = sage.replace("    gpus: 1\n", "    gpus: 2\n");
    assert_ne!(two_gpus, sage, "sage.md asks for `gpus: 1`");
    let two_gpus = AgentSource::from_markdown(&two_gpus, "sage.md")?;
    let too_many = to_kube_manifests(&[two_gpus], &catalog, &options("gpu"));
    let message = too_many.as_ref().err().map(ToString::to_string);
    assert!(
        matches!(&too_many, Err(DeployError::GpuTierRequired { agent, gpus: 2, tier, granted: 1 }) if agent == "sage" && tier == "gpu"),
        "{too_many:?}"
    );
    assert_eq!(
        message.as_deref(),
        Some(
            "agent sage needs 2 GPU(s) but tier gpu grants 1; use a tier with at least 2 nvidia.com/gpu"
        )
    );
    Ok(())
}
