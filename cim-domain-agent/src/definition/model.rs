//! The normalised agent definition: one shape, whichever front-matter shape the file used.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::name::{AgentId, AgentName};
use super::prompt::SystemPrompt;
use super::units::{CpuQuota, MemoryMax};

/// Which front-matter shape a file used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefinitionShape {
    /// Identity under `agent: {id, name, display_name, version}`.
    Nested,
    /// Identity at the top level (`name`, `version`, ...).
    Flat,
}

/// An agent definition, normalised from either front-matter shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentDefinition {
    /// Stable id: the file's `id`, or a UUID v5 of the name when the file leaves it empty.
    pub id: AgentId,
    /// Validated name (NATS token, container name).
    pub name: AgentName,
    /// Human-facing name; the name when the file has none.
    pub display_name: String,
    /// Semantic version of the definition; `None` when the file has no `version` (an
    /// unversioned definition, as most Claude Code subagent files are). Shown as
    /// [`UNVERSIONED`] where a text is needed.
    #[serde(default)]
    pub version: Option<semver::Version>,
    /// What the agent does.
    pub description: String,
    /// Author, when given (flat shape).
    pub author: Option<String>,
    /// Free-form tags (flat shape).
    pub tags: Vec<String>,
    /// Capability names, in file order.
    pub capabilities: Vec<String>,
    /// The model the agent runs on.
    pub model: ModelConfig,
    /// How the agent reaches NATS.
    pub nats: NatsConfig,
    /// Where and with which limits the agent runs.
    pub deployment: DeploymentConfig,
    /// Other agents this one needs or can use.
    pub dependencies: Dependencies,
    /// Tool names the agent may use, as written (`Agent(scout, fixer)` is one entry). `None`
    /// when the file has no `tools` key, which in the Claude Code format means every tool is
    /// allowed; `Some(vec![])` when it lists none (`tools: []`), which allows none.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// The Markdown body.
    pub system_prompt: SystemPrompt,
    /// Every front-matter field this crate does not model, keyed by dotted path (for example
    /// `conceptual_space`, `testing`, `model.cost`), as JSON.
    pub extra: BTreeMap<String, serde_json::Value>,
    /// The shape the file used.
    pub shape: DefinitionShape,
}

/// How an unversioned definition is shown where a text is needed (`agents validate`, `agents
/// show`); machine-readable outputs leave the version out instead.
pub const UNVERSIONED: &str = "unversioned";

impl AgentDefinition {
    /// The version as text, or [`UNVERSIONED`].
    pub fn version_text(&self) -> String {
        self.version
            .as_ref()
            .map_or_else(|| UNVERSIONED.to_owned(), ToString::to_string)
    }

    /// Whether the agent may use `tool`: every tool when the file has no `tools` key, else only
    /// the listed ones (compared as written).
    pub fn allows_tool(&self, tool: &str) -> bool {
        self.tools
            .as_ref()
            .is_none_or(|tools| tools.iter().any(|t| t == tool))
    }
}

/// The model configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Provider such as `ollama` or `anthropic`.
    pub provider: Option<String>,
    /// Model name as the provider knows it (`llama3.1:70b`).
    pub name: Option<String>,
    /// Short alias from the flat shape's `model: opus`.
    pub alias: Option<String>,
    /// Provider endpoint (`model.ollama.url`).
    pub endpoint: Option<String>,
    /// Sampling parameters.
    pub parameters: ModelParameters,
    /// Why this model was chosen.
    pub rationale: Option<String>,
    /// Alternative models as written.
    pub alternatives: Vec<serde_json::Value>,
    /// The flat shape's `model_preferences` `provider` and `model`, as written. They also fill
    /// `provider` and `name` when `model` leaves those unset, so this keeps what the file said
    /// apart from the normalised result (`agents show` prints both).
    #[serde(default)]
    pub preferences: ModelPreferences,
}

/// `model_preferences.provider` and `model_preferences.model` as the file wrote them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPreferences {
    /// `model_preferences.provider`.
    pub provider: Option<String>,
    /// `model_preferences.model`.
    pub model: Option<String>,
}

/// Sampling parameters; each is range-checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelParameters {
    /// 0 to 2.
    pub temperature: Option<f64>,
    /// 1 to 1,000,000.
    pub max_tokens: Option<u32>,
    /// 0 to 1.
    pub top_p: Option<f64>,
    /// 1 or more.
    pub top_k: Option<u32>,
}

/// NATS connection and subjects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NatsConfig {
    /// Server URL (`nats://...`).
    pub url: Option<String>,
    /// Subjects by purpose.
    pub subjects: NatsSubjects,
}

/// Subjects by purpose; each may be absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NatsSubjects {
    /// Command subjects.
    pub commands: Option<Subjects>,
    /// Event subjects.
    pub events: Option<Subjects>,
    /// Query subjects.
    pub queries: Option<Subjects>,
}

/// One subject, a list, or subjects by name, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Subjects {
    /// A single subject.
    One(String),
    /// Several subjects.
    Many(Vec<String>),
    /// Subjects by name (`events: {created: ..., updated: ...}`).
    Named(BTreeMap<String, String>),
}

impl Subjects {
    /// Every subject, in a stable order.
    pub fn all(&self) -> Vec<&str> {
        match self {
            Self::One(subject) => vec![subject.as_str()],
            Self::Many(subjects) => subjects.iter().map(String::as_str).collect(),
            Self::Named(subjects) => subjects.values().map(String::as_str).collect(),
        }
    }
}

/// Placement and limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentConfig {
    /// Host the agent runs on.
    pub target_node: Option<String>,
    /// Resource limits.
    pub resources: Resources,
    /// Restart behaviour.
    pub restart: RestartConfig,
    /// Logging.
    pub logging: LoggingConfig,
}

/// Resource limits (systemd semantics).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// `MemoryMax=` such as `8G`.
    pub memory_max: Option<MemoryMax>,
    /// `CPUQuota=` such as `300%`.
    pub cpu_quota: Option<CpuQuota>,
    /// `TasksMax=`, 1 or more.
    pub tasks_max: Option<u32>,
    /// Whole GPUs the agent needs on its host (`deployment.resources.gpus`), 0 to 64.
    pub gpus: Option<u32>,
}

/// Restart behaviour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestartConfig {
    /// systemd `Restart=` policy.
    pub policy: Option<RestartPolicy>,
    /// Seconds between restarts (`RestartSec=`).
    pub interval_sec: Option<u32>,
    /// Restarts allowed before giving up.
    pub max_retries: Option<u32>,
}

/// systemd `Restart=` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// `no`
    No,
    /// `always`
    Always,
    /// `on-success`
    OnSuccess,
    /// `on-failure`
    OnFailure,
    /// `on-abnormal`
    OnAbnormal,
    /// `on-abort`
    OnAbort,
    /// `on-watchdog`
    OnWatchdog,
}

impl RestartPolicy {
    /// Accepted spellings, for error messages.
    pub const ALLOWED: &'static str =
        "no, always, on-success, on-failure, on-abnormal, on-abort, on-watchdog";

    /// Parses the systemd spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "no" => Self::No,
            "always" => Self::Always,
            "on-success" => Self::OnSuccess,
            "on-failure" => Self::OnFailure,
            "on-abnormal" => Self::OnAbnormal,
            "on-abort" => Self::OnAbort,
            "on-watchdog" => Self::OnWatchdog,
            _ => return None,
        })
    }

    /// The systemd spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::Always => "always",
            Self::OnSuccess => "on-success",
            Self::OnFailure => "on-failure",
            Self::OnAbnormal => "on-abnormal",
            Self::OnAbort => "on-abort",
            Self::OnWatchdog => "on-watchdog",
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoggingConfig {
    /// Minimum level.
    pub level: Option<LogLevel>,
    /// Output format: `json` or `text` (what the runtime and the `services.cim-agent` module
    /// accept).
    pub format: Option<String>,
}

/// Log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `trace`
    Trace,
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

impl LogLevel {
    /// Accepted spellings, for error messages.
    pub const ALLOWED: &'static str = "trace, debug, info, warn, error";

    /// Parses a level, ignoring ASCII case; `warning` is read as `warn`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "trace" => Self::Trace,
            "debug" => Self::Debug,
            "info" => Self::Info,
            "warn" | "warning" => Self::Warn,
            "error" => Self::Error,
            _ => return None,
        })
    }

    /// The lowercase spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Dependencies on other agents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dependencies {
    /// Agents this one cannot work without (the flat shape's list lands here).
    pub required: Vec<String>,
    /// Agents this one can use when present.
    pub optional: Vec<String>,
    /// Relationship descriptions as written.
    pub relationships: Option<serde_json::Value>,
}
