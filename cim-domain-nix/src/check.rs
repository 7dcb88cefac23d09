//! In-process syntax checking with rnix.

use crate::error::NixSyntaxError;

/// Parses `text` with rnix; see [`check_syntax_named`].
///
/// # Errors
/// The first syntax error, labelled `<generated>`.
pub fn check_syntax(text: &str) -> Result<(), NixSyntaxError> {
    check_syntax_named("<generated>", text)
}

/// Parses `text` with rnix and reports the first syntax error with its 1-based line and column
/// (in characters), labelled with `source_name` (usually the file name).
///
/// rnix checks syntax only; undefined variables and duplicate attributes need
/// [`crate::NixTool::parse`]. A NUL character is rejected here too: Nix cannot read one.
///
/// # Errors
/// [`NixSyntaxError`] naming `source_name`, line, column and the parser's message.
pub fn check_syntax_named(source_name: &str, text: &str) -> Result<(), NixSyntaxError> {
    if let Some(offset) = text.find('\0') {
        return Err(syntax_error(
            source_name,
            text,
            offset,
            "NUL character".to_owned(),
            1,
        ));
    }
    let parse = rnix::Root::parse(text);
    let Some(first) = parse.errors().first() else {
        return Ok(());
    };
    let offset = match first {
        rnix::ParseError::Unexpected(range)
        | rnix::ParseError::UnexpectedExtra(range)
        | rnix::ParseError::UnexpectedWanted(_, range, _)
        | rnix::ParseError::UnexpectedDoubleBind(range)
        | rnix::ParseError::DuplicatedArgs(range, _) => usize::from(range.start()),
        _ => text.len(),
    };
    Err(syntax_error(
        source_name,
        text,
        offset,
        first.to_string(),
        parse.errors().len(),
    ))
}

fn syntax_error(
    source_name: &str,
    text: &str,
    offset: usize,
    message: String,
    error_count: usize,
) -> NixSyntaxError {
    let (line, column) = line_column(text, offset);
    NixSyntaxError {
        source_name: source_name.to_owned(),
        line,
        column,
        message,
        error_count,
    }
}

/// 1-based line and character column of a byte offset (clamped to the text).
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_line_and_column_of_the_first_error() {
        let err = check_syntax_named("bad.nix", "{\n  a = 1;\n  b = ;\n}\n").err();
        let err = err
            .as_ref()
            .map(|e| (e.source_name.as_str(), e.line, e.column));
        assert_eq!(err, Some(("bad.nix", 3, 7)));
    }

    #[test]
    fn accepts_valid_text_and_rejects_nul() {
        assert_eq!(check_syntax("{ a = [ 1 2 ]; }"), Ok(()));
        assert!(check_syntax("\"a\0b\"").is_err());
        assert!(check_syntax("{ a = 1; ").is_err());
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_column("é = ", 4), (1, 4));
    }
}
