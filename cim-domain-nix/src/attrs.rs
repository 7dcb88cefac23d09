//! Attribute sets: ordered bindings, nested attribute paths merged into one tree, and `inherit`.

use crate::expr::Expr;
use crate::names::Ident;
use std::collections::HashMap;

/// A path of attribute names such as `services.nats.enable`.
///
/// A plain `&str` or `String` is ONE name, taken literally (`"8080/tcp"`, `"host.example.org"`), so
/// a name containing dots is never split by accident. Give several names as an array
/// (`["services", "nats", "enable"]`) or use [`AttrPath::dotted`] to split on `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AttrPath(Vec<String>);

impl AttrPath {
    /// A path from its names, outermost first.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        Self(names.into_iter().map(Into::into).collect())
    }

    /// Splits `a.b.c` on every `.`; use this only for names known to contain no dots.
    pub fn dotted(path: &str) -> Self {
        Self(path.split('.').map(str::to_owned).collect())
    }

    /// The names, outermost first.
    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// This path with one more name at the end.
    pub fn child(&self, name: impl Into<String>) -> Self {
        let mut names = self.0.clone();
        names.push(name.into());
        Self(names)
    }
}

impl From<&str> for AttrPath {
    fn from(name: &str) -> Self {
        Self(vec![name.to_owned()])
    }
}

impl From<String> for AttrPath {
    fn from(name: String) -> Self {
        Self(vec![name])
    }
}

impl From<&String> for AttrPath {
    fn from(name: &String) -> Self {
        Self(vec![name.clone()])
    }
}

impl<S: Into<String>, const N: usize> From<[S; N]> for AttrPath {
    fn from(names: [S; N]) -> Self {
        Self::new(names)
    }
}

impl<S: Into<String>> From<Vec<S>> for AttrPath {
    fn from(names: Vec<S>) -> Self {
        Self::new(names)
    }
}

impl From<&[&str]> for AttrPath {
    fn from(names: &[&str]) -> Self {
        Self::new(names.iter().copied())
    }
}

/// One binding inside an attribute set or `let`.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// `key = value;` (nested paths are stored as nested sets and printed as `a.b = v;`).
    Attr {
        /// The attribute name, unescaped.
        key: String,
        /// Its value.
        value: Expr,
    },
    /// `inherit a b;` or `inherit (from) a b;`.
    Inherit {
        /// The set to inherit from, if any.
        from: Option<Expr>,
        /// The inherited names.
        names: Vec<Ident>,
    },
}

/// An attribute set (`{ ... }` or `rec { ... }`) whose bindings keep insertion order.
///
/// Inserting under a path creates the intermediate sets, so `services.nats.enable` and
/// `services.nats.port` end up in one `services.nats` set. Inserting a key that exists replaces
/// its value, except that a (non-`rec`) attribute set is merged into an existing set key by key.
#[derive(Debug, Clone, Default)]
pub struct AttrSet {
    rec: bool,
    bindings: Vec<Binding>,
    /// Name → binding position, for `Attr` keys and inherited names. Built only once the set
    /// has [`INDEX_FROM`] bindings: small sets (most of them) are scanned, which is faster than
    /// hashing and keeps building 10,000-service modules cheap.
    index: HashMap<String, usize>,
}

/// Binding count from which lookups go through the hash index.
const INDEX_FROM: usize = 16;

impl PartialEq for AttrSet {
    fn eq(&self, other: &Self) -> bool {
        self.rec == other.rec && self.bindings == other.bindings
    }
}

impl AttrSet {
    /// An empty, non-recursive set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty `rec { }` set.
    pub fn new_rec() -> Self {
        Self {
            rec: true,
            ..Self::default()
        }
    }

    /// Whether the set is printed as `rec { ... }`.
    pub fn is_rec(&self) -> bool {
        self.rec
    }

    /// Makes the set recursive (or not).
    pub fn set_rec(&mut self, rec: bool) -> &mut Self {
        self.rec = rec;
        self
    }

    /// The bindings in order.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// Number of bindings (an `inherit` line counts once).
    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    /// Whether the set has no bindings.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// Sets `path` to `value` (see the type's docs for merging); returns `self` for chaining.
    ///
    /// An empty path names the attribute `""`.
    pub fn insert(&mut self, path: impl Into<AttrPath>, value: impl Into<Expr>) -> &mut Self {
        let path = path.into();
        let value = value.into();
        let mut names = path.0;
        let first = if names.is_empty() {
            String::new()
        } else {
            names.remove(0)
        };
        // `a.b.c = v` is inserted as `a = { b = { c = v; }; }`, which merges into an existing `a`.
        let value = names.into_iter().rev().fold(value, |inner, name| {
            let mut set = AttrSet::new();
            set.push_attr(name, inner);
            Expr::AttrSet(set)
        });
        self.insert_key(first, value);
        self
    }

    /// Owned-builder form of [`AttrSet::insert`].
    #[must_use]
    pub fn with_attr(mut self, path: impl Into<AttrPath>, value: impl Into<Expr>) -> Self {
        self.insert(path, value);
        self
    }

    /// Adds `inherit a b;`. A name that is already bound is replaced by the inherit.
    pub fn inherit(&mut self, names: impl IntoIterator<Item = Ident>) -> &mut Self {
        self.push_inherit(None, names.into_iter().collect());
        self
    }

    /// Adds `inherit (from) a b;`. A name that is already bound is replaced by the inherit.
    pub fn inherit_from(
        &mut self,
        from: impl Into<Expr>,
        names: impl IntoIterator<Item = Ident>,
    ) -> &mut Self {
        self.push_inherit(Some(from.into()), names.into_iter().collect());
        self
    }

    /// The value bound to one key (not inherited names).
    pub fn get(&self, key: &str) -> Option<&Expr> {
        match self.bindings.get(self.position(key)?) {
            Some(Binding::Attr { value, .. }) => Some(value),
            _ => None,
        }
    }

    /// The value at a nested path, if every step is an attribute set.
    pub fn get_path(&self, path: impl Into<AttrPath>) -> Option<&Expr> {
        let path = path.into();
        let (last, init) = path.0.split_last()?;
        let mut set = self;
        for name in init {
            match set.get(name)? {
                Expr::AttrSet(inner) => set = inner,
                _ => return None,
            }
        }
        set.get(last)
    }

    /// Merges every binding of `other` into this set, as [`AttrSet::insert`] would.
    pub fn merge(&mut self, other: AttrSet) -> &mut Self {
        self.rec |= other.rec;
        for binding in other.bindings {
            match binding {
                Binding::Attr { key, value } => self.insert_key(key, value),
                Binding::Inherit { from, names } => self.push_inherit(from, names),
            }
        }
        self
    }

    fn insert_key(&mut self, key: String, value: Expr) {
        match self.position(&key) {
            Some(pos) => match &mut self.bindings[pos] {
                Binding::Attr {
                    value: existing, ..
                } => match (existing, value) {
                    (Expr::AttrSet(old), Expr::AttrSet(new)) if !new.rec => {
                        old.merge(new);
                    }
                    (existing, value) => *existing = value,
                },
                Binding::Inherit { names, .. } => {
                    names.retain(|n| n.as_str() != key);
                    self.push_attr(key, value);
                }
            },
            None => self.push_attr(key, value),
        }
    }

    fn push_attr(&mut self, key: String, value: Expr) {
        if self.bindings.len() >= INDEX_FROM {
            self.index.insert(key.clone(), self.bindings.len());
        }
        self.bindings.push(Binding::Attr { key, value });
        if self.bindings.len() == INDEX_FROM {
            self.rebuild_index();
        }
    }

    fn push_inherit(&mut self, from: Option<Expr>, mut names: Vec<Ident>) {
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        let mut replaced_attrs = Vec::new();
        for name in &names {
            if let Some(pos) = self.position(name.as_str()) {
                match &mut self.bindings[pos] {
                    Binding::Inherit { names: old, .. } => old.retain(|n| n != name),
                    Binding::Attr { .. } => replaced_attrs.push(pos),
                }
            }
        }
        if !replaced_attrs.is_empty() {
            let mut pos = 0;
            self.bindings.retain(|_| {
                pos += 1;
                !replaced_attrs.contains(&(pos - 1))
            });
            self.rebuild_index();
        }
        self.bindings.push(Binding::Inherit { from, names });
        self.rebuild_index();
    }

    /// Where `name` is bound (as a key or an inherited name).
    fn position(&self, name: &str) -> Option<usize> {
        if self.bindings.len() >= INDEX_FROM {
            return self.index.get(name).copied();
        }
        self.bindings.iter().position(|b| match b {
            Binding::Attr { key, .. } => key == name,
            Binding::Inherit { names, .. } => names.iter().any(|n| n.as_str() == name),
        })
    }

    fn rebuild_index(&mut self) {
        self.index.clear();
        if self.bindings.len() < INDEX_FROM {
            return;
        }
        for (pos, binding) in self.bindings.iter().enumerate() {
            match binding {
                Binding::Attr { key, .. } => {
                    self.index.insert(key.clone(), pos);
                }
                Binding::Inherit { names, .. } => {
                    for name in names {
                        self.index.insert(name.as_str().to_owned(), pos);
                    }
                }
            }
        }
    }
}

impl<K: Into<AttrPath>, V: Into<Expr>> FromIterator<(K, V)> for AttrSet {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        let mut set = AttrSet::new();
        for (path, value) in items {
            set.insert(path, value);
        }
        set
    }
}

impl<K: Into<AttrPath>, V: Into<Expr>> Extend<(K, V)> for AttrSet {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, items: I) {
        for (path, value) in items {
            self.insert(path, value);
        }
    }
}
