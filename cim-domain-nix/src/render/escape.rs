//! Escaping of literal text: double-quoted strings, attribute names, indented strings.

use crate::names::is_bare_name;
use crate::string::{NixString, StrPart};

/// Appends `text` escaped for a double-quoted string: `\`, `"`, every `$`, newline, CR and tab.
///
/// Escaping every `$` (not only `${`) also rules out Nix's `$${` quirk, where `$$` is literal and
/// the following `{` would no longer start an interpolation.
pub(crate) fn push_dq_text(out: &mut String, text: &str) {
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let escaped = match b {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            b'$' => "\\$",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            _ => continue,
        };
        // Every escaped byte is ASCII, so `start..i` lies on char boundaries.
        out.push_str(&text[start..i]);
        out.push_str(escaped);
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// Appends an attribute name: bare when [`is_bare_name`], otherwise as a quoted string.
pub(crate) fn push_attr_name(out: &mut String, name: &str) {
    if is_bare_name(name) {
        out.push_str(name);
    } else {
        out.push('"');
        push_dq_text(out, name);
        out.push('"');
    }
}

/// Whether the `''...''` form, printed as [`push_indented_text`] does with every line indented
/// by the same amount, reads back as exactly this string.
///
/// Nix strips the smallest indentation of the non-blank lines and drops a last line made only of
/// spaces, so the indented form is refused when no line starts with a non-space character (every
/// line indented), when the last line is only spaces, and when the text ends with `'` (it would
/// merge with the closing `''`). Single-line text and text with CR are printed double-quoted.
pub(crate) fn indented_form_preserves(s: &NixString) -> bool {
    let parts = s.parts();
    let mut has_newline = false;
    let mut anchored = false;
    let mut at_line_start = true;
    // Whether everything after the last newline so far is spaces, and whether there is any.
    let mut tail_spaces_only = false;
    for part in parts {
        match part {
            StrPart::Lit(text) => {
                for b in text.bytes() {
                    match b {
                        b'\r' => return false,
                        b'\n' => {
                            has_newline = true;
                            at_line_start = true;
                            tail_spaces_only = true;
                        }
                        b' ' => {}
                        _ => {
                            anchored |= at_line_start;
                            at_line_start = false;
                            tail_spaces_only = false;
                        }
                    }
                    if b == b' ' {
                        at_line_start = false;
                    }
                }
            }
            StrPart::Interp(_) => {
                anchored |= at_line_start;
                at_line_start = false;
                tail_spaces_only = false;
            }
        }
    }
    let ends_with_quote = matches!(parts.last(), Some(StrPart::Lit(t)) if t.ends_with('\''));
    let last_line_blank_but_not_empty =
        tail_spaces_only && matches!(parts.last(), Some(StrPart::Lit(t)) if t.ends_with(' '));
    has_newline && anchored && !ends_with_quote && !last_line_blank_but_not_empty
}

/// Appends one literal part of an indented string, escaping `''`, `${` and a `$` right before an
/// interpolation. `indent` is written before the first character of every non-empty line;
/// `at_line_start` carries that state across parts. Returns the byte offset of the last newline
/// written (relative to `out`), if any.
pub(crate) fn push_indented_text(
    out: &mut String,
    text: &str,
    followed_by_interp: bool,
    indent: &str,
    at_line_start: &mut bool,
) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut last_newline = None;
    // Whether the `$` at `i` must be escaped (it would otherwise start or swallow `${`).
    let dollar_escaped = |i: usize| {
        bytes.get(i) == Some(&b'$')
            && match bytes.get(i + 1) {
                Some(b'{') => true,
                None => followed_by_interp,
                Some(_) => false,
            }
    };
    let mut i = 0;
    let mut run_start = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\n' {
            out.push_str(&text[run_start..=i]);
            last_newline = Some(out.len() - 1);
            *at_line_start = true;
            i += 1;
            run_start = i;
            continue;
        }
        if *at_line_start {
            out.push_str(indent);
            *at_line_start = false;
        }
        let (escape, width): (&str, usize) = match b {
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => ("'''", 2),
            // A lone `'` before an escape that starts with `''` would read as `'''`.
            b'\'' if dollar_escaped(i + 1) => ("''\\'", 1),
            b'$' if dollar_escaped(i) => ("''$", 1),
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&text[run_start..i]);
        out.push_str(escape);
        i += width;
        run_start = i;
    }
    out.push_str(&text[run_start..]);
    last_newline
}
