//! Agents as NixOS declarative containers: `containers.cim-agent-<name>` running the
//! `services.cim-agent` module, on a private network, with the agent's data bound to a per-agent
//! host directory and, for GPU agents, the NVIDIA device nodes passed through. Agents are placed
//! on hosts by `deployment.target_node`, one module per host.

use std::collections::{BTreeMap, BTreeSet};

use cim_domain_nix::{
    AllowedDevice, AttrPath, AttrSet, BindMount, ContainerName, ContainerNetwork, Expr, NixError,
    NixosContainer, NixosModule, SetPattern, ident, if_then_else, list, list_when,
};

use super::subnet::{ContainerAddresses, Ipv4Subnet, allocate};
use crate::deploy::error::DeployError;
use crate::deploy::settings::{AgentSettings, DeployOverrides};
use crate::deploy::source::AgentSource;

/// Where the agent writes inside its container (the module's `dataDir`).
pub const CONTAINER_DATA_DIR: &str = "/var/lib/cim-agent";

/// Device nodes every GPU agent needs besides its `/dev/nvidiaN`.
const NVIDIA_CONTROL_DEVICES: [&str; 4] = [
    "/dev/nvidiactl",
    "/dev/nvidia-modeset",
    "/dev/nvidia-uvm",
    "/dev/nvidia-uvm-tools",
];

/// The host's NVIDIA user-space driver, which CUDA inside the container loads.
const DRIVER_DIR: &str = "/run/opengl-driver";

/// How container configs reach the `services.cim-agent` module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentModuleSource {
    /// `inputs.<input>.nixosModules.agent`: the flake input that is this repository, passed to
    /// host modules as `inputs` (through `specialArgs`). Its package default is set there too.
    FlakeInput(String),
    /// A path literal relative to the generated module, such as `../nix/modules/agent.nix`;
    /// `services.cim-agent.package` must then be set elsewhere.
    Path(String),
}

/// Settings for the whole container deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerOptions {
    /// Operator overrides applied to every agent.
    pub overrides: DeployOverrides,
    /// Where container addresses come from.
    pub subnet: Ipv4Subnet,
    /// Parent of the per-agent host directories (`<root>/<agent>`).
    pub host_data_root: String,
    /// How containers import the agent module.
    pub agent_module: AgentModuleSource,
    /// Host for agents without `deployment.target_node`; without one such agents are an error.
    pub default_host: Option<String>,
    /// `system.stateVersion` of the containers (default: the current NixOS release). The graph
    /// translator gives each container its host's stateVersion instead, so a container keeps the
    /// release it was first created with as long as its host does.
    pub state_version: String,
}

impl Default for ContainerOptions {
    fn default() -> Self {
        Self {
            overrides: DeployOverrides::default(),
            subnet: Ipv4Subnet::DEFAULT,
            host_data_root: "/var/lib/cim-agents".to_owned(),
            agent_module: AgentModuleSource::FlakeInput("cim-leaf".to_owned()),
            default_host: None,
            state_version: cim_domain_graph::settings::NIXOS_RELEASE.to_owned(),
        }
    }
}

/// One agent's container, ready to be placed into a host module.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentContainer {
    agent: String,
    addresses: ContainerAddresses,
    host_dir: String,
    host_nats_port: Option<u16>,
    value: Expr,
}

impl AgentContainer {
    /// Builds the container of `agent` with its resolved `settings` and addresses;
    /// `options.overrides` are not consulted again here. `gpu_devices` are the host-wide
    /// numbers of the NVIDIA GPUs granted to the agent: the container binds and may use
    /// `/dev/nvidia<n>` for each, and only those.
    pub fn build(
        agent: &AgentSource,
        settings: &AgentSettings,
        addresses: ContainerAddresses,
        gpu_devices: &[u32],
        options: &ContainerOptions,
    ) -> Result<Self, DeployError> {
        let name = agent.name().to_owned();
        let nix = |source: NixError| DeployError::Nix {
            agent: name.clone(),
            source,
        };
        let host_dir = format!("{}/{name}", options.host_data_root.trim_end_matches('/'));
        if !host_dir.starts_with('/') {
            return Err(DeployError::RelativeHostDir {
                root: options.host_data_root.clone(),
            });
        }

        let devices: Vec<String> = if gpu_devices.is_empty() {
            Vec::new()
        } else {
            gpu_devices
                .iter()
                .map(|i| format!("/dev/nvidia{i}"))
                .chain(NVIDIA_CONTROL_DEVICES.map(str::to_owned))
                .collect()
        };
        let device_allow: Vec<String> = devices.iter().map(|d| format!("{d} rw")).collect();

        let mut config = NixosModule::new();
        config.import(agent_module(&options.agent_module).map_err(&nix)?);
        config.set(
            ["services", "cim-agent"],
            service_config(agent, settings, addresses, &device_allow, nix)?,
        );
        config.set(["system", "stateVersion"], options.state_version.as_str());

        let container_name = ContainerName::new(&format!("cim-agent-{name}")).map_err(&nix)?;
        let mut container = NixosContainer::new(container_name, config)
            .network(ContainerNetwork {
                private_network: true,
                host_address: Some(addresses.host.to_string()),
                local_address: Some(addresses.container.to_string()),
                host_bridge: None,
            })
            .bind_mount(bind(CONTAINER_DATA_DIR, &host_dir, false))
            .map_err(&nix)?;
        for node in &devices {
            container = container
                .bind_mount(bind(node, node, false))
                .map_err(&nix)?
                .allow_device(AllowedDevice {
                    node: node.clone(),
                    modifier: "rwm".to_owned(),
                })
                .map_err(&nix)?;
        }
        if !devices.is_empty() {
            container = container
                .bind_mount(bind(DRIVER_DIR, DRIVER_DIR, true))
                .map_err(&nix)?;
        }
        if let Some(seed) = &settings.nats_seed_file {
            // The seed stays a file on the host (sops-nix, agenix): bound read-only, never copied.
            container = container.bind_mount(bind(seed, seed, true)).map_err(&nix)?;
        }
        let value = container.to_expr().map_err(&nix)?;

        Ok(Self {
            agent: name,
            addresses,
            host_dir,
            host_nats_port: settings.nats.is_loopback().then(|| settings.nats.port()),
            value,
        })
    }

    /// The agent's name.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// The container's name, `cim-agent-<agent>`.
    pub fn container_name(&self) -> String {
        format!("cim-agent-{}", self.agent)
    }

    /// Its veth addresses.
    pub fn addresses(&self) -> ContainerAddresses {
        self.addresses
    }

    /// The NATS port the container reaches on its own host, when its NATS URL names loopback
    /// and is therefore rewritten to the host end of the veth link. The host's firewall must
    /// accept that port from the containers' interfaces (see [`open_nats_to_containers`]).
    pub fn host_nats_port(&self) -> Option<u16> {
        self.host_nats_port
    }

    /// The host directory bound to [`CONTAINER_DATA_DIR`].
    pub fn host_dir(&self) -> &str {
        &self.host_dir
    }

    /// The value of `containers.cim-agent-<agent>`.
    pub fn value(&self) -> &Expr {
        &self.value
    }

    /// The `systemd.tmpfiles.rules` entry that creates the host directory before the container
    /// starts. Owner and group are left out so the container's own rule, which hands the
    /// directory to its `cim-agent` user, is not undone on the next boot.
    pub fn tmpfiles_rule(&self) -> String {
        format!("d {} 0750 - - -", self.host_dir)
    }
}

fn bind(mount_point: &str, host_path: &str, read_only: bool) -> BindMount {
    BindMount {
        mount_point: mount_point.to_owned(),
        host_path: host_path.to_owned(),
        read_only,
    }
}

fn agent_module(source: &AgentModuleSource) -> Result<Expr, NixError> {
    match source {
        AgentModuleSource::FlakeInput(input) => {
            Ok(ident("inputs")?.select([input.as_str(), "nixosModules", "agent"]))
        }
        AgentModuleSource::Path(path) => cim_domain_nix::path(path),
    }
}

fn service_config(
    agent: &AgentSource,
    settings: &AgentSettings,
    addresses: ContainerAddresses,
    device_allow: &[String],
    nix: impl Fn(NixError) -> DeployError,
) -> Result<AttrSet, DeployError> {
    let name = agent.name();
    // Inside a private-network container, loopback is the container itself; services the
    // definition finds on "this machine" are on the host, at the host end of the veth link.
    let host_ip = addresses.host.to_string();
    let nats = if settings.nats.is_loopback() {
        settings.nats.with_host(&host_ip)
    } else {
        settings.nats.clone()
    };
    let ollama = settings.ollama.as_ref().map(|o| {
        if o.is_loopback() {
            o.with_host(&host_ip)
        } else {
            o.clone()
        }
    });

    let mut service = AttrSet::new();
    service.insert("enable", true);
    service.insert(
        "agentFile",
        ident("builtins").map_err(nix)?.select(["toFile"]).call([
            format!("cim-agent-{name}.md").into(),
            agent.text.as_str().into(),
        ]),
    );
    service.insert("agentId", agent.definition.id.to_string());
    service.insert("natsUrl", nats.url());
    if let Some(seed) = &settings.nats_seed_file {
        service.insert("natsNkeySeedFile", seed.as_str());
    }
    if let Some(ollama) = &ollama {
        service.insert("ollamaUrl", ollama.url());
    }
    service.insert("dataDir", CONTAINER_DATA_DIR);
    if let Some(memory) = &settings.memory_max {
        service.insert("memoryMax", memory.as_str());
    }
    if let Some(quota) = settings.cpu_quota {
        service.insert("cpuQuota", quota.to_string());
    }
    if let Some(tasks) = settings.tasks_max {
        service.insert("tasksMax", tasks);
    }
    if let Some(policy) = settings.restart_policy {
        service.insert("restartPolicy", policy.as_str());
    }
    if let Some(seconds) = settings.restart_sec {
        service.insert("restartSec", seconds);
    }
    if let Some(retries) = settings.max_retries {
        service.insert("maxRetries", retries);
    }
    if let Some(level) = settings.log_level {
        service.insert("logLevel", level.as_str());
    }
    if let Some(format) = &settings.log_format {
        // The definition reader admits only the formats the module's `logFormat` enum has.
        service.insert("logFormat", format.as_str());
    }
    if !device_allow.is_empty() {
        service.insert("deviceAllow", list(device_allow));
    }
    Ok(service)
}

/// The agent containers of one host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostContainers {
    /// The host's name.
    pub host: String,
    /// Its agents' containers, sorted by agent name.
    pub containers: Vec<AgentContainer>,
    /// Whether container configs refer to the flake's `inputs`.
    uses_inputs: bool,
}

impl HostContainers {
    /// The host's NixOS module: the containers, their host directories and NAT so containers
    /// reach NATS and Ollama beyond the host. It takes `inputs` (from `specialArgs`) when the
    /// agent module comes from a flake input.
    pub fn module(&self) -> Result<NixosModule, DeployError> {
        let mut module = NixosModule::new();
        if self.uses_inputs {
            let pattern = SetPattern::new(["config", "lib", "pkgs", "inputs"])
                .map_err(|source| DeployError::Nix {
                    agent: self.host.clone(),
                    source,
                })?
                .ellipsis();
            module = module.with_pattern(pattern);
        }
        for container in &self.containers {
            module.set(
                ["containers", container.container_name().as_str()],
                container.value().clone(),
            );
        }
        let nix = |source| DeployError::Nix {
            agent: self.host.clone(),
            source,
        };
        apply_host_networking(module.config_mut()).map_err(nix)?;
        let nats_ports: BTreeSet<u16> = self
            .containers
            .iter()
            .filter_map(AgentContainer::host_nats_port)
            .collect();
        if !nats_ports.is_empty() {
            for (path, condition) in open_nats_to_containers().map_err(nix)? {
                module.set(path, list_when(condition, nats_ports.iter().copied()));
            }
        }
        module.set(
            ["systemd", "tmpfiles", "rules"],
            list(self.containers.iter().map(AgentContainer::tmpfiles_rule)),
        );
        Ok(module)
    }

    /// The module as Nix source.
    pub fn render(&self) -> Result<String, DeployError> {
        Ok(self.module()?.render())
    }
}

/// The host side of every container's veth link (`ve-<container>`) as the iptables firewall
/// backend spells an interface wildcard.
pub const VETH_IPTABLES: &str = "ve-+";

/// The same wildcard as the nftables backend spells it (`iifname ve-*`; `ve-+` would be a
/// literal name there, or a syntax error in the generated ruleset).
pub const VETH_NFTABLES: &str = "ve-*";

/// `config.networking.nftables.enable`: whether the host's firewall and NAT use nftables.
fn nftables_enabled() -> Result<Expr, NixError> {
    Ok(ident("config")?.select(["networking", "nftables", "enable"]))
}

/// The containers' veth interfaces for the host's firewall backend:
/// `if config.networking.nftables.enable then "ve-*" else "ve-+"`. The wildcard is needed
/// because systemd-nspawn shortens interface names longer than 15 characters, which
/// `ve-cim-agent-<name>` always is.
pub fn veth_interfaces() -> Result<Expr, NixError> {
    Ok(if_then_else(
        nftables_enabled()?,
        VETH_NFTABLES,
        VETH_IPTABLES,
    ))
}

/// The firewall options that accept TCP ports on the containers' veth interfaces only, one per
/// backend, each with the condition under which it is the host's: `ports` go to
/// `networking.firewall.interfaces."ve-+".allowedTCPPorts` when
/// `config.networking.nftables.enable` is false and to `…"ve-*".allowedTCPPorts` when it is
/// true, the other list staying empty (an interface without ports adds no rule on either
/// backend). The host firewall (on by default) would otherwise drop an agent's connection to a
/// NATS server on its own host.
pub fn open_nats_to_containers() -> Result<[(AttrPath, Expr); 2], NixError> {
    let path = |wildcard: &str| {
        AttrPath::new([
            "networking",
            "firewall",
            "interfaces",
            wildcard,
            "allowedTCPPorts",
        ])
    };
    Ok([
        (path(VETH_IPTABLES), nftables_enabled()?.logical_not()),
        (path(VETH_NFTABLES), nftables_enabled()?),
    ])
}

/// NAT for the containers' veth interfaces, so their traffic leaves the host.
fn apply_host_networking(config: &mut AttrSet) -> Result<(), NixError> {
    config.insert(["networking", "nat", "enable"], true);
    config.insert(
        ["networking", "nat", "internalInterfaces"],
        list([veth_interfaces()?]),
    );
    Ok(())
}

/// Builds every agent's container and places it on its `deployment.target_node` (or
/// `options.default_host`). Hosts come out sorted by name, containers by agent name; addresses are
/// unique across all hosts.
pub fn to_nixos_containers(
    agents: &[AgentSource],
    options: &ContainerOptions,
) -> Result<Vec<HostContainers>, DeployError> {
    let mut by_name = BTreeMap::new();
    for agent in agents {
        if by_name.insert(agent.name(), agent).is_some() {
            return Err(DeployError::DuplicateAgent {
                name: agent.name().to_owned(),
            });
        }
    }
    let addresses = allocate(by_name.keys().copied(), options.subnet)?;
    let mut hosts: BTreeMap<String, Vec<AgentContainer>> = BTreeMap::new();
    for (name, agent) in by_name {
        let host = agent
            .definition
            .deployment
            .target_node
            .clone()
            .or_else(|| options.default_host.clone())
            .ok_or_else(|| DeployError::NoHost {
                agent: name.to_owned(),
            })?;
        check_host_name(name, &host)?;
        let pair = addresses
            .get(name)
            .copied()
            .ok_or_else(|| DeployError::NoHost {
                agent: name.to_owned(),
            })?;
        let settings = AgentSettings::resolve(&agent.definition, &options.overrides)?;
        // Without an allocator's grants, an agent asking for n GPUs is given the host's first
        // n; fleets built from a graph get the devices the allocator granted instead.
        let gpu_devices: Vec<u32> = (0..settings.gpus).collect();
        hosts.entry(host).or_default().push(AgentContainer::build(
            agent,
            &settings,
            pair,
            &gpu_devices,
            options,
        )?);
    }
    Ok(hosts
        .into_iter()
        .map(|(host, containers)| HostContainers {
            host,
            containers,
            uses_inputs: matches!(options.agent_module, AgentModuleSource::FlakeInput(_)),
        })
        .collect())
}

/// Host names become file names (`hosts/<host>.nix`), NixOS host names and graph node names, so
/// they follow the fleet naming rule (`cim-naming`), like the hosts of a deployment graph.
pub(crate) fn check_host_name(agent: &str, host: &str) -> Result<(), DeployError> {
    match cim_naming::fleet_name_problem(host, "") {
        None => Ok(()),
        Some(_) => Err(DeployError::InvalidHost {
            agent: agent.to_owned(),
            host: host.to_owned(),
        }),
    }
}
