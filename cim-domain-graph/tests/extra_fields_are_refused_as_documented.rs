//! docs/graph-format.md says extra fields are refused on edges, nodes (custom ones included) and
//! hosts, and that `type: host` is refused in `nodes` (issue 12, item 9: the docs said otherwise).

use cim_domain_graph::GraphDocument;

fn refused(yaml: &str, expected: &str) {
    match GraphDocument::from_yaml_str(yaml) {
        Ok(_) => panic!("accepted: {yaml}"),
        Err(error) => assert!(error.to_string().contains(expected), "{error}"),
    }
}

#[test]
fn an_extra_field_on_a_depends_on_edge_is_refused() {
    refused(
        "hosts: [{ name: h1 }]\nnodes:\n  - { name: a, type: service, host: h1, command: run }\n  - { name: b, type: service, host: h1, command: run }\nedges: [{ from: a, to: b, type: depends_on, port: 80 }]\n",
        "port",
    );
}

#[test]
fn an_extra_field_on_a_custom_node_is_refused() {
    refused(
        "hosts: [{ name: h1 }]\nnodes:\n  - { name: a, type: custom, host: h1, kind: x, colour: red }\n",
        "colour",
    );
}

#[test]
fn an_extra_field_on_a_host_is_refused() {
    refused("hosts: [{ name: h1, colour: red }]\n", "colour");
}

#[test]
fn a_host_in_nodes_is_refused() {
    refused(
        "nodes:\n  - { name: h1, type: host }\n",
        "declare hosts under `hosts`",
    );
}
