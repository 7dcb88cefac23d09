//! Function argument patterns: `x:` and `{ config, lib, pkgs, ... }:`.

use crate::error::NixError;
use crate::expr::Expr;
use crate::names::Ident;

/// What a function binds its argument to.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `x: body`.
    Ident(Ident),
    /// `{ a, b ? default, ... }@args: body`.
    Set(SetPattern),
}

impl Pattern {
    /// A single-identifier pattern.
    ///
    /// # Errors
    /// [`NixError::InvalidIdentifier`] when `name` is not an identifier.
    pub fn ident(name: &str) -> Result<Self, NixError> {
        Ok(Self::Ident(Ident::new(name)?))
    }

    /// `{ config, lib, pkgs, ... }`, the pattern of a NixOS module.
    pub fn module() -> Self {
        Self::Set(SetPattern {
            fields: ["config", "lib", "pkgs"]
                .into_iter()
                .map(|n| (Ident::known(n), None))
                .collect(),
            ellipsis: true,
            bind: None,
        })
    }
}

impl From<SetPattern> for Pattern {
    fn from(set: SetPattern) -> Self {
        Self::Set(set)
    }
}

impl From<Ident> for Pattern {
    fn from(ident: Ident) -> Self {
        Self::Ident(ident)
    }
}

/// A set pattern: named fields with optional defaults, an optional `...` and `@name`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SetPattern {
    fields: Vec<(Ident, Option<Expr>)>,
    ellipsis: bool,
    bind: Option<Ident>,
}

impl SetPattern {
    /// A pattern with the given fields and no `...`.
    ///
    /// # Errors
    /// [`NixError::InvalidIdentifier`] for a field that is not an identifier;
    /// [`NixError::DuplicateArgument`] for a repeated field.
    pub fn new<'a>(fields: impl IntoIterator<Item = &'a str>) -> Result<Self, NixError> {
        let mut pattern = Self::default();
        for name in fields {
            pattern = pattern.field(name)?;
        }
        Ok(pattern)
    }

    /// Adds a field without a default.
    ///
    /// # Errors
    /// As [`SetPattern::new`].
    pub fn field(self, name: &str) -> Result<Self, NixError> {
        self.push(name, None)
    }

    /// Adds a field with a default (`name ? default`).
    ///
    /// # Errors
    /// As [`SetPattern::new`].
    pub fn field_with_default(
        self,
        name: &str,
        default: impl Into<Expr>,
    ) -> Result<Self, NixError> {
        self.push(name, Some(default.into()))
    }

    /// Accepts further attributes (`...`).
    #[must_use]
    pub fn ellipsis(mut self) -> Self {
        self.ellipsis = true;
        self
    }

    /// Binds the whole argument too (`{ ... }@name`).
    ///
    /// # Errors
    /// [`NixError::InvalidIdentifier`] for an invalid name; [`NixError::DuplicateArgument`] when
    /// it equals a field.
    pub fn bind(mut self, name: &str) -> Result<Self, NixError> {
        let ident = Ident::new(name)?;
        if self.fields.iter().any(|(f, _)| *f == ident) {
            return Err(NixError::DuplicateArgument {
                name: name.to_owned(),
            });
        }
        self.bind = Some(ident);
        Ok(self)
    }

    fn push(mut self, name: &str, default: Option<Expr>) -> Result<Self, NixError> {
        let ident = Ident::new(name)?;
        if self.fields.iter().any(|(f, _)| *f == ident) || self.bind.as_ref() == Some(&ident) {
            return Err(NixError::DuplicateArgument {
                name: name.to_owned(),
            });
        }
        self.fields.push((ident, default));
        Ok(self)
    }

    /// The fields and their defaults, in order.
    pub fn fields(&self) -> &[(Ident, Option<Expr>)] {
        &self.fields
    }

    /// Whether the pattern ends in `...`.
    pub fn has_ellipsis(&self) -> bool {
        self.ellipsis
    }

    /// The `@name` binding, if any.
    pub fn bound_name(&self) -> Option<&Ident> {
        self.bind.as_ref()
    }
}
