//! The built-in reviewers on real fleets: the example fleet passes every one; each reviewer
//! blocks what it is there to block (a two-member NATS cluster, JetStream on some members only, a database
//! client without TCP authentication, a port no edge needs or a needed one closed, a file that
//! does not parse, GPU grants that do not match the inventory), naming the node and why; the
//! graph version ignores order and changes with content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cim_domain_graph::translate::NixDeploymentSpec;
use cim_leaf::pipeline::review::{
    Finding, GPU_CAPABILITY, NATS_CAPABILITY, NETWORK_CAPABILITY, NIX_CAPABILITY,
    POSTGRES_CAPABILITY, ReviewContext, ReviewerSet, Severity, review_gpu_grants,
};
use cim_leaf::{Fleet, FleetOptions, GpuGrant, GraphVersion};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ALL: [&str; 5] = [
    NIX_CAPABILITY,
    NATS_CAPABILITY,
    POSTGRES_CAPABILITY,
    GPU_CAPABILITY,
    NETWORK_CAPABILITY,
];

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/graphs")
        .join(name)
}

/// Loads a graph written to a fresh directory.
fn load_text(graph: &str) -> Result<(tempfile::TempDir, Fleet), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("graph.yaml");
    std::fs::write(&path, graph)?;
    let fleet = Fleet::load(
        &path,
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?;
    Ok((dir, fleet))
}

/// Every reviewer's findings on `fleet` with `spec` as its files.
fn review(fleet: &Fleet, spec: &NixDeploymentSpec) -> Vec<Finding> {
    let context = ReviewContext {
        fleet,
        spec,
        nix_tool: None,
    };
    ReviewerSet::builtin()
        .review(ALL, &context)
        .unwrap_or_else(|error| panic!("the built-in reviewers do not fail: {error}"))
}

fn blocking(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.is_blocking()).collect()
}

/// `spec` with `path`'s text changed by `edit`.
fn edited(
    spec: &NixDeploymentSpec,
    path: &str,
    edit: impl Fn(&str) -> String,
) -> NixDeploymentSpec {
    let mut files: BTreeMap<PathBuf, String> = spec.files().clone();
    if let Some(text) = files.get_mut(Path::new(path)) {
        *text = edit(text);
    }
    NixDeploymentSpec::new(files)
}

#[test]
fn the_example_fleet_passes_every_reviewer() -> TestResult {
    let fleet = Fleet::load(
        example("fleet.yaml"),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?;
    let spec = fleet.translate()?;
    let findings = review(&fleet, &spec);
    assert!(blocking(&findings).is_empty(), "{findings:#?}");
    Ok(())
}

#[test]
fn a_two_member_nats_cluster_is_blocked_by_the_nats_reviewer() -> TestResult {
    let fleet = Fleet::load(
        example("nats-pair.yaml"),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?;
    let spec = fleet.translate()?;
    let findings = review(&fleet, &spec);
    let blocked = blocking(&findings);
    assert_eq!(blocked.len(), 1, "{findings:#?}");
    assert_eq!(blocked[0].reviewer, "nats");
    assert_eq!(blocked[0].node.as_deref(), Some("bus-1"));
    assert!(
        blocked[0].reason.contains("2 members (bus-1, bus-2)"),
        "{}",
        blocked[0]
    );
    // Only the NATS capability runs the NATS reviewer.
    let context = ReviewContext {
        fleet: &fleet,
        spec: &spec,
        nix_tool: None,
    };
    let others = ReviewerSet::builtin().review([NIX_CAPABILITY, NETWORK_CAPABILITY], &context)?;
    assert!(blocking(&others).is_empty(), "{others:#?}");
    Ok(())
}

const CLUSTER: &str = "hosts:
  - { name: n1, addresses: [10.0.1.1] }
  - { name: n2, addresses: [10.0.1.2] }
  - { name: n3, addresses: [10.0.1.3] }
nodes:
  - { name: a, type: message_bus, host: n1 }
  - { name: b, type: message_bus, host: n2, jetstream: false }
  - { name: c, type: message_bus, host: HOST_C }
edges:
  - { from: a, to: b, type: replicates }
  - { from: b, to: c, type: replicates }
";

#[test]
fn jetstream_on_some_members_only_is_blocked() -> TestResult {
    let (_dir, fleet) = load_text(&CLUSTER.replace("HOST_C", "n3"))?;
    let spec = fleet.translate()?;
    let findings = review(&fleet, &spec);
    let reasons: Vec<String> = blocking(&findings).iter().map(|f| f.to_string()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("JetStream is enabled on a, c of the cluster a, b, c")),
        "{reasons:#?}"
    );
    assert_eq!(reasons.len(), 1, "3 is odd: {reasons:#?}");
    Ok(())
}

const DATABASE: &str = "hosts:
  - { name: db-1, addresses: [10.0.2.10] }
  - { name: app-1, addresses: [10.0.3.11] }
  - { name: app-2, addresses: [10.0.3.12] }
nodes:
  - { name: pg, type: database, host: db-1 }
  - name: orders
    type: service
    host: app-1
    package: hello
    environment: { DATABASE_URL: 'postgresql://orders@10.0.2.10:5432/orders' }
  - name: billing
    type: service
    host: app-2
    package: hello
    environment: { DATABASE_URL: 'postgres://billing@10.0.2.10/billing' }
edges:
  - { from: orders, to: pg, type: connects_to }
";

#[test]
fn a_database_client_without_an_edge_has_no_tcp_authentication() -> TestResult {
    let (_dir, fleet) = load_text(DATABASE)?;
    let spec = fleet.translate()?;
    let findings = review(&fleet, &spec);
    let blocked = blocking(&findings);
    assert_eq!(blocked.len(), 1, "{findings:#?}");
    assert_eq!(blocked[0].reviewer, "postgresql");
    assert_eq!(blocked[0].node.as_deref(), Some("billing"));
    assert!(
        blocked[0].reason.contains("no connects_to edge to pg"),
        "{}",
        blocked[0]
    );
    Ok(())
}

#[test]
fn a_missing_or_trusting_pg_hba_line_is_blocked() -> TestResult {
    let (_dir, fleet) = load_text(&DATABASE.replace(
        "  - { from: orders, to: pg, type: connects_to }\n",
        "  - { from: orders, to: pg, type: connects_to }\n  - { from: billing, to: pg, type: connects_to }\n",
    ))?;
    let spec = fleet.translate()?;
    assert!(blocking(&review(&fleet, &spec)).is_empty());
    let dropped = edited(&spec, "hosts/db-1.nix", |text| {
        text.replace("host all all 10.0.3.12/32 scram-sha-256\\n", "")
    });
    let findings = review(&fleet, &dropped);
    let blocked = blocking(&findings);
    assert_eq!(blocked.len(), 1, "{findings:#?}");
    assert_eq!(blocked[0].node.as_deref(), Some("billing"));
    assert!(
        blocked[0]
            .reason
            .contains("no TCP authentication for 10.0.3.12/32")
    );
    let trusting = edited(&spec, "hosts/db-1.nix", |text| {
        text.replace("10.0.3.12/32 scram-sha-256", "10.0.3.12/32 trust")
    });
    let findings = review(&fleet, &trusting);
    assert!(
        blocking(&findings)
            .iter()
            .any(|f| f.reason.contains("without a password")),
        "{findings:#?}"
    );
    Ok(())
}

#[test]
fn a_port_no_edge_needs_and_a_needed_port_closed_are_blocked() -> TestResult {
    let fleet = Fleet::load(
        example("fleet.yaml"),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?;
    let spec = fleet.translate()?;
    let opened = edited(&spec, "hosts/web-1.nix", |text| {
        text.replace(
            "allowedTCPPorts = [ 80 9100 ]",
            "allowedTCPPorts = [ 22 80 9100 ]",
        )
    });
    let findings = review(&fleet, &opened);
    let blocked = blocking(&findings);
    assert_eq!(blocked.len(), 1, "{findings:#?}");
    assert_eq!(
        blocked[0].reason,
        "TCP port 22 is open on host web-1 but no edge needs it"
    );
    let closed = edited(&spec, "hosts/web-2.nix", |text| {
        text.replace(
            "allowedTCPPorts = [ 8080 9100 ]",
            "allowedTCPPorts = [ 9100 ]",
        )
    });
    let findings = review(&fleet, &closed);
    let blocked = blocking(&findings);
    assert_eq!(blocked.len(), 1, "{findings:#?}");
    assert_eq!(
        blocked[0].reason,
        "TCP port 8080 is closed on host web-2 but front load_balances orders-b needs it"
    );
    Ok(())
}

#[test]
fn a_file_that_does_not_parse_is_blocked_by_the_nix_reviewer() -> TestResult {
    let fleet = Fleet::load(
        example("fleet.yaml"),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?;
    let spec = fleet.translate()?;
    let broken = edited(&spec, "hosts/nats-3.nix", |text| text.replacen('}', "", 1));
    let context = ReviewContext {
        fleet: &fleet,
        spec: &broken,
        nix_tool: None,
    };
    let findings = ReviewerSet::builtin().review([NIX_CAPABILITY], &context)?;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Blocking);
    assert_eq!(findings[0].node.as_deref(), Some("nats-3"));
    assert!(
        findings[0].reason.contains("hosts/nats-3.nix"),
        "{}",
        findings[0]
    );
    Ok(())
}

#[test]
fn gpu_grants_must_match_requests_and_the_declared_inventory() -> TestResult {
    let fleet = Fleet::load(
        example("fleet.yaml"),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?;
    let grants = fleet.gpu_grants().clone();
    let requests: BTreeMap<String, u64> =
        BTreeMap::from([("db-expert".to_owned(), 1), ("sage".to_owned(), 1)]);
    assert_eq!(grants.len(), 2, "{grants:?}");
    assert!(review_gpu_grants(fleet.graph(), &requests, &grants).is_empty());

    // Both agents given the same GPU.
    let mut twice = grants.clone();
    let sage: Vec<GpuGrant> = twice.get("sage").cloned().unwrap_or_default();
    twice.insert("db-expert".to_owned(), sage);
    let findings = review_gpu_grants(fleet.graph(), &requests, &twice);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0].reason.contains("already granted to"),
        "{}",
        findings[0]
    );

    // An agent asking for more than it got, and a GPU the host does not declare.
    let more = BTreeMap::from([("db-expert".to_owned(), 2), ("sage".to_owned(), 1)]);
    let mut foreign = grants.clone();
    if let Some(grant) = foreign.get_mut("sage").and_then(|g| g.first_mut()) {
        grant.uuid = "GPU-not-declared".to_owned().try_into()?;
    }
    let findings = review_gpu_grants(fleet.graph(), &more, &foreign);
    let reasons: Vec<&str> = findings.iter().map(|f| f.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "asks for 2 GPU(s) but is granted 1",
            "granted GPU GPU-not-declared, which host gpu-1 does not declare"
        ]
    );
    Ok(())
}

#[test]
fn reviewers_are_chosen_by_capability_once_each() {
    let set = ReviewerSet::builtin();
    let names = |caps: &[&'static str]| -> Vec<String> {
        set.for_capabilities(caps.iter().copied())
            .iter()
            .map(|r| r.name().to_owned())
            .collect()
    };
    assert_eq!(names(&["orchestration"]), Vec::<String>::new());
    assert_eq!(
        names(&[NETWORK_CAPABILITY, NIX_CAPABILITY, NIX_CAPABILITY]),
        ["nix", "network"]
    );
    assert_eq!(names(&ALL).len(), 5);
}

#[test]
fn the_graph_version_ignores_order_and_follows_content() -> TestResult {
    let (_a, first) = load_text(DATABASE)?;
    let reordered = "hosts:
  - { name: app-2, addresses: [10.0.3.12] }
  - { name: app-1, addresses: [10.0.3.11] }
  - { name: db-1, addresses: [10.0.2.10] }
nodes:
  - name: billing
    type: service
    host: app-2
    package: hello
    environment: { DATABASE_URL: 'postgres://billing@10.0.2.10/billing' }
  - { name: pg, type: database, host: db-1 }
  - name: orders
    type: service
    host: app-1
    package: hello
    environment: { DATABASE_URL: 'postgresql://orders@10.0.2.10:5432/orders' }
edges:
  - { from: orders, to: pg, type: connects_to }
";
    let (_b, second) = load_text(reordered)?;
    let (_c, changed) = load_text(&DATABASE.replace(
        "package: hello\n    environment: { DATABASE_URL: 'postgres:",
        "package: cowsay\n    environment: { DATABASE_URL: 'postgres:",
    ))?;
    let version = GraphVersion::of(&first);
    assert_eq!(version, GraphVersion::of(&second));
    assert_ne!(version, GraphVersion::of(&changed));
    assert!(version.as_str().starts_with("sha256:") && version.as_str().len() == 71);
    assert_eq!(version.short().len(), 12);
    Ok(())
}

#[test]
fn nvidia_hosts_with_their_gpu_exporter_pass_every_reviewer() -> TestResult {
    let fleet = Fleet::load(
        example("gpu-hosts.yaml"),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?;
    let spec = fleet.translate()?;
    let findings = review(&fleet, &spec);
    assert!(blocking(&findings).is_empty(), "{findings:#?}");
    // The exporter port is needed because the monitoring node watches the GPU host.
    let closed = edited(&spec, "hosts/infer-1.nix", |text| {
        text.replace(
            "allowedTCPPorts = [ 9100 9835 ]",
            "allowedTCPPorts = [ 9100 ]",
        )
    });
    let findings = review(&fleet, &closed);
    let blocked = blocking(&findings);
    assert_eq!(blocked.len(), 1, "{findings:#?}");
    assert!(
        blocked[0]
            .reason
            .starts_with("TCP port 9835 is closed on host infer-1"),
        "{findings:#?}"
    );
    Ok(())
}

#[test]
fn a_mac_has_no_port_firewall_to_review() -> TestResult {
    // The Mac's bus is the leaf hub: a NixOS host would need its leaf port opened.
    let (_dir, fleet) = load_text(
        r#"
hosts:
  - { name: hub-1, addresses: [10.0.1.1] }
  - { name: studio-1, system: aarch64-darwin, addresses: [10.0.6.1] }
nodes:
  - { name: edge, type: message_bus, host: hub-1 }
  - { name: studio-bus, type: message_bus, host: studio-1 }
edges:
  - { from: edge, to: studio-bus, type: connects_to }
"#,
    )?;
    let spec = fleet.translate()?;
    let mac = spec
        .file("hosts/studio-1.nix")
        .ok_or("no hosts/studio-1.nix")?;
    assert!(mac.contains("leafnodes.port = 7422;"), "{mac}");
    assert!(!mac.contains("allowedTCPPorts"), "{mac}");
    let findings = review(&fleet, &spec);
    assert!(blocking(&findings).is_empty(), "{findings:#?}");
    Ok(())
}
