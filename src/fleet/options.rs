//! What the user chooses when loading a fleet.

use cim_domain_agent::deploy::nixos::ContainerOptions;
use cim_domain_graph::translate::NodeTranslatorRegistry;

/// Choices for [`Fleet::load`](super::Fleet::load); the default suits most fleets.
#[derive(Debug, Clone, Default)]
pub struct FleetOptions {
    /// Agent containers: operator overrides, the subnet their addresses come from, the host
    /// data root, how they import the agent module and their `system.stateVersion`.
    pub containers: ContainerOptions,
    /// URL of the flake input providing `nixosModules.agent` (default: this repository).
    pub agent_flake_url: Option<String>,
    /// URL of the `nixpkgs` flake input (default:
    /// [`DEFAULT_NIXPKGS`](cim_domain_graph::translate::DEFAULT_NIXPKGS)).
    pub nixpkgs: Option<String>,
    /// The flake's `description`.
    pub description: Option<String>,
    /// Translators for the tool's own node kinds (`custom` nodes), added to the built-in ones
    /// and the agent translator; a kind registered here replaces a built-in one.
    pub translators: NodeTranslatorRegistry,
    /// Where the public NKeys of the fleet's NATS identities come from; with keys, every
    /// message bus requires NKey authentication with generated permissions (see
    /// `docs/security.md`). Default: [`NatsKeys::Open`], no authorization.
    pub nats_keys: super::NatsKeys,
}
