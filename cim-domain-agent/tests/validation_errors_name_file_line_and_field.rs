//! Every validation rule rejects bad input with an error that names the file, the line and
//! column of the offending key, and its field path; all problems of a file are reported at once.

use cim_domain_agent::definition::{AgentDefinition, DefinitionError, IssueKind, NameError};

/// Parses `front_matter` (without fences) and returns its issues as
/// `(line, column, field, kind)`; the front matter starts on line 2.
fn issues(front_matter: &str) -> Vec<(usize, usize, String, IssueKind)> {
    let text = format!("---\n{front_matter}---\nbody\n");
    match AgentDefinition::from_markdown(&text, "agent.md") {
        Err(DefinitionError::Invalid { file, issues }) => {
            assert_eq!(file, "agent.md");
            issues
                .into_iter()
                .map(|i| (i.position.line, i.position.column, i.field, i.kind))
                .collect()
        }
        other => panic!("expected validation issues, got {other:?}"),
    }
}

fn only(front_matter: &str) -> (usize, usize, String, IssueKind) {
    let mut all = issues(front_matter);
    assert_eq!(all.len(), 1, "expected one issue, got {all:?}");
    all.remove(0)
}

const OK: &str = "name: probe\nversion: 1.0.0\n";

#[test]
fn temperature_must_be_between_0_and_2() {
    let (line, column, field, kind) = only(&format!(
        "{OK}model:\n  parameters:\n    temperature: 2.5\n"
    ));
    assert_eq!(
        (line, column, field.as_str()),
        (6, 5, "model.parameters.temperature")
    );
    assert_eq!(
        kind,
        IssueKind::OutOfRange {
            value: 2.5,
            min: 0.0,
            max: 2.0
        }
    );
    let (_, _, field, _) = only(&format!("{OK}model_preferences:\n  temperature: -0.1\n"));
    assert_eq!(field, "model_preferences.temperature");
    assert!(issues_ok(&format!(
        "{OK}model_preferences:\n  temperature: 2\n"
    )));
}

#[test]
fn max_tokens_must_be_between_1_and_a_million() {
    for bad in ["0", "1000001", "-5"] {
        let (line, _, field, kind) =
            only(&format!("{OK}model_preferences:\n  max_tokens: {bad}\n"));
        assert_eq!((line, field.as_str()), (5, "model_preferences.max_tokens"));
        assert!(matches!(
            kind,
            IssueKind::OutOfRange {
                min: 1.0,
                max: 1_000_000.0,
                ..
            }
        ));
    }
    let (_, _, _, kind) = only(&format!("{OK}model_preferences:\n  max_tokens: 1.5\n"));
    assert!(matches!(
        kind,
        IssueKind::WrongType {
            expected: "a whole number",
            ..
        }
    ));
    assert!(issues_ok(&format!(
        "{OK}model_preferences:\n  max_tokens: 1000000\n"
    )));
}

#[test]
fn version_must_be_semantic() {
    let (line, column, field, kind) = only("name: probe\nversion: \"1.x\"\n");
    assert_eq!((line, column, field.as_str()), (3, 1, "version"));
    assert!(matches!(kind, IssueKind::Version { ref value, .. } if value == "1.x"));
    let message = only("name: probe\nversion: one\n").3.to_string();
    assert!(
        message.contains("write three numbers like `version: \"1.2.3\"`, or remove the field"),
        "{message}"
    );
}

#[test]
fn a_short_version_is_read_with_a_warning() -> Result<(), DefinitionError> {
    for (written, read_as) in [("\"1.0\"", "1.0.0"), ("1", "1.0.0"), ("v2.1.3", "2.1.3")] {
        let text = format!("---\nname: probe\nversion: {written}\n---\n");
        let loaded = AgentDefinition::load_markdown(&text, "v.md")?;
        assert_eq!(loaded.definition.version_text(), read_as);
        let lines: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("v.md:3:1: warning: version: ")
                && lines[0].ends_with(&format!(
                    "read as {read_as}; write `version: \"{read_as}\"`"
                )),
            "{}",
            lines[0]
        );
    }
    Ok(())
}

#[test]
fn id_must_be_a_uuid_or_empty() {
    let (line, column, field, kind) =
        only("agent:\n  id: not-a-uuid\n  name: probe\n  version: 1.0.0\n");
    assert_eq!((line, column, field.as_str()), (3, 3, "agent.id"));
    assert_eq!(
        kind,
        IssueKind::Uuid {
            value: "not-a-uuid".into()
        }
    );
    assert!(issues_ok(
        "agent:\n  id: \"\"\n  name: probe\n  version: 1.0.0\n"
    ));
}

#[test]
fn name_must_be_a_nats_token_and_container_name() {
    let (line, column, field, kind) = only("agent:\n  name: my.agent\n  version: 1.0.0\n");
    assert_eq!((line, column, field.as_str()), (3, 3, "agent.name"));
    assert_eq!(
        kind,
        IssueKind::Name {
            value: "my.agent".into(),
            reason: NameError::BadCharacters(vec!['.']),
            suggestion: Some("my-agent".into()),
        }
    );
    let (_, _, _, kind) = only("name: Big Agent\nversion: 1.0.0\n");
    assert!(matches!(
        kind,
        IssueKind::Name {
            reason: NameError::BadCharacters(ref bad),
            ..
        } if *bad == ['B', ' ', 'A']
    ));
    let (_, _, field, kind) = only("version: 1.0.0\n");
    assert_eq!(field, "name");
    assert!(matches!(kind, IssueKind::Missing { .. }), "{kind:?}");
    assert!(
        kind.to_string().contains("like `name: code-reviewer`"),
        "{kind}"
    );
}

#[test]
fn resource_limits_must_look_like_systemd_values() {
    let found = issues(&format!(
        "{OK}deployment:\n  resources:\n    memory_max: 8GB\n    cpu_quota: 300\n    tasks_max: 0\n"
    ));
    let fields: Vec<(usize, &str)> = found.iter().map(|(l, _, f, _)| (*l, f.as_str())).collect();
    assert_eq!(
        fields,
        [
            (6, "deployment.resources.memory_max"),
            (7, "deployment.resources.cpu_quota"),
            (8, "deployment.resources.tasks_max"),
        ]
    );
    assert!(matches!(found[0].3, IssueKind::Unit(_)));
    assert!(matches!(found[1].3, IssueKind::Unit(_)));
}

#[test]
fn restart_policy_log_level_and_nats_settings_are_checked() {
    let found = issues(&format!(
        "{OK}deployment:\n  restart:\n    policy: sometimes\n  logging:\n    level: loud\n\
         nats:\n  url: http://x\n  subjects:\n    commands: \"a..b\"\n"
    ));
    let fields: Vec<&str> = found.iter().map(|(_, _, f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "deployment.restart.policy",
            "deployment.logging.level",
            "nats.url",
            "nats.subjects.commands"
        ]
    );
}

#[test]
fn gpu_count_and_log_format_are_checked_where_they_are_written() {
    let found = issues(&format!(
        "{OK}deployment:\n  resources:\n    gpus: many\n  logging:\n    format: xml\n"
    ));
    let located: Vec<(usize, &str)> = found.iter().map(|(l, _, f, _)| (*l, f.as_str())).collect();
    assert_eq!(
        located,
        [
            (6, "deployment.resources.gpus"),
            (8, "deployment.logging.format")
        ]
    );
    assert_eq!(
        found[1].3,
        IssueKind::NotOneOf {
            value: "xml".to_owned(),
            allowed: "json, text"
        }
    );
    let (_, _, field, kind) = only(&format!("{OK}deployment:\n  resources:\n    gpus: 65\n"));
    assert_eq!(field, "deployment.resources.gpus");
    assert!(matches!(kind, IssueKind::OutOfRange { .. }), "{kind:?}");
    assert!(issues_ok(&format!(
        "{OK}deployment:\n  resources:\n    gpus: 2\n  logging:\n    format: json\n"
    )));
}

#[test]
fn wrong_types_name_what_was_expected() {
    let (line, _, field, kind) = only(&format!("{OK}capabilities:\n  - ok\n  - {{a: 1}}\n"));
    assert_eq!((line, field.as_str()), (4, "capabilities[1]"));
    assert_eq!(
        kind,
        IssueKind::WrongType {
            expected: "a string",
            found: "a mapping"
        }
    );
    let (_, _, field, kind) = only(&format!("{OK}deployment: fast\n"));
    assert_eq!(field, "deployment");
    assert_eq!(
        kind,
        IssueKind::WrongType {
            expected: "a mapping",
            found: "a string"
        }
    );
}

#[test]
fn all_problems_of_a_file_are_reported_at_once_in_file_order() -> Result<(), String> {
    let text = "---\nagent:\n  name: Bad_Name\n  version: one\nmodel:\n  parameters:\n    temperature: 9\n---\n";
    let error = AgentDefinition::from_markdown(text, "agents/bad.md")
        .err()
        .ok_or("bad file accepted")?;
    let lines = error.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("agents/bad.md:3:3: agent.name: "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("agents/bad.md:4:3: agent.version: "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("agents/bad.md:7:5: model.parameters.temperature: 9 is out of range"),
        "{}",
        lines[2]
    );
    Ok(())
}

#[test]
fn yaml_syntax_errors_carry_the_file_line() -> Result<(), String> {
    let text = "---\nname: probe\nversion: 1.0.0\nmodel: [unclosed\n---\n";
    match AgentDefinition::from_markdown(text, "y.md") {
        Err(error @ DefinitionError::Yaml { .. }) => {
            // One position: the `[` that is never closed, in the field it opens.
            assert_eq!(
                error.to_string(),
                "y.md:4:8: model: invalid YAML: `[` opened here is never closed by `]`; \
                 close it, or quote the value if it is text (`key: \"[draft] ...\"`)"
            );
            Ok(())
        }
        other => Err(format!("expected a YAML error, got {other:?}")),
    }
}

#[test]
fn missing_or_unterminated_front_matter_is_an_error() {
    let missing = AgentDefinition::from_markdown("# Just Markdown\n", "m.md");
    assert!(
        matches!(missing, Err(DefinitionError::MissingFrontMatter { ref file }) if file == "m.md")
    );
    let open = AgentDefinition::from_markdown("---\nname: probe\n", "u.md");
    assert!(matches!(
        open,
        Err(DefinitionError::UnterminatedFrontMatter { .. })
    ));
    let scalar = AgentDefinition::from_markdown("---\njust text\n---\n", "s.md");
    assert!(matches!(
        scalar,
        Err(DefinitionError::Invalid { ref issues, .. })
            if issues[0].kind == IssueKind::NotAMapping { found: "a string" }
    ));
    // The whole front matter is at fault, so no (empty) field is named.
    let lines = scalar.err().map(|error| error.lines()).unwrap_or_default();
    assert_eq!(
        lines,
        [
            "s.md:2:1: front matter must be a mapping of fields, found a string; write `key: value` lines, starting with `name: my-agent`"
        ]
    );
}

fn issues_ok(front_matter: &str) -> bool {
    let text = format!("---\n{front_matter}---\n");
    AgentDefinition::from_markdown(&text, "ok.md").is_ok()
}

fn broken(name: &str) -> Vec<String> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wild-broken")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    match AgentDefinition::from_markdown(&text, name) {
        Ok(definition) => vec![format!("accepted: {definition:?}")],
        Err(error) => error.lines(),
    }
}

#[test]
fn an_unclosed_quote_is_reported_once_at_the_opening_quote() {
    assert_eq!(
        broken("unclosed-quote.md"),
        [
            "unclosed-quote.md:3:14: description: invalid YAML: quoted value opened here is never closed; end it with the same quote (`\"` or `'`), or write the value without quotes or as a block (`key: |`)"
        ]
    );
}

#[test]
fn a_duplicate_key_is_reported_at_the_repeated_key() {
    assert_eq!(
        broken("duplicate-key.md"),
        [
            "duplicate-key.md:5:1: description: invalid YAML: key is given twice (first at line 3); keep one of them (a key can appear once per mapping)"
        ]
    );
}

#[test]
fn a_name_error_lists_every_bad_character_and_suggests_a_valid_name() {
    assert_eq!(
        broken("display-name-as-name.md"),
        [
            "display-name-as-name.md:2:1: name: \"Python Security Expert\": name contains 'P', ' ', 'S' and 'E'; only lowercase letters, digits and '-' are allowed (NATS token and container name); use for example \"python-security-expert\""
        ]
    );
}

#[test]
fn a_nested_value_with_an_unquoted_colon_stays_an_error_with_a_hint() {
    assert_eq!(
        broken("nested-colon.md"),
        [
            "nested-colon.md:4:21: deployment.target_node: invalid YAML: mapping values are not allowed in this context; a value containing `: ` must be quoted (`key: \"...\"`) or written as a block (`key: |` with the text indented on the next lines)"
        ]
    );
}
