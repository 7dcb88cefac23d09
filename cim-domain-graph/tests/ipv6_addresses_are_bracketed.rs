//! A fleet on IPv6 addresses gets bracketed `host:port` and URLs everywhere an address meets a
//! port (issue 11, item 1): nginx upstream servers, NATS cluster routes and leaf remotes, and
//! Prometheus targets. Every emitted socket address parses back as a `std::net::SocketAddr`.

use std::net::SocketAddr;

use cim_domain_graph::GraphDocument;
use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GRAPH: &str = "\
hosts:
  - { name: lb-1, addresses: [\"fd00::1\"] }
  - { name: web-1, addresses: [\"fd00::10\"] }
  - { name: nats-1, addresses: [\"fd00::2\"] }
  - { name: nats-2, addresses: [\"fd00::3\"] }
  - { name: edge-1, addresses: [\"fd00::4\"] }
nodes:
  - { name: front, type: load_balancer, host: lb-1, port: 80 }
  - { name: web, type: service, host: web-1, package: hello, port: 8080 }
  - { name: metrics, type: monitoring, host: lb-1, exporters: [node] }
  - { name: bus-1, type: message_bus, host: nats-1 }
  - { name: bus-2, type: message_bus, host: nats-2 }
  - { name: edge-bus, type: message_bus, host: edge-1 }
edges:
  - { from: front, to: web, type: load_balances }
  - { from: metrics, to: web-1, type: manages }
  - { from: bus-1, to: bus-2, type: replicates }
  - { from: edge-bus, to: bus-1, type: connects_to }
";

/// All generated files, concatenated.
fn generated() -> Result<String, Box<dyn std::error::Error>> {
    let graph = GraphDocument::from_yaml_str(GRAPH)?.to_graph()?;
    let spec = FlakeTranslator::default().translate_graph(&graph)?;
    Ok(spec
        .files()
        .values()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n"))
}

#[test]
fn ipv6_socket_addresses_and_urls_are_bracketed() -> TestResult {
    let text = generated()?;
    for expected in [
        "\"[fd00::10]:8080\"",
        "\"[fd00::10]:9100\"",
        "nats-route://[fd00::3]:6222",
        "nats-route://[fd00::2]:6222",
        "nats-leaf://[fd00::2]:7422",
    ] {
        assert!(text.contains(expected), "{expected} missing in:\n{text}");
    }
    // `/etc/hosts` keys (`networking.hosts."fd00::10"`) are bare addresses, rightly.
    for bare in ["fd00::10:", "//fd00::", "fd00::2:", "fd00::3:"] {
        assert!(!text.contains(bare), "unbracketed {bare} in:\n{text}");
    }
    Ok(())
}

#[test]
fn every_bracketed_address_parses_back() -> TestResult {
    let text = generated()?;
    let mut seen = 0;
    for (at, _) in text.match_indices("[fd00::") {
        let rest = &text[at..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, ':' | '[' | ']')))
            .unwrap_or(rest.len());
        let socket: SocketAddr = rest[..end].parse()?;
        assert!(socket.is_ipv6() && socket.port() != 0, "{socket}");
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} addresses in:\n{text}");
    Ok(())
}
