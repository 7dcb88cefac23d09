//! An agent file without `version` is an unversioned definition: the aggregate registers it
//! with no version, the announcement carries `null`, the Kubernetes identity ConfigMap has no
//! `version` key, and records written before versions became optional still read back.

use chrono::{TimeZone, Utc};
use cim_domain_agent::AgentDefinition;
use cim_domain_agent::aggregate::{Agent, AgentCommand, AgentEvent};
use cim_domain_agent::announce::AgentRegistration;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const UNVERSIONED: &str = "---\nname: code-reviewer\ndescription: Reviews recent changes for bugs and style.\ntools: Read, Grep, Glob\nmodel: sonnet\n---\nReview.\n";

fn unversioned() -> Result<AgentDefinition, Box<dyn std::error::Error>> {
    Ok(AgentDefinition::from_markdown(
        UNVERSIONED,
        "code-reviewer.md",
    )?)
}

#[test]
fn the_aggregate_registers_an_unversioned_agent() -> TestResult {
    let definition = unversioned()?;
    let events = Agent::default().decide(AgentCommand::register(&definition))?;
    assert!(
        matches!(&events[..], [AgentEvent::Registered { version: None, name, .. }] if name == &definition.name),
        "{events:?}"
    );
    // A `Registered` event stored before versions were optional (always with a version)
    // and one stored without any still read back.
    let mut json = serde_json::to_value(&events[0])?;
    assert_eq!(json["version"], serde_json::Value::Null);
    if let Some(object) = json.as_object_mut() {
        object.remove("version");
    }
    let back: AgentEvent = serde_json::from_value(json.clone())?;
    assert_eq!(back, events[0]);
    json["version"] = serde_json::json!("1.2.3");
    let versioned: AgentEvent = serde_json::from_value(json)?;
    assert!(
        matches!(versioned, AgentEvent::Registered { version: Some(ref v), .. } if v.major == 1)
    );
    Ok(())
}

#[test]
fn the_announcement_carries_no_version_and_reads_old_and_new_payloads() -> TestResult {
    let definition = unversioned()?;
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .ok_or("time")?;
    let registration = AgentRegistration::new(&definition, None, None, 10, at);
    assert_eq!(registration.version, None);
    let mut json = serde_json::to_value(&registration)?;
    assert_eq!(json["version"], serde_json::Value::Null);
    if let Some(object) = json.as_object_mut() {
        object.remove("version");
    }
    assert_eq!(
        serde_json::from_value::<AgentRegistration>(json.clone())?,
        registration
    );
    json["version"] = serde_json::json!("0.3.0");
    let old: AgentRegistration = serde_json::from_value(json)?;
    assert_eq!(old.version, Some(semver::Version::new(0, 3, 0)));
    Ok(())
}

#[cfg(feature = "deploy")]
#[test]
fn the_kubernetes_identity_has_no_version_key() -> TestResult {
    use cim_domain_agent::deploy::AgentSource;
    use cim_domain_agent::deploy::k8s::{
        KubeManifest, KubeOptions, TierCatalog, to_kube_manifests,
    };

    let source = AgentSource::from_markdown(UNVERSIONED, "code-reviewer.md")?;
    let options = KubeOptions {
        tier: "small".to_owned(),
        image: "registry.example/cim-leaf:0.1.0".to_owned(),
        overrides: Default::default(),
    };
    let manifests = to_kube_manifests(&[source], &TierCatalog::builtin()?, &options)?;
    let data = manifests
        .iter()
        .find_map(|m| match m {
            KubeManifest::ConfigMap(c) => c.data.clone(),
            _ => None,
        })
        .ok_or("no ConfigMap data")?;
    assert_eq!(
        data.get("agent-name").map(String::as_str),
        Some("code-reviewer")
    );
    assert_eq!(data.get("version"), None);
    Ok(())
}
