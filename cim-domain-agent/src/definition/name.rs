//! Validated identity newtypes: [`AgentName`] and [`AgentId`].
//!
//! A name ends up as a NATS subject token (`cim.agents.<name>.heartbeat`), a systemd unit and
//! container name (`cim-agent-<name>`), a Kubernetes namespace and the name of the graph node
//! that deploys the agent, so it is checked once, here, with the fleet naming rule of
//! `cim-naming` (the same rule as graph node names, with room for the `cim-agent-` prefix).

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest accepted name: 63 (RFC 1123 label) minus the `cim-agent-` prefix deployments add.
pub const MAX_NAME_LEN: usize = cim_naming::MAX_LABEL_LEN - cim_naming::AGENT_PREFIX.len();

/// Namespace for [`AgentId::from_name`]; fixed forever so derived ids stay stable.
const AGENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1c_5e0e_2f4b_4f6e_9c3d_8b1a_7e2f_0c41);

/// Why a string is not a valid [`AgentName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`].
    #[error("name is {0} characters long; at most {MAX_NAME_LEN} are allowed")]
    TooLong(usize),
    /// The name contains characters outside `a-z`, `0-9` and `-`: every distinct one, in order
    /// of first appearance.
    #[error(
        "name contains {}; only lowercase letters, digits and '-' are allowed (NATS token and container name)",
        list_chars(.0)
    )]
    BadCharacters(Vec<char>),
    /// The name does not start with a lowercase letter, or ends with `-`.
    #[error("name must start with a lowercase letter and end with a lowercase letter or digit")]
    BadEdge,
    /// The name breaks another rule of the fleet naming rule (it is a Nix keyword).
    #[error("name {name:?} cannot be used: {reason}")]
    Reserved {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
}

/// `'A', ' ' and '_'`.
fn list_chars(chars: &[char]) -> String {
    let quoted: Vec<String> = chars.iter().map(|c| format!("{c:?}")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// An agent name valid as a NATS subject token, a container name, a Kubernetes namespace and a
/// graph node name: lowercase ASCII letters, digits and `-`, starting with a letter, ending with
/// a letter or digit, not a Nix keyword, at most [`MAX_NAME_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgentName(String);

impl AgentName {
    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        let length = name.chars().count();
        if length > MAX_NAME_LEN {
            return Err(NameError::TooLong(length));
        }
        let mut bad: Vec<char> = Vec::new();
        for c in name.chars() {
            if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || bad.contains(&c)) {
                bad.push(c);
            }
        }
        if !bad.is_empty() {
            return Err(NameError::BadCharacters(bad));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) || name.ends_with('-') {
            return Err(NameError::BadEdge);
        }
        // The one rule (`cim-naming`) decides; the checks above only say precisely why.
        if let Some(reason) = cim_naming::fleet_name_problem(&name, cim_naming::AGENT_PREFIX) {
            return Err(NameError::Reserved { name, reason });
        }
        Ok(Self(name))
    }

    /// A valid name close to `text`, to suggest when `text` is not one: lowercased, every run
    /// of other characters turned into one `-` (`Python Security Expert` ->
    /// `python-security-expert`, `code_reviewer` -> `code-reviewer`), `agent-` put in front
    /// when it would not start with a letter, cut to [`MAX_NAME_LEN`], `-agent` added to a Nix
    /// keyword. `None` when nothing usable is left (no ASCII letter or digit at all).
    pub fn suggest(text: &str) -> Option<Self> {
        let mut out = String::new();
        for c in text.chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let mut out = out.trim_end_matches('-').to_owned();
        if out.is_empty() {
            return None;
        }
        if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.insert_str(0, "agent-");
        }
        out.truncate(MAX_NAME_LEN);
        let mut out = out.trim_end_matches('-').to_owned();
        if cim_naming::fleet_name_problem(&out, cim_naming::AGENT_PREFIX).is_some() {
            out.push_str("-agent");
        }
        Self::new(out).ok()
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AgentName {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<AgentName> for String {
    fn from(value: AgentName) -> Self {
        value.0
    }
}

impl AsRef<str> for AgentName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The stable identity of an agent (a UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentId(pub Uuid);

impl AgentId {
    /// The id derived from a name (UUID v5), used when a definition leaves `id` empty, so the
    /// same file always yields the same id.
    pub fn from_name(name: &AgentName) -> Self {
        Self(Uuid::new_v5(&AGENT_ID_NAMESPACE, name.as_str().as_bytes()))
    }

    /// A fresh id (UUID v7).
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}

impl std::str::FromStr for AgentId {
    type Err = uuid::Error;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text).map(Self)
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc1123_labels_and_rejects_the_rest() {
        assert!(AgentName::new("ddd-expert").is_ok());
        assert!(AgentName::new("a1").is_ok());
        assert_eq!(AgentName::new(""), Err(NameError::Empty));
        assert_eq!(
            AgentName::new("a.b"),
            Err(NameError::BadCharacters(vec!['.']))
        );
        assert_eq!(
            AgentName::new("A"),
            Err(NameError::BadCharacters(vec!['A']))
        );
        assert_eq!(
            AgentName::new("x>"),
            Err(NameError::BadCharacters(vec!['>']))
        );
        assert_eq!(AgentName::new("-a"), Err(NameError::BadEdge));
        assert_eq!(AgentName::new("a".repeat(54)), Err(NameError::TooLong(54)));
        // Graph node names start with a letter; an agent is deployed by a node of its name.
        assert_eq!(AgentName::new("1a"), Err(NameError::BadEdge));
        assert!(matches!(
            AgentName::new("rec"),
            Err(NameError::Reserved { .. })
        ));
    }

    #[test]
    fn every_bad_character_is_named_once_and_a_valid_form_suggested() {
        let error = AgentName::new("Python Security Expert");
        assert_eq!(
            error,
            Err(NameError::BadCharacters(vec!['P', ' ', 'S', 'E']))
        );
        let message = error.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.starts_with("name contains 'P', ' ', 'S' and 'E';"),
            "{message}"
        );
        let suggest = |text: &str| AgentName::suggest(text).map(|n| n.to_string());
        assert_eq!(
            suggest("Python Security Expert").as_deref(),
            Some("python-security-expert")
        );
        assert_eq!(suggest("code_reviewer").as_deref(), Some("code-reviewer"));
        assert_eq!(suggest("  -Weird--Name!- ").as_deref(), Some("weird-name"));
        assert_eq!(suggest("3d-artist").as_deref(), Some("agent-3d-artist"));
        assert_eq!(suggest("rec").as_deref(), Some("rec-agent"));
        assert_eq!(suggest("ÄÖ!"), None);
        let long = suggest(&"A b ".repeat(40)).unwrap_or_default();
        assert!(
            long.len() <= MAX_NAME_LEN && AgentName::new(long.clone()).is_ok(),
            "{long}"
        );
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() -> Result<(), NameError> {
        let a = AgentName::new("sage")?;
        let b = AgentName::new("nix-expert")?;
        assert_eq!(AgentId::from_name(&a), AgentId::from_name(&a));
        assert_ne!(AgentId::from_name(&a), AgentId::from_name(&b));
        assert_eq!(AgentId::from_name(&a).0.get_version_num(), 5);
        Ok(())
    }
}
