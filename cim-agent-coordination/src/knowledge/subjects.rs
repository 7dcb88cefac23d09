//! The knowledge subjects (the `cim.knowledge` row of [`crate::subject`]'s table) and the
//! JetStream names derived from a knowledge space.
//!
//! | subject | publisher | what |
//! |---|---|---|
//! | `cim.knowledge.<space>.hello.<agent>` | the replica of `<agent>` | presence: incarnation and heads |
//! | `cim.knowledge.<space>.sync.<from>.<to>` | the replica of `<from>` | automerge sync message to `<to>` |
//! | `cim.knowledge.<space>.changes.<agent>` | the replica of `<agent>` (JetStream) | its changes, `Nats-Msg-Id` = change hash |
//!
//! Agents appear as the simple (hyphen-less) form of their uuid. Every subject carries its
//! publisher, so "publish only as yourself" is a permission on `*.<self>`-shaped subjects.

use cim_domain_agent::AgentId;

use super::error::KnowledgeError;
use crate::subject::KNOWLEDGE;

/// The subjects and JetStream names of one knowledge space (one shared document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeSubjects {
    space: String,
}

fn token(agent: AgentId) -> String {
    agent.0.simple().to_string()
}

impl KnowledgeSubjects {
    /// The space `space`: 1 to 64 characters of `A-Z a-z 0-9 _ -` (so it is a subject token, a
    /// stream name and an object-store bucket name at once).
    ///
    /// # Errors
    /// [`KnowledgeError::InvalidName`] otherwise.
    pub fn new(space: impl Into<String>) -> Result<Self, KnowledgeError> {
        let space = space.into();
        let ok = !space.is_empty()
            && space.len() <= 64
            && space
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(KnowledgeError::InvalidName {
                what: "knowledge space",
                value: space.chars().take(64).collect(),
            });
        }
        Ok(Self { space })
    }

    /// The space's name.
    pub fn space(&self) -> &str {
        &self.space
    }

    /// Where `agent` announces itself.
    pub fn hello(&self, agent: AgentId) -> String {
        format!("{KNOWLEDGE}.{}.hello.{}", self.space, token(agent))
    }

    /// Every hello of the space.
    pub fn hello_filter(&self) -> String {
        format!("{KNOWLEDGE}.{}.hello.*", self.space)
    }

    /// A sync message from `from` to `to`.
    pub fn sync(&self, from: AgentId, to: AgentId) -> String {
        format!(
            "{KNOWLEDGE}.{}.sync.{}.{}",
            self.space,
            token(from),
            token(to)
        )
    }

    /// Every sync message addressed to `me`.
    pub fn sync_inbox(&self, me: AgentId) -> String {
        format!("{KNOWLEDGE}.{}.sync.*.{}", self.space, token(me))
    }

    /// Where `author`'s changes are stored.
    pub fn changes(&self, author: AgentId) -> String {
        format!("{KNOWLEDGE}.{}.changes.{}", self.space, token(author))
    }

    /// Every stored change of the space (the stream's subject).
    pub fn changes_filter(&self) -> String {
        format!("{KNOWLEDGE}.{}.changes.*", self.space)
    }

    /// The JetStream stream of changes.
    pub fn stream_name(&self) -> String {
        format!("CIM_KNOWLEDGE_{}", self.space)
    }

    /// The object-store bucket of the snapshot.
    pub fn bucket(&self) -> String {
        format!("cim_knowledge_{}", self.space)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subject::{matches, validate_filter, validate_subject};
    use uuid::Uuid;

    #[test]
    fn subjects_are_valid_and_route_to_their_filters() -> Result<(), Box<dyn std::error::Error>> {
        let s = KnowledgeSubjects::new("fleet")?;
        let (a, b) = (AgentId(Uuid::from_u128(1)), AgentId(Uuid::from_u128(2)));
        for subject in [s.hello(a), s.sync(a, b), s.changes(a)] {
            validate_subject(&subject)?;
        }
        for filter in [s.hello_filter(), s.sync_inbox(b), s.changes_filter()] {
            validate_filter(&filter)?;
        }
        assert!(matches(&s.sync_inbox(b), &s.sync(a, b)));
        assert!(!matches(&s.sync_inbox(a), &s.sync(a, b)));
        assert!(matches(&s.hello_filter(), &s.hello(a)));
        assert!(KnowledgeSubjects::new("a.b").is_err());
        assert!(KnowledgeSubjects::new("").is_err());
        assert!(KnowledgeSubjects::new("*").is_err());
        Ok(())
    }
}
