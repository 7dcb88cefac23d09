//! Dialog context: what travels with a message (references, prior turns or a summary, key/value
//! entries), and how it is filtered for each recipient.
//!
//! Propagation is automatic: a channel sends the message's context with every delivery, filtered
//! per recipient by [`ContextFilter::for_recipient`]:
//! - an allow-list of keys for a recipient drops every other key;
//! - [`Visibility::Capability`] entries reach only recipients with that capability (others do
//!   not learn the key exists);
//! - [`Visibility::Secret`] entries reach recipients without the capability *redacted*: the key
//!   stays (so they know to ask), the value is `null` and `redacted` is set.
//!
//! References and history reach every recipient.

use std::collections::{BTreeMap, BTreeSet};

use cim_domain_agent::AgentId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::agent::DialogAgent;

/// What the dialog is about: the graph version under discussion, a consensus proposal, facts of
/// the shared knowledge base.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct References {
    /// Version of the deployment graph being discussed.
    #[serde(default)]
    pub graph_version: Option<u64>,
    /// Consensus proposal the dialog serves.
    #[serde(default)]
    pub proposal: Option<Uuid>,
    /// Ids of knowledge-base facts (sorted, unique).
    #[serde(default)]
    pub facts: BTreeSet<String>,
}

/// One earlier turn, as carried in a context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorTurn {
    /// Its sequence number in the dialog (1-based).
    pub seq: u32,
    /// Who spoke.
    pub from: AgentId,
    /// What was said.
    pub content: String,
}

/// What came before: the earlier turns, a summary of them, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Earlier turns, by sequence number.
    #[serde(default)]
    pub turns: Vec<PriorTurn>,
    /// A summary standing for turns not carried.
    #[serde(default)]
    pub summary: Option<String>,
}

/// Who may see a context entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "capability")]
pub enum Visibility {
    /// Everyone.
    #[default]
    Public,
    /// Only recipients with this capability; others do not get the key.
    Capability(String),
    /// Only recipients with this capability; others get the key with its value redacted.
    Secret(String),
}

impl Visibility {
    fn strictness(&self) -> u8 {
        match self {
            Self::Public => 0,
            Self::Capability(_) => 1,
            Self::Secret(_) => 2,
        }
    }

    /// The stricter of two (a merge never loosens who may see a key); equal strictness keeps
    /// the smaller, so the result does not depend on argument order.
    pub fn stricter(&self, other: &Self) -> Self {
        match self.strictness().cmp(&other.strictness()) {
            std::cmp::Ordering::Greater => self.clone(),
            std::cmp::Ordering::Less => other.clone(),
            std::cmp::Ordering::Equal => self.clone().min(other.clone()),
        }
    }
}

/// One key/value entry of a context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextEntry {
    /// The value (any JSON).
    pub value: serde_json::Value,
    /// Who may see it.
    #[serde(default)]
    pub visibility: Visibility,
    /// The agent that wrote it.
    pub writer: AgentId,
    /// When, as a logical time (the dialog's turn number): last-writer merges compare it.
    pub at: u64,
    /// Set when the value was withheld from this recipient (it is then `null`).
    #[serde(default)]
    pub redacted: bool,
}

/// Everything that travels with a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogContext {
    /// What the dialog is about.
    #[serde(default)]
    pub references: References,
    /// Earlier turns or their summary.
    #[serde(default)]
    pub history: History,
    /// Key/value entries, by key.
    #[serde(default)]
    pub values: BTreeMap<String, ContextEntry>,
}

impl DialogContext {
    /// Sets a public entry.
    pub fn set(
        &mut self,
        key: impl Into<String>,
        value: serde_json::Value,
        writer: AgentId,
        at: u64,
    ) -> &mut Self {
        self.set_with(key, value, Visibility::Public, writer, at)
    }

    /// Sets an entry with a visibility.
    pub fn set_with(
        &mut self,
        key: impl Into<String>,
        value: serde_json::Value,
        visibility: Visibility,
        writer: AgentId,
        at: u64,
    ) -> &mut Self {
        self.values.insert(
            key.into(),
            ContextEntry {
                value,
                visibility,
                writer,
                at,
                redacted: false,
            },
        );
        self
    }

    /// The value of a key, unless absent or redacted.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.values
            .get(key)
            .filter(|entry| !entry.redacted)
            .map(|entry| &entry.value)
    }
}

/// Per-recipient filtering rules beyond visibility: allow-lists of keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextFilter {
    /// Recipients listed here get only these keys (visibility still applies).
    pub allow_lists: BTreeMap<AgentId, BTreeSet<String>>,
}

impl ContextFilter {
    /// Restricts `agent` to `keys`.
    pub fn allow(
        mut self,
        agent: AgentId,
        keys: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allow_lists
            .insert(agent, keys.into_iter().map(Into::into).collect());
        self
    }

    /// The context as `recipient` may see it (see the module documentation for the rules).
    pub fn for_recipient(&self, context: &DialogContext, recipient: &DialogAgent) -> DialogContext {
        let allow = self.allow_lists.get(&recipient.id);
        let mut values = BTreeMap::new();
        for (key, entry) in &context.values {
            if allow.is_some_and(|keys| !keys.contains(key)) {
                continue;
            }
            match &entry.visibility {
                Visibility::Public => {
                    values.insert(key.clone(), entry.clone());
                }
                Visibility::Capability(capability) => {
                    if recipient.has_capability(capability) {
                        values.insert(key.clone(), entry.clone());
                    }
                }
                Visibility::Secret(capability) => {
                    if recipient.has_capability(capability) {
                        values.insert(key.clone(), entry.clone());
                    } else {
                        let mut withheld = entry.clone();
                        withheld.value = serde_json::Value::Null;
                        withheld.redacted = true;
                        values.insert(key.clone(), withheld);
                    }
                }
            }
        }
        DialogContext {
            references: context.references.clone(),
            history: context.history.clone(),
            values,
        }
    }
}
