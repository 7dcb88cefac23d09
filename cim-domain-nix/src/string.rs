//! Strings made of literal text and `${...}` interpolations.

use crate::expr::Expr;

/// One piece of a string: literal text or an interpolated expression.
#[derive(Debug, Clone, PartialEq)]
pub enum StrPart {
    /// Text taken literally; the printer escapes whatever needs escaping.
    Lit(String),
    /// An expression spliced in with `${...}`.
    Interp(Expr),
}

impl StrPart {
    /// Literal text.
    pub fn lit(text: impl Into<String>) -> Self {
        Self::Lit(text.into())
    }

    /// An interpolated expression (`${expr}`).
    pub fn interp(expr: impl Into<Expr>) -> Self {
        Self::Interp(expr.into())
    }
}

impl From<&str> for StrPart {
    fn from(text: &str) -> Self {
        Self::Lit(text.to_owned())
    }
}

impl From<String> for StrPart {
    fn from(text: String) -> Self {
        Self::Lit(text)
    }
}

impl From<Expr> for StrPart {
    fn from(expr: Expr) -> Self {
        Self::Interp(expr)
    }
}

/// A string's parts; adjacent literal parts are merged so the model has one canonical form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NixString {
    parts: Vec<StrPart>,
}

impl NixString {
    /// A string of literal text only.
    pub fn literal(text: impl Into<String>) -> Self {
        Self {
            parts: vec![StrPart::Lit(text.into())],
        }
    }

    /// A string from parts, e.g. `[StrPart::lit("${"), StrPart::interp(x)]`.
    pub fn from_parts(parts: impl IntoIterator<Item = StrPart>) -> Self {
        let mut s = Self::default();
        for part in parts {
            s.push(part);
        }
        s
    }

    /// Appends a part, merging it into the previous literal part when both are literal.
    pub fn push(&mut self, part: StrPart) {
        match (self.parts.last_mut(), part) {
            (Some(StrPart::Lit(prev)), StrPart::Lit(text)) => prev.push_str(&text),
            (_, part) => self.parts.push(part),
        }
    }

    /// The parts in order.
    pub fn parts(&self) -> &[StrPart] {
        &self.parts
    }

    /// The text when the string has no interpolation.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [StrPart::Lit(text)] => Some(text),
            _ => None,
        }
    }
}
