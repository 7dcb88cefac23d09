//! Fleet-wide choices about the generated flake: the `flake:` section of a graph document.
//!
//! ```yaml
//! flake:
//!   nixpkgs: github:NixOS/nixpkgs/nixos-26.05      # the default
//!   cim_leaf: github:my-org/cim-leaf/v0.3.0         # required when the graph has agents
//!   state_version: "26.05"                          # hosts first installed from now on
//! ```
//!
//! Every field is optional. They are part of the graph, so they are versioned, reviewed and
//! approved with it, and a CLI flag that sets one sets it in the graph before it is loaded.

use serde::{Deserialize, Serialize};

/// The current stable NixOS release (26.05): the release `nixpkgs` follows by default and the
/// `system.stateVersion` of NixOS hosts installed from a graph that names none.
pub const NIXOS_RELEASE: &str = "26.05";

/// The nixpkgs the flake follows unless the graph says otherwise: the [`NIXOS_RELEASE`] branch.
pub const DEFAULT_NIXPKGS: &str = "github:NixOS/nixpkgs/nixos-26.05";

/// The nix-darwin flake of flakes with Darwin hosts unless the graph says otherwise: the
/// release branch matching [`DEFAULT_NIXPKGS`] (nix-darwin follows nixpkgs' releases).
pub const DEFAULT_NIX_DARWIN: &str = "github:nix-darwin/nix-darwin/nix-darwin-26.05";

/// The `flake:` section of a graph. See the [module documentation](self).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlakeSettings {
    /// Flake reference of the `nixpkgs` input (default [`DEFAULT_NIXPKGS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nixpkgs: Option<String>,
    /// Flake reference of the `nix-darwin` input, used when the graph has Darwin hosts
    /// (default [`DEFAULT_NIX_DARWIN`]); its `nixpkgs` input always follows ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nix_darwin: Option<String>,
    /// Flake reference of the `cim-leaf` input, the flake that exports the agent modules
    /// (`nixosModules.agent`, `darwinModules.agent`): this repository at the revision the
    /// operator deploys. There is no default: a graph with agent nodes must name it (or be
    /// given it), because a guessed reference fails at `nix flake lock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cim_leaf: Option<String>,
    /// `system.stateVersion` of NixOS hosts that set none and were never generated before
    /// (default [`NIXOS_RELEASE`]): the release they are first installed with. A host already
    /// installed keeps the stateVersion it was generated with when this changes (see
    /// `docs/graph-format.md`, "Releases and stateVersion").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<String>,
}

impl FlakeSettings {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The `nixpkgs` input's flake reference.
    pub fn nixpkgs(&self) -> &str {
        self.nixpkgs.as_deref().unwrap_or(DEFAULT_NIXPKGS)
    }

    /// The `nix-darwin` input's flake reference.
    pub fn nix_darwin(&self) -> &str {
        self.nix_darwin.as_deref().unwrap_or(DEFAULT_NIX_DARWIN)
    }

    /// The `system.stateVersion` of a NixOS host that sets none and was never generated.
    pub fn state_version(&self) -> &str {
        self.state_version.as_deref().unwrap_or(NIXOS_RELEASE)
    }

    /// Each value that is set, with its field name, in field order.
    pub fn references(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("nixpkgs", &self.nixpkgs),
            ("nix_darwin", &self.nix_darwin),
            ("cim_leaf", &self.cim_leaf),
        ]
        .into_iter()
        .filter_map(|(field, value)| Some((field, value.as_deref()?)))
    }
}

/// Why `reference` cannot be a flake input's `url`, or `None` when it can.
///
/// Accepted are the reference types of `nix flake` (Nix manual, "Flake references"):
/// `github:`, `gitlab:`, `sourcehut:`, `git+<scheme>:`, `hg+<scheme>:`, `path:`, `tarball+`,
/// `file+`, `http(s):` archives, `flake:` registry names and absolute paths. Whitespace,
/// control characters, `"` and `${` (which Nix would read as interpolation) are refused.
pub fn flake_reference_problem(reference: &str) -> Option<&'static str> {
    const TYPES: [&str; 8] = [
        "github:",
        "gitlab:",
        "sourcehut:",
        "path:",
        "flake:",
        "http://",
        "https://",
        "file://",
    ];
    const PREFIXED: [&str; 4] = ["git+", "hg+", "tarball+", "file+"];
    if reference.is_empty() {
        return Some("must not be empty");
    }
    if reference
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
        || reference.contains("${")
    {
        return Some("must not contain whitespace, control characters, `\"`, `\\` or `${`");
    }
    let typed = TYPES.iter().any(|t| reference.starts_with(t))
        || PREFIXED.iter().any(|p| {
            reference
                .strip_prefix(p)
                .is_some_and(|rest| rest.contains(':'))
        })
        || reference.starts_with('/');
    if !typed {
        return Some(
            "is not a flake reference: expected `github:owner/repo[/ref]`, `git+https://…`, \
             `path:/…`, an absolute path or another type `nix flake` accepts",
        );
    }
    None
}

/// Why `version` cannot be a NixOS `system.stateVersion`, or `None` when it can: a release
/// written `YY.MM` (`25.05`, `26.05`), as NixOS' release strings are.
pub fn nixos_release_problem(version: &str) -> Option<&'static str> {
    let parts: Vec<&str> = version.split('.').collect();
    let two_digits = |p: &&str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() == 2 && parts.iter().all(two_digits) {
        None
    } else {
        Some("must be a NixOS release written `YY.MM`, such as `26.05`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flake_references_of_every_type_are_accepted() {
        for reference in [
            DEFAULT_NIXPKGS,
            "github:org/cim-leaf/v1.2.0",
            "git+https://git.example.org/cim-leaf?ref=main",
            "git+ssh://git@host/org/repo",
            "git+file:///srv/cim-leaf",
            "path:/srv/cim-leaf",
            "/srv/cim-leaf",
            "https://example.org/cim-leaf.tar.gz",
            "flake:nixpkgs",
            "tarball+https://example.org/x",
        ] {
            assert_eq!(flake_reference_problem(reference), None, "{reference}");
        }
    }

    #[test]
    fn things_that_are_not_flake_references_are_refused() {
        for reference in [
            "",
            "cim-leaf",
            "github:org/repo ; rm",
            "github:org/${x}",
            "github:\"x\"",
            "git+",
            "./relative",
        ] {
            assert!(
                flake_reference_problem(reference).is_some(),
                "{reference:?}"
            );
        }
    }

    #[test]
    fn releases_are_two_two_digit_numbers() {
        assert_eq!(nixos_release_problem("26.05"), None);
        for bad in ["", "26", "26.5", "2026.05", "26.05.1", "unstable"] {
            assert!(nixos_release_problem(bad).is_some(), "{bad}");
        }
    }
}
