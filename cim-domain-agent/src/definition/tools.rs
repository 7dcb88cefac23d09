//! The `tools` field as Claude Code writes it: a comma-separated string (`Read, Grep`), a flow
//! list or a block list. An entry may carry arguments in parentheses whose commas belong to the
//! entry: `Agent(scout, fixer)` restricts which subagents may be started, and
//! `Bash(git diff:*)` which commands may run.

/// Splits a comma-separated tool string at the commas outside parentheses; entries are
/// trimmed and empty ones dropped. `"Read, Agent(scout, fixer)"` gives `["Read",
/// "Agent(scout, fixer)"]`. An unclosed `(` keeps the rest of the text in its entry.
pub fn split_tools(text: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                entries.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    entries.push(&text[start..]);
    entries
        .into_iter()
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Joins list items that YAML split inside an entry's parentheses: the flow list
/// `[Read, Agent(scout, fixer)]` reads as `Read`, `Agent(scout`, `fixer)`, which this turns
/// back into `Read`, `Agent(scout, fixer)` (the pieces are joined with `", "`). Items whose
/// parentheses balance are kept as they are.
pub fn rejoin_tools(items: Vec<String>) -> Vec<String> {
    let mut entries: Vec<String> = Vec::with_capacity(items.len());
    let mut open = 0usize;
    for item in items {
        let item = item.trim().to_owned();
        let opened = item.matches('(').count();
        let closed = item.matches(')').count();
        match entries.last_mut() {
            Some(last) if open > 0 => {
                last.push_str(", ");
                last.push_str(&item);
            }
            _ if item.is_empty() => continue,
            _ => entries.push(item),
        }
        open = (open + opened).saturating_sub(closed);
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_inside_parentheses_belong_to_the_entry() {
        assert_eq!(
            split_tools("Read, Agent(scout, fixer)"),
            ["Read", "Agent(scout, fixer)"]
        );
        assert_eq!(
            split_tools(" Bash(git diff:*, git log:*) ,Grep,, "),
            ["Bash(git diff:*, git log:*)", "Grep"]
        );
        assert_eq!(
            split_tools("Agent(a, (b, c)), X"),
            ["Agent(a, (b, c))", "X"]
        );
        assert_eq!(split_tools("Agent(a, b"), ["Agent(a, b"]);
        assert!(split_tools(" , ").is_empty());
    }

    #[test]
    fn flow_list_pieces_are_joined_back() {
        let items = ["Read", "Agent(scout", "fixer)", "Grep"].map(String::from);
        assert_eq!(
            rejoin_tools(items.to_vec()),
            ["Read", "Agent(scout, fixer)", "Grep"]
        );
        let whole = ["Agent(scout, fixer)", "Bash"].map(String::from);
        assert_eq!(rejoin_tools(whole.to_vec()), whole);
    }
}
