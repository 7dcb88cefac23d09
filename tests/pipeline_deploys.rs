//! `Pipeline::deploy` end to end: the example fleet is approved by its five agents and written,
//! with the deployment in every agent's knowledge replica; a two-member NATS cluster is
//! rejected with the finding named and nothing written; an agent failing mid-vote is a missing
//! vote; a GPU request no host can meet is refused with the reason; a rerun of the same graph
//! records nothing new; and the same holds over a real nats-server (JetStream).

use std::path::{Path, PathBuf};

use cim_agent_coordination::consensus::{Choice, Outcome, Protocol};
use cim_agent_coordination::knowledge::KnowledgeStore;
use cim_agent_coordination::transport::Transport;
use cim_agent_coordination::transport::kv::KeyValue;
use cim_domain_graph::ValidationError;
use cim_jetstream::testing::NatsServer;
use cim_leaf::FleetError;
use cim_leaf::pipeline::content_hash;
use cim_leaf::pipeline::review::{Finding, ReviewContext, ReviewError, Reviewer, ReviewerSet};
use cim_leaf::pipeline::{
    Backend, DeployReport, EmbeddedBackend, EventStores, NatsBackend, NixCheck, Pipeline,
    PipelineError, PipelineOptions,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/graphs")
        .join(name)
}

fn options() -> PipelineOptions {
    let mut options = PipelineOptions {
        nix: NixCheck::RnixOnly,
        ..PipelineOptions::default()
    };
    options.fleet.flake.cim_leaf = Some("github:example/cim-leaf".to_owned());
    options
}

async fn deploy<T, K, S, E>(
    backend: &Backend<T, K, S, E>,
    options: PipelineOptions,
    graph: &Path,
    out: &Path,
) -> Result<DeployReport, PipelineError>
where
    T: Transport,
    K: KeyValue,
    S: KnowledgeStore,
    E: EventStores,
{
    Pipeline::new(backend.clone(), options)
        .deploy(graph, out, &())
        .await
}

fn choice_of(report: &DeployReport, agent: &str) -> Option<Option<Choice>> {
    report
        .votes
        .iter()
        .find(|v| v.agent == agent)
        .map(|v| v.choice)
}

/// Checks an approved run of the example fleet.
fn assert_approved(report: &DeployReport, out: &Path) -> TestResult {
    assert!(report.approved(), "{report:#?}");
    assert_eq!(report.votes.len(), 5);
    assert!(
        report.votes.iter().all(|v| v.choice == Some(Choice::For)),
        "{:?}",
        report.votes
    );
    assert!(report.blocking().is_empty());
    let granted: Vec<&str> = report.gpu_grants.keys().map(String::as_str).collect();
    assert_eq!(granted, ["db-expert", "sage"]);
    assert_eq!(report.files.len(), 10);
    for file in &report.files {
        let written = std::fs::read(out.join(&file.path))?;
        assert_eq!(content_hash(&written), file.hash, "{}", file.path.display());
    }
    assert_eq!(report.replicas_showing_deployment, 5);
    Ok(())
}

#[tokio::test]
async fn the_example_fleet_is_approved_written_and_known_to_every_agent() -> TestResult {
    let out = tempfile::tempdir()?;
    let backend = EmbeddedBackend::embedded()?;
    let report = deploy(&backend, options(), &example("fleet.yaml"), out.path()).await?;
    assert_approved(&report, out.path())?;
    assert!(!report.already_decided);
    // Opened, five votes, voting closed, decided.
    assert_eq!(report.events.proposal, 8, "{:?}", report.events);
    // Opened and one turn per agent.
    assert_eq!(report.events.dialog, 6);
    assert_eq!(report.events.registrations, 5);
    // 1 deployment + 10 files + 2 GPU grants + 5 votes.
    assert_eq!(report.events.knowledge_facts, 18);
    assert!(report.events.gpu_pools > 0);
    // Every host and node, every edge, validated, approved by the proposal.
    assert!(report.events.graph > 40, "{:?}", report.events);
    Ok(())
}

#[tokio::test]
async fn a_two_member_nats_cluster_is_rejected_with_the_finding_and_nothing_is_written()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out");
    let backend = EmbeddedBackend::embedded()?;
    let report = deploy(&backend, options(), &example("nats-pair.yaml"), &out).await?;
    assert_eq!(report.outcome, Outcome::Rejected);
    assert!(!out.exists(), "nothing may be written");
    assert!(report.files.is_empty() && report.gpu_grants.is_empty());
    assert_eq!(report.events.knowledge_facts, 0);
    assert_eq!(
        choice_of(&report, "nats-expert"),
        Some(Some(Choice::Against))
    );
    let against = report
        .votes
        .iter()
        .find(|v| v.agent == "nats-expert")
        .map(|v| v.reasons.join("\n"))
        .unwrap_or_default();
    assert!(
        against.contains("NATS cluster of 2 members (bus-1, bus-2)"),
        "{against}"
    );
    let blocking = report.blocking();
    assert_eq!(blocking.len(), 1);
    assert_eq!(blocking[0].0, "nats-expert");
    assert_eq!(blocking[0].1.node.as_deref(), Some("bus-1"));
    // Every other agent found nothing blocking and voted for; votes are cast in name order and
    // the unanimous proposal closed at the first against, so later ballots were not counted.
    let others_for = report
        .votes
        .iter()
        .filter(|v| v.agent != "nats-expert")
        .all(|v| v.choice == Some(Choice::For));
    assert!(others_for, "{:?}", report.votes);
    let counted: Vec<&str> = report
        .votes
        .iter()
        .filter(|v| v.counted)
        .map(|v| v.agent.as_str())
        .collect();
    assert_eq!(counted, ["db-expert", "nats-expert"]);
    Ok(())
}

/// A reviewer whose tool never answers.
struct Unreachable;

impl Reviewer for Unreachable {
    fn name(&self) -> &str {
        "unreachable-model"
    }

    fn review(&self, _context: &ReviewContext<'_>) -> Result<Vec<Finding>, ReviewError> {
        Err(ReviewError {
            reviewer: self.name().to_owned(),
            reason: "the model endpoint did not answer".to_owned(),
        })
    }
}

fn with_failing_nats_expert(protocol: Protocol) -> PipelineOptions {
    let mut reviewers = ReviewerSet::builtin();
    // Only the NATS expert has the `messaging` capability.
    reviewers.add("messaging", Unreachable);
    PipelineOptions {
        protocol,
        reviewers,
        ..options()
    }
}

#[tokio::test]
async fn an_agent_failing_mid_vote_is_a_missing_vote() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Unanimous (the default): the missing vote rejects at the deadline; nothing is written.
    let out = dir.path().join("unanimous");
    let backend = EmbeddedBackend::embedded()?;
    let options = with_failing_nats_expert(Protocol::Unanimous);
    let report = deploy(&backend, options, &example("fleet.yaml"), &out).await?;
    assert!(!report.approved(), "{report:#?}");
    assert!(!out.exists());
    assert_eq!(choice_of(&report, "nats-expert"), Some(None));
    let missing = report.votes.iter().find(|v| v.agent == "nats-expert");
    let reasons = missing.map(|v| v.reasons.join(" ")).unwrap_or_default();
    assert!(
        reasons.contains("the model endpoint did not answer"),
        "{reasons}"
    );
    // Opened, four votes, voting closed at the deadline, decided.
    assert_eq!(report.events.proposal, 7);

    // A simple majority passes without it.
    let out = dir.path().join("majority");
    let backend = EmbeddedBackend::embedded()?;
    let options = with_failing_nats_expert(Protocol::SimpleMajority);
    let report = deploy(&backend, options, &example("fleet.yaml"), &out).await?;
    assert!(report.approved(), "{report:#?}");
    assert_eq!(choice_of(&report, "nats-expert"), Some(None));
    assert!(out.join("flake.nix").exists());
    Ok(())
}

#[tokio::test]
async fn a_gpu_request_no_host_can_meet_is_refused_with_the_reason() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text = std::fs::read_to_string(example("fleet.yaml"))?
        .replace("count: 2 }]", "count: 1 }]")
        .replace(
            "definition: ../agents/",
            &format!("definition: {}/", example("../agents").display()),
        );
    let graph = dir.path().join("fleet.yaml");
    std::fs::write(&graph, text)?;
    let out = dir.path().join("out");
    let backend = EmbeddedBackend::embedded()?;
    let Err(PipelineError::Load(FleetError::Invalid(problems))) =
        deploy(&backend, options(), &graph, &out).await
    else {
        return Err("expected the GPU over-request to be refused".into());
    };
    assert!(!out.exists());
    let overcommit = problems.problems().iter().find_map(|p| match p {
        ValidationError::Overcommit {
            host,
            resource,
            capacity,
            requested,
            nodes,
        } if resource == "gpus" => Some((host.clone(), *capacity, *requested, nodes.clone())),
        _ => None,
    });
    assert_eq!(
        overcommit,
        Some((
            "gpu-1".to_owned(),
            1,
            2,
            vec!["sage".to_owned(), "db-expert".to_owned()]
        )),
        "{problems}"
    );
    Ok(())
}

#[tokio::test]
async fn rerunning_the_same_graph_records_nothing_new() -> TestResult {
    let dir = tempfile::tempdir()?;
    let backend = EmbeddedBackend::embedded()?;
    let first = deploy(
        &backend,
        options(),
        &example("fleet.yaml"),
        &dir.path().join("a"),
    )
    .await?;
    let second = deploy(
        &backend,
        options(),
        &example("fleet.yaml"),
        &dir.path().join("b"),
    )
    .await?;
    assert_approved(&second, &dir.path().join("b"))?;
    assert!(second.already_decided);
    assert_eq!(second.version, first.version);
    assert_eq!(second.files, first.files);
    assert_eq!(second.events, Default::default(), "{:?}", second.events);
    Ok(())
}

#[tokio::test]
async fn over_nats_the_example_fleet_is_approved_and_a_rerun_records_nothing() -> TestResult {
    let server = NatsServer::start().await?;
    let dir = tempfile::tempdir()?;
    let backend = NatsBackend::connect(&server.url()).await?;
    let first = deploy(
        &backend,
        options(),
        &example("fleet.yaml"),
        &dir.path().join("a"),
    )
    .await?;
    assert_approved(&first, &dir.path().join("a"))?;
    assert_eq!(first.events.proposal, 8);
    assert_eq!(first.events.knowledge_facts, 18);

    // A second process: a new connection, the same server.
    let again = NatsBackend::connect(&server.url()).await?;
    let second = deploy(
        &again,
        options(),
        &example("fleet.yaml"),
        &dir.path().join("b"),
    )
    .await?;
    assert_approved(&second, &dir.path().join("b"))?;
    assert!(second.already_decided);
    assert_eq!(second.events, Default::default(), "{:?}", second.events);

    let rejected = deploy(
        &again,
        options(),
        &example("nats-pair.yaml"),
        &dir.path().join("c"),
    )
    .await?;
    assert_eq!(rejected.outcome, Outcome::Rejected);
    assert!(!dir.path().join("c").exists());
    Ok(())
}
