//! Identifiers and attribute names: when a name may be written bare and when it must be quoted.

use crate::error::NixError;
use std::fmt;

/// Nix keywords: never valid as identifiers, always quoted as attribute names.
pub const KEYWORDS: [&str; 10] = [
    "if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or",
];

/// Whether `name` can be written without quotes: it matches `^[A-Za-z_][A-Za-z0-9_'-]*$` and is not
/// a keyword.
///
/// ```
/// assert!(cim_domain_nix::is_bare_name("nats-server"));
/// assert!(!cim_domain_nix::is_bare_name("8080/tcp"));
/// assert!(!cim_domain_nix::is_bare_name("inherit"));
/// ```
pub fn is_bare_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let Some((&first, rest)) = bytes.split_first() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == b'_')
        && rest
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'\'' | b'-'))
        && !KEYWORDS.contains(&name)
}

/// A validated Nix identifier (a variable or function-argument name such as `pkgs`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident(String);

impl Ident {
    /// Validates `name` as an identifier.
    ///
    /// # Errors
    /// [`NixError::InvalidIdentifier`] when the name is empty, has a character outside
    /// `[A-Za-z0-9_'-]`, starts with a digit, `'` or `-`, or is a keyword.
    pub fn new(name: impl Into<String>) -> Result<Self, NixError> {
        let name = name.into();
        if is_bare_name(&name) {
            return Ok(Self(name));
        }
        let reason = match name.as_bytes().first() {
            None => "it is empty",
            Some(_) if KEYWORDS.contains(&name.as_str()) => "it is a keyword",
            Some(b) if !(b.is_ascii_alphabetic() || *b == b'_') => {
                "it must start with a letter or `_`"
            }
            Some(_) => "it contains a character other than letters, digits, `_`, `'` and `-`",
        };
        Err(NixError::InvalidIdentifier { name, reason })
    }

    /// Names this crate itself uses (`config`, `lib`, `pkgs`, ...), known to be valid.
    pub(crate) fn known(name: &'static str) -> Self {
        debug_assert!(is_bare_name(name), "{name} is not an identifier");
        Self(name.to_owned())
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for Ident {
    type Error = NixError;
    fn try_from(name: &str) -> Result<Self, NixError> {
        Self::new(name)
    }
}

impl TryFrom<String> for Ident {
    type Error = NixError;
    fn try_from(name: String) -> Result<Self, NixError> {
        Self::new(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_follow_the_nix_lexer() {
        for ok in ["a", "_x", "nats-server", "x'", "A1_b-c'"] {
            assert!(is_bare_name(ok), "{ok}");
        }
        for quoted in [
            "", "1a", "-a", "'a", "a.b", "a b", "8080/tcp", "/var/lib", "é", "or", "rec",
        ] {
            assert!(!is_bare_name(quoted), "{quoted}");
        }
    }

    #[test]
    fn identifier_errors_say_why() {
        let reason = |n: &str| match Ident::new(n) {
            Err(NixError::InvalidIdentifier { reason, .. }) => reason,
            other => panic!("{n}: {other:?}"),
        };
        assert_eq!(reason(""), "it is empty");
        assert_eq!(reason("let"), "it is a keyword");
        assert_eq!(reason("9lives"), "it must start with a letter or `_`");
        assert!(reason("a.b").contains("character"));
    }
}
