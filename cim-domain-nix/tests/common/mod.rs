//! Helpers shared by the integration tests.

use cim_domain_nix::NixTool;

/// `nix-instantiate` when installed; `None` (with the reason printed) when it is not and not
/// required; a failing test when CI requires it (`CIM_REQUIRE_NIX_INSTANTIATE=1`).
pub fn nix_tool(test: &str) -> Option<NixTool> {
    match NixTool::detect() {
        Ok(Some(tool)) => Some(tool),
        Ok(None) => {
            eprintln!(
                "skipping the nix-instantiate part of {test}: nix-instantiate is not on PATH"
            );
            None
        }
        Err(err) => panic!("{test}: {err} (CIM_REQUIRE_NIX_INSTANTIATE=1)"),
    }
}
