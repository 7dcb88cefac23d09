//! Merging contexts from several agents: last writer, union, or a policy per key.
//!
//! Merges are deterministic and do not depend on argument order for `LastWriter` (the later
//! `(at, writer)` wins; equal stamps compare the values' JSON text) and never loosen visibility
//! (the stricter of the two entries' visibilities is kept).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::context::{ContextEntry, DialogContext};

/// How two entries for the same key become one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MergeStrategy {
    /// The entry with the later `(at, writer)` wins.
    #[default]
    LastWriter,
    /// Both survive: arrays become the union of their elements (earlier writer's first, no
    /// duplicates), objects the union of their keys (recursively; a clash of two scalars goes
    /// to the later writer), and two different scalars an array of both (earlier first).
    Union,
    /// The entry with the earlier `(at, writer)` wins (first answer kept).
    FirstWriter,
}

/// Which strategy applies to which key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergePolicy {
    /// For keys not listed.
    pub default: MergeStrategy,
    /// Per key.
    pub per_key: BTreeMap<String, MergeStrategy>,
}

impl MergePolicy {
    /// One strategy for every key.
    pub fn all(strategy: MergeStrategy) -> Self {
        Self {
            default: strategy,
            per_key: BTreeMap::new(),
        }
    }

    /// The same policy with `strategy` for `key`.
    pub fn key(mut self, key: impl Into<String>, strategy: MergeStrategy) -> Self {
        self.per_key.insert(key.into(), strategy);
        self
    }

    /// The strategy for `key`.
    pub fn for_key(&self, key: &str) -> MergeStrategy {
        self.per_key.get(key).copied().unwrap_or(self.default)
    }
}

/// Orders entries by `(at, writer)`, then by their values' JSON text, so ties resolve the same
/// way whatever order they arrive in.
fn stamp_order(a: &ContextEntry, b: &ContextEntry) -> Ordering {
    (a.at, a.writer)
        .cmp(&(b.at, b.writer))
        .then_with(|| a.value.to_string().cmp(&b.value.to_string()))
}

fn union_values(earlier: &Value, later: &Value) -> Value {
    match (earlier, later) {
        (Value::Array(a), Value::Array(b)) => {
            let mut out = a.clone();
            for item in b {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            Value::Array(out)
        }
        (Value::Object(a), Value::Object(b)) => {
            let mut out = a.clone();
            for (key, value) in b {
                let merged = match a.get(key) {
                    Some(old @ (Value::Array(_) | Value::Object(_))) => union_values(old, value),
                    _ => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (a, b) if a == b => a.clone(),
        (a, b) => Value::Array(vec![a.clone(), b.clone()]),
    }
}

fn merge_entry(a: &ContextEntry, b: &ContextEntry, strategy: MergeStrategy) -> ContextEntry {
    let (earlier, later) = if stamp_order(a, b) == Ordering::Greater {
        (b, a)
    } else {
        (a, b)
    };
    let visibility = a.visibility.stricter(&b.visibility);
    let mut out = match strategy {
        MergeStrategy::LastWriter => later.clone(),
        MergeStrategy::FirstWriter => earlier.clone(),
        MergeStrategy::Union => ContextEntry {
            value: union_values(&earlier.value, &later.value),
            ..later.clone()
        },
    };
    out.visibility = visibility;
    out
}

impl DialogContext {
    /// Merges `other` into `self` by `policy`: entries key by key, fact references as a union,
    /// the newer graph version, the first proposal seen, turns by sequence number (no
    /// duplicates), and the first summary seen.
    pub fn merge(&mut self, other: &DialogContext, policy: &MergePolicy) {
        for (key, theirs) in &other.values {
            let merged = match self.values.get(key) {
                Some(ours) => merge_entry(ours, theirs, policy.for_key(key)),
                None => theirs.clone(),
            };
            self.values.insert(key.clone(), merged);
        }
        let refs = &mut self.references;
        refs.graph_version = refs.graph_version.max(other.references.graph_version);
        if refs.proposal.is_none() {
            refs.proposal = other.references.proposal;
        }
        refs.facts.extend(other.references.facts.iter().cloned());
        for turn in &other.history.turns {
            if !self.history.turns.iter().any(|t| t.seq == turn.seq) {
                self.history.turns.push(turn.clone());
            }
        }
        self.history.turns.sort_by_key(|t| t.seq);
        if self.history.summary.is_none() {
            self.history.summary.clone_from(&other.history.summary);
        }
    }

    /// `self` merged with `other`, leaving both untouched.
    pub fn merged(&self, other: &DialogContext, policy: &MergePolicy) -> DialogContext {
        let mut out = self.clone();
        out.merge(other, policy);
        out
    }
}
