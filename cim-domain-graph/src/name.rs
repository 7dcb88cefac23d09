//! Which names a graph's nodes may have: the fleet naming rule of `cim-naming`, which makes a
//! name valid at once as a NATS subject token, a NixOS container and host name, a Kubernetes
//! DNS-1123 label, a systemd unit and a bare Nix attribute.

use cim_naming::{AGENT_PREFIX, MAX_LABEL_LEN, fleet_name_problem};

use crate::node::{DeploymentNode, DeploymentNodeType};

/// Longest name accepted: the limit of a host name label (agents: less, see [`node_name_problem`]).
pub const MAX_NAME_LEN: usize = MAX_LABEL_LEN;

/// Why `name` cannot be used for a node, or `None` when it can: lowercase ASCII letters, digits
/// and `-`, starting with a letter, not ending with `-`, not a Nix keyword, at most
/// [`MAX_NAME_LEN`] characters.
pub fn name_problem(name: &str) -> Option<String> {
    fleet_name_problem(name, "")
}

/// Why `node`'s name cannot be used: [`name_problem`], and for agents also room for the
/// `cim-agent-` prefix their containers and Kubernetes objects add (at most 53 characters).
pub fn node_name_problem(node: &DeploymentNode) -> Option<String> {
    let prefix = match node.node_type {
        DeploymentNodeType::Agent(_) => AGENT_PREFIX,
        _ => "",
    };
    fleet_name_problem(&node.name, prefix)
}

#[cfg(test)]
mod tests {
    use super::name_problem;

    #[test]
    fn accepts_plain_names_and_rejects_what_nix_or_systemd_cannot_take() {
        assert_eq!(name_problem("web-1"), None);
        assert_eq!(name_problem("a"), None);
        assert!(name_problem("").is_some());
        assert!(name_problem("1web").is_some());
        assert!(name_problem("Web").is_some());
        assert!(name_problem("web_1").is_some());
        assert!(name_problem("web.1").is_some());
        assert!(name_problem("web-").is_some());
        assert!(name_problem("we b").is_some());
        assert!(name_problem(&"a".repeat(64)).is_some());
        assert_eq!(name_problem(&"a".repeat(63)), None);
    }
}
