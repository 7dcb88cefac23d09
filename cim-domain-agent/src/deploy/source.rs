//! An agent definition together with the text it was read from: deployments ship the file itself
//! (the runtime reads it again), so both travel together.

use std::path::Path;

use crate::definition::{AgentDefinition, DefinitionError};

/// A validated agent definition and its original Markdown.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSource {
    /// The parsed, validated definition.
    pub definition: AgentDefinition,
    /// The file's text, byte for byte.
    pub text: String,
}

impl AgentSource {
    /// Parses `text`; `source_name` (usually the path) appears in errors only.
    pub fn from_markdown(text: &str, source_name: &str) -> Result<Self, DefinitionError> {
        Ok(Self {
            definition: AgentDefinition::from_markdown(text, source_name)?,
            text: text.to_owned(),
        })
    }

    /// Reads and parses the agent file at `path`.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, DefinitionError> {
        let path = path.as_ref();
        let text = cim_naming::input::read_input(path).map_err(|source| DefinitionError::Io {
            file: path.to_owned(),
            source,
        })?;
        Self::from_markdown(&text, &path.display().to_string())
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        self.definition.name.as_str()
    }
}
