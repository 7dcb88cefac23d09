//! Issue 11, item 5: a load balancer serves HTTPS with a certificate from an ACME CA or from
//! files on the host, redirects plain HTTP to it, and never puts key material in the Nix store;
//! port 443 without TLS and unusable TLS settings are problems naming the field.

use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator};
use cim_domain_graph::{GraphDocument, ValidationError};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn graph_with(balancer: &str) -> String {
    format!(
        r#"
hosts: [{{ name: lb-1, addresses: ["fd00::1"] }}, {{ name: web-1, addresses: [10.0.0.11] }}]
nodes:
  - {{ name: web, type: service, host: web-1, package: hello, port: 8080 }}
  - {{ name: front, type: load_balancer, host: lb-1, server_name: shop.example.org, {balancer} }}
edges:
  - {{ from: front, to: web, type: load_balances }}
"#
    )
}

fn translate(balancer: &str) -> Result<String, Box<dyn std::error::Error>> {
    let graph = GraphDocument::from_yaml_str(&graph_with(balancer))?.to_graph()?;
    let spec = FlakeTranslator::default().translate_graph(&graph)?;
    spec.check_syntax()?;
    Ok(spec
        .file("hosts/lb-1.nix")
        .ok_or("no hosts/lb-1.nix")?
        .to_owned())
}

/// The `(field, reason)` of every problem of the load balancer `front`.
fn problems(balancer: &str) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let graph = GraphDocument::from_yaml_str(&graph_with(balancer))?.to_graph()?;
    let Err(errors) = FlakeTranslator::default().check_graph(&graph) else {
        return Ok(Vec::new());
    };
    Ok(errors
        .problems()
        .iter()
        .filter_map(|problem| match problem {
            ValidationError::InvalidField {
                node,
                field,
                reason,
            } if node == "front" => Some((field.clone(), reason.clone())),
            _ => None,
        })
        .collect())
}

fn fields(found: &[(String, String)]) -> Vec<&str> {
    found.iter().map(|(field, _)| field.as_str()).collect()
}

#[test]
fn acme_gets_a_certificate_and_redirects_plain_http() -> TestResult {
    let lb = translate(
        "port: 443, tls: { acme: { email: ops@example.org, accept_terms: true, \
         server: \"https://acme-staging-v02.api.letsencrypt.org/directory\" } }",
    )?;
    for expected in [
        "forceSSL = true;",
        "enableACME = true;",
        "acceptTerms = true;",
        r#"email = "ops@example.org";"#,
        r#"server = "https://acme-staging-v02.api.letsencrypt.org/directory";"#,
        "allowedTCPPorts = [ 80 443 ];",
        "ssl = true;",
    ] {
        assert!(lb.contains(expected), "{expected} in {lb}");
    }
    // Both ports on both address families, TLS only on 443.
    assert_eq!(lb.matches("port = 443;").count(), 2, "{lb}");
    assert_eq!(lb.matches("port = 80;").count(), 2, "{lb}");
    assert_eq!(lb.matches("ssl = true;").count(), 2, "{lb}");
    Ok(())
}

#[test]
fn certificate_files_are_referenced_by_path_only() -> TestResult {
    let lb = translate(
        "port: 8443, tls: { certificate: /run/secrets/shop.crt, key: /run/secrets/shop.key, \
         http_port: 8080 }",
    )?;
    assert!(
        lb.contains(r#"sslCertificate = "/run/secrets/shop.crt";"#),
        "{lb}"
    );
    assert!(
        lb.contains(r#"sslCertificateKey = "/run/secrets/shop.key";"#),
        "{lb}"
    );
    assert!(lb.contains("allowedTCPPorts = [ 8080 8443 ];"), "{lb}");
    assert!(!lb.contains("enableACME"), "{lb}");
    assert!(!lb.contains("security.acme"), "{lb}");
    Ok(())
}

#[test]
fn port_443_without_tls_is_a_problem() -> TestResult {
    let found = problems("port: 443")?;
    assert_eq!(fields(&found), ["tls"], "{found:?}");
    assert!(found[0].1.contains("HTTPS"), "{found:?}");
    assert!(problems("port: 8080")?.is_empty());
    Ok(())
}

#[test]
fn unusable_tls_settings_are_problems_naming_the_field() -> TestResult {
    let cases: [(&str, &[&str]); 6] = [
        ("port: 443, tls: {}", &["tls"]),
        (
            "port: 443, tls: { certificate: /run/secrets/c.pem }",
            &["tls.key"],
        ),
        (
            "port: 443, tls: { certificate: /nix/store/abc-cert.pem, key: keys/shop.key }",
            &["tls.certificate", "tls.key"],
        ),
        (
            "port: 443, tls: { acme: { email: ops@example.org, accept_terms: false }, \
             certificate: /run/c, key: /run/k }",
            &["tls", "tls.acme.accept_terms"],
        ),
        (
            "port: 443, tls: { acme: { email: nobody, accept_terms: true }, http_port: 8080 }",
            &["tls.acme.email", "tls.http_port"],
        ),
        (
            "port: 8443, tls: { certificate: /run/c, key: /run/k, http_port: 8443 }",
            &["tls.http_port"],
        ),
    ];
    for (balancer, expected) in cases {
        let found = problems(balancer)?;
        assert_eq!(fields(&found), expected, "{balancer}: {found:?}");
    }
    Ok(())
}

#[test]
fn an_unknown_tls_field_is_a_parse_error() {
    let yaml =
        graph_with("port: 443, tls: { acme: { email: a@b.c, accept_terms: true }, cert: x }");
    let error = GraphDocument::from_yaml_str(&yaml)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("unknown field `cert`"), "{error}");
}
