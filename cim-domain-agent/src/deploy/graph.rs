//! The [`NodeTranslator`] for `agent` nodes of a deployment graph: each agent node becomes a
//! container on the host the graph places it on, exactly as [`to_nixos_containers`] builds it.
//!
//! What the graph says wins over the definition, and the operator's overrides win over both:
//! the graph's placement (`runs_on`) must agree with `deployment.target_node` when the
//! definition names one, its CPU and memory reservation becomes `cpuQuota`/`memoryMax`, its GPU
//! count is added when larger, and a `connects_to`/`publishes_to`/`subscribes_to` edge to a
//! message bus gives the NATS URL.
//!
//! [`to_nixos_containers`]: super::nixos::to_nixos_containers

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cim_domain_graph::translate::{
    FlakeTranslator, HostModule, HostModules, NodeTranslator, NodeTranslatorRegistry,
    TranslationContext, TranslationError,
};
use cim_domain_graph::{DeploymentEdgeType, DeploymentNode, DeploymentNodeType};
use cim_domain_nix::AttrPath;

use super::error::DeployError;
use super::nixos::{
    AgentContainer, AgentModuleSource, ContainerOptions, VETH_INTERFACES, allocate,
    open_nats_to_containers,
};
use super::settings::AgentSettings;
use super::source::AgentSource;
use crate::definition::{CpuQuota, MemoryMax};

/// The flake input that provides `nixosModules.agent`: this repository.
pub const CIM_LEAF_FLAKE_URL: &str = concat!("git+", env!("CARGO_PKG_REPOSITORY"));

/// The graph translator for every node kind this workspace knows: the built-in kinds plus
/// `agent`, whose `definition` paths are read relative to `definitions_dir` (usually the graph
/// file's directory) and placed with the default [`ContainerOptions`].
pub fn fleet_translator(definitions_dir: impl Into<PathBuf>) -> FlakeTranslator {
    let mut registry = NodeTranslatorRegistry::with_builtins();
    registry.register(
        "agent",
        AgentNodeTranslator::new(definitions_dir, ContainerOptions::default()),
    );
    FlakeTranslator::new(registry)
}

/// Translates `agent` nodes into agent containers.
#[derive(Debug)]
pub struct AgentNodeTranslator {
    definitions_dir: PathBuf,
    options: ContainerOptions,
    flake_url: String,
    /// Definitions by reference, loaded once: `systemd_unit` and `translate` both need them.
    loaded: Mutex<HashMap<String, AgentSource>>,
}

impl AgentNodeTranslator {
    /// Resolves each node's `definition` as a path relative to `definitions_dir` (or as the name
    /// or id of an agent given with [`with_agents`](Self::with_agents)).
    pub fn new(definitions_dir: impl Into<PathBuf>, options: ContainerOptions) -> Self {
        Self {
            definitions_dir: definitions_dir.into(),
            options,
            flake_url: CIM_LEAF_FLAKE_URL.to_owned(),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Makes already parsed agents available by name and by id.
    #[must_use]
    pub fn with_agents(self, agents: impl IntoIterator<Item = AgentSource>) -> Self {
        {
            let mut loaded = self.lock();
            for agent in agents {
                loaded.insert(agent.definition.id.to_string(), agent.clone());
                loaded.insert(agent.name().to_owned(), agent);
            }
        }
        self
    }

    /// Sets the URL of the flake input that provides the agent module.
    #[must_use]
    pub fn with_flake_url(mut self, url: impl Into<String>) -> Self {
        self.flake_url = url.into();
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, AgentSource>> {
        // A panic elsewhere cannot leave the cache half-written (inserts are single calls).
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn resolve(&self, reference: &str) -> Result<AgentSource, DeployError> {
        if let Some(agent) = self.lock().get(reference) {
            return Ok(agent.clone());
        }
        let agent = AgentSource::read(resolve_path(&self.definitions_dir, reference))?;
        self.lock().insert(reference.to_owned(), agent.clone());
        Ok(agent)
    }

    fn translate_agent(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        let fail = |error: DeployError| TranslationError::node(node, error);
        let DeploymentNodeType::Agent(spec) = &node.node_type else {
            return Err(fail(DeployError::NotAnAgentNode {
                node: node.name.clone(),
            }));
        };
        let agent = self.resolve(&spec.definition).map_err(fail)?;
        let host = context.host_name(node)?;
        if let Some(target) = &agent.definition.deployment.target_node
            && target != host
        {
            return Err(fail(DeployError::PlacementConflict {
                agent: agent.name().to_owned(),
                target_node: target.clone(),
                host: host.to_owned(),
            }));
        }

        let mut overrides = self.options.overrides.clone();
        if overrides.nats_url.is_none() {
            overrides.nats_url = nats_from_graph(node, context);
        }
        let resources = spec.resources;
        if overrides.cpu_quota.is_none() && resources.cpu_millis > 0 {
            let percent = resources.cpu_millis.div_ceil(10);
            overrides.cpu_quota = Some(
                CpuQuota::parse(&format!("{percent}%"))
                    .map_err(|source| DeployError::Unit {
                        agent: agent.name().to_owned(),
                        source,
                    })
                    .map_err(fail)?,
            );
        }
        if overrides.memory_max.is_none() && resources.memory_mb > 0 {
            overrides.memory_max = Some(
                MemoryMax::parse(&format!("{}M", resources.memory_mb))
                    .map_err(|source| DeployError::Unit {
                        agent: agent.name().to_owned(),
                        source,
                    })
                    .map_err(fail)?,
            );
        }
        let mut settings = AgentSettings::resolve(&agent.definition, &overrides).map_err(fail)?;
        settings.gpus = settings.gpus.max(spec.gpus);

        // Addresses are allocated over every agent node of the graph, so they are unique
        // across hosts and do not depend on which node is translated first.
        let agent_nodes = context
            .graph()
            .nodes()
            .filter(|n| matches!(n.node_type, DeploymentNodeType::Agent(_)))
            .map(|n| n.name.as_str());
        let addresses = allocate(agent_nodes, self.options.subnet)
            .map_err(DeployError::from)
            .map_err(fail)?
            .get(node.name.as_str())
            .copied()
            .ok_or_else(|| {
                fail(DeployError::NotAnAgentNode {
                    node: node.name.clone(),
                })
            })?;
        let container =
            AgentContainer::build(&agent, &settings, addresses, &self.options).map_err(fail)?;
        let module = modules.get_mut(host)?;
        let path = AttrPath::new(["containers".to_owned(), container.container_name()]);
        if module.config().get_path(path.clone()).is_some() {
            return Err(fail(DeployError::DuplicateAgent {
                name: agent.name().to_owned(),
            }));
        }
        self.place(module, &container, path);
        Ok(())
    }

    fn place(&self, module: &mut HostModule, container: &AgentContainer, path: AttrPath) {
        module.set(path, container.value().clone());
        module.append(["systemd", "tmpfiles", "rules"], container.tmpfiles_rule());
        module.set(["networking", "nat", "enable"], true);
        module.append(["networking", "nat", "internalInterfaces"], VETH_INTERFACES);
        if let Some(port) = container.host_nats_port() {
            module.append(open_nats_to_containers(), port);
        }
        if let AgentModuleSource::FlakeInput(input) = &self.options.agent_module {
            module.add_flake_input(input.as_str(), self.flake_url.as_str());
        }
    }
}

fn resolve_path(dir: &Path, reference: &str) -> PathBuf {
    let path = Path::new(reference);
    if path.is_absolute() {
        path.to_owned()
    } else {
        dir.join(path)
    }
}

/// `nats://<address>:<port>` of the first message bus (by name) the agent talks to.
fn nats_from_graph(node: &DeploymentNode, context: &TranslationContext<'_>) -> Option<String> {
    let mut buses: Vec<(&str, u16)> = context
        .graph()
        .outgoing(&node.name)
        .filter_map(|view| {
            let DeploymentNodeType::MessageBus(bus) = &view.to.node_type else {
                return None;
            };
            let port = match view.edge {
                DeploymentEdgeType::ConnectsTo { port } => port.unwrap_or(bus.port),
                DeploymentEdgeType::PublishesTo | DeploymentEdgeType::SubscribesTo => bus.port,
                _ => return None,
            };
            Some((view.to.name.as_str(), port))
        })
        .collect();
    buses.sort();
    let (bus, port) = buses.first()?;
    let address = context.address_from(&node.name, bus)?;
    Some(format!("nats://{address}:{port}"))
}

impl NodeTranslator for AgentNodeTranslator {
    fn systemd_unit(&self, node: &DeploymentNode) -> Option<String> {
        let DeploymentNodeType::Agent(spec) = &node.node_type else {
            return None;
        };
        let agent = self.resolve(&spec.definition).ok()?;
        Some(format!("container@cim-agent-{}", agent.name()))
    }

    fn translate(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        self.translate_agent(node, context, modules)
    }
}
