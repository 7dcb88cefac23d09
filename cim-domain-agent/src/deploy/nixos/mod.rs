//! NixOS output: agents as declarative containers running the `services.cim-agent` module,
//! placed on hosts by `deployment.target_node`.

mod containers;
mod subnet;

pub use containers::{
    AgentContainer, AgentModuleSource, CONTAINER_DATA_DIR, ContainerOptions, HostContainers,
    VETH_IPTABLES, VETH_NFTABLES, open_nats_to_containers, to_nixos_containers, veth_interfaces,
};
pub use subnet::{ContainerAddresses, Ipv4Subnet, SubnetError, allocate};
