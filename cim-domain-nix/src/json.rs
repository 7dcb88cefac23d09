//! Data-only Nix values and JSON, both ways: what NixOS does when a module renders `settings`
//! as JSON (for example `services.nats.settings` becomes nats-server's configuration file).
//!
//! Only data converts: `null`, booleans, integers, finite floats, literal strings (also
//! indented ones), lists and non-recursive attribute sets of those. A path, a variable, an
//! interpolated string or any computation has no JSON value until Nix evaluates it.

use serde_json::{Map, Number, Value};

use crate::attrs::{AttrSet, Binding};
use crate::expr::{Expr, Float};

/// The Nix value of `value`: objects become attribute sets (keys taken literally, never split
/// on `.`), arrays lists, numbers integers (or floats when not integral). A number that is
/// neither an `i64` nor a finite `f64` (a `u64` above `i64::MAX`) becomes a float, as Nix
/// would read it.
pub fn from_json(value: &Value) -> Expr {
    match value {
        Value::Null => Expr::Null,
        Value::Bool(b) => Expr::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Expr::Int(i),
            None => n
                .as_f64()
                .and_then(|f| Float::new(f).ok())
                .map_or(Expr::Null, Expr::Float),
        },
        Value::String(s) => Expr::from(s.as_str()),
        Value::Array(items) => Expr::List(items.iter().map(from_json).collect()),
        Value::Object(map) => {
            let mut set = AttrSet::new();
            for (key, item) in map {
                set.insert(key.as_str(), from_json(item));
            }
            Expr::AttrSet(set)
        }
    }
}

/// The JSON of a data-only `expr` (see the [module documentation](self)); `None` when some
/// part of it needs evaluation (a path, variable, interpolation, function, `rec` set,
/// `inherit`).
pub fn to_json(expr: &Expr) -> Option<Value> {
    Some(match expr {
        Expr::Null => Value::Null,
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Int(i) => Value::Number((*i).into()),
        Expr::Float(f) => Value::Number(Number::from_f64(f.get())?),
        Expr::Str(s) | Expr::IndentedStr(s) => Value::String(s.as_literal()?.to_owned()),
        Expr::List(items) => Value::Array(items.iter().map(to_json).collect::<Option<_>>()?),
        Expr::AttrSet(set) if !set.is_rec() => {
            let mut map = Map::new();
            for binding in set.bindings() {
                let Binding::Attr { key, value } = binding else {
                    return None;
                };
                map.insert(key.clone(), to_json(value)?);
            }
            Value::Object(map)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_round_trips() {
        let value = json!({
            "authorization": {"users": [{"nkey": "UABC", "permissions": {"publish": {"allow": ["a.>"]}}}]},
            "a.b": 1, "f": 1.5, "n": null, "t": true, "s": "x\"${y}"
        });
        assert_eq!(to_json(&from_json(&value)), Some(value));
    }

    #[test]
    fn computations_have_no_json() -> Result<(), crate::NixError> {
        assert_eq!(to_json(&crate::ident("pkgs")?), None);
        assert_eq!(to_json(&crate::path("./x")?), None);
        Ok(())
    }
}
