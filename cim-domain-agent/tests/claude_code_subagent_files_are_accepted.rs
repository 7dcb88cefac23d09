//! Claude Code subagent files as people write them (`name`, `description`, `tools`, `model`
//! and little else) are accepted: each fault of issue 10 has a fixture written for it under
//! `tests/fixtures/wild/`, and the tools property holds for every way of writing a list.

use std::path::PathBuf;

use cim_domain_agent::definition::{
    AgentDefinition, Loaded, WarningKind, load_agent_file, parse_agent_file, validate_paths,
};
use proptest::prelude::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wild")
        .join(name)
}

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|item| (*item).to_owned()).collect())
}

#[test]
fn a_file_without_version_is_an_unversioned_definition() -> TestResult {
    let agent = parse_agent_file(fixture("code-reviewer.md"))?;
    assert_eq!(agent.name.as_str(), "code-reviewer");
    assert_eq!(agent.version, None);
    assert_eq!(agent.version_text(), "unversioned");
    assert_eq!(agent.model.alias.as_deref(), Some("sonnet"));
    assert_eq!(agent.tools, strings(&["Read", "Grep", "Glob"]));
    // The normalised JSON says so too, and reads back.
    let json = serde_json::to_value(&agent)?;
    assert_eq!(json["version"], serde_json::Value::Null);
    let back: AgentDefinition = serde_json::from_value(json)?;
    assert_eq!(back, agent);
    Ok(())
}

#[test]
fn commas_inside_a_tools_parentheses_belong_to_the_entry() -> TestResult {
    let agent = parse_agent_file(fixture("team-lead.md"))?;
    assert_eq!(
        agent.tools,
        strings(&["Read", "Agent(scout, fixer)", "Bash(git diff:*, git log:*)"])
    );
    assert!(agent.allows_tool("Agent(scout, fixer)"));
    assert!(!agent.allows_tool("Write"));
    Ok(())
}

#[test]
fn no_tools_key_allows_every_tool_and_an_empty_list_allows_none() -> TestResult {
    let all = parse_agent_file(fixture("all-tools.md"))?;
    assert_eq!(all.tools, None);
    assert!(all.allows_tool("Write"));
    let none = parse_agent_file(fixture("no-tools.md"))?;
    assert_eq!(none.tools, Some(Vec::new()));
    assert!(!none.allows_tool("Read"));
    // The difference survives the normalised JSON (`null` against `[]`).
    assert_eq!(
        serde_json::to_value(&all)?["tools"],
        serde_json::json!(null)
    );
    assert_eq!(serde_json::to_value(&none)?["tools"], serde_json::json!([]));
    Ok(())
}

#[test]
fn an_unquoted_colon_in_a_top_level_value_is_read_as_text_with_a_warning() -> TestResult {
    let Loaded {
        definition,
        warnings,
    } = load_agent_file(fixture("privacy-checker.md"))?;
    assert_eq!(
        definition.description,
        "Checks privacy rules. Triggers on: 'GDPR', 'consent'."
    );
    assert_eq!(definition.tools, strings(&["Read", "Grep"]));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = &warnings[0];
    assert_eq!((warning.position.line, warning.position.column), (3, 14));
    assert_eq!(warning.field, "description");
    assert_eq!(
        warning.kind,
        WarningKind::UnquotedColon {
            key: "description".into()
        }
    );
    let line = warning.to_string();
    assert!(line.ends_with("privacy-checker.md:3:14: warning: description: the value contains `: `, which YAML reads as another key, so it was read as plain text; quote it (`description: \"...\"`) or write it as a block (`description: |` with the text indented below)"), "{line}");
    Ok(())
}

#[test]
fn other_yaml_errors_stay_errors() {
    // A nested value with `: ` is not what Claude Code writes; it stays an error, located.
    let text = "---\nname: nested\ndeployment:\n  target_node: gpu-1: the big one\n---\n";
    let error = AgentDefinition::from_markdown(text, "n.md").err();
    let line = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        line.starts_with("n.md:4:21: deployment.target_node: invalid YAML: mapping values are not allowed in this context; a value containing `: ` must be quoted"),
        "{line}"
    );
}

#[test]
fn an_alias_and_a_preference_are_both_kept_as_written() -> TestResult {
    let agent = parse_agent_file(fixture("architect.md"))?;
    assert_eq!(agent.model.alias.as_deref(), Some("opus"));
    assert_eq!(agent.model.preferences.model.as_deref(), Some("sonnet"));
    assert_eq!(agent.model.preferences.provider, None);
    Ok(())
}

#[test]
fn a_directory_with_notes_validates_and_lists_the_notes_as_skipped() {
    let reports = validate_paths(&[fixture("")]);
    let outcome: Vec<(String, bool, bool)> = reports
        .iter()
        .map(|r| {
            let name = r
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, r.result.is_ok(), r.is_skipped())
        })
        .collect();
    let row = |name: &str, ok, skipped| (name.to_owned(), ok, skipped);
    assert_eq!(
        outcome,
        [
            row("README.md", false, true),
            row("all-tools.md", true, false),
            row("architect.md", true, false),
            row("code-reviewer.md", true, false),
            row("design-notes.md", false, true),
            row("inherits-model.md", true, false),
            row("no-tools.md", true, false),
            row("privacy-checker.md", true, false),
            row("team-lead.md", true, false),
        ]
    );
    // The colon warning travels with the file's report.
    let warned: Vec<usize> = reports.iter().map(|r| r.warnings.len()).collect();
    assert_eq!(warned, [0, 0, 0, 0, 0, 0, 0, 1, 0]);
}

#[test]
fn broken_front_matter_is_not_skipped() {
    let broken = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wild-broken/broken-front-matter.md");
    let reports = validate_paths(&[broken]);
    assert_eq!(reports.len(), 1);
    assert!(reports[0].result.is_err() && !reports[0].is_skipped());
}

#[test]
fn inherit_folded_description_crlf_and_bom_keep_parsing() -> TestResult {
    let text = std::fs::read_to_string(fixture("inherits-model.md"))?;
    let plain = AgentDefinition::from_markdown(&text, "inherits-model.md")?;
    assert_eq!(plain.model.alias.as_deref(), Some("inherit"));
    assert_eq!(
        plain.description,
        "Runs on whatever model the main conversation uses.\n"
    );
    assert_eq!(plain.tools, strings(&["Read", "Grep"]));
    let windows = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    let crlf = AgentDefinition::from_markdown(&windows, "inherits-model.md")?;
    assert_eq!(crlf.model, plain.model);
    assert_eq!(crlf.description, plain.description);
    assert_eq!(crlf.tools, plain.tools);
    assert_eq!(crlf.system_prompt.sections.len(), 1);
    // The colon repair keeps CRLF files intact too.
    let colon = std::fs::read_to_string(fixture("privacy-checker.md"))?;
    let colon = format!("\u{feff}{}", colon.replace('\n', "\r\n"));
    let loaded = AgentDefinition::load_markdown(&colon, "p.md")?;
    assert_eq!(
        loaded.definition.description,
        "Checks privacy rules. Triggers on: 'GDPR', 'consent'."
    );
    assert_eq!(loaded.warnings.len(), 1);
    Ok(())
}

/// A tool entry as Claude Code writes them: a plain name, or a name with arguments that may
/// hold commas, spaces and `:*` (`Agent(scout, fixer)`, `Bash(git diff:*)`). (`: ` inside a
/// list item is YAML's mapping syntax, so such an entry must be quoted in a list.)
fn tool() -> impl Strategy<Value = String> {
    let name = "[A-Z][A-Za-z]{0,8}";
    let argument = "[a-z]([a-z ]{0,5}[a-z])?(:\\*)?";
    prop_oneof![
        name.prop_map(|n| n.to_owned()),
        (name, prop::collection::vec(argument, 1..4))
            .prop_map(|(n, args)| format!("{n}({})", args.join(", "))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tools_parse_equal_as_comma_string_flow_list_and_block_list(
        tools in prop::collection::vec(tool(), 1..6)
    ) {
        let head = "---\nname: probe\ndescription: d\n";
        let comma = format!("{head}tools: {}\n---\n", tools.join(", "));
        let flow = format!("{head}tools: [{}]\n---\n", tools.join(", "));
        let block: String = tools.iter().map(|t| format!("  - {t}\n")).collect();
        let block = format!("{head}tools:\n{block}---\n");
        let parse = |text: &str| AgentDefinition::from_markdown(text, "p.md").map(|d| d.tools);
        let expected = Some(tools.clone());
        prop_assert_eq!(parse(&comma).ok(), Some(expected.clone()), "comma: {}", comma);
        prop_assert_eq!(parse(&flow).ok(), Some(expected.clone()), "flow: {}", flow);
        prop_assert_eq!(parse(&block).ok(), Some(expected), "block: {}", block);
    }

    #[test]
    fn a_one_line_description_reads_as_written_colons_included(
        text in "[A-Za-z][A-Za-z ,.:'()]{0,40}[A-Za-z.]"
    ) {
        let file = format!("---\nname: probe\ndescription: {text}\ntools: Read\n---\n");
        let loaded = AgentDefinition::load_markdown(&file, "d.md");
        let loaded = loaded.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&loaded.definition.description, text.trim_end());
        prop_assert_eq!(loaded.definition.tools, Some(vec!["Read".to_owned()]));
        let repaired = text.contains(": ");
        prop_assert_eq!(loaded.warnings.len(), usize::from(repaired));
    }
}
