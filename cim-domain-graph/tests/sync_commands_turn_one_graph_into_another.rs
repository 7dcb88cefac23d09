//! `DeploymentGraphCommand::sync` turns the stored graph into the wanted one through the
//! aggregate, touching only what differs: between any two of the shipped example graphs, the
//! aggregate ends up holding the wanted graph, translating to the same bytes as a fresh build,
//! and syncing a graph with itself records nothing.

use std::path::Path;

use cim_domain_graph::aggregate::{DeploymentGraphAggregate, DeploymentGraphCommand};
use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator, NodeTranslatorRegistry};
use cim_domain_graph::{DeploymentGraph, GraphDocument};
use cqrs_es::mem_store::MemStore;
use cqrs_es::{AggregateContext, CqrsFramework, EventStore};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Example graphs without agent nodes (those need `cim-domain-agent`'s translator).
const EXAMPLES: [&str; 4] = [
    "five-services",
    "database-with-services",
    "nats-cluster",
    "load-balanced-web",
];

fn example(name: &str) -> Result<DeploymentGraph, Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/graphs")
        .join(format!("{name}.yaml"));
    Ok(GraphDocument::from_path(&path)?.to_graph()?)
}

async fn apply(
    cqrs: &CqrsFramework<DeploymentGraphAggregate, MemStore<DeploymentGraphAggregate>>,
    id: &str,
    commands: Vec<DeploymentGraphCommand>,
) -> TestResult {
    for command in commands {
        cqrs.execute(id, command).await?;
    }
    Ok(())
}

#[tokio::test]
async fn syncing_between_any_two_examples_yields_the_wanted_graph() -> TestResult {
    let translator = FlakeTranslator::new(NodeTranslatorRegistry::with_builtins());
    for from in EXAMPLES {
        for to in EXAMPLES {
            let (current, wanted) = (example(from)?, example(to)?);
            let store = MemStore::<DeploymentGraphAggregate>::default();
            let cqrs = CqrsFramework::new(store.clone(), vec![], ());
            let id = format!("{from}-to-{to}");
            apply(&cqrs, &id, DeploymentGraphCommand::build(&current)).await?;
            let commands = DeploymentGraphCommand::sync(&current, &wanted);
            if from == to {
                assert!(commands.is_empty(), "{from}: {commands:?}");
            }
            apply(&cqrs, &id, commands).await?;

            let mut context = store.load_aggregate(&id).await?;
            let synced = context.aggregate().graph();
            assert_eq!(synced, &wanted, "{from} → {to}");
            let expected = translator.translate_graph(&wanted)?;
            assert_eq!(
                translator.translate_graph(synced)?.files(),
                expected.files(),
                "{from} → {to}"
            );
        }
    }
    Ok(())
}

#[test]
fn sync_touches_only_what_differs() -> TestResult {
    let current = example("load-balanced-web")?;
    let mut document = current.to_document();
    // One service changes its port, one edge goes, one node goes (with its edges).
    let changed = document
        .nodes
        .iter_mut()
        .find(|node| node.name == "web-a")
        .ok_or("web-a")?;
    let mut yaml = serde_yaml_ng::to_string(&*changed)?;
    yaml = yaml.replace("port: 8080", "port: 9090");
    *changed = serde_yaml_ng::from_str(&yaml)?;
    document
        .edges
        .retain(|edge| !(edge.from == "metrics" && edge.to == "web-c"));
    document.nodes.retain(|node| node.name != "web-b");
    document
        .edges
        .retain(|edge| edge.from != "web-b" && edge.to != "web-b");
    let wanted = document.to_graph()?;

    let commands = DeploymentGraphCommand::sync(&current, &wanted);
    let summary: Vec<String> = commands
        .iter()
        .map(|command| match command {
            DeploymentGraphCommand::Disconnect { from, to, .. } => {
                format!("disconnect {from}->{to}")
            }
            DeploymentGraphCommand::RemoveNode { name } => format!("remove {name}"),
            DeploymentGraphCommand::UpdateNode { node } => format!("update {}", node.name),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        ["disconnect metrics->web-c", "remove web-b", "update web-a"]
    );
    Ok(())
}

#[tokio::test]
async fn flake_settings_are_events_of_the_graph_and_survive_a_replay() -> TestResult {
    let current = example("five-services")?;
    let mut document = current.to_document();
    document.flake.nixpkgs = Some("github:NixOS/nixpkgs/nixos-26.11".to_owned());
    document.flake.state_version = Some("26.11".to_owned());
    let wanted = document.to_graph()?;
    assert_ne!(current, wanted, "settings are part of a graph's equality");

    let commands = DeploymentGraphCommand::sync(&current, &wanted);
    assert!(
        matches!(
            commands.as_slice(),
            [DeploymentGraphCommand::ConfigureFlake { settings }] if settings == wanted.settings()
        ),
        "{commands:?}"
    );
    let store = MemStore::<DeploymentGraphAggregate>::default();
    let cqrs = CqrsFramework::new(store.clone(), vec![], ());
    apply(&cqrs, "fleet", DeploymentGraphCommand::build(&current)).await?;
    apply(&cqrs, "fleet", commands).await?;
    // Configuring the same settings again records nothing.
    let before = store.load_events("fleet").await?.len();
    apply(
        &cqrs,
        "fleet",
        vec![DeploymentGraphCommand::ConfigureFlake {
            settings: wanted.settings().clone(),
        }],
    )
    .await?;
    assert_eq!(store.load_events("fleet").await?.len(), before);
    let mut replayed = store.load_aggregate("fleet").await?;
    assert_eq!(replayed.aggregate().graph(), &wanted);
    let spec = FlakeTranslator::default().translate_graph(replayed.aggregate().graph())?;
    let flake = spec.file("flake.nix").ok_or("no flake.nix")?;
    assert!(flake.contains("nixos-26.11"), "{flake}");
    Ok(())
}
