//! PostgreSQL clients on other hosts (`scram-sha-256` in `pg_hba`) can log in: their roles'
//! passwords are set when PostgreSQL starts, by a oneshot unit that reads each one from its
//! secret file through a systemd credential. The generated files hold the paths, never a
//! password, and a client on the database's own host (peer login) needs none.

use cim_domain_graph::GraphDocument;
use cim_domain_graph::security::postgres_password_path;
use cim_domain_graph::translate::{FlakeTranslator, NodeTranslatorRegistry, PASSWORD_UNIT};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GRAPH: &str = r#"
hosts:
  - { name: db-1, addresses: [10.0.2.10] }
  - { name: web-1, addresses: [10.0.3.11] }
nodes:
  - { name: pg, type: database, host: db-1, users: [reporter] }
  - { name: shop, type: service, host: web-1, package: hello }
  - { name: reporter, type: service, host: web-1, package: hello }
  - { name: local, type: service, host: db-1, package: hello }
edges:
  - { from: shop, to: pg, type: depends_on }
  - { from: reporter, to: pg, type: connects_to }
  - { from: local, to: pg, type: depends_on }
"#;

#[test]
fn remote_roles_get_their_passwords_from_secret_files() -> TestResult {
    let graph = GraphDocument::from_yaml_str(GRAPH)?.to_graph()?;
    let spec =
        FlakeTranslator::new(NodeTranslatorRegistry::with_builtins()).translate_checked(&graph)?;
    spec.check_syntax()?;
    let host = spec.file("hosts/db-1.nix").ok_or("no db-1 module")?;
    assert!(host.contains(&format!("{PASSWORD_UNIT} = {{")), "{host}");
    assert!(host.contains("scram-sha-256"));
    for (index, role) in ["reporter", "shop"].iter().enumerate() {
        let credential = format!("role{index}:{}", postgres_password_path(role));
        assert!(host.contains(&credential), "{credential} missing:\n{host}");
        assert!(host.contains(&format!("ALTER ROLE \"{role}\" PASSWORD :'pw';")));
    }
    // Local peer login: no password for the client on the database's host.
    assert!(!host.contains("postgres/local.password"));
    assert!(host.contains(r#"User = "postgres";"#));
    assert!(host.contains("postgresql.service"));
    Ok(())
}

#[test]
fn a_database_with_only_local_clients_sets_no_passwords() -> TestResult {
    let local_only = GRAPH
        .replace("host: web-1, package", "host: db-1, package")
        .replace(
            "  - { name: local, type: service, host: db-1, package: hello }\n",
            "",
        )
        .replace("  - { from: local, to: pg, type: depends_on }\n", "");
    let graph = GraphDocument::from_yaml_str(&local_only)?.to_graph()?;
    let spec =
        FlakeTranslator::new(NodeTranslatorRegistry::with_builtins()).translate_checked(&graph)?;
    let host = spec.file("hosts/db-1.nix").ok_or("no db-1 module")?;
    assert!(!host.contains(PASSWORD_UNIT));
    Ok(())
}

#[test]
fn every_client_whose_password_is_set_is_given_its_file() -> TestResult {
    let graph = GraphDocument::from_yaml_str(GRAPH)?.to_graph()?;
    let spec =
        FlakeTranslator::new(NodeTranslatorRegistry::with_builtins()).translate_checked(&graph)?;
    let web = spec.file("hosts/web-1.nix").ok_or("no web-1 module")?;
    // `shop` depends on the database; `reporter` connects to it and the database lists it in
    // `users`: the database host sets both passwords, so both services load their file.
    for client in ["shop", "reporter"] {
        let credential = format!("pg-password:{}", postgres_password_path(client));
        assert!(web.contains(&credential), "{credential} missing:\n{web}");
        let variable =
            format!("PGPASSWORD_FILE = \"/run/credentials/{client}.service/pg-password\";");
        assert!(web.contains(&variable), "{variable} missing:\n{web}");
    }
    let db = spec.file("hosts/db-1.nix").ok_or("no db-1 module")?;
    assert!(!db.contains("PGPASSWORD_FILE"), "{db}");
    Ok(())
}
