//! Errors from turning agent definitions into deployment output. Each names the agent, tier, host
//! or field involved.

use cim_domain_nix::NixError;

use crate::definition::{DefinitionError, UnitError};
use crate::deploy::nixos::SubnetError;

/// Why deployment output could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The graph has agents whose containers import the agent module from the `cim-leaf` flake
    /// input, but names no flake reference for it.
    #[error(
        "the graph has agent nodes, whose hosts import `inputs.cim-leaf.nixosModules.agent`, but \
         no flake reference for it: set `flake.cim_leaf` in the graph (or pass `--agent-flake`) \
         to the cim-leaf flake you deploy, for example `github:<owner>/cim-leaf/<tag>`"
    )]
    NoAgentFlake,
    /// An agent file could not be read or is invalid.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// A URL (from a definition or an override) is not `scheme://host[:port][/path]`.
    #[error(
        "agent {agent}: {field} {:?} is not a URL like {example}",
        cim_naming::redact::redact_url(url)
    )]
    BadUrl {
        /// The agent whose settings hold the URL.
        agent: String,
        /// Where the URL came from (`nats.url`, `--ollama-url`, ...).
        field: &'static str,
        /// The URL as given.
        url: String,
        /// What a good one looks like.
        example: &'static str,
    },
    /// A URL bound for Kubernetes output carries credentials, which would land in a Deployment's
    /// arguments in clear.
    #[error(
        "agent {agent}: {field} {url} carries credentials; Kubernetes output never holds them in \
         arguments: give the URL without user:password and put the credentials in a Secret"
    )]
    CredentialsInUrl {
        /// The agent whose settings hold the URL.
        agent: String,
        /// Which setting (`nats.url`).
        field: &'static str,
        /// The URL, redacted.
        url: String,
    },
    /// Two definitions share a name, so their containers or namespaces would collide.
    #[error("two agents are named {name}; names must be unique within one deployment")]
    DuplicateAgent {
        /// The shared name.
        name: String,
    },
    /// The requested Kubernetes tier does not exist.
    #[error("unknown Kubernetes tier {name:?}; known tiers: {known}")]
    UnknownTier {
        /// The tier asked for.
        name: String,
        /// Every tier the catalog has, comma separated.
        known: String,
    },
    /// A tier catalog is not valid YAML of the expected shape.
    #[error("tier catalog {source_name}: {message}")]
    TierCatalog {
        /// Where the catalog came from.
        source_name: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// One field of a tier is invalid.
    #[error("tier {tier}: {field}: {message}")]
    InvalidTier {
        /// The tier.
        tier: String,
        /// The field path inside the tier.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// An agent needs more GPUs than one pod of the chosen tier is granted. Tiers fix a pod's
    /// resources and its namespace quota, so the agent's count is checked, never applied.
    #[error(
        "agent {agent} needs {gpus} GPU(s) but tier {tier} grants {granted}; use a tier with at \
         least {gpus} nvidia.com/gpu"
    )]
    GpuTierRequired {
        /// The agent.
        agent: String,
        /// GPUs it asks for.
        gpus: u32,
        /// The tier chosen.
        tier: String,
        /// GPUs the tier grants one pod (its `nvidia.com/gpu` limit).
        granted: u32,
    },
    /// The container image reference is not one Kubernetes accepts.
    #[error("image {image:?}: {problem}")]
    InvalidImage {
        /// The reference, with control characters escaped.
        image: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// An agent file is larger than a ConfigMap may hold.
    #[error(
        "agent {agent}: its file has {bytes} bytes, more than a Kubernetes ConfigMap holds ({max})"
    )]
    ConfigMapTooLarge {
        /// The agent.
        agent: String,
        /// The file's size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A Kubernetes object could not be written as YAML.
    #[error("writing {kind} {name} as YAML: {source}")]
    Yaml {
        /// The object's kind.
        kind: &'static str,
        /// The object's name.
        name: String,
        /// The serialiser's error.
        source: serde_yaml_ng::Error,
    },
    /// Container addresses could not be allocated.
    #[error(transparent)]
    Subnet(#[from] SubnetError),
    /// An agent has no `deployment.target_node` and no default host was given.
    #[error("agent {agent} has no deployment.target_node and no default host was given")]
    NoHost {
        /// The agent.
        agent: String,
    },
    /// A target node is not usable as a host name.
    #[error(
        "agent {agent}: deployment.target_node {host:?} is not a host name (lowercase letters, digits and inner '-', starting with a letter)"
    )]
    InvalidHost {
        /// The agent.
        agent: String,
        /// The target node as written.
        host: String,
    },
    /// The host data root is not an absolute path.
    #[error("host data root {root:?} must be an absolute path")]
    RelativeHostDir {
        /// The root as given.
        root: String,
    },
    /// A Nix expression could not be built.
    #[error("{agent}: {source}")]
    Nix {
        /// The agent (or host) being built.
        agent: String,
        /// The builder's error.
        source: NixError,
    },
    /// A graph node handed to the agent translator is not an agent.
    #[error("node {node} is not an agent node")]
    NotAnAgentNode {
        /// The node.
        node: String,
    },
    /// The graph places an agent on another host than its definition's `target_node`.
    #[error(
        "agent {agent}: deployment.target_node is {target_node} but the graph runs it on {host}"
    )]
    PlacementConflict {
        /// The agent.
        agent: String,
        /// The definition's target node.
        target_node: String,
        /// The graph's host.
        host: String,
    },
    /// A limit derived from the graph's reservation is not valid.
    #[error("agent {agent}: {source}")]
    Unit {
        /// The agent.
        agent: String,
        /// Why the limit is invalid.
        source: UnitError,
    },
}
