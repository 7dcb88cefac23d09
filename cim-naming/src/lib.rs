//! Names in a CIM Leaf fleet, and the rules of every place they end up in.
//!
//! A node or agent name becomes, unchanged or behind a fixed prefix, several things at once:
//!
//! | target | rule (checked by [`Target::problem`]) |
//! |---|---|
//! | [`Target::NatsToken`] | one subject token: not empty; no `.`, `*`, `>`, whitespace or control characters |
//! | [`Target::NixosContainer`] | `containers.<name>`: 1–63 letters, digits and inner `-`; no `_` (NixOS refuses it) |
//! | [`Target::Dns1123Label`] | a Kubernetes name: 1–63 lowercase letters, digits and `-`, starting and ending with a letter or digit |
//! | [`Target::NixAttribute`] | a bare Nix attribute: letters, digits, `_`, `'`, `-`, starting with a letter or `_`, not a keyword |
//!
//! [`fleet_name_problem`] is the one rule for names of a deployment graph's nodes and of agents:
//! lowercase ASCII letters, digits and `-`, starting with a letter, not ending with `-`, not a
//! Nix keyword, short
//! enough that every prefixed form ([`AGENT_PREFIX`] for agents' containers and Kubernetes
//! objects) is still a valid label. Such a name is valid for every target above, which the tests
//! check target by target.
//!
//! ```
//! use cim_naming::{Target, fleet_name_problem, AGENT_PREFIX};
//!
//! assert_eq!(fleet_name_problem("nix-expert", AGENT_PREFIX), None);
//! assert!(fleet_name_problem("Nix_Expert", AGENT_PREFIX).is_some());
//! assert!(Target::NatsToken.problem("a.b").is_some());
//! assert!(Target::Dns1123Label.problem("cim-agent-nix-expert").is_none());
//! ```

mod host_port;
pub mod input;
pub mod redact;
mod text;

pub use host_port::{Host, HostPort};

pub use text::{MAX_DNS_NAME_LEN, host_address_problem, line_value_problem, server_name_problem};

/// The prefix agents' containers and Kubernetes objects add to an agent's name (`cim-agent-`).
pub const AGENT_PREFIX: &str = "cim-agent-";

/// Longest label: a DNS label, a host name, a Kubernetes name, a NixOS container name.
pub const MAX_LABEL_LEN: usize = 63;

/// Nix keywords, which cannot be bare attribute names.
const NIX_KEYWORDS: [&str; 10] = [
    "if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or",
];

/// A place a name ends up in, with its own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// One token of a NATS subject (`cim.agents.<name>.heartbeat`).
    NatsToken,
    /// A NixOS declarative container name (`containers.<name>`).
    NixosContainer,
    /// A Kubernetes object name or namespace (RFC 1123 label).
    Dns1123Label,
    /// An attribute name written without quotes in Nix.
    NixAttribute,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] = [
        Target::NatsToken,
        Target::NixosContainer,
        Target::Dns1123Label,
        Target::NixAttribute,
    ];

    /// Why `name` is not valid for this target, or `None` when it is.
    pub fn problem(self, name: &str) -> Option<&'static str> {
        if name.is_empty() {
            return Some("it is empty");
        }
        match self {
            Self::NatsToken => name
                .chars()
                .any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control())
                .then_some(
                    "a NATS subject token has no `.`, `*`, `>`, whitespace or control characters",
                ),
            Self::NixosContainer => {
                if name.len() > MAX_LABEL_LEN {
                    Some("it is longer than 63 characters (it becomes the container's host name)")
                } else if name.contains('_') {
                    Some("NixOS does not allow `_` in container names")
                } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    Some("only letters, digits and `-` are allowed in container names")
                } else if name.starts_with('-') || name.ends_with('-') {
                    Some("a container name cannot start or end with `-`")
                } else {
                    None
                }
            }
            Self::Dns1123Label => {
                if name.len() > MAX_LABEL_LEN {
                    Some("it is longer than 63 characters")
                } else if !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    Some("only lowercase letters, digits and `-` are allowed")
                } else if name.starts_with('-') || name.ends_with('-') {
                    Some("it must start and end with a lowercase letter or digit")
                } else {
                    None
                }
            }
            Self::NixAttribute => {
                let first = name.as_bytes()[0];
                if !(first.is_ascii_alphabetic() || first == b'_') {
                    Some("a bare Nix attribute starts with a letter or `_`")
                } else if !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'\'' | b'-'))
                {
                    Some("a bare Nix attribute has only letters, digits, `_`, `'` and `-`")
                } else if NIX_KEYWORDS.contains(&name) {
                    Some("it is a Nix keyword")
                } else {
                    None
                }
            }
        }
    }
}

/// Why `name` cannot name a node or an agent of a fleet, or `None` when it can. `prefix` is what
/// deployments put in front of the name (`""` for graph nodes, [`AGENT_PREFIX`] for agents);
/// the prefixed name must still fit in a label.
///
/// The rule: lowercase ASCII letters, digits and `-`, starting with a letter, not ending with
/// `-`, not a Nix keyword, at most `63 - prefix.len()` characters. It implies every [`Target`]'s rule, for the name
/// and for the prefixed name.
pub fn fleet_name_problem(name: &str, prefix: &str) -> Option<String> {
    let Some(first) = name.chars().next() else {
        return Some("it is empty".to_owned());
    };
    let max = MAX_LABEL_LEN.saturating_sub(prefix.len());
    if name.len() > max {
        return Some(if prefix.is_empty() {
            format!("it is longer than {max} characters")
        } else {
            format!("it is longer than {max} characters (`{prefix}<name>` must fit in 63)")
        });
    }
    if !first.is_ascii_lowercase() {
        return Some("it must start with a lowercase letter".to_owned());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some("only lowercase letters, digits and `-` are allowed".to_owned());
    }
    if name.ends_with('-') {
        return Some("it must not end with `-`".to_owned());
    }
    if NIX_KEYWORDS.contains(&name) {
        return Some("it is a Nix keyword".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fleet_name_is_valid_for_every_target_prefixed_or_not() {
        let names = ["a", "web-1", "nix-expert", "x9", &"a".repeat(53)];
        for name in names {
            assert_eq!(fleet_name_problem(name, AGENT_PREFIX), None, "{name}");
            for target in Target::ALL {
                assert_eq!(target.problem(name), None, "{name} {target:?}");
                let prefixed = format!("{AGENT_PREFIX}{name}");
                assert_eq!(target.problem(&prefixed), None, "{prefixed} {target:?}");
            }
        }
    }

    #[test]
    fn names_that_would_break_a_target_are_refused() {
        for bad in [
            "", "1web", "Web", "web_1", "web.1", "web-", "we b", "a>b", "in", "rec",
        ] {
            assert!(fleet_name_problem(bad, "").is_some(), "{bad:?}");
        }
        assert!(fleet_name_problem(&"a".repeat(54), AGENT_PREFIX).is_some());
        assert_eq!(fleet_name_problem(&"a".repeat(63), ""), None);
        assert!(fleet_name_problem(&"a".repeat(64), "").is_some());
        assert!(Target::NatsToken.problem("a.b").is_some());
        assert!(Target::NatsToken.problem("a*").is_some());
        assert!(Target::NixosContainer.problem("a_b").is_some());
        assert!(Target::Dns1123Label.problem("Ab").is_some());
        assert!(Target::NixAttribute.problem("9a").is_some());
        assert!(Target::NixAttribute.problem("rec").is_some());
    }
}
