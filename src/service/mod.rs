//! The deployment service (`cim-leaf serve`): the pipeline behind a NATS service API, so other
//! programs change the fleet by request and the agents still approve every change.
//!
//! The service holds one graph: it starts from the graph file (or, when the graph's
//! `DeploymentGraph` aggregate has an approved graph in the event store, from that), and each
//! request changes it ([`change`]) and runs the whole [`Pipeline`](crate::pipeline::Pipeline)
//! on the result. Only an approved change becomes the service's graph; a rejected or invalid
//! one leaves it as it was and writes nothing.
//!
//! | subject | request | what |
//! |---|---|---|
//! | `cim.deployment.deploy` | [`DeployNodeRequest`] | add a node |
//! | `cim.deployment.update` | [`UpdateNodeRequest`] | replace a node's configuration |
//! | `cim.deployment.scale` | [`ScaleRequest`] | run `replicas` instances of a service |
//! | `cim.deployment.gpu-agent` | [`GpuAgentRequest`] | add an agent sized by its model |
//!
//! Every reply is a [`Reply`]. Requests are handled one at a time, so two requests cannot both
//! change the same version: a request with `expected_version` is refused with
//! [`ErrorCode::Conflict`] once another change has landed. A request id seen before with the
//! same body gets the reply it got then, without running anything again (the ids live as long
//! as the service process). The wire format is documented in `docs/deployment-service.md`.

pub mod change;
mod nats;
pub mod wire;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cim_agent_coordination::knowledge::KnowledgeStore;
use cim_agent_coordination::transport::Transport;
use cim_agent_coordination::transport::kv::KeyValue;
use cim_domain_graph::GraphDocument;
use cim_domain_graph::aggregate::GraphStatus;
use cqrs_es::{AggregateContext as _, EventStore};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

pub use nats::{SERVICE_NAME, ServeError, serve};
pub use wire::{
    DeployNodeRequest, ErrorBody, ErrorCode, GpuAgentRequest, ModelRequirements, Precision, Reply,
    ScaleRequest, UpdateNodeRequest,
};

use crate::Fleet;
use crate::pipeline::{EventStores, GraphVersion, Pipeline};

/// The four commands, by subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `cim.deployment.deploy`.
    Deploy,
    /// `cim.deployment.update`.
    Update,
    /// `cim.deployment.scale`.
    Scale,
    /// `cim.deployment.gpu-agent`.
    GpuAgent,
}

impl Command {
    /// Every command.
    pub const ALL: [Self; 4] = [Self::Deploy, Self::Update, Self::Scale, Self::GpuAgent];

    /// Its endpoint name (the last subject token).
    pub fn name(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::Update => "update",
            Self::Scale => "scale",
            Self::GpuAgent => "gpu-agent",
        }
    }

    /// Its subject, `cim.deployment.<name>`.
    pub fn subject(self) -> String {
        format!("cim.deployment.{}", self.name())
    }
}

/// Largest request body, in bytes.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The graph file does not load.
    #[error(transparent)]
    Load(#[from] crate::FleetError),
    /// The event store cannot be read.
    #[error("event store: {0}")]
    Events(String),
    /// The generation already in the output directory cannot be read.
    #[error(transparent)]
    Output(#[from] cim_domain_graph::translate::output::OutputError),
}

struct State {
    document: GraphDocument,
    version: String,
    /// Replies by request id, with a hash of the request body.
    replies: HashMap<String, ([u8; 32], Vec<u8>)>,
}

/// The service's state and its pipeline. See the [module documentation](self).
pub struct DeploymentService<T, K, S, E> {
    pipeline: Pipeline<T, K, S, E>,
    definitions_dir: PathBuf,
    graph_id: String,
    out: PathBuf,
    state: tokio::sync::Mutex<State>,
}

impl<T, K, S, E> DeploymentService<T, K, S, E>
where
    T: Transport,
    K: KeyValue,
    S: KnowledgeStore,
    E: EventStores,
{
    /// A service for the graph file `graph` (its directory holds the agent definitions; its
    /// name is the graph aggregate's id), writing approved deployments into `out`.
    ///
    /// # Errors
    /// [`StartError`] when the graph does not load or the event store cannot be read.
    pub async fn start(
        pipeline: Pipeline<T, K, S, E>,
        graph: &Path,
        out: &Path,
    ) -> Result<Self, StartError> {
        let options = pipeline.options().fleet.clone().for_output(out)?;
        let fleet = Fleet::load(graph, options.clone())?;
        let graph_id = graph
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| "graph".to_owned());
        let definitions_dir = graph.parent().unwrap_or(Path::new(".")).to_owned();
        let mut document = fleet.graph().to_document();
        // A graph this service approved before (under the same aggregate id) is where it
        // continues from.
        let mut stored = pipeline
            .backend()
            .events
            .graphs()
            .load_aggregate(&graph_id)
            .await
            .map_err(|error| StartError::Events(error.to_string()))?;
        let aggregate = stored.aggregate();
        if matches!(aggregate.status(), GraphStatus::Approved { .. })
            && aggregate.graph().node_count() > 0
        {
            document = aggregate.graph().to_document();
        }
        let fleet = Fleet::from_document(&document, &definitions_dir, options)?;
        let version = GraphVersion::of(&fleet).to_string();
        Ok(Self {
            pipeline,
            definitions_dir,
            graph_id,
            out: out.to_owned(),
            state: tokio::sync::Mutex::new(State {
                document,
                version,
                replies: HashMap::new(),
            }),
        })
    }

    /// The current graph's version.
    pub async fn version(&self) -> String {
        self.state.lock().await.version.clone()
    }

    /// The current graph.
    pub async fn document(&self) -> GraphDocument {
        self.state.lock().await.document.clone()
    }

    /// Handles one request body for `command`; returns the JSON reply ([`Reply`]).
    pub async fn handle(&self, command: Command, body: &[u8]) -> Vec<u8> {
        let reply = |reply: &Reply| serde_json::to_vec(reply).unwrap_or_default();
        if body.len() > MAX_REQUEST_BYTES {
            return reply(&refusal(
                None,
                ErrorCode::InvalidField,
                format!(
                    "the request has {} bytes; at most {MAX_REQUEST_BYTES}",
                    body.len()
                ),
                None,
            ));
        }
        let value: serde_json::Value = match serde_json::from_slice(body) {
            Ok(value @ serde_json::Value::Object(_)) => value,
            Ok(_) => {
                return reply(&refusal(
                    None,
                    ErrorCode::MalformedJson,
                    "the request must be a JSON object".to_owned(),
                    None,
                ));
            }
            Err(error) => {
                return reply(&refusal(
                    None,
                    ErrorCode::MalformedJson,
                    format!("the request is not JSON: {error}"),
                    None,
                ));
            }
        };
        let request_id = value
            .get("request_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let digest: [u8; 32] =
            Sha256::digest(serde_json::to_vec(&value).unwrap_or_default()).into();
        let mut state = self.state.lock().await;
        if let Some(id) = &request_id
            && let Some((seen, answer)) = state.replies.get(id)
        {
            if *seen == digest {
                return answer.clone();
            }
            return reply(&refusal(
                request_id.clone(),
                ErrorCode::Conflict,
                format!("request id `{id}` was used before with another request"),
                Some("request_id"),
            ));
        }
        let answer = self.run(command, value, &mut state).await;
        let bytes = reply(&answer);
        let retryable = matches!(
            &answer,
            Reply::Error { error, .. } if error.code == ErrorCode::PipelineFailed
        );
        if let (Some(id), false) = (request_id, retryable) {
            state.replies.insert(id, (digest, bytes.clone()));
        }
        bytes
    }

    async fn run(&self, command: Command, value: serde_json::Value, state: &mut State) -> Reply {
        let request_id = value
            .get("request_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let fail = |error: ErrorBody| Reply::Error {
            request_id: request_id.clone(),
            error,
        };
        let (id, expected, changed) = match command {
            Command::Deploy | Command::Update => match parse::<DeployNodeRequest>(value) {
                Ok(request) => {
                    let changed = if command == Command::Deploy {
                        change::add_node(&state.document, request.node)
                    } else {
                        change::update_node(&state.document, request.node)
                    };
                    (request.request_id, request.expected_version, changed)
                }
                Err(error) => return fail(error),
            },
            Command::Scale => match parse::<ScaleRequest>(value) {
                Ok(request) => {
                    let changed =
                        change::scale(&state.document, &request.service, request.replicas);
                    (request.request_id, request.expected_version, changed)
                }
                Err(error) => return fail(error),
            },
            Command::GpuAgent => match parse::<GpuAgentRequest>(value) {
                Ok(request) => {
                    let changed = change::add_gpu_agent(&state.document, &request);
                    (request.request_id, request.expected_version, changed)
                }
                Err(error) => return fail(error),
            },
        };
        if let Err(problem) = check_request_id(&id) {
            return fail(problem);
        }
        if let Some(expected) = expected
            && expected != state.version
        {
            return fail(ErrorBody {
                code: ErrorCode::Conflict,
                message: format!(
                    "the graph is at version {}, not {expected}: another change landed first",
                    state.version
                ),
                field: Some("expected_version".to_owned()),
            });
        }
        let document = match changed {
            Ok(document) => document,
            Err(error) => return fail(error),
        };
        let options = match self.pipeline.options().fleet.clone().for_output(&self.out) {
            Ok(options) => options,
            Err(error) => {
                return fail(ErrorBody {
                    code: ErrorCode::PipelineFailed,
                    message: error.to_string(),
                    field: None,
                });
            }
        };
        let fleet = match Fleet::from_document(&document, &self.definitions_dir, options) {
            Ok(fleet) => fleet,
            Err(error) => {
                return fail(ErrorBody {
                    code: ErrorCode::InvalidGraph,
                    message: error.to_string(),
                    field: None,
                });
            }
        };
        match self
            .pipeline
            .deploy_fleet(&fleet, &self.graph_id, &self.out, &())
            .await
        {
            Ok(report) => {
                let graph_version = report.version.to_string();
                if report.approved() {
                    state.document = document;
                    state.version.clone_from(&graph_version);
                    Reply::Approved {
                        request_id: id,
                        graph_version,
                        report: Box::new(report),
                    }
                } else {
                    Reply::Rejected {
                        request_id: id,
                        graph_version,
                        report: Box::new(report),
                    }
                }
            }
            Err(error) => fail(ErrorBody {
                code: ErrorCode::PipelineFailed,
                message: error.to_string(),
                field: None,
            }),
        }
    }
}

fn refusal(
    request_id: Option<String>,
    code: ErrorCode,
    message: String,
    field: Option<&str>,
) -> Reply {
    Reply::Error {
        request_id,
        error: ErrorBody {
            code,
            message,
            field: field.map(str::to_owned),
        },
    }
}

/// A request id: 1 to 128 characters, none of them whitespace or control characters.
fn check_request_id(id: &str) -> Result<(), ErrorBody> {
    if id.is_empty()
        || id.chars().count() > 128
        || id.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ErrorBody {
            code: ErrorCode::InvalidField,
            message: "request_id must be 1 to 128 characters without whitespace".to_owned(),
            field: Some("request_id".to_owned()),
        });
    }
    Ok(())
}

/// Decodes a request, turning serde's message into a code and the field it names.
fn parse<R: DeserializeOwned>(value: serde_json::Value) -> Result<R, ErrorBody> {
    serde_json::from_value(value).map_err(|error| {
        let message = error.to_string();
        let named = message
            .split('`')
            .nth(1)
            .filter(|name| !name.is_empty())
            .map(str::to_owned);
        let code = if message.starts_with("missing field") {
            ErrorCode::MissingField
        } else if message.starts_with("unknown field") {
            ErrorCode::UnknownField
        } else {
            ErrorCode::InvalidField
        };
        let field = match code {
            ErrorCode::MissingField | ErrorCode::UnknownField => named,
            _ => None,
        };
        ErrorBody {
            code,
            message,
            field,
        }
    })
}
