//! Graphs that put something on a platform that cannot run it are refused with problems naming
//! the node and the host, never translated into options the platform does not have.

use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator, TranslationError};
use cim_domain_graph::{GraphDocument, ValidationError};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn problems(yaml: &str) -> Result<Vec<ValidationError>, Box<dyn std::error::Error>> {
    let graph = GraphDocument::from_yaml_str(yaml)?.to_graph()?;
    match FlakeTranslator::default().translate_graph(&graph) {
        Err(TranslationError::Invalid(errors)) => Ok(errors.0),
        Err(other) => Err(other.into()),
        Ok(_) => Err("the graph was translated".into()),
    }
}

#[test]
fn kinds_without_a_nix_darwin_form_are_refused_on_a_mac() -> TestResult {
    let found = problems(
        r#"
hosts: [{ name: studio-1, system: aarch64-darwin }]
nodes:
  - { name: pg, type: database, host: studio-1 }
  - { name: data, type: storage, host: studio-1, mount_point: /srv, source: { kind: bind, path: /x } }
  - { name: bus, type: message_bus, host: studio-1 }
"#,
    )?;
    let refused: Vec<(&str, &str, &str)> = found
        .iter()
        .filter_map(|p| match p {
            ValidationError::NotOnDarwin {
                node, kind, host, ..
            } => Some((node.as_str(), kind.as_str(), host.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("data", "storage", "studio-1"),
            ("pg", "database", "studio-1")
        ],
        "{found:#?}"
    );
    let message = found
        .iter()
        .find(|p| matches!(p, ValidationError::NotOnDarwin { .. }))
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        message.contains("`data`")
            && message.contains("`studio-1`")
            && message.contains("aarch64-darwin"),
        "{message}"
    );
    Ok(())
}

#[test]
fn gpus_of_the_other_platform_and_bad_darwin_state_versions_are_refused() -> TestResult {
    let found = problems(
        r#"
hosts:
  - { name: studio-1, system: aarch64-darwin, state_version: "24.11", gpus: [{ model: NVIDIA L40S, compute_capability: "8.9" }] }
  - { name: gpu-1, gpus: [{ vendor: apple, model: Apple M2 Ultra, memory_mb: 1024 }] }
"#,
    )?;
    let fields: Vec<(&str, &str)> = found
        .iter()
        .filter_map(|p| match p {
            ValidationError::InvalidField { node, field, .. } => {
                Some((node.as_str(), field.as_str()))
            }
            _ => None,
        })
        .collect();
    for wanted in [
        ("studio-1", "gpus"),
        ("studio-1", "state_version"),
        ("gpu-1", "gpus"),
    ] {
        assert!(fields.contains(&wanted), "{wanted:?} in {found:#?}");
    }
    Ok(())
}

#[test]
fn a_host_needing_both_nvidia_kernel_module_kinds_is_refused() -> TestResult {
    let found = problems(
        r#"
hosts:
  - name: mixed-1
    gpus:
      - { model: Tesla P100-PCIE-16GB, compute_capability: "6.0" }
      - { model: NVIDIA B200, compute_capability: "10.0" }
"#,
    )?;
    let problem = found
        .iter()
        .find(|p| matches!(p, ValidationError::InvalidField { node, field, .. } if node == "mixed-1" && field == "gpus"))
        .ok_or_else(|| format!("no gpus problem in {found:#?}"))?;
    let text = problem.to_string();
    assert!(
        text.contains("proprietary") && text.contains("open"),
        "{text}"
    );
    Ok(())
}
