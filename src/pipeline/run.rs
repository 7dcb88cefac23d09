//! [`Pipeline::deploy`]: load, register, propose, discuss, decide, allocate, write, record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use cim_agent_coordination::consensus::{
    Choice, Coordinator, CoordinatorError, Electorate, ManualClock, Outcome, Proposal, ProposalId,
    ProposalSubject, Protocol, Rules,
};
use cim_agent_coordination::dialog::{
    AgentDialogRouter, ChannelConfig, ChannelError, DialogAgent, DialogContext, DialogId,
    RouterConfig, create_agent_channel_with_id,
};
use cim_agent_coordination::knowledge::{
    KnowledgeError, KnowledgeReplica, KnowledgeStore, MonotonicClock, ReplicaConfig,
};
use cim_agent_coordination::registry::{PresenceConfig, Registry, RegistryError};
use cim_agent_coordination::transport::kv::KeyValue;
use cim_agent_coordination::transport::{Transport, TransportError};
use cim_domain_agent::AgentId;
use cim_domain_agent::announce::AgentRegistration;
use cim_domain_graph::DeploymentNodeType;
use cim_domain_graph::aggregate::{DeploymentGraphCommand, GraphStatus};
use cim_domain_graph::translate::{NixDeploymentSpec, TranslationError};
use cim_domain_nix::{NixTool, NixToolError};
use cqrs_es::{AggregateContext as _, CqrsFramework, EventStore};
use uuid::Uuid;

use super::backend::{Backend, EventStores};
use super::gather::{self, AgentReports, MaterialServer};
use super::participant::{Participant, Turn, choice_for};
use super::record::{self, DeploymentFacts};
use super::remote::{RemoteReview, ReviewMaterial, ReviewOutcome};
use super::review::{ReviewContext, ReviewerSet};
use super::summary::{DeployReport, EventCounts, Step, StepReport, VoteRecord, WrittenFile};
use super::version::{GraphVersion, content_hash};
use crate::fleet::pool_id;
use crate::{Fleet, FleetError, FleetOptions, RecordGrantsError};

/// Proposal and dialog ids are UUID v5 of the graph version in this namespace, so a version has
/// one proposal wherever and however often it is deployed.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_0e2a_8b7d_4c3e_9a51_2f60_d4b8_e713);

/// Heartbeat interval agents are registered with, in seconds.
const HEARTBEAT_SECS: u64 = 30;

/// Whether to run `nix-instantiate --parse` as well as rnix.
#[derive(Debug, Clone, Default)]
pub enum NixCheck {
    /// Where installed (required when `CIM_REQUIRE_NIX_INSTANTIATE=1`, see
    /// [`NixTool::detect`]).
    #[default]
    Detect,
    /// rnix only.
    RnixOnly,
    /// This program.
    Tool(NixTool),
}

/// The choices of a run.
#[derive(Clone)]
pub struct PipelineOptions {
    /// How the fleet is loaded.
    pub fleet: FleetOptions,
    /// How the votes decide (default: [`Protocol::Unanimous`]: any agent's blocking finding,
    /// or a missing vote, rejects).
    pub protocol: Protocol,
    /// Seconds from opening to the deadline, in the consensus clock (which the pipeline moves
    /// to the deadline once every agent is done, so nobody waits for it in real time).
    pub voting_secs: u32,
    /// The reviewers, by capability.
    pub reviewers: ReviewerSet,
    /// Whether to run `nix-instantiate`.
    pub nix: NixCheck,
    /// How long every agent's replica may take to show the recorded deployment.
    pub replica_timeout: Duration,
    /// Where the agents run: in this process (default), or as `cim-leaf agents run`
    /// processes on the transport.
    pub agents: AgentParticipation,
}

/// Where the agents that review a fleet run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AgentParticipation {
    /// The pipeline runs every agent of the fleet itself: it registers them, reviews and votes
    /// in their names and holds their knowledge replicas (the embedded default).
    #[default]
    InProcess,
    /// Every agent of the fleet is its own runtime (`cim-leaf agents run`, see
    /// [`crate::runtime`]) on the same NATS server: the pipeline waits up to `wait` for each to
    /// be registered (a roll call makes those that started earlier announce again), serves
    /// them the review material, posts the findings they send into the dialog, counts the
    /// ballots they cast, and waits up to `wait` again for their findings and for their
    /// replicas to show the recorded deployment.
    Remote {
        /// How long to wait for the agents at each step.
        wait: Duration,
    },
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            fleet: FleetOptions::default(),
            protocol: Protocol::Unanimous,
            voting_secs: 300,
            reviewers: ReviewerSet::builtin(),
            nix: NixCheck::Detect,
            replica_timeout: Duration::from_secs(10),
            agents: AgentParticipation::InProcess,
        }
    }
}

/// Told about each step as it starts and ends (the CLI draws progress with it).
pub trait Progress: Send + Sync {
    /// `step` starts.
    fn started(&self, _step: Step) {}
    /// `report.step` ended.
    fn finished(&self, _report: &StepReport) {}
}

/// No progress shown.
impl Progress for () {}

/// Why a run failed (a rejection is not a failure: see [`DeployReport::approved`]).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The fleet cannot be loaded or has problems (every one is listed; GPU requests a host
    /// cannot meet are among them, naming the host and the agents).
    #[error(transparent)]
    Load(#[from] FleetError),
    /// The fleet cannot be translated, or its files fail the Nix checks or cannot be written.
    #[error(transparent)]
    Translate(#[from] TranslationError),
    /// `nix-instantiate` is required but missing.
    #[error(transparent)]
    Nix(#[from] NixToolError),
    /// Agents of the fleet did not register in time (remote agents).
    #[error(
        "agents not registered after {waited:?}: {} (start them with `cim-leaf agents run`)",
        missing.join(", ")
    )]
    AgentsMissing {
        /// Their names.
        missing: Vec<String>,
        /// How long the pipeline waited.
        waited: Duration,
    },
    /// The fleet has no agents to review it.
    #[error("the fleet has no agents: nobody can approve it")]
    NoAgents,
    /// The registry refused an agent or cannot be used.
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    /// The consensus coordinator failed.
    #[error("consensus: {0}")]
    Consensus(#[from] CoordinatorError),
    /// The proposal was not decided, even at its deadline.
    #[error("proposal {0} is still undecided after its deadline")]
    Undecided(ProposalId),
    /// The dialog cannot be opened.
    #[error("dialog: {0}")]
    Dialog(#[from] ChannelError),
    /// The knowledge base failed.
    #[error("knowledge: {0}")]
    Knowledge(#[from] KnowledgeError),
    /// Some agents' replicas do not show the deployment in time.
    #[error(
        "the deployment reached {shown} of {replicas} agents' knowledge replicas in {waited:?}"
    )]
    NotPropagated {
        /// How many show it.
        shown: usize,
        /// How many there are.
        replicas: usize,
        /// How long the pipeline waited.
        waited: Duration,
    },
    /// The GPU pools cannot record the grants.
    #[error(transparent)]
    Gpu(#[from] RecordGrantsError),
    /// An event store failed.
    #[error("event store: {0}")]
    Events(String),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// The deployment pipeline over one back end. See the [module documentation](super).
pub struct Pipeline<T, K, S, E> {
    backend: Backend<T, K, S, E>,
    options: PipelineOptions,
}

/// Times steps and tells the [`Progress`].
struct Steps<'p> {
    progress: &'p dyn Progress,
    done: Vec<StepReport>,
    current: Option<(Step, Instant)>,
}

impl<'p> Steps<'p> {
    fn start(&mut self, step: Step) {
        self.progress.started(step);
        self.current = Some((step, Instant::now()));
    }

    fn finish(&mut self, detail: impl Into<String>) {
        if let Some((step, started)) = self.current.take() {
            let report = StepReport {
                step,
                millis: started.elapsed().as_secs_f64() * 1e3,
                detail: detail.into(),
            };
            self.progress.finished(&report);
            self.done.push(report);
        }
    }
}

impl<T, K, S, E> Pipeline<T, K, S, E>
where
    T: Transport,
    K: KeyValue,
    S: KnowledgeStore,
    E: EventStores,
{
    /// A pipeline on `backend`.
    pub fn new(backend: Backend<T, K, S, E>, options: PipelineOptions) -> Self {
        Self { backend, options }
    }

    /// The back end.
    pub fn backend(&self) -> &Backend<T, K, S, E> {
        &self.backend
    }

    /// The choices it runs with.
    pub fn options(&self) -> &PipelineOptions {
        &self.options
    }

    /// Runs the pipeline on the graph file `graph`, writing into `out` when approved.
    ///
    /// A version already decided (the same graph, same definitions) is not voted on again: its
    /// decision stands, the files are written again (byte-identical), and nothing new is
    /// stored.
    ///
    /// # Errors
    /// [`PipelineError`] when a step fails. A rejection is a report, not an error.
    pub async fn deploy(
        &self,
        graph: &Path,
        out: &Path,
        progress: &dyn Progress,
    ) -> Result<DeployReport, PipelineError> {
        let started = Instant::now();
        progress.started(Step::Load);
        let options = self
            .options
            .fleet
            .clone()
            .for_output(out)
            .map_err(TranslationError::from)?;
        let fleet = Fleet::load(graph, options)?;
        // The graph's aggregate id: its file name without extension.
        let stem = graph.file_stem().map(|stem| stem.to_string_lossy());
        self.deploy_loaded(
            &fleet,
            &graph_id(stem.as_deref().unwrap_or_default()),
            out,
            progress,
            started,
        )
        .await
    }

    /// Runs the pipeline on a fleet already loaded (the deployment service keeps its graph in
    /// memory), recording the graph as the `DeploymentGraph` aggregate `graph_id` (characters
    /// other than ASCII letters, digits, `-` and `_` become `-`).
    ///
    /// # Errors
    /// As [`deploy`](Self::deploy).
    pub async fn deploy_fleet(
        &self,
        fleet: &Fleet,
        graph_id: &str,
        out: &Path,
        progress: &dyn Progress,
    ) -> Result<DeployReport, PipelineError> {
        progress.started(Step::Load);
        self.deploy_loaded(
            fleet,
            &self::graph_id(graph_id),
            out,
            progress,
            Instant::now(),
        )
        .await
    }

    async fn deploy_loaded(
        &self,
        fleet: &Fleet,
        graph_id: &str,
        out: &Path,
        progress: &dyn Progress,
        started: Instant,
    ) -> Result<DeployReport, PipelineError> {
        let mut steps = Steps {
            progress,
            done: Vec::new(),
            current: Some((Step::Load, started)),
        };
        let spec = fleet.translate()?;
        let nix_tool = match &self.options.nix {
            NixCheck::Detect => NixTool::detect()?,
            NixCheck::RnixOnly => None,
            NixCheck::Tool(tool) => Some(tool.clone()),
        };
        let version = GraphVersion::of(fleet);
        if fleet.agents().is_empty() {
            return Err(PipelineError::NoAgents);
        }
        let hosts = fleet
            .graph()
            .nodes()
            .filter(|n| n.node_type.is_host())
            .count();
        steps.finish(format!(
            "{hosts} hosts, {} nodes, {} agents, version {}",
            fleet.graph().node_count() - hosts,
            fleet.agents().len(),
            version.short()
        ));
        self.decide_and_deploy(
            fleet,
            &spec,
            nix_tool.as_ref(),
            (version, graph_id),
            out,
            &mut steps,
        )
        .await
    }

    async fn decide_and_deploy(
        &self,
        fleet: &Fleet,
        spec: &NixDeploymentSpec,
        nix_tool: Option<&NixTool>,
        (version, graph_id): (GraphVersion, &str),
        out: &Path,
        steps: &mut Steps<'_>,
    ) -> Result<DeployReport, PipelineError> {
        let backend = &self.backend;
        let mut events = EventCounts::default();

        steps.start(Step::Register);
        let registry = Registry::open(backend.registry.clone(), PresenceConfig::default()).await?;
        let remote = match self.options.agents {
            AgentParticipation::Remote { wait } => Some(wait),
            AgentParticipation::InProcess => None,
        };
        if let Some(wait) = remote {
            let missing = gather::await_agents(&backend.transport, &registry, fleet, wait).await?;
            if !missing.is_empty() {
                return Err(PipelineError::AgentsMissing {
                    missing,
                    waited: wait,
                });
            }
        }
        let now = Utc::now();
        for agent in fleet.agents().iter().filter(|_| remote.is_none()) {
            let definition = &agent.source.definition;
            let known = registry
                .get(definition.id)
                .is_some_and(|record| record.name == definition.name);
            if !known {
                let registration =
                    AgentRegistration::new(definition, None, None, HEARTBEAT_SECS, now)
                        .with_host(agent.host.as_str());
                registry.register(&registration, now).await?;
                events.registrations += 1;
            }
        }
        let clock = Arc::new(MonotonicClock::default());
        let start_replica = |agent: AgentId| {
            KnowledgeReplica::start(
                agent,
                backend.transport.clone(),
                backend.knowledge.clone(),
                backend.knowledge_subjects.clone(),
                ReplicaConfig::default(),
                clock.clone(),
            )
        };
        let deployer = start_replica(deployer_id()).await?;
        let mut replicas = Vec::with_capacity(fleet.agents().len());
        for agent in fleet.agents().iter().filter(|_| remote.is_none()) {
            replicas.push(start_replica(agent.source.definition.id).await?);
        }
        steps.finish(if remote.is_some() {
            format!(
                "{} agent runtimes registered, each with its own knowledge replica",
                fleet.agents().len()
            )
        } else {
            format!(
                "{} agents ({} newly registered), {} knowledge replicas",
                fleet.agents().len(),
                events.registrations,
                replicas.len()
            )
        });

        steps.start(Step::Propose);
        let proposal = ProposalId(Uuid::new_v5(&ID_NAMESPACE, version.as_str().as_bytes()));
        let consensus_clock = ManualClock::new(Utc::now());
        let coordinator = Coordinator::new(
            backend.transport.clone(),
            backend.events.proposals(),
            Arc::new(consensus_clock.clone()),
        );
        let _serving = coordinator.serve().await?;
        let before = self.proposal_events(proposal).await?;
        let existing = coordinator.load(proposal).await?;
        let already_decided = existing.outcome().is_some();
        let ids: BTreeMap<String, AgentId> = fleet
            .agents()
            .iter()
            .map(|a| (a.node.clone(), a.source.definition.id))
            .collect();
        let context = ReviewContext {
            fleet,
            spec,
            nix_tool,
        };
        let names: BTreeSet<String> = fleet.agents().iter().map(|a| a.node.clone()).collect();
        let mut reports = None;
        let turns = if already_decided {
            steps.finish(format!("proposal {proposal} was already decided"));
            steps.start(Step::Discuss);
            let turns = self.recall(fleet, &existing, &ids, &context);
            steps.finish("no new discussion: the findings are recomputed, the votes stand");
            turns
        } else {
            let mut participants = Vec::with_capacity(fleet.agents().len());
            let mut _material = None;
            if remote.is_some() {
                let material = ReviewMaterial::of(fleet, &version);
                _material = Some(
                    MaterialServer::start(backend.transport.clone(), proposal, &material).await?,
                );
                reports = Some(AgentReports::subscribe(&backend.transport, proposal).await?);
            }
            for agent in fleet.agents().iter().filter(|_| remote.is_none()) {
                let id = agent.source.definition.id;
                let voter =
                    cim_agent_coordination::consensus::Voter::new(backend.transport.clone(), id);
                let proposals = voter.proposals().await?;
                participants.push(Participant {
                    name: agent.node.clone(),
                    id,
                    capabilities: agent.source.definition.capabilities.clone(),
                    voter,
                    proposals,
                });
            }
            let electorate = Electorate::equal(ids.values().copied());
            let rules = Rules::new(self.options.protocol, self.options.voting_secs);
            let subject = ProposalSubject::DeploymentGraphVersion {
                version: version.to_string(),
            };
            let announcement = coordinator
                .open(proposal, subject, electorate, rules)
                .await?;
            steps.finish(format!(
                "proposal {proposal} for {} agents, deadline {}",
                ids.len(),
                announcement.deadline.format("%H:%M:%S UTC")
            ));

            steps.start(Step::Discuss);
            let mut router = AgentDialogRouter::new(RouterConfig::default());
            for agent in fleet.agents() {
                let definition = &agent.source.definition;
                router.upsert_agent(DialogAgent::online(
                    definition.id,
                    agent.node.as_str(),
                    definition.capabilities.iter().cloned(),
                ));
            }
            let dialog = create_agent_channel_with_id(
                backend.transport.clone(),
                Arc::new(Mutex::new(router)),
                DialogId(Uuid::new_v5(&ID_NAMESPACE, proposal.0.as_bytes())),
                &ids.values().copied().collect::<Vec<_>>(),
                ChannelConfig::default(),
            )
            .await?;
            let mut dialog_context = DialogContext::default();
            dialog_context.references.proposal = Some(proposal.0);
            dialog_context.references.graph_version =
                u64::from_str_radix(version.short().get(..16).unwrap_or(version.short()), 16).ok();
            let reviewers = &self.options.reviewers;
            let turns = if let (Some(wait), Some(reports)) = (remote, reports.as_mut()) {
                let reviews = reports.reviews(&names, wait).await;
                let turns =
                    post_remote_reviews(fleet, &reviews, wait, &dialog, &dialog_context).await;
                await_ballots(&coordinator, proposal, turns, &ids, wait).await?
            } else {
                // Reviews run together; ballots are cast one by one in agent name order, so
                // which votes the aggregate counts before an early close does not depend on
                // timing.
                let reviewed =
                    futures::future::join_all(participants.into_iter().map(|participant| {
                        participant.review(proposal, reviewers, context, &dialog, &dialog_context)
                    }))
                    .await;
                let mut turns = Vec::with_capacity(reviewed.len());
                for (mut turn, ballot) in reviewed {
                    if let Some(ballot) = ballot {
                        ballot.cast(proposal, &mut turn).await;
                    }
                    turns.push(turn);
                }
                turns
            };
            events.dialog = dialog.transcript().len();
            let voted = turns.iter().filter(|t| t.vote.is_ok()).count();
            steps.finish(format!(
                "{} turns in the dialog, {voted} of {} agents voted",
                events.dialog.saturating_sub(1),
                turns.len()
            ));
            turns
        };

        steps.start(Step::Decide);
        let mut decided = coordinator.load(proposal).await?;
        if decided.outcome().is_none() {
            // Every agent is done: whatever is missing will stay missing. Move the consensus
            // clock to the deadline and let the aggregate close the proposal.
            if let Some(deadline) = decided.deadline() {
                consensus_clock.set(deadline + chrono::Duration::seconds(1));
            }
            coordinator.tick().await?;
            decided = coordinator.load(proposal).await?;
        }
        let outcome = decided
            .outcome()
            .ok_or(PipelineError::Undecided(proposal))?;
        events.proposal = self.proposal_events(proposal).await? - before;
        let tally = decided.tally();
        steps.finish(format!(
            "{}: {} for, {} against, {} not counted",
            outcome_word(outcome),
            tally.yes,
            tally.no,
            ids.len() as u64 - tally.yes - tally.no - tally.abstain
        ));

        let votes: Vec<VoteRecord> = turns.iter().map(vote_record).collect();
        let findings = turns
            .iter()
            .map(|t| (t.name.clone(), t.findings.clone()))
            .collect();
        let mut report = DeployReport {
            version,
            proposal,
            outcome,
            already_decided,
            steps: Vec::new(),
            votes,
            findings,
            gpu_grants: BTreeMap::new(),
            files: Vec::new(),
            events,
            replicas_showing_deployment: 0,
        };
        if outcome != Outcome::Passed {
            report.steps = std::mem::take(&mut steps.done);
            return Ok(report);
        }

        steps.start(Step::Approve);
        report.events.graph = self.approve_graph(fleet, graph_id, proposal).await?;
        steps.finish(format!(
            "graph `{graph_id}`: {} events, approved by proposal {proposal}",
            report.events.graph
        ));

        steps.start(Step::AllocateGpus);
        let gpu_before = self.gpu_events(fleet).await?;
        fleet
            .record_gpu_grants(|| backend.events.gpu_pools())
            .await?;
        report.events.gpu_pools = self.gpu_events(fleet).await? - gpu_before;
        report.gpu_grants = fleet.gpu_grants().clone();
        let granted: usize = report.gpu_grants.values().map(Vec::len).sum();
        steps.finish(format!(
            "{granted} GPUs granted to {} agents from the hosts' declared GPUs",
            report.gpu_grants.len()
        ));

        steps.start(Step::Write);
        spec.check_syntax()?;
        if let Some(tool) = nix_tool {
            spec.check_with(tool)?;
        }
        spec.write_to(out)?;
        report.files = spec
            .files()
            .iter()
            .map(|(path, text)| WrittenFile {
                path: path.clone(),
                hash: content_hash(text.as_bytes()),
                bytes: text.len(),
            })
            .collect();
        steps.finish(format!(
            "{} files checked ({}) and written to {}",
            report.files.len(),
            if nix_tool.is_some() {
                "rnix and nix-instantiate --parse"
            } else {
                "rnix"
            },
            out.display()
        ));

        steps.start(Step::Record);
        let facts = DeploymentFacts::new(&report);
        report.events.knowledge_facts = record::record(&deployer, &facts).await?;
        let wait = self.options.replica_timeout;
        let (shown, expected) = match reports.as_mut() {
            Some(reports) => {
                let count = facts.assertions.len();
                let shown = reports.shown(&names, &facts.subject, count, wait).await;
                (shown, names.len())
            }
            // An agent runtime follows only the proposals it reviewed: a version decided
            // before was shown to the runtimes then.
            None if remote.is_some() => (0, 0),
            None => (
                record::await_replicas(&replicas, &facts, wait).await,
                replicas.len(),
            ),
        };
        report.replicas_showing_deployment = shown;
        if shown < expected {
            return Err(PipelineError::NotPropagated {
                shown,
                replicas: expected,
                waited: wait,
            });
        }
        steps.finish(if expected == 0 {
            format!(
                "{} facts recorded; decided before, so the agent runtimes were shown it then",
                report.events.knowledge_facts
            )
        } else {
            format!(
                "{} facts recorded, shown in all {shown} agents' replicas",
                report.events.knowledge_facts
            )
        });
        report.steps = std::mem::take(&mut steps.done);
        Ok(report)
    }

    /// The findings of a decided proposal's agents, recomputed (deterministic), and its ballots.
    fn recall(
        &self,
        fleet: &Fleet,
        proposal: &Proposal,
        ids: &BTreeMap<String, AgentId>,
        context: &ReviewContext<'_>,
    ) -> Vec<Turn> {
        fleet
            .agents()
            .iter()
            .map(|agent| {
                let capabilities = agent.source.definition.capabilities.iter();
                let findings = self
                    .options
                    .reviewers
                    .review(capabilities.map(String::as_str), context)
                    .unwrap_or_default();
                let ballot = ids
                    .get(&agent.node)
                    .and_then(|id| proposal.ballots().get(id).copied());
                Turn {
                    name: agent.node.clone(),
                    findings,
                    counted: ballot.is_some(),
                    vote: ballot.ok_or_else(|| "cast no vote".to_owned()),
                }
            })
            .collect()
    }

    /// Brings the `DeploymentGraph` aggregate `graph_id` to the fleet's graph (one event per
    /// node and edge that differs), validates it and approves it by `proposal`: the graph
    /// version that passed, nothing else. Returns the events stored (none on a rerun).
    async fn approve_graph(
        &self,
        fleet: &Fleet,
        graph_id: &str,
        proposal: ProposalId,
    ) -> Result<usize, PipelineError> {
        let events = |error: cqrs_es::AggregateError<_>| PipelineError::Events(error.to_string());
        let store = self.backend.events.graphs();
        let mut stored = store.load_aggregate(graph_id).await.map_err(events)?;
        let aggregate = stored.aggregate();
        let mut commands = DeploymentGraphCommand::sync(aggregate.graph(), fleet.graph());
        let approved_by = format!("consensus proposal {proposal}");
        let status = aggregate.status().clone();
        if !commands.is_empty() || status == GraphStatus::Draft {
            commands.push(DeploymentGraphCommand::Validate);
        }
        let approved_here =
            matches!(&status, GraphStatus::Approved { approved_by: by } if *by == approved_by);
        if !commands.is_empty() || !approved_here {
            commands.push(DeploymentGraphCommand::Approve { approved_by });
        }
        let before = store.load_events(graph_id).await.map_err(events)?.len();
        let cqrs = CqrsFramework::new(self.backend.events.graphs(), vec![], ());
        for command in commands {
            cqrs.execute(graph_id, command).await.map_err(events)?;
        }
        let after = store.load_events(graph_id).await.map_err(events)?.len();
        Ok(after - before)
    }

    async fn proposal_events(&self, proposal: ProposalId) -> Result<usize, PipelineError> {
        self.backend
            .events
            .proposals()
            .load_events(&proposal.to_string())
            .await
            .map(|events| events.len())
            .map_err(|error| PipelineError::Events(error.to_string()))
    }

    async fn gpu_events(&self, fleet: &Fleet) -> Result<usize, PipelineError> {
        let mut total = 0;
        for node in fleet.graph().nodes() {
            if let DeploymentNodeType::Host(spec) = &node.node_type
                && !spec.gpus.is_empty()
            {
                total += self
                    .backend
                    .events
                    .gpu_pools()
                    .load_events(&pool_id(&node.name))
                    .await
                    .map_err(|error| PipelineError::Events(error.to_string()))?
                    .len();
            }
        }
        Ok(total)
    }
}

/// Posts each remote agent's findings into the dialog as its turn, in name order, and returns
/// the turns with the vote each intends (not counted yet).
async fn post_remote_reviews<T: Transport>(
    fleet: &Fleet,
    reviews: &BTreeMap<String, RemoteReview>,
    wait: Duration,
    dialog: &cim_agent_coordination::dialog::DialogChannel<T>,
    dialog_context: &DialogContext,
) -> Vec<Turn> {
    let mut turns = Vec::with_capacity(fleet.agents().len());
    for agent in fleet.agents() {
        let (findings, vote, content) = match reviews.get(&agent.node).map(|r| &r.outcome) {
            Some(ReviewOutcome::Findings(findings)) => (
                findings.clone(),
                Ok(choice_for(findings)),
                Some(serde_json::json!({ "findings": findings })),
            ),
            Some(ReviewOutcome::Failed(reason)) => (
                Vec::new(),
                Err(reason.clone()),
                Some(serde_json::json!({ "failed": reason })),
            ),
            None => (
                Vec::new(),
                Err(format!("sent no review within {wait:?}")),
                None,
            ),
        };
        if let Some(content) = content
            && dialog.participants().len() > 1
        {
            let message = cim_agent_coordination::dialog::Message::new(
                dialog.id(),
                agent.source.definition.id,
                cim_agent_coordination::dialog::Strategy::Broadcast,
                content.to_string(),
            )
            .with_context(dialog_context.clone());
            if let Err(error) = dialog.send(&message).await {
                tracing::warn!(agent = %agent.node, %error, "could not post findings to the dialog");
            }
        }
        turns.push(Turn {
            name: agent.node.clone(),
            findings,
            vote,
            counted: false,
        });
    }
    turns
}

/// Waits up to `wait` for the ballot of every agent that intends to vote (or for the proposal
/// to close), then marks each turn with the ballot the aggregate counted.
async fn await_ballots<T: Transport, ES: EventStore<Proposal, AC: Send> + 'static>(
    coordinator: &Coordinator<T, ES>,
    proposal: ProposalId,
    mut turns: Vec<Turn>,
    ids: &BTreeMap<String, AgentId>,
    wait: Duration,
) -> Result<Vec<Turn>, PipelineError> {
    let deadline = Instant::now() + wait;
    let decided = loop {
        let state = coordinator.load(proposal).await?;
        let waiting = turns.iter().any(|turn| {
            turn.vote.is_ok()
                && ids
                    .get(&turn.name)
                    .is_some_and(|id| !state.ballots().contains_key(id))
        });
        if !waiting || state.outcome().is_some() || Instant::now() >= deadline {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    for turn in &mut turns {
        if let Some(choice) = ids.get(&turn.name).and_then(|id| decided.ballots().get(id)) {
            turn.vote = Ok(*choice);
            turn.counted = true;
        }
    }
    Ok(turns)
}

/// An aggregate id every event store accepts: ASCII letters, digits, `-` and `_` kept, anything
/// else `-`; `graph` when nothing is left.
fn graph_id(name: &str) -> String {
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if id.is_empty() {
        "graph".to_owned()
    } else {
        id
    }
}

/// `passed`, `rejected`, ...
pub(super) fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Rejected => "rejected",
        Outcome::Expired => "expired",
        Outcome::Vetoed => "vetoed",
        Outcome::Cancelled => "cancelled",
    }
}

fn vote_record(turn: &Turn) -> VoteRecord {
    let blocking = || {
        turn.findings
            .iter()
            .filter(|f| f.is_blocking())
            .map(ToString::to_string)
            .collect()
    };
    match &turn.vote {
        Ok(Choice::Against) => VoteRecord {
            agent: turn.name.clone(),
            choice: Some(Choice::Against),
            counted: turn.counted,
            reasons: blocking(),
        },
        Ok(choice) => VoteRecord {
            agent: turn.name.clone(),
            choice: Some(*choice),
            counted: turn.counted,
            reasons: Vec::new(),
        },
        Err(reason) => VoteRecord {
            agent: turn.name.clone(),
            choice: None,
            counted: false,
            reasons: vec![reason.clone()],
        },
    }
}

/// The id the pipeline's own knowledge replica writes under.
pub fn deployer_id() -> AgentId {
    AgentId(Uuid::new_v5(&ID_NAMESPACE, b"cim-leaf deployer"))
}
