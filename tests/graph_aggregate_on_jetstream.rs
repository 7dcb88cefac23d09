//! The `DeploymentGraph` aggregate persists through `cim-jetstream` exactly as through the
//! in-memory store: a graph built command by command against a real `nats-server` loads back
//! identical from a fresh connection (events only and with snapshots), translates to the same
//! bytes, and a writer holding a stale version is refused by the server.

use cim_domain_graph::GraphDocument;
use cim_domain_graph::aggregate::{DeploymentGraphAggregate, DeploymentGraphCommand, GraphStatus};
use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator};
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{JetStreamConfig, JetStreamEventRepository, JetStreamEventStore};
use cqrs_es::mem_store::MemStore;
use cqrs_es::{AggregateContext, AggregateError, CqrsFramework, EventStore};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GRAPH: &str = "database-with-services";

fn commands() -> Result<Vec<DeploymentGraphCommand>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string("examples/graphs/database-with-services.yaml")?;
    let graph = GraphDocument::from_yaml_str(&text)?.to_graph()?;
    let decisions = [
        DeploymentGraphCommand::Validate,
        DeploymentGraphCommand::Approve {
            approved_by: "ops".to_owned(),
        },
    ];
    Ok(DeploymentGraphCommand::build(&graph)
        .into_iter()
        .chain(decisions)
        .collect())
}

async fn store(
    server: &NatsServer,
    snapshots: bool,
) -> Result<JetStreamEventStore<DeploymentGraphAggregate>, Box<dyn std::error::Error>> {
    let repo =
        JetStreamEventRepository::connect(&server.url(), JetStreamConfig::named("graphs")).await?;
    Ok(if snapshots {
        JetStreamEventStore::new_snapshot_store(repo, 3)
    } else {
        JetStreamEventStore::new_event_store(repo)
    })
}

#[tokio::test]
async fn graph_built_on_jetstream_loads_and_translates_like_the_in_memory_one() -> TestResult {
    let server = NatsServer::start().await?;
    let commands = commands()?;

    let on_jetstream = CqrsFramework::new(store(&server, true).await?, vec![], ());
    let memory = MemStore::<DeploymentGraphAggregate>::default();
    let in_memory = CqrsFramework::new(memory.clone(), vec![], ());
    for command in &commands {
        on_jetstream.execute(GRAPH, command.clone()).await?;
        in_memory.execute(GRAPH, command.clone()).await?;
    }

    let expected = memory.load_aggregate(GRAPH).await?.aggregate().clone();
    assert_eq!(
        expected.status(),
        &GraphStatus::Approved {
            approved_by: "ops".to_owned()
        }
    );
    let expected_files = FlakeTranslator::default().translate_graph(expected.graph())?;
    for snapshots in [false, true] {
        let mut context = store(&server, snapshots)
            .await?
            .load_aggregate(GRAPH)
            .await?;
        let loaded = context.aggregate();
        assert_eq!(loaded, &expected, "snapshots: {snapshots}");
        let files = FlakeTranslator::default().translate_graph(loaded.graph())?;
        assert_eq!(files.files(), expected_files.files());
    }
    let events = store(&server, false).await?.load_events(GRAPH).await?;
    assert_eq!(events.len(), commands.len());
    Ok(())
}

#[tokio::test]
async fn a_writer_with_a_stale_graph_is_refused_by_the_server() -> TestResult {
    let server = NatsServer::start().await?;
    let commands = commands()?;
    let second = store(&server, false).await?;
    let cqrs = CqrsFramework::new(store(&server, false).await?, vec![], ());
    cqrs.execute(GRAPH, commands[0].clone()).await?;

    // Both writers decide against the same version; the second commit must lose.
    let stale = second.load_aggregate(GRAPH).await?;
    cqrs.execute(GRAPH, commands[1].clone()).await?;
    let DeploymentGraphCommand::AddNode { node } = &commands[2] else {
        return Err("the third command adds a node".into());
    };
    let event = cim_domain_graph::aggregate::DeploymentGraphEvent::NodeAdded { node: node.clone() };
    let outcome = second
        .commit(vec![event], stale, std::collections::HashMap::new())
        .await;
    assert!(
        matches!(outcome, Err(AggregateError::AggregateConflict)),
        "{outcome:?}"
    );
    assert_eq!(second.load_events(GRAPH).await?.len(), 2);
    Ok(())
}
