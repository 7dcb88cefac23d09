//! Agent definitions: Markdown files with YAML front matter, in either of the two shapes in use,
//! read into one normalised [`AgentDefinition`].

mod directory;
mod error;
mod front_matter;
mod locate;
mod model;
mod name;
mod prompt;
mod reader;
mod units;

use std::path::Path;

pub use directory::{FileReport, validate_paths};
pub use error::{DefinitionError, Issue, IssueKind};
pub use locate::Position;
pub use model::{
    AgentDefinition, DefinitionShape, Dependencies, DeploymentConfig, LogLevel, LoggingConfig,
    ModelConfig, ModelParameters, NatsConfig, NatsSubjects, Resources, RestartConfig,
    RestartPolicy, Subjects,
};
pub use name::{AgentId, AgentName, MAX_NAME_LEN, NameError};
pub use prompt::{PromptSection, SystemPrompt};
pub use units::{CpuQuota, MemoryMax, UnitError};

use front_matter::SplitError;
use locate::Locator;

impl AgentDefinition {
    /// Parses and validates an agent file's text. `source_name` (usually the path) is used in
    /// errors only.
    pub fn from_markdown(text: &str, source_name: &str) -> Result<Self, DefinitionError> {
        let file = || source_name.to_owned();
        let split = front_matter::split(text).map_err(|error| match error {
            SplitError::Missing => DefinitionError::MissingFrontMatter { file: file() },
            SplitError::Unterminated => DefinitionError::UnterminatedFrontMatter { file: file() },
        })?;
        let root = if split.yaml.trim().is_empty() {
            serde_yaml_ng::Value::Null
        } else {
            serde_yaml_ng::from_str(split.yaml).map_err(|error| {
                let location = error.location();
                let message = error.to_string();
                let message = match message.rsplit_once(" at line ") {
                    Some((head, _)) if location.is_some() => head.to_owned(),
                    _ => message,
                };
                DefinitionError::Yaml {
                    file: file(),
                    line: split.yaml_first_line
                        + location.as_ref().map_or(0, |l| l.line().saturating_sub(1)),
                    column: location.map_or(1, |l| l.column()),
                    message,
                }
            })?
        };
        let locator = Locator::new(split.yaml, split.yaml_first_line);
        let prompt = SystemPrompt::parse(split.body, split.body_first_line);
        reader::read(root, &locator, prompt).map_err(|issues| DefinitionError::Invalid {
            file: file(),
            issues,
        })
    }
}

/// Reads, parses and validates one agent file.
pub fn parse_agent_file(path: impl AsRef<Path>) -> Result<AgentDefinition, DefinitionError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| DefinitionError::Io {
        file: path.to_owned(),
        source,
    })?;
    AgentDefinition::from_markdown(&text, &path.display().to_string())
}
