//! The version of a fleet: a content hash of its normalised graph and the agent definitions it
//! references, so a consensus proposal is about exactly one graph.

use std::fmt;

use cim_domain_graph::GraphDocument;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Fleet;

/// `sha256:` and 64 lowercase hex digits of the canonical JSON of the normalised fleet.
///
/// Normalised: hosts and nodes sorted by name, edges by (from, to, type), every object's keys
/// sorted (serde_json's map), a node's single host folded into `host` as the document format
/// does, and the agent definitions' texts by node name. So the order a file lists things in,
/// its comments and YAML-vs-JSON do not change the version; any field that changes output does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GraphVersion(String);

impl GraphVersion {
    /// The version of `fleet`.
    pub fn of(fleet: &Fleet) -> Self {
        let definitions = fleet
            .agents()
            .iter()
            .map(|agent| (agent.node.as_str(), agent.source.text.as_str()));
        Self::from_parts(&fleet.graph().to_document(), definitions)
    }

    /// The version of a graph document and its agents' definition texts (by node name).
    pub fn from_parts<'a>(
        document: &GraphDocument,
        definitions: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut document = document.clone();
        document.hosts.sort_by(|a, b| a.name.cmp(&b.name));
        document.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let edge_key = |edge: &cim_domain_graph::EdgeEntry| {
            let kind = serde_json::to_string(&edge.edge).unwrap_or_default();
            (edge.from.clone(), edge.to.clone(), kind)
        };
        document.edges.sort_by_key(edge_key);
        let mut definitions: Vec<(&str, &str)> = definitions.into_iter().collect();
        definitions.sort();
        // Values, not the structs: serde_json's `Value` keeps object keys sorted.
        let canonical = serde_json::json!({
            "graph": serde_json::to_value(&document).unwrap_or_default(),
            "definitions": definitions,
        });
        let mut hasher = Sha256::new();
        hasher.update(canonical.to_string().as_bytes());
        Self(format!("sha256:{}", hex(&hasher.finalize())))
    }

    /// The whole version, `sha256:<64 hex digits>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, for display and subject-safe ids.
    pub fn short(&self) -> &str {
        short_version(&self.0)
    }
}

impl fmt::Display for GraphVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The first 12 hex digits of a version written as `sha256:<hex>` (as announced in a
/// proposal), for display and subject-safe ids.
pub fn short_version(version: &str) -> &str {
    let digits = version.strip_prefix("sha256:").unwrap_or(version);
    digits.get(..12).unwrap_or(digits)
}

/// `sha256:<hex>` of `bytes`: how deployed files are identified.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}
