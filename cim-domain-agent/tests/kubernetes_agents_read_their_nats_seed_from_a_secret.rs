//! With `nats_nkey_seeds`, each agent's pod mounts its NKey seed read-only from the Secret the
//! user creates in the agent's namespace, and the runtime is started with `--nkey-seed`; the
//! manifests name the Secret and the path, never hold a seed.

use std::path::Path;

use cim_domain_agent::deploy::k8s::{
    KubeManifest, KubeOptions, NATS_SEED_KEY, TierCatalog, manifests_to_yaml, nats_seed_secret,
    to_kube_manifests,
};
use cim_domain_agent::deploy::{AgentSource, DeployOverrides};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn the_seed_comes_from_the_users_secret_read_only() -> TestResult {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/agents");
    let first = dir.join("nix-expert.md");
    let agent = AgentSource::read(&first)?;
    let name = agent.name().to_owned();
    let options = KubeOptions {
        tier: "standard".to_owned(),
        image: "registry.example/cim-leaf:0.1.0".to_owned(),
        overrides: DeployOverrides {
            nats_nkey_seeds: true,
            ..DeployOverrides::default()
        },
    };
    let manifests = to_kube_manifests(&[agent], &TierCatalog::builtin()?, &options)?;
    let deployment = manifests
        .iter()
        .find_map(|m| match m {
            KubeManifest::Deployment(d) => Some(d),
            _ => None,
        })
        .ok_or("no deployment")?;
    let pod = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .ok_or("no pod")?;
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "nats-seed")
        .ok_or("no seed volume")?;
    let secret = volume.secret.as_ref().ok_or("not a Secret volume")?;
    assert_eq!(
        secret.secret_name.as_deref(),
        Some(nats_seed_secret(&name).as_str())
    );
    assert_eq!(secret.default_mode, Some(0o400));
    let item = &secret.items.as_deref().unwrap_or_default()[0];
    assert_eq!(item.key, NATS_SEED_KEY);
    assert_eq!(item.path, format!("{name}.nk"));
    let container = &pod.containers[0];
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "nats-seed")
        .ok_or("no seed mount")?;
    assert_eq!(mount.mount_path, "/run/secrets/cim/nats");
    assert_eq!(mount.read_only, Some(true));
    let args = container.args.as_deref().unwrap_or_default();
    let at = args
        .iter()
        .position(|a| a == "--nkey-seed")
        .ok_or("no --nkey-seed")?;
    assert_eq!(args[at + 1], format!("/run/secrets/cim/nats/{name}.nk"));

    // Without the option nothing about seeds appears.
    let plain = KubeOptions {
        overrides: DeployOverrides::default(),
        ..options
    };
    let agent = AgentSource::read(&first)?;
    let yaml = manifests_to_yaml(&to_kube_manifests(
        &[agent],
        &TierCatalog::builtin()?,
        &plain,
    )?)?;
    assert!(!yaml.contains("nats-seed") && !yaml.contains("--nkey-seed"));
    Ok(())
}
