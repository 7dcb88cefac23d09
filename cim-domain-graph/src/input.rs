//! Limits on graph documents before they are parsed: YAML nesting depth. Files themselves are
//! read by the one bounded reader, [`cim_naming::input::read_input`].

/// Deepest YAML nesting accepted (block indentation levels plus open `[`/`{`): deep enough for
/// any graph, shallow enough that the parser's cost stays linear in practice.
pub const MAX_YAML_DEPTH: usize = 64;

/// The 1-based line where `text` first nests deeper than [`MAX_YAML_DEPTH`], or `None`.
///
/// A conservative scan that runs before the parser: each line opens a block level when it is
/// indented deeper than the enclosing one (a `- ` item opens one more), and `[`/`{` outside
/// quotes and comments open flow levels until closed.
pub fn yaml_too_deep_at(text: &str) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    for (index, line) in text.lines().enumerate() {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if flow == 0 {
            let indent = line.len() - content.len();
            while indents.last().is_some_and(|&top| top >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        let items = content
            .split_inclusive("- ")
            .take_while(|part| *part == "- ")
            .count();
        let (mut quote, mut deepest) = (None, flow);
        for c in content.chars() {
            match (quote, c) {
                (None, '#') => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), _) if q == c => quote = None,
                (None, '[' | '{') => {
                    flow += 1;
                    deepest = deepest.max(flow);
                }
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
        }
        if indents.len() + items + deepest > MAX_YAML_DEPTH {
            return Some(index + 1);
        }
    }
    None
}
