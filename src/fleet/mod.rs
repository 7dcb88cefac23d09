//! [`Fleet`]: a deployment graph and everything it references, loaded, checked and resolved once.
//!
//! [`Fleet::load`] reads the graph file and every agent definition it names (each file once),
//! then reports every problem at once — the graph's own, the definitions', each node
//! translator's checks and GPU requests the hosts cannot meet — as one
//! [`FleetError::Invalid`]. It resolves what translation needs up front: the container addresses
//! of the agents and the GPUs granted to them by the allocator (`cim-gpu`), from the hosts'
//! declared GPUs. [`Fleet::translate`] then only assembles files, with no I/O.

mod agents;
mod error;
mod gpus;
mod identities;
mod nats;
mod options;
mod pools;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cim_domain_agent::deploy::{AgentNodeTranslator, AgentSource, PlacedAgent};
use cim_domain_graph::translate::nats_auth::NatsUser;
use cim_domain_graph::translate::{
    FlakeTranslator, MessageBusTranslator, NixDeploymentSpec, NodeTranslatorRegistry,
    ServiceTranslator, TranslationError,
};
use cim_domain_graph::{
    DeploymentGraph, DeploymentNode, DeploymentNodeType, GraphDocument, ValidationErrors,
};

pub use error::FleetError;
pub use gpus::GpuGrant;
pub use identities::NatsKeys;
pub use options::FleetOptions;
pub use pools::{RecordGrantsError, pool_id};

/// One agent of a fleet: its node, its host and its definition.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetAgent {
    /// The agent node's name, which is also the agent's name.
    pub node: String,
    /// The host the graph places it on.
    pub host: String,
    /// Its definition, as read when the fleet was loaded.
    pub source: AgentSource,
}

/// A deployment graph with its agent definitions, validated and resolved. See the
/// [module documentation](self).
#[derive(Debug, Clone)]
pub struct Fleet {
    graph_path: Option<PathBuf>,
    graph: DeploymentGraph,
    agents: Vec<FleetAgent>,
    grants: BTreeMap<String, Vec<GpuGrant>>,
    nats_users: Vec<NatsUser>,
    translator: FlakeTranslator,
}

impl Fleet {
    /// Reads the graph at `path` (YAML, or JSON when it ends in `.json`) and the agent
    /// definitions it references (relative to the graph's directory), and checks everything.
    ///
    /// # Errors
    /// [`FleetError::Unreadable`] when the graph file cannot be read or parsed;
    /// [`FleetError::Invalid`] with every problem found otherwise.
    pub fn load(path: impl AsRef<Path>, options: FleetOptions) -> Result<Self, FleetError> {
        let path = path.as_ref();
        let document = GraphDocument::from_path(path).map_err(FleetError::Unreadable)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut fleet = Self::from_document(&document, base, options)?;
        fleet.graph_path = Some(path.to_owned());
        Ok(fleet)
    }

    /// Like [`load`](Self::load) for a document already in memory; agent `definition` paths
    /// are relative to `definitions_dir`.
    ///
    /// # Errors
    /// [`FleetError::Invalid`] with every problem found.
    pub fn from_document(
        document: &GraphDocument,
        definitions_dir: &Path,
        options: FleetOptions,
    ) -> Result<Self, FleetError> {
        let (graph, problems) = document.to_graph_with_problems();
        let read = agents::read_definitions(&graph, definitions_dir);
        Self::resolve(graph, problems, read, options)
    }

    /// Like [`from_document`](Self::from_document) with the agent definitions' texts already in
    /// memory, by agent node name (what another process read: the pipeline sends them to the
    /// agents that review the fleet). They are parsed and checked exactly like files.
    ///
    /// # Errors
    /// [`FleetError::Invalid`] with every problem found; a node whose text is missing is one.
    pub fn from_definition_texts(
        document: &GraphDocument,
        definitions: &BTreeMap<String, String>,
        options: FleetOptions,
    ) -> Result<Self, FleetError> {
        let (graph, problems) = document.to_graph_with_problems();
        let read = agents::parse_definitions(&graph, definitions);
        Self::resolve(graph, problems, read, options)
    }

    fn resolve(
        mut graph: DeploymentGraph,
        mut problems: Vec<cim_domain_graph::ValidationError>,
        read: agents::ReadDefinitions,
        options: FleetOptions,
    ) -> Result<Self, FleetError> {
        settle_flake(&mut graph, &options);
        let plan = gpus::plan(&graph, &read.sources);
        let agent_ids: BTreeMap<&str, cim_domain_agent::AgentId> = read
            .sources
            .iter()
            .map(|(node, source)| (node.as_str(), source.definition.id))
            .collect();
        let nats_users = identities::resolve(&graph, &agent_ids, &options.nats_keys)?;
        let translator = translator(&read.sources, &plan, &nats_users, &options)?;
        if let Err(ValidationErrors(found)) = translator.check_graph(&graph) {
            problems.extend(found);
        }
        // The graph's and the translators' problems, then the definitions' and the GPUs'; a
        // definition that could not be read is reported as such, not also as "not loaded".
        problems.retain(|problem| !read.failed(problem));
        problems.extend(read.problems.iter().cloned());
        problems.extend(plan.problems);
        if !problems.is_empty() {
            return Err(FleetError::Invalid(ValidationErrors(problems)));
        }
        let agents = agents::fleet_agents(&graph, read.sources);
        Ok(Self {
            graph_path: None,
            graph,
            agents,
            grants: plan.grants,
            nats_users,
            translator,
        })
    }

    /// The graph file the fleet was loaded from, if any.
    pub fn graph_path(&self) -> Option<&Path> {
        self.graph_path.as_deref()
    }

    /// The validated graph.
    pub fn graph(&self) -> &DeploymentGraph {
        &self.graph
    }

    /// Every agent, sorted by name.
    pub fn agents(&self) -> &[FleetAgent] {
        &self.agents
    }

    /// The GPUs granted to each agent that needs some, by agent name.
    pub fn gpu_grants(&self) -> &BTreeMap<String, Vec<GpuGrant>> {
        &self.grants
    }

    /// The NATS users every message bus accepts (public keys and permissions), sorted by
    /// identity; empty when the fleet was loaded without keys ([`NatsKeys::Open`]).
    pub fn nats_users(&self) -> &[NatsUser] {
        &self.nats_users
    }

    /// The files of the fleet: `flake.nix`, `hosts/<host>.nix` and `modules/<name>.nix`.
    /// Everything was read and checked by [`load`](Self::load); this only assembles.
    ///
    /// # Errors
    /// [`TranslationError`] when a translator still fails (every failing node is listed).
    pub fn translate(&self) -> Result<NixDeploymentSpec, TranslationError> {
        self.translator.translate_checked(&self.graph)
    }
}

/// The graph translator of a fleet: the built-in kinds, agents with their definitions and GPU
/// devices, and the user's own kinds.
fn translator(
    sources: &BTreeMap<String, AgentSource>,
    plan: &gpus::GpuPlan,
    nats_users: &[NatsUser],
    options: &FleetOptions,
) -> Result<FlakeTranslator, FleetError> {
    let placed: BTreeMap<String, PlacedAgent> = sources
        .iter()
        .map(|(node, source)| {
            let gpu_devices = plan
                .grants
                .get(node)
                .map(|grants| grants.iter().filter_map(|g| g.device).collect())
                .unwrap_or_default();
            let agent = PlacedAgent {
                source: source.clone(),
                gpu_devices,
            };
            (node.clone(), agent)
        })
        .collect();
    let agent_translator = AgentNodeTranslator::new(placed, options.containers.clone())
        .map_err(FleetError::Agents)?
        .with_nats_seeds(!nats_users.is_empty());
    let mut registry = NodeTranslatorRegistry::with_builtins();
    registry.register("agent", agent_translator);
    if !nats_users.is_empty() {
        let buses = MessageBusTranslator::with_users(nats_users.to_vec());
        registry.register("message_bus", buses);
        registry.register("service", ServiceTranslator::with_nats_seeds(true));
    }
    registry.merge(&options.translators);
    let mut translator = FlakeTranslator::new(registry);
    if let Some(description) = &options.description {
        translator = translator.with_description(description.as_str());
    }
    Ok(translator)
}

/// Writes the user's flake settings into the graph and settles every host's stateVersion:
/// its own, else the one it was generated with before, else (NixOS hosts) the graph's for new
/// hosts. The graph then says exactly what is deployed, so its version, the agents' review and
/// the approved graph in the event store carry the stateVersion, and a later default cannot
/// move it.
fn settle_flake(graph: &mut DeploymentGraph, options: &FleetOptions) {
    let mut settings = graph.settings().clone();
    let chosen = &options.flake;
    for (slot, value) in [
        (&mut settings.nixpkgs, &chosen.nixpkgs),
        (&mut settings.nix_darwin, &chosen.nix_darwin),
        (&mut settings.cim_leaf, &chosen.cim_leaf),
        (&mut settings.state_version, &chosen.state_version),
    ] {
        if value.is_some() {
            slot.clone_from(value);
        }
    }
    graph.set_settings(settings.clone());
    let settled: Vec<DeploymentNode> = graph
        .nodes()
        .filter_map(|node| {
            let DeploymentNodeType::Host(spec) = &node.node_type else {
                return None;
            };
            if spec.state_version.is_some() {
                return None;
            }
            let installed = options.installed_state_versions.get(&node.name).cloned();
            let darwin = cim_domain_graph::translate::darwin::is_darwin(&spec.system);
            // An unusable `flake.state_version` is reported once, as the setting's problem,
            // not again on every host it would have been copied to.
            let usable =
                cim_domain_graph::settings::nixos_release_problem(settings.state_version())
                    .is_none();
            let version = installed
                .or_else(|| (!darwin && usable).then(|| settings.state_version().to_owned()))?;
            let mut spec = spec.clone();
            spec.state_version = Some(version);
            Some(DeploymentNode::new(
                &node.name,
                DeploymentNodeType::Host(spec),
            ))
        })
        .collect();
    for host in settled {
        // The host exists: it was just read from the graph.
        let _ = graph.update_node(host);
    }
}
