//! Splitting a Markdown file into its YAML front matter and its body.

/// A document split at its front matter fences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split<'a> {
    /// The YAML between the fences.
    pub yaml: &'a str,
    /// 1-based line of the first YAML line in the file, to turn YAML positions into file ones.
    pub yaml_first_line: usize,
    /// Everything after the closing fence.
    pub body: &'a str,
    /// 1-based line of the first body line.
    pub body_first_line: usize,
}

/// Why a document has no usable front matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// The first line is not `---`.
    Missing,
    /// No closing `---` (or `...`) line.
    Unterminated,
}

/// Splits `text`; the opening fence must be the first line (a UTF-8 BOM is tolerated).
pub(crate) fn split(text: &str) -> Result<Split<'_>, SplitError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().ok_or(SplitError::Missing)?;
    if !is_fence(first, false) {
        return Err(SplitError::Missing);
    }
    let yaml_start = first.len();
    let mut offset = yaml_start;
    let mut line_number = 1;
    for line in lines {
        line_number += 1;
        if is_fence(line, true) {
            return Ok(Split {
                yaml: &text[yaml_start..offset],
                yaml_first_line: 2,
                body: &text[offset + line.len()..],
                body_first_line: line_number + 1,
            });
        }
        offset += line.len();
    }
    Err(SplitError::Unterminated)
}

fn is_fence(line: &str, closing: bool) -> bool {
    let trimmed = line.trim_end_matches(['\n', '\r']).trim_end();
    trimmed == "---" || (closing && trimmed == "...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_yaml_and_body_with_line_numbers() {
        let text = "---\nname: a\n---\n# Title\nbody\n";
        assert_eq!(
            split(text),
            Ok(Split {
                yaml: "name: a\n",
                yaml_first_line: 2,
                body: "# Title\nbody\n",
                body_first_line: 4,
            })
        );
    }

    #[test]
    fn handles_crlf_and_empty_front_matter() {
        let split = split("---\r\n---\r\nbody");
        assert_eq!(split.map(|s| (s.yaml, s.body)), Ok(("", "body")));
    }

    #[test]
    fn reports_missing_and_unterminated_fences() {
        assert_eq!(split(""), Err(SplitError::Missing));
        assert_eq!(split("# no front matter\n"), Err(SplitError::Missing));
        assert_eq!(split("---\nname: a\n"), Err(SplitError::Unterminated));
    }
}
