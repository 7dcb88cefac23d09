//! The expression tree and its builder functions.

use crate::attrs::{AttrPath, AttrSet};
use crate::error::NixError;
use crate::names::Ident;
use crate::path::NixPath;
use crate::pattern::Pattern;
use crate::string::{NixString, StrPart};

/// A finite float (Nix has no literal for NaN or infinity).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Float(f64);

impl Float {
    /// Accepts finite values only.
    ///
    /// # Errors
    /// [`NixError::NonFiniteFloat`] for NaN and infinities.
    pub fn new(value: f64) -> Result<Self, NixError> {
        if value.is_finite() {
            Ok(Self(value))
        } else {
            Err(NixError::NonFiniteFloat { value })
        }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Binary operators, with Nix's precedence and associativity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BinOp {
    /// `++`
    Concat,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `//`
    Update,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `->`
    Implies,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Concat => "++",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Add => "+",
            Self::Sub => "-",
            Self::Update => "//",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::NotEq => "!=",
            Self::And => "&&",
            Self::Or => "||",
            Self::Implies => "->",
        }
    }

    /// Binding strength: lower binds tighter (see [`Expr::level`]).
    pub(crate) fn level(self) -> u8 {
        match self {
            Self::Concat => 5,
            Self::Mul | Self::Div => 6,
            Self::Add | Self::Sub => 7,
            Self::Update => 9,
            Self::Lt | Self::Le | Self::Gt | Self::Ge => 10,
            Self::Eq | Self::NotEq => 11,
            Self::And => 12,
            Self::Or => 13,
            Self::Implies => 14,
        }
    }

    /// Whether `(a op b) op c` may be written `a op b op c`.
    pub(crate) fn chains_left(self) -> bool {
        matches!(
            self,
            Self::Concat
                | Self::Mul
                | Self::Div
                | Self::Add
                | Self::Sub
                | Self::Update
                | Self::And
                | Self::Or
        )
    }

    /// Whether `a op (b op c)` may be written `a op b op c`.
    pub(crate) fn chains_right(self) -> bool {
        matches!(
            self,
            Self::Concat | Self::Update | Self::And | Self::Or | Self::Implies
        )
    }
}

/// A Nix expression.
///
/// Build it with the functions of this crate ([`attrs`], [`list`], [`ident`], [`lambda`], ...) and
/// the `From` conversions (`true.into()`, `4222.into()`, `"text".into()`), then print it with
/// [`crate::render`]. Names and paths inside are validated types, so every tree prints as valid Nix.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Expr {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer (negative values print as `-n`).
    Int(i64),
    /// A finite float.
    Float(Float),
    /// A double-quoted string.
    Str(NixString),
    /// A string printed as `''...''` when that form preserves it exactly, else double-quoted.
    IndentedStr(NixString),
    /// A path literal.
    Path(NixPath),
    /// A variable.
    Ident(Ident),
    /// `[ a b ]`
    List(Vec<Expr>),
    /// `{ ... }` or `rec { ... }`
    AttrSet(AttrSet),
    /// `base.a.b` or `base.a.b or default`
    Select {
        /// The selected-from expression.
        base: Box<Expr>,
        /// The attribute path.
        path: AttrPath,
        /// The `or` fallback.
        default: Option<Box<Expr>>,
    },
    /// `func arg`
    Apply {
        /// The function.
        func: Box<Expr>,
        /// The argument.
        arg: Box<Expr>,
    },
    /// `pattern: body`
    Lambda {
        /// The argument pattern.
        pattern: Pattern,
        /// The body.
        body: Box<Expr>,
    },
    /// `let bindings in body` (the set's `rec` flag is ignored: `let` is always recursive).
    LetIn {
        /// The bindings.
        bindings: AttrSet,
        /// The body.
        body: Box<Expr>,
    },
    /// `with scope; body`
    With {
        /// The set brought into scope.
        scope: Box<Expr>,
        /// The body.
        body: Box<Expr>,
    },
    /// `if cond then a else b`
    If {
        /// The condition.
        cond: Box<Expr>,
        /// The value when true.
        then: Box<Expr>,
        /// The value when false.
        otherwise: Box<Expr>,
    },
    /// `lhs op rhs`
    BinOp {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `!e`
    Not(Box<Expr>),
    /// `-e`
    Neg(Box<Expr>),
}

impl Expr {
    /// Binding strength used to decide parentheses: 0 for atoms, growing as expressions bind
    /// more loosely; 15 for open-ended forms (`x: ...`, `let`, `with`, `if`).
    pub(crate) fn level(&self) -> u8 {
        match self {
            Self::Int(i64::MIN) => BinOp::Sub.level(),
            Self::Int(n) if *n < 0 => 3,
            Self::Float(f) if f.0.is_sign_negative() => 3,
            Self::Null
            | Self::Bool(_)
            | Self::Int(_)
            | Self::Float(_)
            | Self::Str(_)
            | Self::IndentedStr(_)
            | Self::Path(_)
            | Self::Ident(_)
            | Self::List(_)
            | Self::AttrSet(_) => 0,
            Self::Select { .. } => 1,
            Self::Apply { .. } => 2,
            Self::Neg(_) => 3,
            Self::Not(_) => 8,
            Self::BinOp { op, .. } => op.level(),
            Self::Lambda { .. } | Self::LetIn { .. } | Self::With { .. } | Self::If { .. } => 15,
        }
    }

    /// A finite float.
    ///
    /// # Errors
    /// [`NixError::NonFiniteFloat`] for NaN and infinities.
    pub fn float(value: f64) -> Result<Self, NixError> {
        Ok(Self::Float(Float::new(value)?))
    }

    /// `self.a.b` — selecting from a select without `or` extends its path.
    #[must_use]
    pub fn select(self, path: impl Into<AttrPath>) -> Self {
        let path = path.into();
        match self {
            Self::Select {
                base,
                path: mut prefix,
                default: None,
            } => {
                for name in path.names() {
                    prefix = prefix.child(name.clone());
                }
                Self::Select {
                    base,
                    path: prefix,
                    default: None,
                }
            }
            base => Self::Select {
                base: Box::new(base),
                path,
                default: None,
            },
        }
    }

    /// `self.a.b or default`.
    #[must_use]
    pub fn select_or(self, path: impl Into<AttrPath>, default: impl Into<Expr>) -> Self {
        match self.select(path) {
            Self::Select { base, path, .. } => Self::Select {
                base,
                path,
                default: Some(Box::new(default.into())),
            },
            // `select` always returns a `Select`.
            other => other,
        }
    }

    /// `self arg`.
    #[must_use]
    pub fn apply(self, arg: impl Into<Expr>) -> Self {
        Self::Apply {
            func: Box::new(self),
            arg: Box::new(arg.into()),
        }
    }

    /// `self a b c`: applies the arguments in order.
    #[must_use]
    pub fn call(self, args: impl IntoIterator<Item = Expr>) -> Self {
        args.into_iter().fold(self, Self::apply)
    }

    /// `self op rhs`.
    #[must_use]
    pub fn binop(self, op: BinOp, rhs: impl Into<Expr>) -> Self {
        Self::BinOp {
            op,
            lhs: Box::new(self),
            rhs: Box::new(rhs.into()),
        }
    }

    /// `self // rhs`.
    #[must_use]
    pub fn update(self, rhs: impl Into<Expr>) -> Self {
        self.binop(BinOp::Update, rhs)
    }

    /// `self ++ rhs`.
    #[must_use]
    pub fn concat(self, rhs: impl Into<Expr>) -> Self {
        self.binop(BinOp::Concat, rhs)
    }

    /// `!self`.
    #[must_use]
    pub fn logical_not(self) -> Self {
        Self::Not(Box::new(self))
    }

    /// `-self`.
    #[must_use]
    pub fn negate(self) -> Self {
        Self::Neg(Box::new(self))
    }

    /// The attribute set inside, if this is one (for adding bindings after building).
    pub fn as_attrs_mut(&mut self) -> Option<&mut AttrSet> {
        match self {
            Self::AttrSet(set) => Some(set),
            _ => None,
        }
    }
}

/// An attribute set from `(path, value)` pairs: `attrs([("enable", true.into())])`.
///
/// A `&str` key is one attribute name; use an array key (`["a", "b"]`) for a nested path.
pub fn attrs<K: Into<AttrPath>>(items: impl IntoIterator<Item = (K, Expr)>) -> Expr {
    Expr::AttrSet(items.into_iter().collect())
}

/// A `rec { ... }` set from `(path, value)` pairs.
pub fn rec_attrs<K: Into<AttrPath>>(items: impl IntoIterator<Item = (K, Expr)>) -> Expr {
    let mut set: AttrSet = items.into_iter().collect();
    set.set_rec(true);
    Expr::AttrSet(set)
}

/// A list.
pub fn list<T: Into<Expr>>(items: impl IntoIterator<Item = T>) -> Expr {
    Expr::List(items.into_iter().map(Into::into).collect())
}

/// A variable reference.
///
/// # Errors
/// [`NixError::InvalidIdentifier`] when `name` is not an identifier.
pub fn ident(name: &str) -> Result<Expr, NixError> {
    Ok(Expr::Ident(Ident::new(name)?))
}

/// A path literal (`./hosts/a.nix`, `<nixpkgs>`); host paths belong in strings instead.
///
/// # Errors
/// [`NixError::InvalidPath`] when the text is not a valid path literal.
pub fn path(text: &str) -> Result<Expr, NixError> {
    Ok(Expr::Path(NixPath::new(text)?))
}

/// A double-quoted string with `${...}` parts.
pub fn interpolated(parts: impl IntoIterator<Item = StrPart>) -> Expr {
    Expr::Str(NixString::from_parts(parts))
}

/// An indented string (`''...''`) with optional `${...}` parts; printed double-quoted whenever the
/// indented form would not preserve the text exactly.
pub fn indented(parts: impl IntoIterator<Item = StrPart>) -> Expr {
    Expr::IndentedStr(NixString::from_parts(parts))
}

/// `pattern: body`.
pub fn lambda(pattern: impl Into<Pattern>, body: impl Into<Expr>) -> Expr {
    Expr::Lambda {
        pattern: pattern.into(),
        body: Box::new(body.into()),
    }
}

/// `let bindings in body`.
pub fn let_in(bindings: AttrSet, body: impl Into<Expr>) -> Expr {
    Expr::LetIn {
        bindings,
        body: Box::new(body.into()),
    }
}

/// `with scope; body`.
pub fn with(scope: impl Into<Expr>, body: impl Into<Expr>) -> Expr {
    Expr::With {
        scope: Box::new(scope.into()),
        body: Box::new(body.into()),
    }
}

/// `if cond then a else b`.
pub fn if_then_else(
    cond: impl Into<Expr>,
    then: impl Into<Expr>,
    otherwise: impl Into<Expr>,
) -> Expr {
    Expr::If {
        cond: Box::new(cond.into()),
        then: Box::new(then.into()),
        otherwise: Box::new(otherwise.into()),
    }
}

/// `if condition then [ items ] else [ ]`: a list option that applies only under a setting of
/// the host (for example its firewall backend).
pub fn list_when<T: Into<Expr>>(
    condition: impl Into<Expr>,
    items: impl IntoIterator<Item = T>,
) -> Expr {
    if_then_else(condition, list(items), list(Vec::<Expr>::new()))
}

/// `import target` (`import ./module.nix`, `import <nixpkgs> { }` with [`Expr::apply`]).
pub fn import(target: impl Into<Expr>) -> Expr {
    Expr::Ident(Ident::known("import")).apply(target)
}

impl From<bool> for Expr {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Expr {
            fn from(v: $t) -> Self {
                Self::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<&str> for Expr {
    fn from(v: &str) -> Self {
        Self::Str(NixString::literal(v))
    }
}

impl From<String> for Expr {
    fn from(v: String) -> Self {
        Self::Str(NixString::literal(v))
    }
}

impl From<&String> for Expr {
    fn from(v: &String) -> Self {
        Self::Str(NixString::literal(v.clone()))
    }
}

impl From<NixString> for Expr {
    fn from(v: NixString) -> Self {
        Self::Str(v)
    }
}

impl From<Float> for Expr {
    fn from(v: Float) -> Self {
        Self::Float(v)
    }
}

impl From<Ident> for Expr {
    fn from(v: Ident) -> Self {
        Self::Ident(v)
    }
}

impl From<NixPath> for Expr {
    fn from(v: NixPath) -> Self {
        Self::Path(v)
    }
}

impl From<AttrSet> for Expr {
    fn from(v: AttrSet) -> Self {
        Self::AttrSet(v)
    }
}

impl<T: Into<Expr>> From<Vec<T>> for Expr {
    fn from(v: Vec<T>) -> Self {
        list(v)
    }
}

impl<T: Into<Expr>> From<Option<T>> for Expr {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}
