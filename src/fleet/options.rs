//! What the user chooses when loading a fleet.

use std::collections::BTreeMap;
use std::path::Path;

use cim_domain_agent::deploy::nixos::ContainerOptions;
use cim_domain_graph::FlakeSettings;
use cim_domain_graph::translate::NodeTranslatorRegistry;
use cim_domain_graph::translate::output::{OutputError, installed_state_versions};

/// Choices for [`Fleet::load`](super::Fleet::load); the default suits most fleets.
#[derive(Debug, Clone, Default)]
pub struct FleetOptions {
    /// Agent containers: operator overrides, the subnet their addresses come from, the host
    /// data root and how they import the agent module.
    pub containers: ContainerOptions,
    /// Flake settings that replace the graph's (`flake:`), field by field: each one set here
    /// wins (the CLI's `--nixpkgs`, `--agent-flake`, `--state-version`). They are written into
    /// the loaded graph, so they are part of its version and of what the agents review.
    pub flake: FlakeSettings,
    /// The `system.stateVersion` each host was generated with before, by host name (see
    /// [`for_output`](Self::for_output)): a host whose `state_version` is unset keeps it.
    pub installed_state_versions: BTreeMap<String, String>,
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

impl FleetOptions {
    /// These options with `reference` as the cim-leaf flake the hosts import the agent modules
    /// from (`flake.cim_leaf`, the CLI's `--agent-flake`).
    #[must_use]
    pub fn with_agent_flake(mut self, reference: impl Into<String>) -> Self {
        self.flake.cim_leaf = Some(reference.into());
        self
    }

    /// These options for a fleet generated into `out`: the hosts of the generation already
    /// there keep the stateVersion they were generated with
    /// ([`installed_state_versions`]).
    ///
    /// # Errors
    /// [`OutputError`] when `out` holds a generation whose manifest or host files cannot be
    /// read.
    pub fn for_output(mut self, out: &Path) -> Result<Self, OutputError> {
        self.installed_state_versions = installed_state_versions(out)?;
        Ok(self)
    }
}
