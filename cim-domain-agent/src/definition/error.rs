//! Errors from reading and validating agent definitions. Every variant names the file, and every
//! problem inside the front matter names a line, a column and a field path.

use std::fmt;
use std::path::PathBuf;

use super::locate::Position;
use super::name::NameError;
use super::units::UnitError;

/// One problem with one field of a definition.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IssueKind {
    /// A required field is absent.
    #[error("required field is missing; add {add}")]
    Missing {
        /// What to add, e.g. ``a `name: my-agent` line``.
        add: &'static str,
    },
    /// The field has the wrong YAML type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the field must be.
        expected: &'static str,
        /// What the file has.
        found: &'static str,
    },
    /// A number outside its allowed range.
    #[error("{value} is out of range; allowed is {min} to {max}")]
    OutOfRange {
        /// The value written.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// Not a semantic version.
    #[error(
        "{value:?} is not a semantic version: {reason}; write three numbers like `version: \"1.2.3\"`, or remove the field (the agent is then unversioned)"
    )]
    Version {
        /// The value written.
        value: String,
        /// Why the parser rejected it.
        reason: String,
    },
    /// Not a UUID.
    #[error("{value:?} is not a UUID (leave it empty to derive one from the name)")]
    Uuid {
        /// The value written.
        value: String,
    },
    /// Not a valid agent name.
    #[error("{value:?}: {reason}{}", suggestion.as_ref().map(|s| format!("; use for example {s:?}")).unwrap_or_default())]
    Name {
        /// The value written.
        value: String,
        /// Which rule it breaks.
        reason: NameError,
        /// A valid name close to it ([`AgentName::suggest`](super::AgentName::suggest)).
        suggestion: Option<String>,
    },
    /// A malformed resource limit.
    #[error(transparent)]
    Unit(#[from] UnitError),
    /// A value not in a fixed set.
    #[error("{value:?} is not one of {allowed}")]
    NotOneOf {
        /// The value written.
        value: String,
        /// The accepted values.
        allowed: &'static str,
    },
    /// Not a NATS server URL ([`nats_url_problem`](super::nats_url_problem)).
    #[error("{value:?} is not a NATS server URL: {problem}")]
    NatsUrl {
        /// The value written.
        value: String,
        /// Why.
        problem: &'static str,
    },
    /// A NATS subject with empty tokens or whitespace.
    #[error("{value:?} is not a valid NATS subject")]
    Subject {
        /// The value written.
        value: String,
    },
    /// An empty string where text is required.
    #[error("must not be empty")]
    Empty,
    /// The front matter is not a mapping of fields.
    #[error(
        "front matter must be a mapping of fields, found {found}; write `key: value` lines, starting with `name: my-agent`"
    )]
    NotAMapping {
        /// What the file has.
        found: &'static str,
    },
}

/// A located problem in a definition's front matter.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// Where the offending key is (or its nearest ancestor).
    pub position: Position,
    /// Dotted field path, e.g. `model.parameters.temperature` (`[i]` for list items).
    pub field: String,
    /// What is wrong.
    pub kind: IssueKind,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Position { line, column } = self.position;
        // An issue of the front matter as a whole has no field to name.
        if self.field.is_empty() {
            write!(f, "{line}:{column}: {}", self.kind)
        } else {
            write!(f, "{line}:{column}: {}: {}", self.field, self.kind)
        }
    }
}

/// Something a definition file gets away with that it should not, reported beside the
/// definition that was read anyway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarningKind {
    /// A top-level plain value contains `: ` (invalid YAML, which Claude Code's loader reads
    /// as text); it was read as text.
    #[error(
        "the value contains `: `, which YAML reads as another key, so it was read as plain text; quote it (`{key}: \"...\"`) or write it as a block (`{key}: |` with the text indented below)"
    )]
    UnquotedColon {
        /// The key whose value it is.
        key: String,
    },
    /// `version` is one to three whole numbers or has a leading `v` (`1.0`, `v2.1.3`); it was
    /// read as the semantic version it stands for.
    #[error(
        "{value:?} is not a full semantic version; read as {read_as}; write `version: \"{read_as}\"`"
    )]
    PartialVersion {
        /// The value written.
        value: String,
        /// The version it was read as.
        read_as: String,
    },
}

/// A located [`WarningKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub file: String,
    /// Where the value starts.
    pub position: Position,
    /// The field.
    pub field: String,
    /// What.
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Position { line, column } = self.position;
        write!(
            f,
            "{}:{line}:{column}: warning: {}: {}",
            self.file, self.field, self.kind
        )
    }
}

/// Why an agent file could not be turned into an [`AgentDefinition`](super::AgentDefinition).
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not start with a `---` line.
    #[error(
        "{file}:1:1: no YAML front matter: the file must start with a `---` line (an agent file is `---`, its YAML fields, `---`, then the prompt)"
    )]
    MissingFrontMatter {
        /// The file.
        file: String,
    },
    /// The opening `---` is never closed.
    #[error(
        "{file}:1:1: front matter opened here is never closed by a `---` line; add a `---` line after the last field"
    )]
    UnterminatedFrontMatter {
        /// The file.
        file: String,
    },
    /// The front matter is not valid YAML.
    #[error(
        "{file}:{line}:{column}: {}invalid YAML: {message}; {hint}",
        field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default()
    )]
    Yaml {
        /// The file.
        file: String,
        /// 1-based line in the file: the repeated key of a duplicate, the opening quote or
        /// bracket of an unclosed one, else where the parser stopped.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The field (dotted path) the position belongs to, when it is inside one.
        field: Option<String>,
        /// What is wrong.
        message: String,
        /// What would be accepted.
        hint: &'static str,
    },
    /// Two files validated together define the same agent name (names become NATS tokens
    /// and container names, so they must be unique in a fleet).
    #[error(
        "{}:{}:{}: {field}: agent name {name:?} is already defined by {}; give each agent its own name (it names the agent's NATS subjects and container)",
        file.display(), position.line, position.column, first.display()
    )]
    DuplicateName {
        /// The later file.
        file: PathBuf,
        /// Where the later file writes the name.
        position: Position,
        /// `name`, or `agent.name` in the nested shape.
        field: String,
        /// The name.
        name: String,
        /// The file that defined it first.
        first: PathBuf,
    },
    /// The front matter parsed but breaks the schema; every problem found is listed.
    #[error("{}", render_issues(file, issues))]
    Invalid {
        /// The file.
        file: String,
        /// Every problem, in file order.
        issues: Vec<Issue>,
    },
}

impl DefinitionError {
    /// Whether the file has no front matter at all (a README or a note rather than an agent
    /// file): `agents validate` lists such files as skipped unless `--strict`.
    pub fn is_missing_front_matter(&self) -> bool {
        matches!(self, Self::MissingFrontMatter { .. })
    }

    /// One line per problem, each starting with `file:line:column:`.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Invalid { file, issues } => {
                issues.iter().map(|i| format!("{file}:{i}")).collect()
            }
            other => vec![other.to_string()],
        }
    }
}

fn render_issues(file: &str, issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| format!("{file}:{i}"))
        .collect::<Vec<_>>()
        .join("\n")
}
