//! Issue 11, item 4: a service is told where what it depends on and connects to is, in the
//! conventional environment variables: libpq's `PG*` for its database (the socket directory on
//! the same host, the address elsewhere), `NATS_URL` for its message bus (IPv6 bracketed), and
//! `<TARGET>_HOST` / `<TARGET>_PORT` for every `connects_to`; its own `environment` wins.

use std::collections::BTreeMap;

use cim_domain_graph::GraphDocument;
use cim_domain_graph::translate::connections::connection_environment;
use cim_domain_graph::translate::{
    FlakeTranslator, GraphToNixTranslator, NodeTranslatorRegistry, TranslationContext,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const FLEET: &str = r#"
hosts:
  - { name: app-1, addresses: ["10.0.0.10"] }
  - { name: db-1, addresses: ["fd00::20"] }
nodes:
  - { name: pg, type: database, host: db-1, port: 5433 }
  - { name: bus, type: message_bus, host: db-1 }
  - { name: search-api, type: service, host: db-1, package: hello, port: 9200 }
  - { name: shop, type: service, host: app-1, package: hello, port: 8080 }
  - name: reports
    type: service
    host: db-1
    package: hello
    environment: { PGUSER: analyst }
edges:
  - { from: shop, to: pg, type: depends_on }
  - { from: shop, to: bus, type: publishes_to }
  - { from: shop, to: search-api, type: connects_to }
  - { from: reports, to: pg, type: depends_on }
  - { from: reports, to: bus, type: connects_to, port: 4223 }
"#;

fn environment_of(node: &str) -> Result<BTreeMap<String, String>, Box<dyn std::error::Error>> {
    let graph = GraphDocument::from_yaml_str(FLEET)?.to_graph()?;
    let registry = NodeTranslatorRegistry::with_builtins();
    let context = TranslationContext::new(&graph, &registry);
    let node = graph.node(node).ok_or("no such node")?;
    Ok(connection_environment(node, &context))
}

fn pairs(map: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
    map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn a_remote_dependent_gets_the_database_address_the_bus_url_and_each_target() -> TestResult {
    let shop = environment_of("shop")?;
    assert_eq!(
        pairs(&shop),
        [
            ("NATS_URL", "nats://[fd00::20]:4222"),
            ("PGDATABASE", "shop"),
            ("PGHOST", "fd00::20"),
            ("PGPORT", "5433"),
            ("PGUSER", "shop"),
            ("SEARCH_API_HOST", "fd00::20"),
            ("SEARCH_API_PORT", "9200"),
        ]
    );
    Ok(())
}

#[test]
fn a_local_dependent_uses_the_socket_directory_and_the_edge_port() -> TestResult {
    let reports = environment_of("reports")?;
    assert_eq!(
        reports.get("PGHOST").map(String::as_str),
        Some("/run/postgresql")
    );
    assert_eq!(reports.get("PGPORT").map(String::as_str), Some("5433"));
    assert_eq!(
        reports.get("NATS_URL").map(String::as_str),
        Some("nats://127.0.0.1:4223")
    );
    assert_eq!(reports.get("BUS_PORT").map(String::as_str), Some("4223"));
    Ok(())
}

#[test]
fn the_generated_unit_carries_them_under_the_nodes_own_variables() -> TestResult {
    let graph = GraphDocument::from_yaml_str(FLEET)?.to_graph()?;
    let spec =
        FlakeTranslator::new(NodeTranslatorRegistry::with_builtins()).translate_graph(&graph)?;
    spec.check_syntax()?;
    let app = spec.file("hosts/app-1.nix").ok_or("no hosts/app-1.nix")?;
    assert!(app.contains(r#"PGHOST = "fd00::20";"#), "{app}");
    assert!(
        app.contains(r#"NATS_URL = "nats://[fd00::20]:4222";"#),
        "{app}"
    );
    let db = spec.file("hosts/db-1.nix").ok_or("no hosts/db-1.nix")?;
    // `reports` sets PGUSER itself: its value wins over the role named after the service.
    assert!(db.contains(r#"PGUSER = "analyst";"#), "{db}");
    assert!(!db.contains(r#"PGUSER = "reports";"#), "{db}");
    Ok(())
}
