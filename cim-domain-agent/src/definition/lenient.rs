//! Reading front matter that Claude Code's own loader accepts although it is not valid YAML:
//! a top-level plain value containing `: ` (`description: Triggers on: 'GDPR'.`), which YAML
//! reads as a second key on the same line. Such a value is re-read as the text it was meant to
//! be, and a [`Warning`](super::Warning) names the line and the fix. Nothing else is repaired.

/// A top-level value re-read as text: its 0-based line in the YAML and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repaired {
    /// 0-based line of the key in the YAML text.
    pub line: usize,
    /// 0-based column where the value starts.
    pub column: usize,
    /// The key.
    pub key: String,
}

/// `yaml` with every top-level plain value that contains `: ` (or ends with `:`) turned into
/// a double-quoted scalar, spanning the same lines (so positions stay right), and what was
/// changed; `None` when there is nothing of the kind to change.
pub(crate) fn quote_colon_values(yaml: &str) -> Option<(String, Vec<Repaired>)> {
    let lines: Vec<&str> = yaml.split_inclusive('\n').collect();
    let mut out = String::with_capacity(yaml.len() + 16);
    let mut repaired = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let Some((key, value_start)) = plain_top_level_value(line) else {
            out.push_str(line);
            index += 1;
            continue;
        };
        // Continuation lines of a multi-line plain value are indented (blank lines may sit
        // between them).
        let mut end = index + 1;
        let mut last = index;
        while end < lines.len() {
            let next = lines[end];
            if next.trim().is_empty() {
                end += 1;
                continue;
            }
            if next.starts_with([' ', '\t']) {
                last = end;
                end += 1;
                continue;
            }
            break;
        }
        let value_lines: Vec<&str> = std::iter::once(&line[value_start..])
            .chain(lines[index + 1..=last].iter().copied())
            .collect();
        let needs_quotes = value_lines.iter().any(|l| {
            let text = content(l).trim_end();
            text.contains(": ") || text.contains(":\t") || text.ends_with(':')
        });
        if !needs_quotes {
            for l in &lines[index..=last] {
                out.push_str(l);
            }
            index = last + 1;
            continue;
        }
        repaired.push(Repaired {
            line: index,
            column: value_start,
            key,
        });
        out.push_str(&line[..value_start]);
        out.push('"');
        let count = value_lines.len();
        for (position, value_line) in value_lines.into_iter().enumerate() {
            let text = content(value_line);
            let ending = &value_line[text.len()..];
            let text = if position == count - 1 {
                text.trim_end()
            } else {
                text
            };
            out.push_str(&text.replace('\\', "\\\\").replace('"', "\\\""));
            if position == count - 1 {
                out.push('"');
            }
            out.push_str(ending);
        }
        index = last + 1;
    }
    (!repaired.is_empty()).then_some((out, repaired))
}

/// The line without its line ending.
fn content(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

/// For `key: value` at column 0 whose value is a plain scalar (not quoted, not a block, flow,
/// anchor, alias or tag): the key and the byte offset where the value starts.
fn plain_top_level_value(line: &str) -> Option<(String, usize)> {
    let text = content(line);
    if text.starts_with([
        ' ', '\t', '#', '-', '"', '\'', '[', '{', '?', '&', '*', '!', '%', '@',
    ]) || text.starts_with("---")
    {
        return None;
    }
    let colon = text.find(": ")?;
    let key = &text[..colon];
    if key.is_empty() || key.contains(['#', '"', '\'', '{', '[']) {
        return None;
    }
    let rest = &text[colon + 1..];
    let value = rest.trim_start();
    let start = colon + 1 + (rest.len() - value.len());
    if value.is_empty()
        || value.starts_with([
            '"', '\'', '|', '>', '[', '{', '&', '*', '!', '#', '%', '@', '`',
        ])
    {
        return None;
    }
    Some((key.trim_end().to_owned(), start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_top_level_plain_values_with_a_colon() {
        let yaml = "name: a\ndescription: Checks rules. Triggers on: 'GDPR', \"x\".\nmodel:\n  name: b: c\n";
        let (fixed, repaired) = quote_colon_values(yaml).unwrap_or_default();
        assert_eq!(
            fixed,
            "name: a\ndescription: \"Checks rules. Triggers on: 'GDPR', \\\"x\\\".\"\nmodel:\n  name: b: c\n"
        );
        assert_eq!(
            repaired,
            [Repaired {
                line: 1,
                column: 13,
                key: "description".into()
            }]
        );
    }

    #[test]
    fn multi_line_values_keep_their_lines() {
        let yaml = "description: Use when:\r\n  the user asks: x\r\n\r\n  more\r\ntools: Read\r\n";
        let (fixed, _) = quote_colon_values(yaml).unwrap_or_default();
        assert_eq!(
            fixed,
            "description: \"Use when:\r\n  the user asks: x\r\n\r\n  more\"\r\ntools: Read\r\n"
        );
        assert_eq!(fixed.lines().count(), yaml.lines().count());
    }

    #[test]
    fn nothing_to_repair_is_none() {
        assert_eq!(quote_colon_values("a: b\nc: 'd: e'\nf: |\n  g: h\n"), None);
    }
}
