//! The [`NodeTranslator`] for `agent` nodes of a deployment graph: each agent node becomes a
//! container on the host the graph places it on, exactly as [`to_nixos_containers`] builds it.
//!
//! The translator is given everything up front — each node's definition, already read, and the
//! GPUs granted to it — and allocates container addresses once, when it is made; translating
//! does no I/O. What the graph says wins over the definition, and the operator's overrides win
//! over both: the graph's placement (`runs_on`) must agree with `deployment.target_node` when
//! the definition names one, its CPU and memory reservation becomes `cpuQuota`/`memoryMax`, the
//! GPUs granted become the container's device nodes, and a
//! `connects_to`/`publishes_to`/`subscribes_to` edge to a message bus gives the NATS URL.
//!
//! [`to_nixos_containers`]: super::nixos::to_nixos_containers

use std::collections::BTreeMap;

use cim_domain_graph::translate::{
    HostModule, HostModules, NodeTranslator, TranslationContext, TranslationError, darwin,
};
use cim_domain_graph::{DeploymentEdgeType, DeploymentNode, DeploymentNodeType, ValidationError};
use cim_domain_nix::AttrPath;
use cim_naming::HostPort;

use super::error::DeployError;
use super::nixos::{
    AgentContainer, AgentModuleSource, ContainerAddresses, ContainerOptions, allocate,
    open_nats_to_containers, veth_interfaces,
};
use super::settings::AgentSettings;
use super::source::AgentSource;
use crate::definition::{CpuQuota, MemoryMax};

/// One agent node, resolved: its definition and the GPUs granted to it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedAgent {
    /// The definition the node's `definition` names, already read.
    pub source: AgentSource,
    /// Host-wide numbers of the NVIDIA GPUs granted to the agent (`/dev/nvidia<n>`), as the
    /// allocator decided; empty for an agent without GPUs.
    pub gpu_devices: Vec<u32>,
}

/// Translates `agent` nodes into agent containers.
#[derive(Debug, Clone)]
pub struct AgentNodeTranslator {
    agents: BTreeMap<String, (PlacedAgent, ContainerAddresses)>,
    options: ContainerOptions,
    nats_seeds: bool,
}

impl AgentNodeTranslator {
    /// A translator for the agent nodes named by the keys of `agents`. Container addresses are
    /// allocated here, once, over every agent node, so they are unique across hosts and do not
    /// depend on the order nodes are translated in.
    ///
    /// # Errors
    /// [`DeployError::Subnet`] when `options.subnet` cannot hold every agent.
    pub fn new(
        agents: BTreeMap<String, PlacedAgent>,
        options: ContainerOptions,
    ) -> Result<Self, DeployError> {
        let addresses: BTreeMap<String, ContainerAddresses> =
            allocate(agents.keys().map(String::as_str), options.subnet)?
                .into_iter()
                .map(|(node, pair)| (node.to_owned(), pair))
                .collect();
        let agents = agents
            .into_iter()
            .filter_map(|(node, agent)| {
                let pair = addresses.get(node.as_str()).copied()?;
                Some((node, (agent, pair)))
            })
            .collect();
        Ok(Self {
            agents,
            options,
            nats_seeds: false,
        })
    }

    /// The flake reference of the input that provides the agent modules, from the graph's
    /// `flake.cim_leaf`, when the containers import the module from an input.
    fn module_input<'c>(
        &self,
        context: &TranslationContext<'c>,
    ) -> Result<Option<(&str, &'c str)>, DeployError> {
        let AgentModuleSource::FlakeInput(input) = &self.options.agent_module else {
            return Ok(None);
        };
        match context.graph().settings().cim_leaf.as_deref() {
            Some(reference) => Ok(Some((input.as_str(), reference))),
            None => Err(DeployError::NoAgentFlake),
        }
    }

    /// The missing `flake.cim_leaf`, reported once, by the first agent node (by name).
    fn settings_problem(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
    ) -> Option<ValidationError> {
        let error = self.module_input(context).err()?;
        let first = context
            .graph()
            .nodes()
            .filter(|n| matches!(n.node_type, DeploymentNodeType::Agent(_)))
            .map(|n| n.name.as_str())
            .min()?;
        (first == node.name).then(|| ValidationError::InvalidSetting {
            field: "cim_leaf".to_owned(),
            reason: error.to_string(),
        })
    }

    /// Whether the agents authenticate to NATS with their NKey seed files, at
    /// [`nats_seed_path`](cim_domain_graph::security::nats_seed_path) on their hosts (the fleet
    /// sets this when its buses require authentication).
    #[must_use]
    pub fn with_nats_seeds(mut self, on: bool) -> Self {
        self.nats_seeds = on;
        self
    }

    /// The container addresses of the agent node `node`.
    pub fn addresses(&self, node: &str) -> Option<ContainerAddresses> {
        self.agents.get(node).map(|(_, addresses)| *addresses)
    }

    /// The settings `node` runs with: its definition's under the operator's overrides, with the
    /// graph's NATS URL and reservation.
    fn settings(
        &self,
        node: &DeploymentNode,
        agent: &PlacedAgent,
        context: &TranslationContext<'_>,
    ) -> Result<AgentSettings, DeployError> {
        let name = agent.source.name();
        let mut overrides = self.options.overrides.clone();
        if overrides.nats_url.is_none() {
            overrides.nats_url = nats_from_graph(node, context);
        }
        if let DeploymentNodeType::Agent(spec) = &node.node_type {
            // The graph's reservation becomes limits the way every other node's does.
            let limits = spec.resources.limits();
            let unit = |source| DeployError::Unit {
                agent: name.to_owned(),
                source,
            };
            if overrides.cpu_quota.is_none()
                && let Some(percent) = limits.cpu_quota_percent
            {
                overrides.cpu_quota = Some(CpuQuota::parse(&format!("{percent}%")).map_err(unit)?);
            }
            if overrides.memory_max.is_none()
                && let Some(memory) = &limits.memory_max
            {
                overrides.memory_max = Some(MemoryMax::parse(memory.as_str()).map_err(unit)?);
            }
        }
        let mut settings = AgentSettings::resolve(&agent.source.definition, &overrides)?;
        settings.gpus = u32::try_from(agent.gpu_devices.len()).unwrap_or(u32::MAX);
        if self.nats_seeds {
            settings.nats_seed_file = Some(cim_domain_graph::security::nats_seed_path(name));
        }
        Ok(settings)
    }

    fn problems(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
    ) -> Result<(), (&'static str, String)> {
        let DeploymentNodeType::Agent(spec) = &node.node_type else {
            return Err(("type", format!("node {} is not an agent node", node.name)));
        };
        let Some((agent, _)) = self.agents.get(&node.name) else {
            return Err((
                "definition",
                format!("no agent definition was loaded for {}", spec.definition),
            ));
        };
        let name = agent.source.name();
        if name != node.name {
            return Err((
                "name",
                format!(
                    "the node is named `{}` but its definition {} names the agent `{name}`; an \
                     agent node carries its agent's name (containers, subjects and GPU grants \
                     are keyed by it)",
                    node.name, spec.definition
                ),
            ));
        }
        if let (Some(target), Some(host)) = (
            &agent.source.definition.deployment.target_node,
            context.host_of(&node.name),
        ) && *target != host.name
        {
            let error = DeployError::PlacementConflict {
                agent: name.to_owned(),
                target_node: target.clone(),
                host: host.name.clone(),
            };
            return Err(("host", error.to_string()));
        }
        self.settings(node, agent, context)
            .map(drop)
            .map_err(|error| ("definition", error.to_string()))
    }

    fn translate_agent(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
        modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        let fail = |error: DeployError| TranslationError::node(node, error);
        let (agent, addresses) = self.agents.get(&node.name).ok_or_else(|| {
            fail(DeployError::NotAnAgentNode {
                node: node.name.clone(),
            })
        })?;
        let host = context.host_name(node)?;
        let settings = self.settings(node, agent, context).map_err(fail)?;
        if darwin::on_darwin(node, context) {
            let uid = darwin_uid(node, host, context);
            let value = super::darwin::darwin_agent(&agent.source, &settings, uid).map_err(fail)?;
            let module = modules.get_mut(host)?;
            module
                .set(
                    ["services", "cim-agent", "agents", node.name.as_str()],
                    value,
                )
                .append(
                    ["imports"],
                    darwin_agent_module(&self.options.agent_module).map_err(fail)?,
                );
            if let Some((input, reference)) = self.module_input(context).map_err(fail)? {
                module.add_flake_input(input, reference);
            }
            return Ok(());
        }
        // A container is created with its host and keeps the host's stateVersion.
        let mut options = self.options.clone();
        if let Some(DeploymentNodeType::Host(spec)) =
            context.host_of(&node.name).map(|h| &h.node_type)
        {
            options.state_version = spec
                .nixos_state_version(context.graph().settings())
                .to_owned();
        }
        let container = AgentContainer::build(
            &agent.source,
            &settings,
            *addresses,
            &agent.gpu_devices,
            &options,
        )
        .map_err(fail)?;
        let input = self.module_input(context).map_err(fail)?;
        let module = modules.get_mut(host)?;
        let path = AttrPath::new(["containers".to_owned(), container.container_name()]);
        if module.config().get_path(path.clone()).is_some() {
            return Err(fail(DeployError::DuplicateAgent {
                name: agent.source.name().to_owned(),
            }));
        }
        self.place(module, &container, path, input)
            .map_err(|source| {
                fail(DeployError::Nix {
                    agent: agent.source.name().to_owned(),
                    source,
                })
            })
    }

    fn place(
        &self,
        module: &mut HostModule,
        container: &AgentContainer,
        path: AttrPath,
        input: Option<(&str, &str)>,
    ) -> Result<(), cim_domain_nix::NixError> {
        module.set(path, container.value().clone());
        module.append(["systemd", "tmpfiles", "rules"], container.tmpfiles_rule());
        module.set(["networking", "nat", "enable"], true);
        module.append(
            ["networking", "nat", "internalInterfaces"],
            veth_interfaces()?,
        );
        if let Some(port) = container.host_nats_port() {
            for (path, condition) in open_nats_to_containers()? {
                module.append(path.clone(), port).list_when(path, condition);
            }
        }
        if let Some((input, reference)) = input {
            module.add_flake_input(input, reference);
        }
        Ok(())
    }
}

/// The uid of `node`'s daemon user on its Mac `host`: [`FIRST_AGENT_UID`] plus its position
/// among the host's agent nodes by name, so it does not depend on translation order.
///
/// [`FIRST_AGENT_UID`]: super::darwin::FIRST_AGENT_UID
fn darwin_uid(node: &DeploymentNode, host: &str, context: &TranslationContext<'_>) -> u32 {
    let mut agents: Vec<&str> = context
        .nodes_on(host)
        .iter()
        .filter(|n| matches!(n.node_type, DeploymentNodeType::Agent(_)))
        .map(|n| n.name.as_str())
        .collect();
    agents.sort_unstable();
    let position = agents.iter().position(|n| *n == node.name).unwrap_or(0);
    super::darwin::FIRST_AGENT_UID
        + u32::try_from(position).unwrap_or(u32::MAX - super::darwin::FIRST_AGENT_UID)
}

/// The nix-darwin agent module: `inputs.<input>.darwinModules.agent`, or the path given.
fn darwin_agent_module(source: &AgentModuleSource) -> Result<cim_domain_nix::Expr, DeployError> {
    let nix = |source| DeployError::Nix {
        agent: "darwinModules.agent".to_owned(),
        source,
    };
    match source {
        AgentModuleSource::FlakeInput(input) => Ok(cim_domain_nix::ident("inputs")
            .map_err(nix)?
            .select([input.as_str(), "darwinModules", "agent"])),
        AgentModuleSource::Path(path) => cim_domain_nix::path(path).map_err(nix),
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
    Some(HostPort::new(address, *port).url("nats"))
}

impl NodeTranslator for AgentNodeTranslator {
    fn check(
        &self,
        node: &DeploymentNode,
        context: &TranslationContext<'_>,
    ) -> Vec<ValidationError> {
        let mut problems: Vec<ValidationError> =
            self.settings_problem(node, context).into_iter().collect();
        if let Err((field, reason)) = self.problems(node, context) {
            problems.push(ValidationError::InvalidField {
                node: node.name.clone(),
                field: field.to_owned(),
                reason,
            });
        }
        problems
    }

    fn systemd_unit(&self, node: &DeploymentNode) -> Option<String> {
        // The node's name is its agent's name (checked), so the unit needs no definition.
        matches!(node.node_type, DeploymentNodeType::Agent(_))
            .then(|| format!("container@cim-agent-{}", node.name))
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
