//! Kubernetes output never carries credentials in a Deployment's arguments (issue 12, item 8):
//! a NATS or Ollama URL with user:password is refused with a message pointing to a Secret, and
//! the message itself does not show the password.

use std::path::Path;

use cim_domain_agent::deploy::k8s::{KubeOptions, TierCatalog, to_kube_manifests};
use cim_domain_agent::deploy::{AgentSource, DeployError, DeployOverrides};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn refused(overrides: DeployOverrides) -> Result<DeployError, Box<dyn std::error::Error>> {
    let sage = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/agents/sage.md");
    let options = KubeOptions {
        tier: "gpu".to_owned(),
        image: "registry.example/cim-leaf:0.1.0".to_owned(),
        overrides,
    };
    match to_kube_manifests(
        &[AgentSource::read(sage)?],
        &TierCatalog::builtin()?,
        &options,
    ) {
        Ok(_) => Err("manifests were produced".into()),
        Err(error) => Ok(error),
    }
}

#[test]
fn a_nats_url_with_a_password_is_refused_without_showing_it() -> TestResult {
    let error = refused(DeployOverrides {
        nats_url: Some("nats://alice:s3cret@nats.cim:4222".to_owned()),
        ..DeployOverrides::default()
    })?;
    assert!(
        matches!(error, DeployError::CredentialsInUrl { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(!message.contains("s3cret"), "{message}");
    assert!(message.contains("Secret"), "{message}");
    Ok(())
}

#[test]
fn an_ollama_url_with_a_password_is_refused() -> TestResult {
    let error = refused(DeployOverrides {
        ollama_url: Some("http://bob:hunter2@gpu-1:11434".to_owned()),
        ..DeployOverrides::default()
    })?;
    assert!(
        matches!(error, DeployError::CredentialsInUrl { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
    Ok(())
}
