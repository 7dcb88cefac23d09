//! A NATS URL with a path is refused by the definition reader (what `agents validate` runs) and
//! by deployment settings (what `translate` and `--nats-url` use) alike, with the same reason.

use cim_domain_agent::AgentDefinition;
use cim_domain_agent::deploy::{AgentSettings, DeployOverrides};

const AGENT: &str = "---\nname: bus-reader\ndescription: Reads the bus.\nversion: 1.0.0\nnats:\n  url: URL\n---\nYou read.\n";

#[test]
fn a_nats_url_with_a_path_is_refused_when_read_and_when_deployed() {
    let with_path = AGENT.replace("URL", "nats://10.0.0.1:4222/events");
    let error = AgentDefinition::from_markdown(&with_path, "bus-reader.md")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("nats.url"), "{error}");
    assert!(error.contains("no path"), "{error}");

    let good = AGENT.replace("URL", "nats://10.0.0.1:4222");
    let definition = AgentDefinition::from_markdown(&good, "bus-reader.md");
    assert!(definition.is_ok(), "{definition:?}");
    let Ok(definition) = definition else { return };
    let overrides = DeployOverrides {
        nats_url: Some("nats://10.0.0.1:4222/events".to_owned()),
        ..DeployOverrides::default()
    };
    let refused = AgentSettings::resolve(&definition, &overrides)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains("--nats-url"), "{refused}");
}
