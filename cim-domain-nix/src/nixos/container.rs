//! `containers.<name>`: a declarative NixOS container with typed options.

use crate::attrs::AttrSet;
use crate::error::NixError;
use crate::expr::{Expr, attrs, list};
use crate::nixos::firewall::Protocol;
use crate::nixos::module::NixosModule;

/// A validated container name: it becomes the container's host name, so it is 1–63 letters,
/// digits and inner `-`; NixOS also forbids `_` (the rule of `cim_naming::Target::NixosContainer`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerName(String);

impl ContainerName {
    /// Validates a container name.
    ///
    /// # Errors
    /// [`NixError::InvalidContainerName`] saying what is wrong.
    pub fn new(name: &str) -> Result<Self, NixError> {
        match cim_naming::Target::NixosContainer.problem(name) {
            Some(reason) => Err(NixError::InvalidContainerName {
                name: name.to_owned(),
                reason,
            }),
            None => Ok(Self(name.to_owned())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One `bindMounts.<mountPoint>` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// Where it appears inside the container (the attribute name).
    pub mount_point: String,
    /// The host directory (emitted as a string, never as a path literal).
    pub host_path: String,
    /// `isReadOnly`
    pub read_only: bool,
}

/// One `forwardPorts` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardPort {
    /// `protocol`
    pub protocol: Protocol,
    /// `hostPort`
    pub host_port: u16,
    /// `containerPort`
    pub container_port: u16,
}

/// One `allowedDevices` entry (`{ node = "/dev/net/tun"; modifier = "rwm"; }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedDevice {
    /// The device node.
    pub node: String,
    /// Access: a combination of `r`, `w` and `m`.
    pub modifier: String,
}

/// Networking of a container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerNetwork {
    /// `privateNetwork`
    pub private_network: bool,
    /// `hostAddress` (IPv4, optionally with prefix).
    pub host_address: Option<String>,
    /// `localAddress`
    pub local_address: Option<String>,
    /// `hostBridge`
    pub host_bridge: Option<String>,
}

/// `containers.<name>`.
#[derive(Debug, Clone, PartialEq)]
pub struct NixosContainer {
    name: ContainerName,
    auto_start: bool,
    ephemeral: bool,
    network: ContainerNetwork,
    bind_mounts: Vec<BindMount>,
    forward_ports: Vec<ForwardPort>,
    allowed_devices: Vec<AllowedDevice>,
    extra_flags: Vec<String>,
    config: NixosModule,
}

impl NixosContainer {
    /// A container that starts at boot, runs `config` and shares the host's network.
    pub fn new(name: ContainerName, config: NixosModule) -> Self {
        Self {
            name,
            auto_start: true,
            ephemeral: false,
            network: ContainerNetwork::default(),
            bind_mounts: Vec::new(),
            forward_ports: Vec::new(),
            allowed_devices: Vec::new(),
            extra_flags: Vec::new(),
            config,
        }
    }

    /// The container's name.
    pub fn name(&self) -> &ContainerName {
        &self.name
    }

    /// Sets `autoStart` (default true).
    #[must_use]
    pub fn auto_start(mut self, on: bool) -> Self {
        self.auto_start = on;
        self
    }

    /// Sets `ephemeral`.
    #[must_use]
    pub fn ephemeral(mut self, on: bool) -> Self {
        self.ephemeral = on;
        self
    }

    /// Sets the networking options.
    #[must_use]
    pub fn network(mut self, network: ContainerNetwork) -> Self {
        self.network = network;
        self
    }

    /// Adds a bind mount.
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] when either path is not absolute or the mount point is
    /// already used.
    pub fn bind_mount(mut self, mount: BindMount) -> Result<Self, NixError> {
        for (option, path) in [
            ("bindMounts.<name>", &mount.mount_point),
            ("bindMounts.<name>.hostPath", &mount.host_path),
        ] {
            if !path.starts_with('/') {
                return Err(NixError::InvalidOptionValue {
                    option: format!("containers.{}.{option}", self.name.as_str()),
                    value: path.clone(),
                    reason: "must be an absolute path",
                });
            }
        }
        if self
            .bind_mounts
            .iter()
            .any(|m| m.mount_point == mount.mount_point)
        {
            return Err(NixError::InvalidOptionValue {
                option: format!("containers.{}.bindMounts", self.name.as_str()),
                value: mount.mount_point,
                reason: "this mount point is already bound",
            });
        }
        self.bind_mounts.push(mount);
        Ok(self)
    }

    /// Adds a forwarded port (needs `privateNetwork`).
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for port 0.
    pub fn forward_port(mut self, port: ForwardPort) -> Result<Self, NixError> {
        if port.host_port == 0 || port.container_port == 0 {
            return Err(NixError::InvalidOptionValue {
                option: format!("containers.{}.forwardPorts", self.name.as_str()),
                value: format!("{}:{}", port.host_port, port.container_port),
                reason: "ports are 1 to 65535",
            });
        }
        self.forward_ports.push(port);
        Ok(self)
    }

    /// Grants access to a device node.
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] when the node is not under `/dev/` or the modifier is not
    /// a non-empty combination of `r`, `w`, `m`.
    pub fn allow_device(mut self, device: AllowedDevice) -> Result<Self, NixError> {
        let option = format!("containers.{}.allowedDevices", self.name.as_str());
        if !device.node.starts_with("/dev/") {
            return Err(NixError::InvalidOptionValue {
                option,
                value: device.node,
                reason: "a device node lives under /dev/",
            });
        }
        if device.modifier.is_empty() || !device.modifier.chars().all(|c| "rwm".contains(c)) {
            return Err(NixError::InvalidOptionValue {
                option,
                value: device.modifier,
                reason: "the modifier combines r, w and m",
            });
        }
        self.allowed_devices.push(device);
        Ok(self)
    }

    /// Adds a `systemd-nspawn` flag (`extraFlags`).
    #[must_use]
    pub fn extra_flag(mut self, flag: impl Into<String>) -> Self {
        self.extra_flags.push(flag.into());
        self
    }

    /// The value of `containers.<name>`.
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] when forwarded ports are set without `privateNetwork`
    /// (NixOS ignores them then).
    pub fn to_expr(&self) -> Result<Expr, NixError> {
        if !self.forward_ports.is_empty() && !self.network.private_network {
            return Err(NixError::InvalidOptionValue {
                option: format!("containers.{}.forwardPorts", self.name.as_str()),
                value: format!("{} ports", self.forward_ports.len()),
                reason: "port forwarding needs privateNetwork = true",
            });
        }
        let mut c = AttrSet::new();
        c.insert("autoStart", self.auto_start);
        c.insert("ephemeral", self.ephemeral);
        c.insert("privateNetwork", self.network.private_network);
        for (key, value) in [
            ("hostAddress", &self.network.host_address),
            ("localAddress", &self.network.local_address),
            ("hostBridge", &self.network.host_bridge),
        ] {
            if let Some(value) = value {
                c.insert(key, value.as_str());
            }
        }
        if !self.bind_mounts.is_empty() {
            let mounts: AttrSet = self
                .bind_mounts
                .iter()
                .map(|m| {
                    (
                        m.mount_point.as_str(),
                        attrs([
                            ("hostPath", m.host_path.as_str().into()),
                            ("isReadOnly", m.read_only.into()),
                        ]),
                    )
                })
                .collect();
            c.insert("bindMounts", mounts);
        }
        if !self.forward_ports.is_empty() {
            c.insert(
                "forwardPorts",
                list(self.forward_ports.iter().map(|p| {
                    attrs([
                        ("protocol", p.protocol.as_str().into()),
                        ("hostPort", p.host_port.into()),
                        ("containerPort", p.container_port.into()),
                    ])
                })),
            );
        }
        if !self.allowed_devices.is_empty() {
            c.insert(
                "allowedDevices",
                list(self.allowed_devices.iter().map(|d| {
                    attrs([
                        ("node", d.node.as_str().into()),
                        ("modifier", d.modifier.as_str().into()),
                    ])
                })),
            );
        }
        if !self.extra_flags.is_empty() {
            c.insert("extraFlags", list(self.extra_flags.iter()));
        }
        c.insert("config", self.config.to_expr());
        Ok(Expr::AttrSet(c))
    }
}
