//! Path literals (`./module.nix`, `/etc/nixos`, `~/x`, `<nixpkgs>`), accepted only where Nix's lexer
//! reads them back as the same path.

use crate::error::NixError;
use std::fmt;

/// A validated Nix path literal.
///
/// Nix path literals cannot contain spaces or most punctuation and cannot end in `/`; a path
/// literal is also copied into the store when interpolated. Host filesystem paths (bind mounts,
/// data directories) are therefore emitted as strings, not as `NixPath`s.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NixPath(String);

fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+')
}

/// Checks `/seg/seg...` with at least one segment, each non-empty.
fn segments_ok(rest: &str) -> Result<(), &'static str> {
    if rest.is_empty() {
        return Err("a path literal needs at least one `/` followed by a name");
    }
    if rest.ends_with('/') {
        return Err("a path literal cannot end with `/`");
    }
    let Some(tail) = rest.strip_prefix('/') else {
        return Err("a path literal needs at least one `/` followed by a name");
    };
    for seg in tail.split('/') {
        if seg.is_empty() {
            return Err("a path literal cannot contain `//`");
        }
        if !seg.bytes().all(is_path_char) {
            return Err("a path literal may only contain letters, digits and `._-+` between `/`");
        }
    }
    Ok(())
}

impl NixPath {
    /// Validates a path literal: relative (`./x`, `../x`, `a/b`), absolute (`/x`), home (`~/x`) or a
    /// search path (`<nixpkgs>`, `<nixpkgs/lib>`).
    ///
    /// # Errors
    /// [`NixError::InvalidPath`] when the text would not lex as exactly this path literal (spaces,
    /// quotes, a trailing `/`, `//`, no `/` at all).
    pub fn new(path: impl Into<String>) -> Result<Self, NixError> {
        let path = path.into();
        match Self::check(&path) {
            Ok(()) => Ok(Self(path)),
            Err(reason) => Err(NixError::InvalidPath { path, reason }),
        }
    }

    fn check(path: &str) -> Result<(), &'static str> {
        if let Some(inner) = path.strip_prefix('<') {
            let Some(inner) = inner.strip_suffix('>') else {
                return Err("a search path must end with `>`");
            };
            let (first, rest) = inner.split_at(inner.find('/').unwrap_or(inner.len()));
            if first.is_empty() || !first.bytes().all(is_path_char) {
                return Err("a search path must start with a name of letters, digits and `._-+`");
            }
            return if rest.is_empty() {
                Ok(())
            } else {
                segments_ok(rest)
            };
        }
        if let Some(rest) = path.strip_prefix('~') {
            return segments_ok(rest);
        }
        let split = path.find('/').unwrap_or(path.len());
        let (first, rest) = path.split_at(split);
        if !first.bytes().all(is_path_char) {
            return Err("a path literal may only contain letters, digits and `._-+` between `/`");
        }
        segments_ok(rest)
    }

    /// The literal as written in Nix source.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NixPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_literal_forms_nix_lexes() {
        for ok in [
            "./.",
            "./hosts/a.nix",
            "../x",
            "/etc/nixos",
            "a/b",
            "~/x",
            "<nixpkgs>",
            "<nixpkgs/lib>",
        ] {
            assert!(NixPath::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_what_would_not_round_trip() {
        for bad in [
            "",
            "x",
            "/",
            "./",
            "./a/",
            "/var/lib/my dir",
            "a//b",
            "./a\"b",
            "<>",
            "<a",
            "~",
            "<a/>",
        ] {
            assert!(
                matches!(NixPath::new(bad), Err(NixError::InvalidPath { .. })),
                "{bad}"
            );
        }
    }
}
