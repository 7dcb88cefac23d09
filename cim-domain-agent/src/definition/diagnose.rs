//! Turning a YAML parser error into one located, actionable message: one position (the
//! repeated key of a duplicate, the opening quote or bracket of an unclosed one), the field it
//! belongs to, what is wrong and what would be accepted.

use super::locate::{Locator, Position};

/// A YAML syntax problem, ready for [`DefinitionError::Yaml`](super::DefinitionError::Yaml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlProblem {
    /// Where, in file coordinates.
    pub position: Position,
    /// The field the position belongs to, when it is inside one.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What would be accepted.
    pub hint: &'static str,
}

const HINT_COLON: &str = "a value containing `: ` must be quoted (`key: \"...\"`) or written as a block (`key: |` with the text indented on the next lines)";
const HINT_QUOTE: &str = "end it with the same quote (`\"` or `'`), or write the value without quotes or as a block (`key: |`)";
const HINT_FLOW: &str = "close it, or quote the value if it is text (`key: \"[draft] ...\"`)";
const HINT_TOKEN: &str = "quote the value (`key: \"...\"`): a plain value cannot start with `@` or `` ` ``, and tabs cannot indent";
const HINT_INDENT: &str = "check the indentation: the keys of one mapping start in the same column, with spaces (not tabs)";
const HINT_DUPLICATE: &str = "keep one of them (a key can appear once per mapping)";
const HINT_OTHER: &str = "the front matter must be YAML `key: value` lines; quote values that contain `: ` or start with `[`, `{`, `&`, `*`, `!`, `|`, `>`, `@` or `` ` ``";

/// Explains `error`, raised while parsing YAML whose first line is `first_line` of the file.
pub(crate) fn diagnose(
    error: &serde_yaml_ng::Error,
    locator: &Locator,
    first_line: usize,
) -> YamlProblem {
    let text = error.to_string();
    let to_file = |line: usize, column: usize| Position {
        line: first_line + line.saturating_sub(1),
        column: column.max(1),
    };
    let located = error
        .location()
        .map_or(to_file(1, 1), |l| to_file(l.line(), l.column()));
    let field = |position: Position| locator.field_at(position.line).map(str::to_owned);

    if let Some((path, repeated, first)) = locator
        .first_duplicate()
        .filter(|_| text.contains("duplicate entry with key"))
    {
        return YamlProblem {
            position: *repeated,
            field: Some(path.clone()),
            message: format!("key is given twice (first at line {})", first.line),
            hint: HINT_DUPLICATE,
        };
    }

    let (problem, context) = match text.split_once(", while ") {
        Some((problem, context)) => (problem, Some(context)),
        None => (text.as_str(), None),
    };
    let (problem, _) = split_mark(problem);
    let context_mark = context.and_then(|c| split_mark(c).1);

    if let (Some(context), Some((line, column))) = (context, context_mark) {
        let opened = to_file(line, column);
        let what = if context.contains("quoted scalar") {
            Some(("quoted value opened here is never closed", HINT_QUOTE))
        } else if context.contains("flow sequence") {
            Some(("`[` opened here is never closed by `]`", HINT_FLOW))
        } else if context.contains("flow mapping") {
            Some(("`{` opened here is never closed by `}`", HINT_FLOW))
        } else {
            None
        };
        if let Some((message, hint)) = what {
            return YamlProblem {
                position: opened,
                field: field(opened),
                message: message.to_owned(),
                hint,
            };
        }
    }

    let hint = if problem.contains("mapping values are not allowed") {
        HINT_COLON
    } else if problem.contains("cannot start any token") {
        HINT_TOKEN
    } else if problem.contains("expected key") || problem.contains("block") {
        HINT_INDENT
    } else {
        HINT_OTHER
    };
    YamlProblem {
        position: located,
        field: field(located),
        message: problem.trim().to_owned(),
        hint,
    }
}

/// Splits `"... at line L column C"` into the text before the mark and the mark.
fn split_mark(text: &str) -> (&str, Option<(usize, usize)>) {
    let Some((head, mark)) = text.rsplit_once(" at line ") else {
        return (text, None);
    };
    let parsed = mark.split_once(" column ").and_then(|(line, column)| {
        let column: String = column.chars().take_while(char::is_ascii_digit).collect();
        Some((line.trim().parse().ok()?, column.parse().ok()?))
    });
    match parsed {
        Some(mark) => (head, Some(mark)),
        None => (text, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnosed(yaml: &str) -> Option<YamlProblem> {
        let error = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(yaml).err()?;
        Some(diagnose(&error, &Locator::new(yaml, 2), 2))
    }

    #[test]
    fn an_unclosed_quote_is_reported_once_at_the_quote() {
        let problem = diagnosed("name: a\ndescription: \"never closed\nmodel: x\n");
        let problem = problem.map(|p| (p.position, p.field, p.message));
        assert_eq!(
            problem,
            Some((
                Position {
                    line: 3,
                    column: 14
                },
                Some("description".to_owned()),
                "quoted value opened here is never closed".to_owned()
            ))
        );
    }

    #[test]
    fn a_duplicate_key_is_reported_at_the_repetition() {
        let problem = diagnosed("name: a\nmodel: x\nname: b\n");
        let problem = problem.map(|p| (p.position, p.field, p.message));
        assert_eq!(
            problem,
            Some((
                Position { line: 4, column: 1 },
                Some("name".to_owned()),
                "key is given twice (first at line 2)".to_owned()
            ))
        );
    }

    #[test]
    fn marks_are_split_off() {
        assert_eq!(
            split_mark("bad at line 3 column 14"),
            ("bad", Some((3, 14)))
        );
        assert_eq!(split_mark("bad"), ("bad", None));
    }
}
