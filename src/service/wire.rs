//! The JSON the deployment service reads and answers (documented in
//! `docs/deployment-service.md`). Every request refuses unknown fields.

use cim_domain_graph::NodeEntry;
use serde::{Deserialize, Serialize};

use crate::pipeline::DeployReport;

/// `cim.deployment.deploy`: add a node to the graph (a host's node: service, database, message
/// bus, agent, ... in the graph file's node format) and deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployNodeRequest {
    /// Makes retries idempotent: the same id with the same body gets the same reply, once.
    pub request_id: String,
    /// When given, the request applies only to this graph version (`sha256:…`); a request
    /// made against an older version is refused with `conflict`.
    #[serde(default)]
    pub expected_version: Option<String>,
    /// The node, as in the graph file's `nodes` list.
    pub node: NodeEntry,
}

/// `cim.deployment.update`: replace an existing node's configuration and deploy.
pub type UpdateNodeRequest = DeployNodeRequest;

/// `cim.deployment.scale`: run `replicas` instances of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    /// As in [`DeployNodeRequest::request_id`].
    pub request_id: String,
    /// As in [`DeployNodeRequest::expected_version`].
    #[serde(default)]
    pub expected_version: Option<String>,
    /// The service node (its first instance).
    pub service: String,
    /// How many instances, 1 to [`MAX_REPLICAS`].
    pub replicas: u32,
}

/// The most instances a service can be scaled to.
pub const MAX_REPLICAS: u32 = 64;

/// `cim.deployment.gpu-agent`: deploy an agent that runs a model on GPUs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuAgentRequest {
    /// As in [`DeployNodeRequest::request_id`].
    pub request_id: String,
    /// As in [`DeployNodeRequest::expected_version`].
    #[serde(default)]
    pub expected_version: Option<String>,
    /// The agent's name (its definition's `name`).
    pub name: String,
    /// The GPU host it runs on.
    pub host: String,
    /// Its definition file, relative to the graph file's directory.
    pub definition: String,
    /// What the model needs.
    pub model: ModelRequirements,
}

/// A model's requirements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRequirements {
    /// The model's name (for example `llama3.1:70b`).
    pub name: String,
    /// GPU memory it needs, in GiB (1 to 4096); the agent gets as many of the host's GPUs as
    /// that takes.
    pub vram_gib: u32,
    /// Batch size (1 to 4096).
    pub batch_size: u32,
    /// Numeric precision.
    pub precision: Precision,
}

/// Numeric precision of a model's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit float.
    Fp32,
    /// 16-bit float.
    Fp16,
    /// bfloat16.
    Bf16,
    /// 8-bit float.
    Fp8,
    /// 8-bit integer.
    Int8,
    /// 4-bit integer.
    Int4,
}

/// Every reply: `status` is `approved`, `rejected` or `error`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Reply {
    /// The agents approved; the files are written.
    Approved {
        /// The request's id.
        request_id: String,
        /// The graph version now deployed.
        graph_version: String,
        /// The pipeline's report.
        report: Box<DeployReport>,
    },
    /// The agents rejected the change; the graph stays as it was and nothing is written.
    Rejected {
        /// The request's id.
        request_id: String,
        /// The version that was rejected.
        graph_version: String,
        /// The pipeline's report, with the findings that caused it.
        report: Box<DeployReport>,
    },
    /// The request was refused or failed.
    Error {
        /// The request's id, when it could be read.
        request_id: Option<String>,
        /// The error.
        error: ErrorBody,
    },
}

/// An error: a stable code, a message and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// See [`ErrorCode`].
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault (`node.name`, `replicas`, ...), when there is one.
    pub field: Option<String>,
}

/// Stable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not JSON, or not an object.
    MalformedJson,
    /// A required field is missing.
    MissingField,
    /// A field the request does not have.
    UnknownField,
    /// A field's value is not valid.
    InvalidField,
    /// The node or service named does not exist (update, scale) or already exists (deploy).
    NotFound,
    /// The node already exists.
    AlreadyExists,
    /// `expected_version` is not the current version, or the request id was used with
    /// another body.
    Conflict,
    /// The changed graph is not valid (every problem is in the message).
    InvalidGraph,
    /// The pipeline failed (not a rejection).
    PipelineFailed,
    /// The service is draining.
    Unavailable,
}
