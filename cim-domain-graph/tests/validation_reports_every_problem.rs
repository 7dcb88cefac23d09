//! `validate_deployment_graph` reports every problem of a graph at once, naming the nodes.

use cim_domain_graph::{
    DeploymentGraph, GraphDocument, ValidationError, ValidationErrors, validate_deployment_graph,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn problems_of(yaml: &str) -> Result<Vec<ValidationError>, Box<dyn std::error::Error>> {
    let graph = GraphDocument::from_yaml_str(yaml)?.to_graph()?;
    Ok(match validate_deployment_graph(&graph) {
        Ok(()) => Vec::new(),
        Err(ValidationErrors(problems)) => problems,
    })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

const BROKEN: &str = r#"
hosts:
  - { name: small, cpu_cores: 1, memory_mb: 1024 }
  - { name: other }
nodes:
  - { name: a, type: service, host: small, command: "run a", port: 8080, resources: { cpu_millis: 800, memory_mb: 600 } }
  - { name: b, type: service, host: small, command: "run b", port: 8080, resources: { cpu_millis: 400, memory_mb: 600 } }
  - { name: c, type: service, host: small, command: "run c" }
  - { name: floating, type: service, command: "run" }
  - { name: db, type: database, host: other }
  - { name: lb, type: load_balancer, host: other, port: 8081 }
  - { name: vol-1, type: storage, host: other, mount_point: /data, source: { kind: bind, path: /srv/one } }
  - { name: vol-2, type: storage, host: other, mount_point: /data, source: { kind: bind, path: /srv/two } }
  - { name: Bad_Name, type: service, host: other, command: "x" }
edges:
  - { from: a, to: b, type: depends_on }
  - { from: b, to: c, type: depends_on }
  - { from: c, to: a, type: depends_on }
  - { from: lb, to: db, type: load_balances }
  - { from: db, to: a, type: runs_on }
  - { from: c, to: vol-1, type: connects_to }
"#;

#[test]
fn a_broken_graph_gets_every_problem_in_one_report() -> TestResult {
    let problems = problems_of(BROKEN)?;
    let expected = [
        ValidationError::InvalidName {
            name: "Bad_Name".into(),
            reason: "it must start with a lowercase letter".into(),
        },
        ValidationError::InvalidEndpoints {
            from: "lb".into(),
            from_type: "load_balancer".into(),
            to: "db".into(),
            to_type: "database".into(),
            edge: "load_balances".into(),
            needs: "a load_balancer source and a service target".into(),
        },
        ValidationError::InvalidEndpoints {
            from: "db".into(),
            from_type: "database".into(),
            to: "a".into(),
            to_type: "service".into(),
            edge: "runs_on".into(),
            needs: "a non-host source and a host target".into(),
        },
        ValidationError::InvalidEndpoints {
            from: "c".into(),
            from_type: "service".into(),
            to: "vol-1".into(),
            to_type: "storage".into(),
            edge: "connects_to".into(),
            needs: "non-host, non-storage nodes at both ends".into(),
        },
        ValidationError::DependencyCycle {
            cycle: strings(&["a", "b", "c", "a"]),
        },
        ValidationError::NotPlaced {
            node: "floating".into(),
        },
        ValidationError::PortConflict {
            host: "small".into(),
            port: 8080,
            nodes: strings(&["a", "b"]),
        },
        ValidationError::Overcommit {
            host: "small".into(),
            resource: "cpu_millis".into(),
            capacity: 1000,
            requested: 1200,
            nodes: strings(&["a", "b"]),
        },
        ValidationError::Overcommit {
            host: "small".into(),
            resource: "memory_mb".into(),
            capacity: 1024,
            requested: 1200,
            nodes: strings(&["a", "b"]),
        },
        ValidationError::MountConflict {
            host: "other".into(),
            mount_point: "/data".into(),
            nodes: strings(&["vol-1", "vol-2"]),
        },
    ];
    for problem in &expected {
        assert!(
            problems.contains(problem),
            "missing {problem:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    Ok(())
}

#[test]
fn a_node_on_two_hosts_is_reported_with_both_hosts() -> TestResult {
    let problems = problems_of(
        r#"
hosts: [{ name: h1 }, { name: h2 }]
nodes: [{ name: s, type: service, host: h1, command: run }]
edges: [{ from: s, to: h2, type: runs_on }]
"#,
    )?;
    assert_eq!(
        problems,
        [ValidationError::PlacedOnManyHosts {
            node: "s".into(),
            hosts: strings(&["h1", "h2"]),
        }]
    );
    Ok(())
}

#[test]
fn agents_asking_for_more_gpus_than_the_host_has_are_reported() -> TestResult {
    let problems = problems_of(
        r#"
hosts: [{ name: gpu-box, gpus: [{ model: nvidia-l4, compute_capability: '8.9' }] }]
nodes:
  - { name: planner, type: agent, host: gpu-box, definition: agents/planner.md, gpus: 1 }
  - { name: coder, type: agent, host: gpu-box, definition: agents/coder.md, gpus: 1 }
"#,
    )?;
    assert_eq!(
        problems,
        [ValidationError::Overcommit {
            host: "gpu-box".into(),
            resource: "gpus".into(),
            capacity: 1,
            requested: 2,
            nodes: strings(&["planner", "coder"]),
        }]
    );
    Ok(())
}

#[test]
fn bad_field_values_name_the_node_and_field() -> TestResult {
    let problems = problems_of(
        r#"
hosts: [{ name: h }]
nodes:
  - { name: empty, type: service, host: h }
  - { name: env, type: service, host: h, package: "not a path", environment: { "1BAD": x } }
  - { name: pg, type: database, host: h, databases: [Shop] }
  - { name: mnt, type: storage, host: h, mount_point: data/, source: { kind: volume, device: sdb, fs_type: ext4 } }
"#,
    )?;
    let fields: Vec<(&str, &str)> = problems
        .iter()
        .filter_map(|p| match p {
            ValidationError::InvalidField { node, field, .. } => {
                Some((node.as_str(), field.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("empty", "command"),
            ("env", "package"),
            ("env", "environment.1BAD"),
            ("pg", "databases.Shop"),
            ("mnt", "mount_point"),
            ("mnt", "source"),
        ]
    );
    assert_eq!(problems.len(), fields.len());
    Ok(())
}

#[test]
fn dangling_references_and_duplicates_are_reported_with_the_other_problems() -> TestResult {
    let document = GraphDocument::from_yaml_str(
        r#"
hosts: [{ name: h }]
nodes:
  - { name: s, type: service, host: nowhere, command: run }
  - { name: s, type: service, host: h, command: run }
  - { name: t, type: service, command: run }
edges:
  - { from: t, to: ghost, type: depends_on }
"#,
    )?;
    let Err(errors) = document.to_graph() else {
        return Err("a document with dangling references must not load".into());
    };
    assert_eq!(
        errors.problems(),
        [
            ValidationError::DuplicateName { name: "s".into() },
            ValidationError::DanglingReference {
                from: "s".into(),
                to: "nowhere".into(),
                edge: "runs_on".into(),
                missing: "nowhere".into(),
            },
            ValidationError::DanglingReference {
                from: "t".into(),
                to: "ghost".into(),
                edge: "depends_on".into(),
                missing: "ghost".into(),
            },
            ValidationError::NotPlaced { node: "t".into() },
        ]
    );
    let message = errors.to_string();
    assert!(message.contains("4 problems"), "{message}");
    assert!(message.contains("no node is named `ghost`"), "{message}");
    Ok(())
}

#[test]
fn a_long_dependency_chain_is_checked_without_recursion() -> TestResult {
    let mut graph = DeploymentGraph::new();
    let host = cim_domain_graph::DeploymentNode::new(
        "h",
        cim_domain_graph::DeploymentNodeType::Host(Default::default()),
    );
    graph.add_node(host)?;
    let count = 50_000;
    for i in 0..count {
        let service = cim_domain_graph::ServiceSpec {
            command: Some("run".into()),
            ..Default::default()
        };
        let name = format!("s{i}");
        graph.add_node(cim_domain_graph::DeploymentNode::new(
            &name,
            cim_domain_graph::DeploymentNodeType::Service(service),
        ))?;
        graph.place_on_host(&name, "h")?;
        if i > 0 {
            graph.connect(
                &name,
                &format!("s{}", i - 1),
                cim_domain_graph::DeploymentEdgeType::DependsOn,
            )?;
        }
    }
    validate_deployment_graph(&graph)?;
    graph.connect(
        "s0",
        &format!("s{}", count - 1),
        cim_domain_graph::DeploymentEdgeType::DependsOn,
    )?;
    let Err(errors) = validate_deployment_graph(&graph) else {
        return Err("closing the chain must make a cycle".into());
    };
    match errors.problems() {
        [ValidationError::DependencyCycle { cycle }] => assert_eq!(cycle.len(), count + 1),
        other => return Err(format!("expected one cycle, got {other:?}").into()),
    }
    Ok(())
}
