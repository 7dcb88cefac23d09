//! Property: arbitrary input, including near-miss agent files, never panics the parser; it
//! either yields a definition or a typed error.

use cim_domain_agent::AgentDefinition;
use proptest::prelude::*;

/// Fragments that steer random text towards the interesting parts of the grammar.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("---\n".to_owned()),
        Just("agent:\n".to_owned()),
        Just("  name: a\n".to_owned()),
        Just("name: x\n".to_owned()),
        Just("version: 1.0.0\n".to_owned()),
        Just("model:\n  parameters:\n    temperature: ".to_owned()),
        Just("- ".to_owned()),
        Just(": ".to_owned()),
        Just("|\n".to_owned()),
        Just("\"".to_owned()),
        Just("&a [*a, *a]\n".to_owned()),
        Just("{".to_owned()),
        Just("# h\n".to_owned()),
        Just("description: Triggers on: 'x'\n".to_owned()),
        Just("tools: Read, Agent(a, b\n".to_owned()),
        Just("\u{feff}".to_owned()),
        "[ -~\n\t]{0,12}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = AgentDefinition::from_markdown(&text, "fuzz.md");
        let fenced = format!("---\n{text}\n---\n{text}");
        let _ = AgentDefinition::from_markdown(&fenced, "fuzz.md");
    }

    #[test]
    fn structured_noise_never_panics(parts in prop::collection::vec(fragment(), 0..24)) {
        let text = parts.concat();
        if let Err(error) = AgentDefinition::from_markdown(&text, "fuzz.md") {
            // Every error renders to at least one located line.
            prop_assert!(!error.lines().is_empty());
        }
    }
}
