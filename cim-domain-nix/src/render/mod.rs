//! The pretty-printer: one output buffer, two-space indent, short things on one line.
//!
//! Layout rules (deterministic, close to nixpkgs-fmt): an attribute set with two or more bindings,
//! a `let` and a multi-line indented string always span lines; anything else is put on one line
//! when it fits in [`RenderOptions::width`] columns, else split at its natural points. A binding
//! whose value is a set with exactly one binding is printed as a path (`services.nats.enable = true;`).

mod escape;

use crate::attrs::{AttrPath, AttrSet, Binding};
use crate::expr::{BinOp, Expr};
use crate::pattern::Pattern;
use crate::string::{NixString, StrPart};
use escape::{indented_form_preserves, push_attr_name, push_dq_text, push_indented_text};
use std::fmt::Write as _;

/// How [`render_with`] lays out text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Print every attribute set's keys sorted (inherits first) instead of in insertion order.
    pub sort_keys: bool,
    /// Column limit for putting an expression on one line.
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            sort_keys: false,
            width: 100,
        }
    }
}

/// Prints `expr` as Nix source ending in a newline, with the default [`RenderOptions`].
pub fn render(expr: &Expr) -> String {
    render_with(expr, &RenderOptions::default())
}

/// Prints `expr` as Nix source ending in a newline.
pub fn render_with(expr: &Expr, options: &RenderOptions) -> String {
    let mut printer = Printer {
        out: String::with_capacity(4096),
        line_start: 0,
        options,
    };
    printer.block(expr, 0, true);
    printer.out.push('\n');
    printer.out
}

/// An attempt to print on one line did not fit (or the expression needs several lines).
struct TooWide;

type Fit = Result<(), TooWide>;

#[derive(Clone, Copy)]
enum Mode {
    /// One line, failing once the output passes byte `limit`.
    Inline { limit: usize },
    /// Lines may break; continuation lines are indented `indent` levels.
    Block { indent: usize },
}

struct Printer<'o> {
    out: String,
    /// Byte offset where the current line starts (for the width budget).
    line_start: usize,
    options: &'o RenderOptions,
}

/// Applied arguments and list elements bind tighter than anything but select; a select with
/// `or` is parenthesised there too, for readers as much as for parsers.
fn needs_parens_as_arg(e: &Expr) -> bool {
    e.level() > 1
        || matches!(
            e,
            Expr::Select {
                default: Some(_),
                ..
            }
        )
}

/// A path literal would swallow a following `.name`, and numbers cannot be selected from.
fn needs_parens_as_select_base(e: &Expr) -> bool {
    e.level() > 0 || matches!(e, Expr::Int(_) | Expr::Float(_) | Expr::Path(_))
}

impl Printer<'_> {
    fn newline(&mut self, indent: usize) {
        self.out.push('\n');
        self.line_start = self.out.len();
        for _ in 0..indent {
            self.out.push_str("  ");
        }
    }

    fn check(&self, mode: Mode) -> Fit {
        match mode {
            Mode::Inline { limit } if self.out.len() > limit => Err(TooWide),
            _ => Ok(()),
        }
    }

    /// Prints on one line if it fits, else leaves the output as it was and returns false.
    fn try_inline(&mut self, e: &Expr) -> bool {
        let mark = self.out.len();
        let limit = self.line_start + self.options.width;
        if self.expr(e, Mode::Inline { limit }).is_ok() {
            true
        } else {
            self.out.truncate(mark);
            false
        }
    }

    /// Prints in block mode (which cannot fail).
    fn block(&mut self, e: &Expr, indent: usize, top: bool) {
        // Block mode never returns `TooWide`; only inline attempts do, and they are caught.
        let _ = self.expr_top(e, Mode::Block { indent }, top);
    }

    fn expr(&mut self, e: &Expr, mode: Mode) -> Fit {
        self.expr_top(e, mode, false)
    }

    fn wrapped(&mut self, e: &Expr, parens: bool, mode: Mode) -> Fit {
        if parens {
            self.out.push('(');
            self.expr(e, mode)?;
            self.out.push(')');
        } else {
            self.expr(e, mode)?;
        }
        self.check(mode)
    }

    /// `top` marks the file's outermost expression, where a module's `{ ... }:` and a `with`
    /// are followed by a blank line.
    fn expr_top(&mut self, e: &Expr, mode: Mode, top: bool) -> Fit {
        match e {
            Expr::Null => self.out.push_str("null"),
            Expr::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Expr::Int(i64::MIN) => self.out.push_str("-9223372036854775807 - 1"),
            Expr::Int(n) => {
                let _ = write!(self.out, "{n}");
            }
            Expr::Float(f) => self.float(f.get()),
            Expr::Str(s) => self.dq_string(s, mode)?,
            Expr::IndentedStr(s) => {
                if !indented_form_preserves(s) {
                    self.dq_string(s, mode)?;
                } else if let Mode::Block { indent } = mode {
                    self.indented_string(s, indent);
                } else {
                    return Err(TooWide);
                }
            }
            Expr::Path(p) => self.out.push_str(p.as_str()),
            Expr::Ident(i) => self.out.push_str(i.as_str()),
            Expr::List(items) => self.list(e, items, mode)?,
            Expr::AttrSet(set) => self.attr_set(e, set, mode)?,
            Expr::Select {
                base,
                path,
                default,
            } => {
                self.wrapped(base, needs_parens_as_select_base(base), mode)?;
                self.out.push('.');
                self.attr_path(path);
                if let Some(default) = default {
                    self.out.push_str(" or ");
                    self.wrapped(default, needs_parens_as_arg(default), mode)?;
                }
            }
            Expr::Apply { func, arg } => {
                if let Mode::Block { .. } = mode
                    && self.try_inline(e)
                {
                    return Ok(());
                }
                self.wrapped(func, func.level() > 2, mode)?;
                self.out.push(' ');
                self.wrapped(arg, needs_parens_as_arg(arg), mode)?;
            }
            Expr::Lambda { pattern, body } => {
                self.pattern(pattern, mode)?;
                self.out.push(':');
                if top && matches!(pattern, Pattern::Set(_)) {
                    self.out.push('\n');
                    self.newline(0);
                } else {
                    self.out.push(' ');
                }
                self.expr_top(body, mode, top)?;
            }
            Expr::LetIn { bindings, body } => {
                let Mode::Block { indent } = mode else {
                    return Err(TooWide);
                };
                self.out.push_str("let");
                self.bindings(bindings, indent + 1);
                self.newline(indent);
                self.out.push_str("in");
                self.newline(indent);
                self.expr_top(body, mode, top)?;
            }
            Expr::With { scope, body } => {
                self.out.push_str("with ");
                self.expr(scope, mode)?;
                self.out.push(';');
                if top && matches!(mode, Mode::Block { .. }) {
                    self.out.push('\n');
                    self.newline(0);
                } else {
                    self.out.push(' ');
                }
                self.expr_top(body, mode, top)?;
            }
            Expr::If {
                cond,
                then,
                otherwise,
            } => self.if_then_else(e, cond, then, otherwise, mode)?,
            Expr::BinOp { op, lhs, rhs } => {
                if let Mode::Block { .. } = mode
                    && self.try_inline(e)
                {
                    return Ok(());
                }
                self.binop(*op, lhs, rhs, mode)?;
            }
            Expr::Not(inner) => {
                self.out.push('!');
                self.wrapped(inner, inner.level() > 8, mode)?;
            }
            Expr::Neg(inner) => {
                self.out.push('-');
                self.wrapped(inner, inner.level() > 2, mode)?;
            }
        }
        self.check(mode)
    }

    fn float(&mut self, value: f64) {
        // `{:?}` is the shortest text that reads back as the same f64; Nix's lexer needs a `.`
        // before any exponent (`1e300` would lex as `1` applied to `e300`).
        let start = self.out.len();
        let _ = write!(self.out, "{value:?}");
        if !self.out[start..].contains('.')
            && let Some(e) = self.out[start..].find('e')
        {
            self.out.insert_str(start + e, ".0");
        }
    }

    fn dq_string(&mut self, s: &NixString, mode: Mode) -> Fit {
        self.out.push('"');
        for part in s.parts() {
            match part {
                StrPart::Lit(text) => push_dq_text(&mut self.out, text),
                StrPart::Interp(inner) => {
                    self.out.push_str("${");
                    self.expr(inner, mode)?;
                    self.out.push('}');
                }
            }
            self.check(mode)?;
        }
        self.out.push('"');
        Ok(())
    }

    fn indented_string(&mut self, s: &NixString, indent: usize) {
        let pad = "  ".repeat(indent + 1);
        self.out.push_str("''\n");
        self.line_start = self.out.len();
        let mut at_line_start = true;
        let parts = s.parts();
        for (i, part) in parts.iter().enumerate() {
            match part {
                StrPart::Lit(text) => {
                    let followed_by_interp = i + 1 < parts.len();
                    if let Some(nl) = push_indented_text(
                        &mut self.out,
                        text,
                        followed_by_interp,
                        &pad,
                        &mut at_line_start,
                    ) {
                        self.line_start = nl + 1;
                    }
                }
                StrPart::Interp(inner) => {
                    if at_line_start {
                        self.out.push_str(&pad);
                        at_line_start = false;
                    }
                    self.out.push_str("${");
                    self.block(inner, indent + 1, false);
                    self.out.push('}');
                }
            }
        }
        if at_line_start {
            for _ in 0..indent {
                self.out.push_str("  ");
            }
        }
        self.out.push_str("''");
    }

    fn list(&mut self, whole: &Expr, items: &[Expr], mode: Mode) -> Fit {
        if items.is_empty() {
            self.out.push_str("[ ]");
            return Ok(());
        }
        match mode {
            Mode::Inline { .. } => {
                self.out.push('[');
                for item in items {
                    self.out.push(' ');
                    self.wrapped(item, needs_parens_as_arg(item), mode)?;
                }
                self.out.push_str(" ]");
            }
            Mode::Block { indent } => {
                if self.try_inline(whole) {
                    return Ok(());
                }
                self.out.push('[');
                for item in items {
                    self.newline(indent + 1);
                    let inner = Mode::Block { indent: indent + 1 };
                    self.wrapped(item, needs_parens_as_arg(item), inner)?;
                }
                self.newline(indent);
                self.out.push(']');
            }
        }
        Ok(())
    }

    fn attr_set(&mut self, whole: &Expr, set: &AttrSet, mode: Mode) -> Fit {
        let open = if set.is_rec() { "rec {" } else { "{" };
        if set.bindings().iter().all(is_empty_inherit) {
            self.out.push_str(open);
            self.out.push_str(" }");
            return Ok(());
        }
        match mode {
            Mode::Inline { .. } => {
                if set.len() > 1 {
                    return Err(TooWide);
                }
                self.out.push_str(open);
                for binding in set.bindings() {
                    self.out.push(' ');
                    self.binding(binding, mode)?;
                }
                self.out.push_str(" }");
            }
            Mode::Block { indent } => {
                if set.len() == 1 && self.try_inline(whole) {
                    return Ok(());
                }
                self.out.push_str(open);
                self.bindings(set, indent + 1);
                self.newline(indent);
                self.out.push('}');
            }
        }
        Ok(())
    }

    /// Each binding on its own line at `indent`.
    fn bindings(&mut self, set: &AttrSet, indent: usize) {
        let mode = Mode::Block { indent };
        if self.options.sort_keys {
            let mut sorted: Vec<&Binding> = set.bindings().iter().collect();
            sorted.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
            for binding in sorted {
                if !is_empty_inherit(binding) {
                    self.newline(indent);
                    let _ = self.binding(binding, mode);
                }
            }
        } else {
            for binding in set.bindings() {
                if !is_empty_inherit(binding) {
                    self.newline(indent);
                    let _ = self.binding(binding, mode);
                }
            }
        }
    }

    fn binding(&mut self, binding: &Binding, mode: Mode) -> Fit {
        match binding {
            Binding::Attr { key, value } => {
                push_attr_name(&mut self.out, key);
                let mut value = value;
                // A set holding one plain binding prints as a longer path: `a.b.c = v;`.
                while let Expr::AttrSet(inner) = value
                    && !inner.is_rec()
                    && let [Binding::Attr { key, value: v }] = inner.bindings()
                {
                    self.out.push('.');
                    push_attr_name(&mut self.out, key);
                    value = v;
                }
                self.out.push_str(" = ");
                self.expr(value, mode)?;
                self.out.push(';');
            }
            Binding::Inherit { from, names } => {
                self.out.push_str("inherit");
                if let Some(from) = from {
                    self.out.push_str(" (");
                    self.expr(from, mode)?;
                    self.out.push(')');
                }
                for name in names {
                    self.out.push(' ');
                    self.out.push_str(name.as_str());
                }
                self.out.push(';');
            }
        }
        self.check(mode)
    }

    fn attr_path(&mut self, path: &AttrPath) {
        if path.names().is_empty() {
            self.out.push_str("\"\"");
        }
        for (i, name) in path.names().iter().enumerate() {
            if i > 0 {
                self.out.push('.');
            }
            push_attr_name(&mut self.out, name);
        }
    }

    fn pattern(&mut self, pattern: &Pattern, mode: Mode) -> Fit {
        let set = match pattern {
            Pattern::Ident(name) => {
                self.out.push_str(name.as_str());
                return Ok(());
            }
            Pattern::Set(set) => set,
        };
        let fields = set.fields();
        if fields.is_empty() && !set.has_ellipsis() {
            self.out.push_str("{ }");
        } else {
            let mark = self.out.len();
            let limit = self.line_start + self.options.width;
            let inline = Mode::Inline { limit };
            let fits = (|| -> Fit {
                self.out.push_str("{ ");
                for (i, (name, default)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.field(name.as_str(), default.as_ref(), inline)?;
                }
                if set.has_ellipsis() {
                    self.out
                        .push_str(if fields.is_empty() { "..." } else { ", ..." });
                }
                self.out.push_str(" }");
                self.check(inline)
            })();
            if fits.is_err() {
                let Mode::Block { indent } = mode else {
                    return Err(TooWide);
                };
                self.out.truncate(mark);
                self.out.push('{');
                for (name, default) in fields {
                    self.newline(indent + 1);
                    self.field(
                        name.as_str(),
                        default.as_ref(),
                        Mode::Block { indent: indent + 1 },
                    )?;
                    self.out.push(',');
                }
                if set.has_ellipsis() {
                    self.newline(indent + 1);
                    self.out.push_str("...");
                }
                self.newline(indent);
                self.out.push('}');
            }
        }
        if let Some(bind) = set.bound_name() {
            self.out.push('@');
            self.out.push_str(bind.as_str());
        }
        self.check(mode)
    }

    fn field(&mut self, name: &str, default: Option<&Expr>, mode: Mode) -> Fit {
        self.out.push_str(name);
        if let Some(default) = default {
            self.out.push_str(" ? ");
            self.expr(default, mode)?;
        }
        self.check(mode)
    }

    fn if_then_else(
        &mut self,
        whole: &Expr,
        cond: &Expr,
        then: &Expr,
        otherwise: &Expr,
        mode: Mode,
    ) -> Fit {
        let indent = match mode {
            Mode::Inline { .. } => {
                self.out.push_str("if ");
                self.expr(cond, mode)?;
                self.out.push_str(" then ");
                self.expr(then, mode)?;
                self.out.push_str(" else ");
                return self.expr(otherwise, mode);
            }
            Mode::Block { indent } => indent,
        };
        if self.try_inline(whole) {
            return Ok(());
        }
        self.out.push_str("if ");
        self.expr(cond, mode)?;
        self.out.push_str(" then");
        self.newline(indent + 1);
        self.expr(then, Mode::Block { indent: indent + 1 })?;
        self.newline(indent);
        self.out.push_str("else");
        if matches!(otherwise, Expr::If { .. }) {
            self.out.push(' ');
            self.expr(otherwise, mode)
        } else {
            self.newline(indent + 1);
            self.expr(otherwise, Mode::Block { indent: indent + 1 })
        }
    }

    fn binop(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr, mode: Mode) -> Fit {
        let level = op.level();
        let same_op = |e: &Expr| matches!(e, Expr::BinOp { op: o, .. } if *o == op);
        let lhs_parens = lhs.level() > level
            || (lhs.level() == level
                && !(op.chains_left() && (same_op(lhs) || is_left_assoc_peer(op, lhs))));
        let rhs_parens =
            rhs.level() > level || (rhs.level() == level && !(op.chains_right() && same_op(rhs)));
        self.wrapped(lhs, lhs_parens, mode)?;
        self.out.push(' ');
        self.out.push_str(op.symbol());
        self.out.push(' ');
        self.wrapped(rhs, rhs_parens, mode)
    }
}

/// `a - b + c` needs no parentheses: `+`/`-` and `*`/`/` are left-associative peers.
fn is_left_assoc_peer(op: BinOp, lhs: &Expr) -> bool {
    matches!(
        (op, lhs),
        (
            BinOp::Add | BinOp::Sub,
            Expr::BinOp {
                op: BinOp::Add | BinOp::Sub,
                ..
            }
        ) | (
            BinOp::Mul | BinOp::Div,
            Expr::BinOp {
                op: BinOp::Mul | BinOp::Div,
                ..
            }
        )
    )
}

fn is_empty_inherit(binding: &Binding) -> bool {
    matches!(binding, Binding::Inherit { names, .. } if names.is_empty())
}

fn sort_key(binding: &Binding) -> (u8, &str) {
    match binding {
        Binding::Inherit { names, .. } => (0, names.first().map_or("", |n| n.as_str())),
        Binding::Attr { key, .. } => (1, key.as_str()),
    }
}
