//! Reading one value back from Nix text this crate (or a person) wrote, with rnix.
//!
//! The translator asks this of the previous generation's host modules: which
//! `system.stateVersion` an installed host was generated with, so a new default never changes it.

use rnix::ast;
use rowan::ast::AstNode;

/// The literal bound at attribute path `path` in `text`, or `None` when there is none.
///
/// The binding may be written with a dotted path (`system.stateVersion = "25.05";`), nested
/// (`system = { stateVersion = "25.05"; };`) or mixed, inside any attribute sets and function
/// bodies (a NixOS module `{ config, ... }: { … }`). Only plain values count: a string without
/// interpolation gives its text, an integer its digits; any other expression gives `None`, as
/// does text that does not parse. When the path is bound more than once, the first binding in
/// the text wins.
///
/// ```
/// let module = r#"{ lib, ... }: { system = { stateVersion = "25.05"; }; }"#;
/// assert_eq!(cim_domain_nix::literal_at(module, &["system", "stateVersion"]), Some("25.05".into()));
/// assert_eq!(cim_domain_nix::literal_at(module, &["networking", "hostName"]), None);
/// ```
pub fn literal_at(text: &str, path: &[&str]) -> Option<String> {
    let parse = rnix::Root::parse(text);
    if !parse.errors().is_empty() {
        return None;
    }
    let root = parse.tree();
    root.syntax()
        .descendants()
        .filter_map(ast::AttrpathValue::cast)
        .find(|binding| full_path(binding).is_some_and(|p| p == path))
        .and_then(|binding| literal(&binding.value()?))
}

/// The attribute path of `binding` from the outermost attribute set: its own path after the
/// paths of the bindings whose values enclose it. `None` when an attribute is not a plain name.
fn full_path(binding: &ast::AttrpathValue) -> Option<Vec<String>> {
    let mut path = names(binding)?;
    let mut node = binding.syntax().parent();
    while let Some(current) = node {
        if let Some(outer) = ast::AttrpathValue::cast(current.clone()) {
            let mut outer_path = names(&outer)?;
            outer_path.extend(path);
            path = outer_path;
        }
        node = current.parent();
    }
    Some(path)
}

/// The names of a binding's own attribute path.
fn names(binding: &ast::AttrpathValue) -> Option<Vec<String>> {
    binding
        .attrpath()?
        .attrs()
        .map(|attr| match attr {
            ast::Attr::Ident(ident) => Some(ident.ident_token()?.text().to_owned()),
            ast::Attr::Str(string) => plain_string(&string),
            ast::Attr::Dynamic(_) => None,
        })
        .collect()
}

fn plain_string(string: &ast::Str) -> Option<String> {
    let mut text = String::new();
    for part in string.normalized_parts() {
        match part {
            ast::InterpolPart::Literal(literal) => text.push_str(&literal),
            ast::InterpolPart::Interpolation(_) => return None,
        }
    }
    Some(text)
}

fn literal(expr: &ast::Expr) -> Option<String> {
    match expr {
        ast::Expr::Str(string) => plain_string(string),
        ast::Expr::Literal(literal) => {
            let digits = literal.syntax().text().to_string();
            digits.parse::<i64>().is_ok().then_some(digits)
        }
        ast::Expr::Paren(paren) => literal(&paren.expr()?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::literal_at;

    const PATH: [&str; 2] = ["system", "stateVersion"];

    #[test]
    fn dotted_nested_and_module_forms_are_found() {
        for text in [
            r#"{ system.stateVersion = "25.05"; }"#,
            r#"{ system = { stateVersion = "25.05"; }; }"#,
            r#"{ config, ... }: { networking.hostName = "a"; system = { stateVersion = "25.05"; }; }"#,
            r#"{ "system"."stateVersion" = "25.05"; }"#,
        ] {
            assert_eq!(literal_at(text, &PATH), Some("25.05".to_owned()), "{text}");
        }
    }

    #[test]
    fn integers_count_and_other_expressions_do_not() {
        assert_eq!(
            literal_at("{ system.stateVersion = 6; }", &PATH),
            Some("6".to_owned())
        );
        for text in [
            r#"{ system.stateVersion = "${x}"; }"#,
            "{ system.stateVersion = lib.trivial.release; }",
            "{ system.stateVersion = 2.5; }",
            r#"{ other.stateVersion = "25.05"; }"#,
            r#"{ system.stateVersion = "25.05" "#,
            r#"{ x = { system.stateVersion = "25.05"; }; }"#,
        ] {
            assert_eq!(literal_at(text, &PATH), None, "{text}");
        }
    }
}
