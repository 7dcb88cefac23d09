//! Where each mapping key sits in the front matter, so semantic errors (found after the YAML
//! became a value tree, which has no positions) can still name a line and column.
//!
//! This reads block-style YAML line by line, tracking indentation. Keys inside flow collections
//! (`{a: 1}`) or sequence items are not indexed; lookups for them fall back to the nearest
//! indexed ancestor, which still points the user at the right block.

use std::collections::HashMap;

/// A 1-based line and column in the agent file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Positions of dotted key paths (`model.parameters.temperature`).
#[derive(Debug, Clone)]
pub(crate) struct Locator {
    keys: HashMap<String, Position>,
    /// Every indexed key in file order, for [`Locator::field_at`].
    ordered: Vec<(String, Position)>,
    /// Keys written a second time in the same mapping: path, where repeated, where first.
    duplicates: Vec<(String, Position, Position)>,
    fallback: Position,
}

struct Frame {
    indent: usize,
    /// `None` marks a sequence item: keys below it are not addressable by a plain path.
    key: Option<String>,
}

impl Locator {
    /// Indexes `yaml`, whose first line is line `first_line` of the file.
    pub(crate) fn new(yaml: &str, first_line: usize) -> Self {
        let mut keys = HashMap::new();
        let mut ordered = Vec::new();
        let mut duplicates = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut block_scalar_indent: Option<usize> = None;
        for (index, raw) in yaml.lines().enumerate() {
            let content = raw.trim_start_matches(' ');
            let mut indent = raw.len() - content.len();
            if let Some(owner) = block_scalar_indent {
                if content.trim().is_empty() || indent > owner {
                    continue;
                }
                block_scalar_indent = None;
            }
            let mut content = content.trim_end();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            while let Some(rest) = content
                .strip_prefix('-')
                .filter(|r| r.is_empty() || r.starts_with(' '))
            {
                while stack
                    .last()
                    .is_some_and(|f| f.indent > indent || (f.indent == indent && f.key.is_none()))
                {
                    stack.pop();
                }
                stack.push(Frame { indent, key: None });
                let trimmed = rest.trim_start_matches(' ');
                indent += 1 + rest.len() - trimmed.len();
                content = trimmed;
            }
            let Some((key, value)) = split_key(content) else {
                continue;
            };
            while stack.last().is_some_and(|f| f.indent >= indent) {
                stack.pop();
            }
            stack.push(Frame {
                indent,
                key: Some(key),
            });
            if stack.iter().all(|f| f.key.is_some()) {
                let path = stack
                    .iter()
                    .filter_map(|f| f.key.as_deref())
                    .collect::<Vec<_>>()
                    .join(".");
                let position = Position {
                    line: first_line + index,
                    column: indent + 1,
                };
                match keys.get(&path) {
                    Some(first) => duplicates.push((path.clone(), position, *first)),
                    None => {
                        keys.insert(path.clone(), position);
                    }
                }
                ordered.push((path, position));
            }
            if value.starts_with('|') || value.starts_with('>') {
                block_scalar_indent = Some(indent);
            }
        }
        Self {
            keys,
            ordered,
            duplicates,
            fallback: Position {
                line: first_line,
                column: 1,
            },
        }
    }

    /// The first key written twice in one mapping: its dotted path, the position of the
    /// repetition and of the first one.
    pub(crate) fn first_duplicate(&self) -> Option<&(String, Position, Position)> {
        self.duplicates
            .iter()
            .min_by_key(|(_, repeated, _)| *repeated)
    }

    /// The dotted path of the key on `line`, or of the last key before it (the field whose
    /// value the line belongs to); `None` before the first key.
    pub(crate) fn field_at(&self, line: usize) -> Option<&str> {
        self.ordered
            .iter()
            .take_while(|(_, position)| position.line <= line)
            .last()
            .map(|(path, _)| path.as_str())
    }

    /// The position of `path`, or of its nearest indexed ancestor, or of the front matter start.
    pub(crate) fn find(&self, path: &str) -> Position {
        let mut candidate = path.split('[').next().unwrap_or(path);
        loop {
            if let Some(position) = self.keys.get(candidate) {
                return *position;
            }
            match candidate.rfind('.') {
                Some(dot) => candidate = &candidate[..dot],
                None => return self.fallback,
            }
        }
    }
}

/// Splits `key: value` (plain, single- or double-quoted key) into the key and the value text.
fn split_key(content: &str) -> Option<(String, &str)> {
    let (key, rest) = if let Some(quote @ ('"' | '\'')) = content.chars().next() {
        let close = content[1..].find(quote)? + 1;
        (content[1..close].to_owned(), &content[close + 1..])
    } else {
        let colon = content
            .match_indices(':')
            .find(|(i, _)| {
                content[i + 1..].is_empty() || content[i + 1..].starts_with([' ', '\t'])
            })?
            .0;
        let key = &content[..colon];
        if key.starts_with(['{', '[', '&', '*', '!', '|', '>', '"', '\'']) || key.contains(" #") {
            return None;
        }
        (key.trim_end().to_owned(), &content[colon..])
    };
    let value = rest.strip_prefix(':')?;
    if !(value.is_empty() || value.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "agent:\n  name: sage\n  version: \"1.0.0\"\nmodel:\n  parameters:\n    temperature: 3\nprompt: |\n  fake: key\nlist:\n- name: a\n  url: b\n\"quoted key\": 1\nafter: x\n";

    #[test]
    fn finds_nested_keys_with_file_positions() {
        let locator = Locator::new(YAML, 2);
        assert_eq!(locator.find("agent.name"), Position { line: 3, column: 3 });
        assert_eq!(
            locator.find("model.parameters.temperature"),
            Position { line: 7, column: 5 }
        );
        assert_eq!(
            locator.find("quoted key"),
            Position {
                line: 13,
                column: 1
            }
        );
        assert_eq!(
            locator.find("after"),
            Position {
                line: 14,
                column: 1
            }
        );
    }

    #[test]
    fn block_scalars_and_sequence_items_do_not_leak_keys() {
        let locator = Locator::new(YAML, 2);
        assert_eq!(locator.find("fake"), Position { line: 2, column: 1 });
        assert_eq!(locator.find("prompt.fake"), Position { line: 8, column: 1 });
        assert_eq!(
            locator.find("list.name"),
            Position {
                line: 10,
                column: 1
            }
        );
        assert_eq!(
            locator.find("list[0].name"),
            Position {
                line: 10,
                column: 1
            }
        );
    }

    #[test]
    fn repeated_keys_and_the_field_of_a_line_are_found() {
        let locator = Locator::new("name: a\nmodel:\n  name: x\n  name: y\nname: b\n", 2);
        assert_eq!(
            locator.first_duplicate(),
            Some(&(
                "model.name".to_owned(),
                Position { line: 5, column: 3 },
                Position { line: 4, column: 3 }
            ))
        );
        assert_eq!(locator.field_at(1), None);
        assert_eq!(locator.field_at(2), Some("name"));
        assert_eq!(locator.field_at(5), Some("model.name"));
    }

    #[test]
    fn unknown_paths_fall_back_to_ancestors() {
        let locator = Locator::new(YAML, 2);
        assert_eq!(locator.find("agent.id"), Position { line: 2, column: 1 });
        assert_eq!(locator.find("nowhere"), Position { line: 2, column: 1 });
    }
}
