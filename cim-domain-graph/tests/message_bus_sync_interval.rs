//! A `message_bus` node's `sync_interval` reaches the generated NATS settings
//! (`services.nats.settings.jetstream.sync_interval`): `always` by default, a duration when the
//! graph says so, nothing without JetStream, and a value nats-server would not accept is a
//! translation error rather than a broken configuration.

use cim_domain_graph::GraphDocument;
use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator, TranslationError};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The generated host file of a one-host graph with one message bus whose extra fields are `bus`.
fn host_file(bus: &str) -> Result<Result<String, TranslationError>, Box<dyn std::error::Error>> {
    let yaml = format!(
        "hosts:\n  - {{ name: nats-1, addresses: [10.0.0.1] }}\nnodes:\n  - {{ name: bus, type: message_bus, host: nats-1{bus} }}\n"
    );
    let graph = GraphDocument::from_yaml_str(&yaml)?.to_graph()?;
    Ok(FlakeTranslator::default()
        .translate_graph(&graph)
        .map(|spec| {
            spec.files()
                .iter()
                .filter(|(path, _)| path.to_string_lossy().contains("nats-1"))
                .map(|(_, text)| text.clone())
                .collect()
        }))
}

#[test]
fn default_is_always() -> TestResult {
    let text = host_file("")??;
    assert!(text.contains("sync_interval = \"always\""), "{text}");
    Ok(())
}

#[test]
fn a_duration_is_written_as_given() -> TestResult {
    let text = host_file(", sync_interval: 120s")??;
    assert!(text.contains("sync_interval = \"120s\""), "{text}");
    assert!(!text.contains("\"always\""), "{text}");
    Ok(())
}

#[test]
fn without_jetstream_there_is_no_sync_setting() -> TestResult {
    let text = host_file(", jetstream: false, sync_interval: 5s")??;
    assert!(!text.contains("sync_interval"), "{text}");
    Ok(())
}

#[test]
fn values_the_server_rejects_are_translation_errors() -> TestResult {
    for bad in ["fast", "120", "0s", "10d", "-5s"] {
        let result = host_file(&format!(", sync_interval: \"{bad}\""))?;
        assert!(result.is_err(), "{bad} was accepted: {result:?}");
    }
    Ok(())
}
