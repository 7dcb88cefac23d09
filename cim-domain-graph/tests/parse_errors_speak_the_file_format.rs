//! Parse errors speak the file format, not the Rust types behind it: no `struct GraphDocument`,
//! and an unknown node field lists the fields every node takes as well as its type's.

use cim_domain_graph::GraphDocument;

fn message(yaml: &str) -> String {
    GraphDocument::from_yaml_str(yaml)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn a_document_that_is_not_a_mapping_names_the_format() {
    let error = message("- a\n- b\n");
    assert!(!error.contains("struct"), "{error}");
    assert!(error.contains("a graph document"), "{error}");
}

#[test]
fn an_unknown_node_field_lists_name_type_and_host_too() {
    let error = message(
        "hosts:\n  - { name: h1, addresses: [10.0.0.1] }\nnodes:\n  - { name: s, type: service, host: h1, package: hello, colour: red }\n",
    );
    assert!(error.contains("unknown field `colour`"), "{error}");
    for field in ["`package`", "`name`", "`type`", "`host`"] {
        assert!(error.contains(field), "{field} missing from: {error}");
    }
    assert!(error.contains("line 4"), "{error}");
}
