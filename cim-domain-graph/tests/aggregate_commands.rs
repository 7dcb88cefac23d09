//! Given/when/then tests of every `DeploymentGraph` aggregate command, accepted and refused.

use cim_domain_graph::aggregate::{
    DeploymentGraphAggregate, DeploymentGraphCommand as Command, DeploymentGraphEvent as Event,
    GraphCommandError,
};
use cim_domain_graph::{
    DeploymentEdgeType, DeploymentNode, DeploymentNodeType, GraphError, HostSpec, ServiceSpec,
    ValidationError, ValidationErrors,
};
use cqrs_es::test::TestFramework;

type Framework = TestFramework<DeploymentGraphAggregate>;

fn host(name: &str) -> DeploymentNode {
    DeploymentNode::new(name, DeploymentNodeType::Host(HostSpec::default()))
}

fn service(name: &str, port: u16) -> DeploymentNode {
    let spec = ServiceSpec {
        command: Some(format!("run-{name}")),
        port: Some(port),
        ..ServiceSpec::default()
    };
    DeploymentNode::new(name, DeploymentNodeType::Service(spec))
}

/// A host and a service placed on it: a valid graph.
fn placed_service() -> Vec<Event> {
    vec![
        Event::NodeAdded { node: host("h") },
        Event::NodeAdded {
            node: service("api", 8080),
        },
        Event::NodePlaced {
            node: "api".into(),
            host: "h".into(),
        },
    ]
}

fn unknown(name: &str) -> GraphCommandError {
    GraphCommandError::Graph(GraphError::UnknownNode { name: name.into() })
}

#[test]
fn add_node_records_node_added() {
    Framework::with(())
        .given_no_previous_events()
        .when(Command::AddNode { node: host("h") })
        .then_expect_events(vec![Event::NodeAdded { node: host("h") }]);
}

#[test]
fn add_node_refuses_a_taken_name() {
    Framework::with(())
        .given(vec![Event::NodeAdded { node: host("h") }])
        .when(Command::AddNode {
            node: service("h", 1),
        })
        .then_expect_error(GraphCommandError::Graph(GraphError::DuplicateNode {
            name: "h".into(),
        }));
}

#[test]
fn add_node_refuses_a_name_nix_cannot_use() {
    Framework::with(())
        .given_no_previous_events()
        .when(Command::AddNode {
            node: host("web server"),
        })
        .then_expect_error(GraphCommandError::InvalidName {
            name: "web server".into(),
            reason: "only lowercase letters, digits and `-` are allowed".into(),
        });
}

#[test]
fn update_node_records_the_new_content_and_skips_no_op_updates() {
    Framework::with(())
        .given(placed_service())
        .when(Command::UpdateNode {
            node: service("api", 9090),
        })
        .then_expect_events(vec![Event::NodeUpdated {
            node: service("api", 9090),
        }]);
    Framework::with(())
        .given(placed_service())
        .when(Command::UpdateNode {
            node: service("api", 8080),
        })
        .then_expect_events(vec![]);
}

#[test]
fn update_node_refuses_an_unknown_node() {
    Framework::with(())
        .given_no_previous_events()
        .when(Command::UpdateNode {
            node: service("api", 1),
        })
        .then_expect_error(unknown("api"));
}

#[test]
fn remove_node_records_node_removed_or_refuses_an_unknown_node() {
    Framework::with(())
        .given(placed_service())
        .when(Command::RemoveNode { name: "api".into() })
        .then_expect_events(vec![Event::NodeRemoved { name: "api".into() }]);
    Framework::with(())
        .given_no_previous_events()
        .when(Command::RemoveNode { name: "api".into() })
        .then_expect_error(unknown("api"));
}

#[test]
fn connect_records_the_edge_and_refuses_duplicates_and_unknown_nodes() {
    let connect = || Command::Connect {
        from: "api".into(),
        to: "h".into(),
        edge: DeploymentEdgeType::DataFlow,
    };
    Framework::with(())
        .given(placed_service())
        .when(connect())
        .then_expect_events(vec![Event::NodesConnected {
            from: "api".into(),
            to: "h".into(),
            edge: DeploymentEdgeType::DataFlow,
        }]);
    Framework::with(())
        .given(placed_service())
        .and(vec![Event::NodesConnected {
            from: "api".into(),
            to: "h".into(),
            edge: DeploymentEdgeType::DataFlow,
        }])
        .when(connect())
        .then_expect_error(GraphCommandError::Graph(GraphError::DuplicateEdge {
            from: "api".into(),
            to: "h".into(),
            edge: "data_flow".into(),
        }));
    Framework::with(())
        .given_no_previous_events()
        .when(connect())
        .then_expect_error(unknown("api"));
}

#[test]
fn disconnect_records_the_removal_or_refuses_a_missing_edge() {
    Framework::with(())
        .given(placed_service())
        .when(Command::Disconnect {
            from: "api".into(),
            to: "h".into(),
            edge: DeploymentEdgeType::RunsOn,
        })
        .then_expect_events(vec![Event::NodesDisconnected {
            from: "api".into(),
            to: "h".into(),
            edge: DeploymentEdgeType::RunsOn,
        }]);
    Framework::with(())
        .given(placed_service())
        .when(Command::Disconnect {
            from: "api".into(),
            to: "h".into(),
            edge: DeploymentEdgeType::DependsOn,
        })
        .then_expect_error(GraphCommandError::Graph(GraphError::EdgeNotFound {
            from: "api".into(),
            to: "h".into(),
            edge: "depends_on".into(),
        }));
}

#[test]
fn place_on_host_records_the_placement_and_refuses_non_hosts() {
    Framework::with(())
        .given(placed_service())
        .and(vec![Event::NodeAdded { node: host("h2") }])
        .when(Command::PlaceOnHost {
            node: "api".into(),
            host: "h2".into(),
        })
        .then_expect_events(vec![Event::NodePlaced {
            node: "api".into(),
            host: "h2".into(),
        }]);
    Framework::with(())
        .given(placed_service())
        .when(Command::PlaceOnHost {
            node: "api".into(),
            host: "h".into(),
        })
        .then_expect_events(vec![]);
    Framework::with(())
        .given(placed_service())
        .and(vec![Event::NodeAdded {
            node: service("worker", 1),
        }])
        .when(Command::PlaceOnHost {
            node: "worker".into(),
            host: "api".into(),
        })
        .then_expect_error(GraphCommandError::NotAHost { name: "api".into() });
}

#[test]
fn validate_records_graph_validated_for_a_valid_graph() {
    Framework::with(())
        .given(placed_service())
        .when(Command::Validate)
        .then_expect_events(vec![Event::GraphValidated]);
}

#[test]
fn validate_refuses_an_invalid_graph_with_every_problem() {
    Framework::with(())
        .given(vec![
            Event::NodeAdded {
                node: service("a", 1),
            },
            Event::NodeAdded {
                node: service("b", 2),
            },
        ])
        .when(Command::Validate)
        .then_expect_error(GraphCommandError::Invalid(ValidationErrors(vec![
            ValidationError::NotPlaced { node: "a".into() },
            ValidationError::NotPlaced { node: "b".into() },
        ])));
}

#[test]
fn approve_records_the_approver_of_a_validated_graph() {
    Framework::with(())
        .given(placed_service())
        .and(vec![Event::GraphValidated])
        .when(Command::Approve {
            approved_by: "ops".into(),
        })
        .then_expect_events(vec![Event::GraphApproved {
            approved_by: "ops".into(),
        }]);
}

#[test]
fn approve_refuses_a_graph_changed_since_validation() {
    Framework::with(())
        .given(placed_service())
        .and(vec![
            Event::GraphValidated,
            Event::NodeUpdated {
                node: service("api", 9999),
            },
        ])
        .when(Command::Approve {
            approved_by: "ops".into(),
        })
        .then_expect_error(GraphCommandError::NotValidated);
}

#[test]
fn approve_refuses_twice_and_without_an_approver() {
    Framework::with(())
        .given(placed_service())
        .and(vec![
            Event::GraphValidated,
            Event::GraphApproved {
                approved_by: "ops".into(),
            },
        ])
        .when(Command::Approve {
            approved_by: "dev".into(),
        })
        .then_expect_error(GraphCommandError::AlreadyApproved {
            approved_by: "ops".into(),
        });
    Framework::with(())
        .given(placed_service())
        .and(vec![Event::GraphValidated])
        .when(Command::Approve {
            approved_by: " ".into(),
        })
        .then_expect_error(GraphCommandError::NoApprover);
}
