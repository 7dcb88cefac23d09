//! The system prompt: the Markdown body of an agent file, with its headed sections addressable
//! (`prompt.section("Knowledge Base")`) so tools can send an agent only part of its prompt.

use serde::{Deserialize, Serialize};

/// One headed section of the prompt: the heading line and everything up to the next heading of
/// the same or a higher level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptSection {
    /// Heading text without the `#` marks.
    pub heading: String,
    /// Heading level, 1 for `#` to 6 for `######`.
    pub level: u8,
    /// 1-based line of the heading in the agent file.
    pub line: usize,
    /// The text under the heading (nested sub-sections included), trimmed.
    pub content: String,
}

/// The Markdown body of an agent file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemPrompt {
    /// The whole body, exactly as written.
    pub text: String,
    /// Every heading in document order (headings inside code fences are not headings).
    pub sections: Vec<PromptSection>,
}

impl SystemPrompt {
    /// Parses a Markdown body whose first line is line `first_line` of the file.
    pub fn parse(text: &str, first_line: usize) -> Self {
        let lines: Vec<&str> = text.lines().collect();
        let mut headings = Vec::new();
        let mut fence: Option<&str> = None;
        for (index, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            if let Some(open) = fence {
                if trimmed.starts_with(open) {
                    fence = None;
                }
                continue;
            }
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                fence = Some(&trimmed[..3]);
                continue;
            }
            if let Some((level, heading)) = heading(line) {
                headings.push((index, level, heading));
            }
        }
        let sections = headings
            .iter()
            .enumerate()
            .map(|(n, &(index, level, ref heading))| {
                let end = headings[n + 1..]
                    .iter()
                    .find(|(_, other, _)| *other <= level)
                    .map_or(lines.len(), |(next, _, _)| *next);
                PromptSection {
                    heading: heading.clone(),
                    level,
                    line: first_line + index,
                    content: lines[index + 1..end].join("\n").trim().to_owned(),
                }
            })
            .collect();
        Self {
            text: text.to_owned(),
            sections,
        }
    }

    /// The first section whose heading matches `heading`, ignoring ASCII case and surrounding
    /// space.
    pub fn section(&self, heading: &str) -> Option<&PromptSection> {
        let wanted = heading.trim();
        self.sections
            .iter()
            .find(|s| s.heading.eq_ignore_ascii_case(wanted))
    }

    /// The text before the first heading, trimmed.
    pub fn preamble(&self) -> &str {
        let mut end = self.text.len();
        let mut offset = 0;
        let mut fenced = false;
        for line in self.text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                fenced = !fenced;
            } else if !fenced && heading(line).is_some() {
                end = offset;
                break;
            }
            offset += line.len();
        }
        self.text[..end].trim()
    }
}

/// An ATX heading (`## Title`, up to three leading spaces) as (level, text).
fn heading(line: &str) -> Option<(u8, String)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let after = &rest[hashes..];
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    let text = after.trim().trim_end_matches('#').trim_end();
    u8::try_from(hashes)
        .ok()
        .map(|level| (level, text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "You are Sage.\n\n# Role\nGuide.\n## Knowledge Base\n- NATS\n```md\n# not a heading\n```\n## Examples\nAsk me.\n# Last\nend\n";

    #[test]
    fn sections_are_addressable_by_heading() {
        let prompt = SystemPrompt::parse(BODY, 10);
        let headings: Vec<&str> = prompt.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(headings, ["Role", "Knowledge Base", "Examples", "Last"]);
        let knowledge = prompt.section("knowledge base");
        assert_eq!(
            knowledge.map(|s| (s.level, s.line, s.content.as_str())),
            Some((2, 14, "- NATS\n```md\n# not a heading\n```"))
        );
        assert_eq!(
            prompt.section("Role").map(|s| s.content.as_str()),
            Some(
                "Guide.\n## Knowledge Base\n- NATS\n```md\n# not a heading\n```\n## Examples\nAsk me."
            )
        );
        assert_eq!(prompt.preamble(), "You are Sage.");
        assert!(prompt.section("Missing").is_none());
    }

    #[test]
    fn hash_without_space_is_not_a_heading() {
        let prompt = SystemPrompt::parse("#hashtag\n####### seven\n", 1);
        assert!(prompt.sections.is_empty());
        assert_eq!(prompt.preamble(), "#hashtag\n####### seven");
    }
}
