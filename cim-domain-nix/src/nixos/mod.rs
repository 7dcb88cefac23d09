//! NixOS builders: modules, systemd services, firewall ports, containers and the NATS server.

pub mod container;
pub mod firewall;
pub mod module;
pub mod nats;
pub mod service;
