//! Kubernetes output that Kubernetes would refuse is refused here first, naming what is wrong:
//! an image reference with a newline, an agent file too large for a ConfigMap, and custom tier
//! catalogs with invalid tier names, node selectors, tolerations or a volume named like one
//! every pod already has.

use std::path::Path;

use cim_domain_agent::deploy::k8s::{KubeOptions, TierCatalog, to_kube_manifests};
use cim_domain_agent::deploy::{AgentSource, DeployError, DeployOverrides};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn sage() -> Result<AgentSource, Box<dyn std::error::Error>> {
    Ok(AgentSource::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/agents/sage.md"),
    )?)
}

fn options(tier: &str, image: &str) -> KubeOptions {
    KubeOptions {
        tier: tier.to_owned(),
        image: image.to_owned(),
        overrides: DeployOverrides::default(),
    }
}

#[test]
fn an_image_with_a_newline_is_refused() -> TestResult {
    let catalog = TierCatalog::builtin()?;
    let image = "registry.example/cim-leaf:1\n        command: [sh]";
    match to_kube_manifests(&[sage()?], &catalog, &options("gpu", image)) {
        Err(DeployError::InvalidImage { image, .. }) => assert!(image.contains("\\n")),
        other => panic!("expected InvalidImage, got {other:?}"),
    }
    Ok(())
}

#[test]
fn an_agent_file_over_a_configmaps_limit_is_refused() -> TestResult {
    let mut agent = sage()?;
    agent.text.push_str(&"x".repeat(1024 * 1024));
    let catalog = TierCatalog::builtin()?;
    let error = to_kube_manifests(&[agent], &catalog, &options("gpu", "leaf:1"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("ConfigMap"), "{error}");
    assert!(error.starts_with("agent sage:"), "{error}");
    Ok(())
}

#[test]
fn custom_tiers_kubernetes_would_refuse_are_named() {
    let volumes = "volumes: {data: {path: /d, size_gi: 1}}";
    let cases = [
        (format!("\"gpu tier\": {{requests: {{}}, limits: {{}}, {volumes}}}"), "tier gpu tier: name:"),
        (
            format!("t: {{requests: {{}}, limits: {{}}, node_selector: {{\"nvidia.com/gpu.product\": \"A100 80GB\"}}, {volumes}}}"),
            "tier t: node_selector.nvidia.com/gpu.product:",
        ),
        (
            format!("t: {{requests: {{}}, limits: {{}}, tolerations: [{{key: \"bad key\", operator: Exists}}], {volumes}}}"),
            "tier t: tolerations[0].key:",
        ),
        (
            "t: {requests: {}, limits: {}, volumes: {data: {path: /d, size_gi: 1}, identity: {path: /i, size_gi: 1}}}".to_owned(),
            "tier t: volumes.identity:",
        ),
    ];
    for (yaml, expected) in cases {
        match TierCatalog::from_yaml(&yaml, "tiers.yaml") {
            Ok(_) => panic!("accepted: {yaml}"),
            Err(error) => assert!(
                error.to_string().starts_with(expected),
                "{yaml}: {error} does not start with {expected}"
            ),
        }
    }
    // A valid custom tier with selectors and tolerations is accepted.
    let good = format!(
        "t: {{requests: {{}}, limits: {{}}, node_selector: {{\"nvidia.com/gpu.product\": A100-80GB}}, \
         tolerations: [{{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}], {volumes}}}"
    );
    assert!(
        TierCatalog::from_yaml(&good, "tiers.yaml").is_ok(),
        "{good}"
    );
}
