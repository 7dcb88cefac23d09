//! The flags `translate`, `deploy` and `serve` share to choose the graph's flake settings.

use cim_domain_graph::FlakeSettings;

/// Flake settings from the command line; each one given replaces the graph's `flake:` field of
/// the same name (`docs/graph-format.md`, "The `flake` section").
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FlakeArgs {
    /// Flake reference of nixpkgs (default: the graph's `flake.nixpkgs`, else
    /// `github:NixOS/nixpkgs/nixos-26.05`).
    #[arg(long, value_name = "FLAKE_REF")]
    pub nixpkgs: Option<String>,
    /// Flake reference of nix-darwin, for graphs with Darwin hosts.
    #[arg(long, value_name = "FLAKE_REF")]
    pub nix_darwin: Option<String>,
    /// Flake reference of the cim-leaf flake whose agent modules the hosts import, for
    /// graphs with agents, e.g. `github:<owner>/cim-leaf/<tag>` (the graph's `flake.cim_leaf`).
    #[arg(long, value_name = "FLAKE_REF", env = "CIM_LEAF_AGENT_FLAKE")]
    pub agent_flake: Option<String>,
    /// `system.stateVersion` of NixOS hosts generated for the first time (`YY.MM`); hosts
    /// already generated into the output directory keep theirs.
    #[arg(long, value_name = "RELEASE")]
    pub state_version: Option<String>,
}

impl FlakeArgs {
    /// The settings these flags choose.
    pub fn settings(&self) -> FlakeSettings {
        FlakeSettings {
            nixpkgs: self.nixpkgs.clone(),
            nix_darwin: self.nix_darwin.clone(),
            cim_leaf: self.agent_flake.clone(),
            state_version: self.state_version.clone(),
        }
    }
}
