//! Hosts whose `system` is a Darwin system (`aarch64-darwin`, `x86_64-darwin`): Macs run by
//! nix-darwin, not NixOS.
//!
//! Such a host becomes `darwinConfigurations.<host>` built with nix-darwin's `darwinSystem`
//! (the `nix-darwin` flake input, its `nixpkgs` following the flake's), importing only its own
//! `hosts/<host>.nix`: the NixOS `common` module (firewall, `/etc/hosts`) has no nix-darwin
//! form. Only the kinds in [`DARWIN_KINDS`] may be placed on it: a message bus becomes the
//! `nats` launchd daemon (`cim_domain_nix::darwin::nats_daemon`), an agent a launchd daemon of
//! its own user (cim-domain-agent). Anything else is a [`ValidationError::NotOnDarwin`]. A Mac
//! has no `networking.firewall` and no systemd: ports other nodes need are not opened (the
//! macOS application firewall is per program, not per port) and `depends_on` ordering is not
//! written (launchd keeps every daemon alive and restarts it until what it needs is up).

use cim_domain_nix::list;
use cim_gpu::DeclaredVendor;

use crate::graph::DeploymentGraph;
use crate::node::{DeploymentNode, DeploymentNodeType, HostSpec};
use crate::translate::{HostModule, TranslationContext};
use crate::validate::ValidationError;

/// The node kinds that have a nix-darwin form.
pub const DARWIN_KINDS: [&str; 2] = ["agent", "message_bus"];

/// The name of that input.
pub const NIX_DARWIN_INPUT: &str = "nix-darwin";

/// nix-darwin's `system.stateVersion` (an integer, unlike NixOS' release string) for hosts
/// whose `state_version` is not one: the current one.
pub const DARWIN_STATE_VERSION: i64 = 6;

/// Whether `system` is a Darwin system.
pub fn is_darwin(system: &str) -> bool {
    system.ends_with("-darwin")
}

/// The host spec of `host` when it is a Darwin host.
pub fn darwin_spec(host: &DeploymentNode) -> Option<&HostSpec> {
    match &host.node_type {
        DeploymentNodeType::Host(spec) if is_darwin(&spec.system) => Some(spec),
        _ => None,
    }
}

/// Whether `node` is placed on a Darwin host.
pub fn on_darwin(node: &DeploymentNode, context: &TranslationContext<'_>) -> bool {
    context
        .host_of(&node.name)
        .is_some_and(|host| darwin_spec(host).is_some())
}

/// nix-darwin's `system.stateVersion` of `spec`: its `state_version` when that is a positive
/// integer, [`DARWIN_STATE_VERSION`] when it sets none, `None` otherwise (a problem).
pub fn state_version(spec: &HostSpec) -> Option<i64> {
    match spec.state_version.as_deref().map(str::parse::<i64>) {
        None => Some(DARWIN_STATE_VERSION),
        Some(Ok(version)) if version > 0 => Some(version),
        Some(_) => None,
    }
}

/// Every platform problem of `graph`: nodes of kinds without a nix-darwin form on Darwin
/// hosts, NVIDIA GPUs on Darwin hosts and Apple GPUs on other hosts, and Darwin
/// `state_version`s that are neither an integer nor left at the default.
pub fn check(graph: &DeploymentGraph, context: &TranslationContext<'_>) -> Vec<ValidationError> {
    let mut problems = Vec::new();
    let mut hosts: Vec<&DeploymentNode> = graph.nodes().filter(|n| n.node_type.is_host()).collect();
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    for host in hosts {
        let DeploymentNodeType::Host(spec) = &host.node_type else {
            continue;
        };
        let darwin = is_darwin(&spec.system);
        let foreign = if darwin {
            DeclaredVendor::Nvidia
        } else {
            DeclaredVendor::Apple
        };
        if let Some(gpu) = spec.gpus.iter().find(|gpu| gpu.vendor == foreign) {
            let reason = if darwin {
                format!(
                    "`{}` is an NVIDIA GPU but the host is a Mac ({}): declare its Apple GPU \
                     (`vendor: apple`)",
                    gpu.model, spec.system
                )
            } else {
                format!(
                    "`{}` is an Apple GPU, which only a Darwin host (`system: aarch64-darwin`) \
                     has",
                    gpu.model
                )
            };
            problems.push(ValidationError::InvalidField {
                node: host.name.clone(),
                field: "gpus".to_owned(),
                reason,
            });
        }
        if !darwin {
            continue;
        }
        if state_version(spec).is_none() {
            problems.push(ValidationError::InvalidField {
                node: host.name.clone(),
                field: "state_version".to_owned(),
                reason: format!(
                    "nix-darwin's stateVersion is a positive integer such as \
                     {DARWIN_STATE_VERSION}, not `{}`",
                    spec.state_version.as_deref().unwrap_or_default()
                ),
            });
        }
        let mut nodes: Vec<&DeploymentNode> = context.nodes_on(&host.name).to_vec();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        for node in nodes {
            let kind = node.node_type.kind();
            if !DARWIN_KINDS.contains(&kind) {
                problems.push(ValidationError::NotOnDarwin {
                    node: node.name.clone(),
                    kind: kind.to_owned(),
                    host: host.name.clone(),
                    system: spec.system.clone(),
                });
            }
        }
    }
    problems
}

/// What every Darwin host declares about itself: `networking.hostName`,
/// `nixpkgs.hostPlatform`, `system.stateVersion` (see [`state_version`]) and flakes enabled.
pub fn host_basics(host: &DeploymentNode, spec: &HostSpec, module: &mut HostModule) {
    module
        .set(["networking", "hostName"], host.name.as_str())
        .set(["nixpkgs", "hostPlatform"], spec.system.as_str())
        .set(
            ["system", "stateVersion"],
            state_version(spec).unwrap_or(DARWIN_STATE_VERSION),
        )
        .set(
            ["nix", "settings", "experimental-features"],
            list(["nix-command", "flakes"]),
        );
}
