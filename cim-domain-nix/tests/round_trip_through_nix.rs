//! Property tests: whatever the model holds, Nix reads back the same thing.
//!
//! Every generated text is checked with rnix; where `nix-instantiate` exists it is also
//! evaluated (`--eval --strict --json`) and compared with the input. Cases are batched into
//! one list per `nix-instantiate` run to keep the suite fast.

mod common;

use cim_domain_nix::{
    AttrSet, BinOp, Expr, Ident, NixTool, Pattern, StrPart, attrs, check_syntax, ident,
    if_then_else, indented, lambda, let_in, list, render, with,
};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::OnceLock;

fn nix() -> Option<&'static NixTool> {
    static TOOL: OnceLock<Option<NixTool>> = OnceLock::new();
    TOOL.get_or_init(|| common::nix_tool("round_trip_through_nix"))
        .as_ref()
}

/// Characters that stress escaping, mixed with arbitrary Unicode (Nix cannot hold NUL).
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        1 => Just('\r'),
        12 => prop::sample::select(vec![
            '\'', '$', '{', '}', '\\', '"', '\n', '\t', ' ', ' ', '.', '/', '@',
        ]),
        4 => any::<char>().prop_filter("Nix strings cannot hold NUL", |c| *c != '\0'),
        4 => prop::char::range('a', 'z'),
    ]
}

fn tricky_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..max).prop_map(|cs| cs.into_iter().collect())
}

/// Renders `expr`, checks it with rnix and, when available, evaluates it with Nix.
fn emit_and_eval(expr: &Expr) -> Result<Option<Value>, TestCaseError> {
    let text = render(expr);
    check_syntax(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    match nix() {
        Some(nix) => nix
            .eval_json("generated.nix", &text)
            .map(Some)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}"))),
        None => Ok(None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_string_survives_emit_and_eval(strings in prop::collection::vec(tricky_string(24), 1..16)) {
        let expr = list(strings.iter().map(String::as_str));
        if let Some(value) = emit_and_eval(&expr)? {
            prop_assert_eq!(value, Value::from(strings));
        }
    }

    #[test]
    fn any_indented_string_survives_emit_and_eval(
        texts in prop::collection::vec(
            prop::collection::vec(tricky_string(12), 1..5).prop_map(|lines| lines.join("\n")),
            1..8,
        )
    ) {
        let expr = list(texts.iter().map(|t| indented([StrPart::lit(t.as_str())])));
        if let Some(value) = emit_and_eval(&expr)? {
            prop_assert_eq!(value, Value::from(texts));
        }
    }

    #[test]
    fn interpolations_in_both_string_forms_survive(
        pieces in prop::collection::vec((any::<bool>(), tricky_string(10)), 1..8),
        multiline in any::<bool>(),
    ) {
        // Interpolating a string literal yields that string, so the whole value is known.
        let parts: Vec<StrPart> = pieces
            .iter()
            .map(|(interp, text)| {
                if *interp { StrPart::interp(text.as_str()) } else { StrPart::lit(text.as_str()) }
            })
            .collect();
        let mut expected: String = pieces.iter().map(|(_, t)| t.as_str()).collect();
        let expr = if multiline {
            expected.insert(0, '\n');
            let mut parts = parts;
            parts.insert(0, StrPart::lit("\n"));
            indented(parts)
        } else {
            cim_domain_nix::interpolated(parts)
        };
        if let Some(value) = emit_and_eval(&list([expr]))? {
            prop_assert_eq!(value, Value::from(vec![expected]));
        }
    }

    #[test]
    fn any_attribute_name_survives_as_a_key(names in prop::collection::btree_set(tricky_string(16), 1..12)) {
        let expr = attrs(names.iter().enumerate().map(|(i, n)| (n.as_str(), Expr::from(i as i64))));
        if let Some(value) = emit_and_eval(&expr)? {
            let keys: BTreeSet<String> = value
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            prop_assert_eq!(keys, names.clone());
            for (i, name) in names.iter().enumerate() {
                prop_assert_eq!(&value[name.as_str()], &Value::from(i));
            }
        }
    }

    #[test]
    fn valid_identifiers_bind_and_resolve(name in "[A-Za-z_][A-Za-z0-9_'-]{0,10}") {
        prop_assume!(Ident::new(name.as_str()).is_ok());
        let mut bindings = AttrSet::new();
        bindings.insert(name.as_str(), "bound");
        let expr = let_in(bindings, ident(&name).map_err(|e| TestCaseError::fail(e.to_string()))?);
        if let Some(value) = emit_and_eval(&expr)? {
            prop_assert_eq!(value, Value::from("bound"));
        }
    }

    #[test]
    fn numbers_survive(ints in prop::collection::vec(any::<i64>(), 1..8),
                       floats in prop::collection::vec(-1.0e300f64..1.0e300, 1..8)) {
        let mut items: Vec<Expr> = ints.iter().map(|&i| Expr::from(i)).collect();
        for f in &floats {
            items.push(Expr::float(*f).map_err(|e| TestCaseError::fail(e.to_string()))?);
        }
        if let Some(value) = emit_and_eval(&Expr::List(items))? {
            let got = value.as_array().cloned().unwrap_or_default();
            for (i, n) in ints.iter().enumerate() {
                prop_assert_eq!(got[i].as_i64(), Some(*n));
            }
            for (j, f) in floats.iter().enumerate() {
                let back = got[ints.len() + j].as_f64().unwrap_or(f64::NAN);
                // Nix prints floats with limited precision in JSON; compare relatively.
                prop_assert!((back - f).abs() <= f.abs() * 1e-5, "{} became {}", f, back);
            }
        }
    }
}

/// Integer arithmetic with every precedence level the printer must parenthesise correctly.
#[derive(Debug, Clone)]
enum Arith {
    Num(i64),
    Neg(Box<Arith>),
    Op(BinOp, Box<Arith>, Box<Arith>),
    If(Box<Arith>, Box<Arith>, Box<Arith>, Box<Arith>),
}

impl Arith {
    fn value(&self) -> Option<i64> {
        Some(match self {
            Self::Num(n) => *n,
            Self::Neg(a) => a.value()?.checked_neg()?,
            Self::Op(op, a, b) => {
                let (a, b) = (a.value()?, b.value()?);
                match op {
                    BinOp::Add => a.checked_add(b)?,
                    BinOp::Sub => a.checked_sub(b)?,
                    BinOp::Mul => a.checked_mul(b)?,
                    _ => return None,
                }
            }
            Self::If(l, r, t, e) => {
                if l.value()? < r.value()? {
                    t.value()?
                } else {
                    e.value()?
                }
            }
        })
    }

    fn expr(&self) -> Expr {
        match self {
            Self::Num(n) => Expr::from(*n),
            Self::Neg(a) => a.expr().negate(),
            Self::Op(op, a, b) => a.expr().binop(*op, b.expr()),
            Self::If(l, r, t, e) => {
                if_then_else(l.expr().binop(BinOp::Lt, r.expr()), t.expr(), e.expr())
            }
        }
    }
}

fn arith() -> impl Strategy<Value = Arith> {
    (-20i64..20)
        .prop_map(Arith::Num)
        .prop_recursive(5, 32, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|a| Arith::Neg(Box::new(a))),
                (
                    prop::sample::select(vec![BinOp::Add, BinOp::Sub, BinOp::Mul]),
                    inner.clone(),
                    inner.clone()
                )
                    .prop_map(|(op, a, b)| Arith::Op(op, Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone(), inner.clone(), inner).prop_map(|(l, r, t, e)| {
                    Arith::If(Box::new(l), Box::new(r), Box::new(t), Box::new(e))
                }),
            ]
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn parentheses_keep_the_meaning_of_operator_trees(trees in prop::collection::vec(arith(), 1..12)) {
        let values: Vec<i64> = trees.iter().filter_map(Arith::value).collect();
        prop_assume!(values.len() == trees.len());
        let expr = list(trees.iter().map(Arith::expr));
        if let Some(value) = emit_and_eval(&expr)? {
            prop_assert_eq!(value, Value::from(values));
        }
    }
}

/// Arbitrary (not necessarily well-typed) expressions over the variables `a`, `b`, `c`.
fn any_expr() -> impl Strategy<Value = Expr> {
    let var =
        prop::sample::select(vec!["a", "b", "c"]).prop_map(|n| ident(n).unwrap_or(Expr::Null));
    let leaf = prop_oneof![
        Just(Expr::Null),
        any::<bool>().prop_map(Expr::from),
        any::<i64>().prop_map(Expr::from),
        tricky_string(8).prop_map(Expr::from),
        var,
        Just(cim_domain_nix::path("./x/y.nix").unwrap_or(Expr::Null)),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Expr::List),
            prop::collection::vec((tricky_string(6), inner.clone()), 0..5).prop_map(attrs),
            (
                inner.clone(),
                prop::collection::vec(tricky_string(5), 1..3),
                prop::option::of(inner.clone())
            )
                .prop_map(|(base, path, default)| match default {
                    Some(d) => base.select_or(path, d),
                    None => base.select(path),
                }),
            (inner.clone(), inner.clone()).prop_map(|(f, x)| f.apply(x)),
            (prop::sample::select(vec!["a", "b", "c"]), inner.clone()).prop_map(|(n, body)| {
                match Pattern::ident(n) {
                    Ok(p) => lambda(p, body),
                    Err(_) => body,
                }
            }),
            (tricky_string(6), inner.clone(), inner.clone()).prop_map(|(k, v, body)| {
                let mut set = AttrSet::new();
                set.insert(k, v);
                let_in(set, body)
            }),
            (inner.clone(), inner.clone()).prop_map(|(s, body)| with(s, body)),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, t, e)| if_then_else(c, t, e)),
            (
                prop::sample::select(vec![
                    BinOp::Concat,
                    BinOp::Mul,
                    BinOp::Div,
                    BinOp::Add,
                    BinOp::Sub,
                    BinOp::Update,
                    BinOp::Lt,
                    BinOp::Le,
                    BinOp::Gt,
                    BinOp::Ge,
                    BinOp::Eq,
                    BinOp::NotEq,
                    BinOp::And,
                    BinOp::Or,
                    BinOp::Implies,
                ]),
                inner.clone(),
                inner.clone(),
            )
                .prop_map(|(op, a, b)| a.binop(op, b)),
            inner.clone().prop_map(Expr::logical_not),
            inner.prop_map(Expr::negate),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_generated_expression_parses(exprs in prop::collection::vec(any_expr(), 1..6)) {
        let scope = cim_domain_nix::SetPattern::new(["a", "b", "c"])
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expr = lambda(scope, Expr::List(exprs));
        let text = render(&expr);
        check_syntax(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&render(&expr), &text, "rendering is not deterministic");
        if let Some(nix) = nix() {
            nix.parse("generated.nix", &text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        }
    }
}
