//! Agent definitions: Markdown files with YAML front matter, in either of the two shapes in use,
//! read into one normalised [`AgentDefinition`].

mod diagnose;
mod directory;
mod error;
mod front_matter;
mod lenient;
mod locate;
mod model;
mod name;
mod nats_url;
mod prompt;
mod reader;
mod tools;
mod units;

use std::path::Path;

pub use directory::{FileReport, validate_paths};
pub use error::{DefinitionError, Issue, IssueKind, Warning, WarningKind};
pub use locate::Position;
pub use model::{
    AgentDefinition, DefinitionShape, Dependencies, DeploymentConfig, LogLevel, LoggingConfig,
    ModelConfig, ModelParameters, ModelPreferences, NatsConfig, NatsSubjects, Resources,
    RestartConfig, RestartPolicy, Subjects, UNVERSIONED,
};
pub use name::{AgentId, AgentName, MAX_NAME_LEN, NameError};
pub use nats_url::nats_url_problem;
pub use prompt::{PromptSection, SystemPrompt};
pub use tools::{rejoin_tools, split_tools};
pub use units::{CpuQuota, MemoryMax, UnitError};

use front_matter::SplitError;
use locate::Locator;

/// A definition read from a file, with what the file got away with.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The definition.
    pub definition: AgentDefinition,
    /// Warnings, in file order (empty for a clean file).
    pub warnings: Vec<Warning>,
}

impl AgentDefinition {
    /// Parses and validates an agent file's text. `source_name` (usually the path) is used in
    /// errors only. Warnings are dropped; [`AgentDefinition::load_markdown`] keeps them.
    pub fn from_markdown(text: &str, source_name: &str) -> Result<Self, DefinitionError> {
        Self::load_markdown(text, source_name).map(|loaded| loaded.definition)
    }

    /// Parses and validates an agent file's text, keeping the warnings: a top-level plain value
    /// containing `: ` (invalid YAML that Claude Code reads) is read as text with a
    /// [`WarningKind::UnquotedColon`]; every other YAML error stays an error.
    pub fn load_markdown(text: &str, source_name: &str) -> Result<Loaded, DefinitionError> {
        let file = || source_name.to_owned();
        let split = front_matter::split(text).map_err(|error| match error {
            SplitError::Missing => DefinitionError::MissingFrontMatter { file: file() },
            SplitError::Unterminated => DefinitionError::UnterminatedFrontMatter { file: file() },
        })?;
        let first_line = split.yaml_first_line;
        let mut yaml = std::borrow::Cow::Borrowed(split.yaml);
        let mut warnings = Vec::new();
        let root = if yaml.trim().is_empty() {
            serde_yaml_ng::Value::Null
        } else {
            match serde_yaml_ng::from_str(&yaml) {
                Ok(root) => root,
                Err(error) => {
                    let repaired = lenient::quote_colon_values(&yaml).and_then(|(fixed, what)| {
                        let root = serde_yaml_ng::from_str(&fixed).ok()?;
                        Some((fixed, what, root))
                    });
                    let Some((fixed, what, root)) = repaired else {
                        let locator = Locator::new(&yaml, first_line);
                        let problem = diagnose::diagnose(&error, &locator, first_line);
                        return Err(DefinitionError::Yaml {
                            file: file(),
                            line: problem.position.line,
                            column: problem.position.column,
                            field: problem.field,
                            message: problem.message,
                            hint: problem.hint,
                        });
                    };
                    warnings = what
                        .into_iter()
                        .map(|repaired| Warning {
                            file: file(),
                            position: Position {
                                line: first_line + repaired.line,
                                column: repaired.column + 1,
                            },
                            field: repaired.key.clone(),
                            kind: WarningKind::UnquotedColon { key: repaired.key },
                        })
                        .collect();
                    yaml = std::borrow::Cow::Owned(fixed);
                    root
                }
            }
        };
        let locator = Locator::new(&yaml, first_line);
        let prompt = SystemPrompt::parse(split.body, split.body_first_line);
        let (definition, read_warnings) =
            reader::read(root, &locator, prompt).map_err(|issues| DefinitionError::Invalid {
                file: file(),
                issues,
            })?;
        warnings.extend(
            read_warnings
                .into_iter()
                .map(|(field, position, kind)| Warning {
                    file: file(),
                    position,
                    field,
                    kind,
                }),
        );
        warnings.sort_by_key(|warning| warning.position);
        Ok(Loaded {
            definition,
            warnings,
        })
    }
}

/// Reads, parses and validates one agent file.
pub fn parse_agent_file(path: impl AsRef<Path>) -> Result<AgentDefinition, DefinitionError> {
    load_agent_file(path).map(|loaded| loaded.definition)
}

/// Reads, parses and validates one agent file, keeping its warnings.
pub fn load_agent_file(path: impl AsRef<Path>) -> Result<Loaded, DefinitionError> {
    let path = path.as_ref();
    let text = cim_naming::input::read_input(path).map_err(|source| DefinitionError::Io {
        file: path.to_owned(),
        source,
    })?;
    AgentDefinition::load_markdown(&text, &path.display().to_string())
}
