//! The `DeploymentGraph` aggregate through `CqrsFramework` on the in-memory event store: events
//! are stored, replayed into the same graph, and refused commands store nothing.

use cim_domain_graph::aggregate::{
    DeploymentGraphAggregate, DeploymentGraphCommand as Command, GraphCommandError, GraphStatus,
};
use cim_domain_graph::{
    DeploymentEdgeType, DeploymentNode, DeploymentNodeType, GraphDocument, HostSpec, ServiceSpec,
    validate_deployment_graph,
};
use cqrs_es::mem_store::MemStore;
use cqrs_es::{AggregateError, CqrsFramework, EventStore};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn service(name: &str, port: u16) -> DeploymentNode {
    let spec = ServiceSpec {
        package: Some("hello".into()),
        port: Some(port),
        ..ServiceSpec::default()
    };
    DeploymentNode::new(name, DeploymentNodeType::Service(spec))
}

#[tokio::test]
async fn commands_build_a_graph_that_replays_from_the_store() -> TestResult {
    let store = MemStore::<DeploymentGraphAggregate>::default();
    let cqrs = CqrsFramework::new(store.clone(), vec![], ());
    let id = "fleet-1";
    let host = DeploymentNode::new("h", DeploymentNodeType::Host(HostSpec::default()));
    let commands = [
        Command::AddNode { node: host },
        Command::AddNode {
            node: service("api", 8080),
        },
        Command::AddNode {
            node: service("worker", 8081),
        },
        Command::PlaceOnHost {
            node: "api".into(),
            host: "h".into(),
        },
        Command::PlaceOnHost {
            node: "worker".into(),
            host: "h".into(),
        },
        Command::Connect {
            from: "worker".into(),
            to: "api".into(),
            edge: DeploymentEdgeType::DependsOn,
        },
        Command::Validate,
        Command::Approve {
            approved_by: "ops".into(),
        },
    ];
    for command in commands {
        cqrs.execute(id, command).await?;
    }

    let refused = cqrs
        .execute(
            id,
            Command::Connect {
                from: "api".into(),
                to: "nowhere".into(),
                edge: DeploymentEdgeType::DependsOn,
            },
        )
        .await;
    assert!(matches!(
        refused,
        Err(AggregateError::UserError(GraphCommandError::Graph(_)))
    ));

    let events = store.load_events(id).await?;
    assert_eq!(events.len(), 8, "the refused command stored nothing");
    let context = store.load_aggregate(id).await?;
    let aggregate = &context.aggregate;
    assert_eq!(
        aggregate.status(),
        &GraphStatus::Approved {
            approved_by: "ops".into()
        }
    );
    let graph = aggregate.graph();
    validate_deployment_graph(graph)?;
    let expected = GraphDocument::from_yaml_str(
        r#"
hosts: [{ name: h }]
nodes:
  - { name: api, type: service, host: h, package: hello, port: 8080 }
  - { name: worker, type: service, host: h, package: hello, port: 8081 }
edges: [{ from: worker, to: api, type: depends_on }]
"#,
    )?
    .to_graph()?;
    assert_eq!(graph, &expected);

    // The aggregate serialises (for snapshots) and deserialises to the same state.
    let json = serde_json::to_string(aggregate)?;
    let back: DeploymentGraphAggregate = serde_json::from_str(&json)?;
    assert_eq!(&back, aggregate);
    Ok(())
}

#[tokio::test]
async fn editing_an_approved_graph_makes_it_a_draft_again() -> TestResult {
    let store = MemStore::<DeploymentGraphAggregate>::default();
    let cqrs = CqrsFramework::new(store.clone(), vec![], ());
    let id = "fleet-2";
    let host = DeploymentNode::new("h", DeploymentNodeType::Host(HostSpec::default()));
    cqrs.execute(id, Command::AddNode { node: host }).await?;
    cqrs.execute(id, Command::Validate).await?;
    cqrs.execute(
        id,
        Command::Approve {
            approved_by: "ops".into(),
        },
    )
    .await?;
    cqrs.execute(
        id,
        Command::AddNode {
            node: service("late", 1),
        },
    )
    .await?;
    let context = store.load_aggregate(id).await?;
    assert_eq!(context.aggregate.status(), &GraphStatus::Draft);
    let refused = cqrs
        .execute(
            id,
            Command::Approve {
                approved_by: "ops".into(),
            },
        )
        .await;
    assert!(matches!(
        refused,
        Err(AggregateError::UserError(GraphCommandError::NotValidated))
    ));
    Ok(())
}
