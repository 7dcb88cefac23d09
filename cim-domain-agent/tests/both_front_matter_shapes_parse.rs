//! The two front-matter shapes in use (nested under `agent:` and flat) both parse into one
//! normalised `AgentDefinition`, unmodelled fields are kept, and the prompt's sections are
//! addressable.

use std::path::PathBuf;

use cim_domain_agent::definition::{
    AgentId, DefinitionShape, LogLevel, RestartPolicy, Subjects, parse_agent_file,
};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agents")
        .join(name)
}

#[test]
fn nested_shape_fills_every_modelled_field() -> TestResult {
    let agent = parse_agent_file(fixture("sage-nested.md"))?;
    assert_eq!(agent.shape, DefinitionShape::Nested);
    assert_eq!(agent.id.to_string(), "5f0c9a8e-3b1d-4c2a-9e7f-1a2b3c4d5e6f");
    assert_eq!(agent.name.as_str(), "sage");
    assert_eq!(
        agent.display_name,
        "SAGE — Systematic Agent Guidance Engine"
    );
    assert_eq!(agent.version, Some(semver::Version::new(2, 1, 0)));
    assert_eq!(
        agent.capabilities,
        ["orchestration", "domain-modeling", "event-storming"]
    );

    assert_eq!(agent.model.provider.as_deref(), Some("ollama"));
    assert_eq!(agent.model.name.as_deref(), Some("llama3.1:70b"));
    assert_eq!(agent.model.endpoint.as_deref(), Some("http://gpu-1:11434"));
    assert_eq!(agent.model.parameters.temperature, Some(0.7));
    assert_eq!(agent.model.parameters.max_tokens, Some(8192));
    assert_eq!(agent.model.parameters.top_p, Some(0.9));
    assert_eq!(agent.model.parameters.top_k, Some(40));
    assert_eq!(
        agent.model.alternatives,
        [json!({"model": "qwen2.5:32b", "reason": "Smaller GPU"})]
    );

    assert_eq!(agent.nats.url.as_deref(), Some("nats://10.0.0.1:4222"));
    assert_eq!(
        agent.nats.subjects.commands,
        Some(Subjects::One("cim.agents.sage.commands.>".into()))
    );
    let events = agent.nats.subjects.events.as_ref().map(Subjects::all);
    assert_eq!(
        events,
        Some(vec![
            "cim.agents.sage.events.registered",
            "cim.agents.sage.events.task_completed"
        ])
    );

    let deployment = &agent.deployment;
    assert_eq!(deployment.target_node.as_deref(), Some("gpu-1"));
    assert_eq!(
        deployment.resources.memory_max.as_ref().map(|m| m.bytes()),
        Some(8 << 30)
    );
    assert_eq!(
        deployment.resources.cpu_quota.map(|c| c.percent()),
        Some(300)
    );
    assert_eq!(deployment.resources.tasks_max, Some(512));
    assert_eq!(deployment.restart.policy, Some(RestartPolicy::OnFailure));
    assert_eq!(deployment.restart.interval_sec, Some(10));
    assert_eq!(deployment.restart.max_retries, Some(5));
    assert_eq!(deployment.logging.level, Some(LogLevel::Info));
    assert_eq!(deployment.logging.format.as_deref(), Some("json"));

    assert_eq!(agent.dependencies.required, ["nix-expert"]);
    assert_eq!(agent.dependencies.optional, ["ddd-expert"]);
    assert_eq!(
        agent.dependencies.relationships,
        Some(json!([{"agent": "ddd-expert", "kind": "collaborates"}]))
    );
    Ok(())
}

#[test]
fn nested_shape_keeps_unmodelled_fields() -> TestResult {
    let agent = parse_agent_file(fixture("sage-nested.md"))?;
    let keys: Vec<&str> = agent.extra.keys().map(String::as_str).collect();
    assert_eq!(keys, ["conceptual_space", "documentation", "testing"]);
    assert_eq!(
        agent.extra.get("conceptual_space"),
        Some(&json!({
            "boundary": "orchestration",
            "quality_dimensions": [{"dimension": "coherence", "weight": 0.9}]
        }))
    );
    assert_eq!(
        agent.extra.get("testing"),
        Some(&json!({"scenarios": ["plan a three-host fleet"]}))
    );
    Ok(())
}

#[test]
fn flat_shape_normalises_into_the_same_definition() -> TestResult {
    let agent = parse_agent_file(fixture("ddd-expert-flat.md"))?;
    assert_eq!(agent.shape, DefinitionShape::Flat);
    assert_eq!(agent.name.as_str(), "ddd-expert");
    // No id in the file: derived from the name, so it is stable across runs.
    assert_eq!(agent.id, AgentId::from_name(&agent.name));
    assert_eq!(agent.display_name, "DDD Expert");
    assert_eq!(agent.version, Some(semver::Version::new(1, 0, 3)));
    assert_eq!(agent.author.as_deref(), Some("CIM team"));
    assert_eq!(agent.tags, ["ddd", "modeling"]);
    assert_eq!(agent.capabilities, ["aggregate-design", "bounded-contexts"]);
    assert_eq!(
        agent.dependencies.required,
        ["sage", "event-storming-expert"]
    );
    assert!(agent.dependencies.optional.is_empty());
    assert_eq!(agent.model.alias.as_deref(), Some("opus"));
    assert_eq!(agent.model.provider.as_deref(), Some("anthropic"));
    assert_eq!(agent.model.name.as_deref(), Some("claude-opus-4"));
    assert_eq!(agent.model.parameters.temperature, Some(0.2));
    assert_eq!(agent.model.parameters.max_tokens, Some(16000));
    assert_eq!(
        agent.tools,
        Some(vec!["Read".into(), "Write".into(), "Grep".into()])
    );
    // `model: opus` with `model_preferences`: both are kept as written.
    assert_eq!(
        agent.model.preferences.model.as_deref(),
        Some("claude-opus-4")
    );
    assert!(
        agent.extra.is_empty(),
        "unexpected extra: {:?}",
        agent.extra
    );
    Ok(())
}

#[test]
fn system_prompt_sections_are_addressable_with_file_lines() -> TestResult {
    let agent = parse_agent_file(fixture("sage-nested.md"))?;
    let prompt = &agent.system_prompt;
    assert_eq!(
        prompt.preamble(),
        "You are SAGE, the guide of the CIM agent team."
    );
    let knowledge = prompt
        .section("Knowledge Base")
        .ok_or("no Knowledge Base")?;
    assert_eq!(knowledge.content, "- Event storming\n- NATS subject design");
    assert_eq!(knowledge.level, 2);
    let text = std::fs::read_to_string(fixture("sage-nested.md"))?;
    let line = text.lines().nth(knowledge.line - 1);
    assert_eq!(line, Some("## Knowledge Base"));
    let examples = prompt.section("examples").ok_or("no Examples")?;
    assert!(examples.content.starts_with("User: plan a fleet."));
    Ok(())
}

#[test]
fn normalised_json_is_deterministic_and_round_trips() -> TestResult {
    let first = parse_agent_file(fixture("sage-nested.md"))?;
    let second = parse_agent_file(fixture("sage-nested.md"))?;
    let json = serde_json::to_string_pretty(&first)?;
    assert_eq!(json, serde_json::to_string_pretty(&second)?);
    let back: cim_domain_agent::AgentDefinition = serde_json::from_str(&json)?;
    assert_eq!(back, first);
    Ok(())
}
