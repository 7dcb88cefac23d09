//! Agents of a CIM Leaf fleet: their definitions, their event-sourced lifecycle, what a running
//! agent announces on NATS, and (in [`deploy`]) how they are deployed.
//!
//! - [`definition`]: an agent is a Markdown file whose YAML front matter holds its identity,
//!   model, NATS subjects and deployment limits, and whose body is its system prompt. Two
//!   front-matter shapes are in use (identity nested under `agent:`, or flat at the top level);
//!   both parse into one normalised [`AgentDefinition`]. Every problem is reported with file,
//!   line, column and field path, all of a file's problems at once.
//! - [`aggregate`]: the cqrs-es `Agent` aggregate — lifecycle, presence, a one-at-a-time task
//!   queue and approval requests that time out. Time is an input of commands, never read inside.
//! - [`announce`]: the subjects and payloads of the runtime's registration and heartbeats.
//! - `deploy` (cargo feature `deploy`, on by default): NixOS containers, the deployment graph's
//!   agent translator and Kubernetes manifests. Without it the crate depends on neither
//!   `k8s-openapi` nor the Nix and graph crates.
//!
//! ```
//! use cim_domain_agent::aggregate::{Agent, AgentCommand, AgentEvent, Lifecycle};
//! use cim_domain_agent::{AgentDefinition, DefinitionError, DefinitionShape};
//! use cqrs_es::Aggregate;
//!
//! let text = "---\nname: sage\nversion: 1.2.0\nmodel: opus\n\
//!             model_preferences: {temperature: 0.3}\n---\n# Role\nGuide the team.\n";
//! let agent = AgentDefinition::from_markdown(text, "sage.md")?;
//! assert_eq!(agent.name.as_str(), "sage");
//! assert_eq!(agent.shape, DefinitionShape::Flat);
//! assert_eq!(agent.model.parameters.temperature, Some(0.3));
//! let role = agent.system_prompt.section("Role").map(|s| s.content.as_str());
//! assert_eq!(role, Some("Guide the team."));
//!
//! // Problems name the file, line, column and field.
//! let broken = "---\nname: sage\nversion: one\n---\n";
//! match AgentDefinition::from_markdown(broken, "sage.md") {
//!     Err(error @ DefinitionError::Invalid { .. }) => {
//!         assert!(error.to_string().starts_with("sage.md:3:1: version:"));
//!     }
//!     other => panic!("expected a validation error, got {other:?}"),
//! }
//!
//! // The aggregate decides events from commands; applying them moves the lifecycle.
//! let mut state = Agent::default();
//! for event in state.decide(AgentCommand::register(&agent)).unwrap_or_default() {
//!     state.apply(event);
//! }
//! assert_eq!(state.lifecycle(), Some(Lifecycle::Registered));
//! let deploy = state.decide(AgentCommand::Deploy { node: "gpu-1".into() });
//! assert_eq!(deploy, Ok(vec![AgentEvent::Deployed { node: "gpu-1".into() }]));
//! # Ok::<(), DefinitionError>(())
//! ```

pub mod aggregate;
pub mod announce;
pub mod definition;
#[cfg(feature = "deploy")]
pub mod deploy;

pub use definition::{
    AgentDefinition, AgentId, AgentName, DefinitionError, DefinitionShape, Loaded, load_agent_file,
    parse_agent_file, validate_paths,
};
