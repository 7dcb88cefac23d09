//! Values NixOS writes unescaped into line-based files (systemd unit lines, nginx configuration,
//! `/etc/hosts`, fstab) are refused when they could add a line or a directive, with an error
//! naming the node and the field (issue 12, item 1).

use std::collections::BTreeMap;

use cim_domain_graph::{
    DeploymentGraph, DeploymentNode, DeploymentNodeType, GraphDocument, HostSpec, LoadBalancerSpec,
    MessageBusSpec, ServiceSpec, StorageSource, StorageSpec, ValidationError,
    validate_deployment_graph,
};
use proptest::prelude::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The problems of a YAML graph, as the translator and the aggregate see them.
fn problems_of(yaml: &str) -> Vec<ValidationError> {
    let graph = match GraphDocument::from_yaml_str(yaml).map(|d| d.to_graph()) {
        Ok(Ok(graph)) => graph,
        Ok(Err(errors)) => return errors.0,
        Err(error) => panic!("the test graph does not parse: {error}"),
    };
    validate_deployment_graph(&graph)
        .err()
        .map(|e| e.0)
        .unwrap_or_default()
}

fn refused(problems: &[ValidationError], node: &str, field: &str) -> bool {
    problems.iter().any(|p| {
        matches!(p, ValidationError::InvalidField { node: n, field: f, .. } if n == node && f == field)
    })
}

#[test]
fn a_command_with_a_newline_cannot_add_a_unit_directive() {
    let problems = problems_of(
        r#"
hosts: [{ name: h1 }]
nodes:
  - { name: api, type: service, host: h1, command: "true\nExecStartPre=+/bin/sh -c 'id > /root/x'" }
"#,
    );
    assert!(refused(&problems, "api", "command"), "{problems:?}");
}

#[test]
fn an_environment_value_with_a_newline_is_refused() {
    let problems = problems_of(
        r#"
hosts: [{ name: h1 }]
nodes:
  - { name: api, type: service, host: h1, command: run, environment: { MODE: "a\nExecStart=/bin/sh" } }
"#,
    );
    assert!(
        refused(&problems, "api", "environment.MODE"),
        "{problems:?}"
    );
}

#[test]
fn a_host_address_with_a_newline_cannot_add_an_etc_hosts_line() {
    let problems = problems_of("hosts: [{ name: h1, addresses: [\"10.0.0.1\\nevil\"] }]\n");
    assert!(refused(&problems, "h1", "addresses[0]"), "{problems:?}");
    let problems = problems_of("hosts: [{ name: h1, addresses: [\"10.0.0.1 evil\"] }]\n");
    assert!(refused(&problems, "h1", "addresses[0]"), "{problems:?}");
}

#[test]
fn a_server_name_cannot_become_nginx_directives() {
    let problems = problems_of(
        r#"
hosts: [{ name: h1 }]
nodes:
  - { name: web, type: service, host: h1, command: run, port: 8080 }
  - { name: lb, type: load_balancer, host: h1, server_name: "a; return 302 http://evil" }
edges: [{ from: lb, to: web, type: load_balances }]
"#,
    );
    assert!(refused(&problems, "lb", "server_name"), "{problems:?}");
}

#[test]
fn paths_and_file_system_types_cannot_add_fstab_lines() {
    let problems = problems_of(
        r#"
hosts: [{ name: h1 }]
nodes:
  - { name: vol, type: storage, host: h1, mount_point: "/data\n/x", source: { kind: volume, device: "/dev/sda\n", fs_type: "ext4 defaults" } }
"#,
    );
    for field in ["mount_point", "source.device", "source.fs_type"] {
        assert!(refused(&problems, "vol", field), "{field}: {problems:?}");
    }
}

#[test]
fn ordinary_values_are_still_accepted() -> TestResult {
    let yaml = r#"
hosts: [{ name: h1, addresses: ["10.0.0.1", "fd00::1", "h1.internal"] }]
nodes:
  - { name: web, type: service, host: h1, command: "python3 -m http.server 8080 --bind '::'", port: 8080, environment: { A: "x=y; z" } }
  - { name: lb, type: load_balancer, host: h1, server_name: "*.example.org" }
edges: [{ from: lb, to: web, type: load_balances }]
"#;
    assert_eq!(problems_of(yaml), []);
    Ok(())
}

/// A graph with `text` in every free-text field that ends up in a line-based file.
fn graph_with(text: &str) -> Result<DeploymentGraph, Box<dyn std::error::Error>> {
    let mut graph = DeploymentGraph::new();
    let host = HostSpec {
        addresses: vec![text.to_owned()],
        system: text.to_owned(),
        state_version: Some(text.to_owned()),
        ..HostSpec::default()
    };
    graph.add_node(DeploymentNode::new("h1", DeploymentNodeType::Host(host)))?;
    let service = ServiceSpec {
        command: Some(text.to_owned()),
        port: Some(8080),
        environment: BTreeMap::from([("A".to_owned(), text.to_owned())]),
        ..ServiceSpec::default()
    };
    graph.add_node(DeploymentNode::new(
        "api",
        DeploymentNodeType::Service(service),
    ))?;
    let lb = LoadBalancerSpec {
        server_name: Some(text.to_owned()),
        ..LoadBalancerSpec::default()
    };
    graph.add_node(DeploymentNode::new(
        "lb",
        DeploymentNodeType::LoadBalancer(lb),
    ))?;
    let bus = MessageBusSpec {
        leaf_remotes: vec![text.to_owned()],
        ..MessageBusSpec::default()
    };
    graph.add_node(DeploymentNode::new(
        "bus",
        DeploymentNodeType::MessageBus(bus),
    ))?;
    let storage = StorageSpec {
        mount_point: text.to_owned(),
        source: StorageSource::Volume {
            device: text.to_owned(),
            fs_type: text.to_owned(),
        },
        read_only: false,
    };
    graph.add_node(DeploymentNode::new(
        "vol",
        DeploymentNodeType::Storage(storage),
    ))?;
    Ok(graph)
}

/// The fields of [`graph_with`], with whether the text in it may not hold a space or `;`
/// (addresses and server names are single tokens of `/etc/hosts` and nginx).
const FIELDS: [(&str, &str, bool); 10] = [
    ("h1", "addresses[0]", true),
    ("h1", "system", false),
    ("h1", "state_version", false),
    ("api", "command", false),
    ("api", "environment.A", false),
    ("lb", "server_name", true),
    ("bus", "leaf_remotes[0]", false),
    ("vol", "mount_point", false),
    ("vol", "source.device", false),
    ("vol", "source.fs_type", true),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever string goes into every free-text field, a field that accepts it holds no line
    /// break or control character, and a one-token field no space, `;`, `{` or `}`.
    #[test]
    fn accepted_values_cannot_add_a_line_or_directive(
        text in prop_oneof![
            any::<String>(),
            "[a-z0-9.:/ ;{}\\n\\r\\t\u{2028}\u{85}*_-]{0,24}",
        ]
    ) {
        let graph = graph_with(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let problems = validate_deployment_graph(&graph).err().map(|e| e.0).unwrap_or_default();
        let breaks_line = text.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'));
        let breaks_token = text.chars().any(|c| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '#'));
        for (node, field, one_token) in FIELDS {
            if breaks_line || (one_token && breaks_token) {
                prop_assert!(
                    refused(&problems, node, field),
                    "{node}.{field} accepted {text:?}: {problems:?}"
                );
            }
        }
    }
}
