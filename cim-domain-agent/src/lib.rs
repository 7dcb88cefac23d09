//! Agents of a CIM Leaf fleet: their definitions, their event-sourced lifecycle, and (in
//! [`deploy`]) how they are deployed.
//!
//! An agent is described by a Markdown file whose YAML front matter holds its identity, model,
//! NATS subjects and deployment limits, and whose body is its system prompt. Two front-matter
//! shapes are in use (identity nested under `agent:`, or flat at the top level); both parse into
//! one normalised [`AgentDefinition`]. Every problem is reported with file, line, column and
//! field path.
//!
//! ```
//! use cim_domain_agent::{AgentDefinition, DefinitionShape};
//!
//! let text = "---\nname: sage\nversion: 1.2.0\nmodel: opus\n\
//!             model_preferences: {temperature: 0.3}\n---\n# Role\nGuide the team.\n";
//! let agent = AgentDefinition::from_markdown(text, "sage.md")?;
//! assert_eq!(agent.name.as_str(), "sage");
//! assert_eq!(agent.shape, DefinitionShape::Flat);
//! assert_eq!(agent.model.parameters.temperature, Some(0.3));
//! assert_eq!(agent.system_prompt.section("Role").map(|s| s.content.as_str()), Some("Guide the team."));
//!
//! let broken = "---\nname: sage\nversion: one\n---\n";
//! let error = AgentDefinition::from_markdown(broken, "sage.md").unwrap_err();
//! assert!(error.to_string().starts_with("sage.md:3:1: version:"));
//! # Ok::<(), cim_domain_agent::DefinitionError>(())
//! ```

pub mod aggregate;
pub mod announce;
pub mod definition;
pub mod deploy;

pub use definition::{
    AgentDefinition, AgentId, AgentName, DefinitionError, DefinitionShape, parse_agent_file,
    validate_paths,
};
