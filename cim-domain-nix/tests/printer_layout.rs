//! Exact text for each construct: escaping, quoting, parentheses and line breaking.

use cim_domain_nix::{
    AttrSet, Expr, Ident, NixError, Pattern, RenderOptions, SetPattern, StrPart, attrs,
    check_syntax, ident, if_then_else, import, indented, interpolated, lambda, let_in, list, path,
    rec_attrs, render, render_with, with,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Renders without the trailing newline and checks that rnix accepts it.
fn show(expr: &Expr) -> Result<String, Box<dyn std::error::Error>> {
    let text = render(expr);
    check_syntax(&text)?;
    Ok(text.trim_end_matches('\n').to_owned())
}

#[test]
fn double_quoted_strings_escape_every_special_character() -> TestResult {
    assert_eq!(
        show(&"a\\b\"c${d}$e\nf\rg\th é".into())?,
        r#""a\\b\"c\${d}\$e\nf\rg\th é""#
    );
    Ok(())
}

#[test]
fn attribute_names_are_quoted_unless_bare_and_not_keywords() -> TestResult {
    let set = attrs([
        ("enable", Expr::from(true)),
        ("nats-server", 1.into()),
        ("x'", 2.into()),
        ("8080/tcp", 3.into()),
        ("inherit", 4.into()),
        ("a.b", 5.into()),
        ("", 6.into()),
        ("${x}", 7.into()),
    ]);
    assert_eq!(
        show(&set)?,
        r#"{
  enable = true;
  nats-server = 1;
  x' = 2;
  "8080/tcp" = 3;
  "inherit" = 4;
  "a.b" = 5;
  "" = 6;
  "\${x}" = 7;
}"#
    );
    Ok(())
}

#[test]
fn nested_paths_merge_and_single_children_print_as_paths() -> TestResult {
    let mut set = AttrSet::new();
    set.insert(["bindMounts", "/var/lib/cim-agent", "hostPath"], "/srv/a");
    set.insert(["services", "nats", "enable"], true);
    set.insert(["services", "nats", "port"], 4222);
    assert_eq!(
        show(&set.into())?,
        r#"{
  bindMounts."/var/lib/cim-agent".hostPath = "/srv/a";
  services.nats = {
    enable = true;
    port = 4222;
  };
}"#
    );
    Ok(())
}

#[test]
fn insert_replaces_values_and_merges_sets_in_place() -> TestResult {
    let mut set = AttrSet::new();
    set.insert("a", 1);
    set.insert("b", attrs([("x", Expr::from(1))]));
    set.insert("a", 2);
    set.insert("b", attrs([("y", Expr::from(2))]));
    assert_eq!(
        show(&set.clone().into())?,
        "{\n  a = 2;\n  b = {\n    x = 1;\n    y = 2;\n  };\n}"
    );
    assert_eq!(set.get_path(["b", "y"]), Some(&Expr::from(2)));
    Ok(())
}

#[test]
fn negative_numbers_and_loose_expressions_get_parentheses_where_needed() -> TestResult {
    let f = ident("f")?;
    assert_eq!(show(&list([-1, 2]))?, "[ (-1) 2 ]");
    assert_eq!(show(&f.clone().apply(-1))?, "f (-1)");
    assert_eq!(show(&i64::MIN.into())?, "-9223372036854775807 - 1");
    assert_eq!(
        show(&list([Expr::from(i64::MIN)]))?,
        "[ (-9223372036854775807 - 1) ]"
    );
    assert_eq!(
        show(&f.clone().apply(ident("g")?.apply(ident("x")?)))?,
        "f (g x)"
    );
    assert_eq!(show(&path("./a.nix")?.select("x"))?, "(./a.nix).x");
    assert_eq!(
        show(&ident("x")?.select_or(["a", "b"], ident("y")?.select("c")))?,
        "x.a.b or y.c"
    );
    let sum = ident("a")?.binop(cim_domain_nix::BinOp::Add, ident("b")?);
    assert_eq!(
        show(&sum.clone().binop(cim_domain_nix::BinOp::Mul, ident("c")?))?,
        "(a + b) * c"
    );
    assert_eq!(
        show(&ident("c")?.binop(cim_domain_nix::BinOp::Sub, sum))?,
        "c - (a + b)"
    );
    assert_eq!(
        show(&ident("a")?.update(ident("b")?).update(ident("c")?))?,
        "a // b // c"
    );
    Ok(())
}

#[test]
fn floats_always_lex_as_floats() -> TestResult {
    assert_eq!(show(&Expr::float(1.0)?)?, "1.0");
    assert_eq!(show(&Expr::float(1e300)?)?, "1.0e300");
    assert_eq!(show(&Expr::float(-2.5e-7)?)?, "-2.5e-7");
    assert!(matches!(
        Expr::float(f64::NAN),
        Err(NixError::NonFiniteFloat { .. })
    ));
    Ok(())
}

#[test]
fn indented_strings_are_used_only_when_they_keep_the_text() -> TestResult {
    let script = indented([StrPart::lit("set -e\n  echo '$HOME' ${x}\nexit 0\n")]);
    let set = attrs([("script", script)]);
    assert_eq!(
        show(&set)?,
        "{\n  script = ''\n    set -e\n      echo '$HOME' ''${x}\n    exit 0\n  '';\n}"
    );
    // Every line indented, trailing `'`, trailing spaces, single line, CR: double quotes.
    for text in ["  a\n  b", "a\nb'", "a\n  ", "one line", "a\r\nb"] {
        let shown = show(&indented([StrPart::lit(text)]))?;
        assert!(shown.starts_with('"'), "{text:?} printed as {shown}");
    }
    let with_interp = indented([
        StrPart::lit("exec "),
        StrPart::interp(ident("pkgs")?.select("nats-server")),
        StrPart::lit("/bin/nats-server $\n"),
    ]);
    assert_eq!(
        show(&with_interp)?,
        "''\n  exec ${pkgs.nats-server}/bin/nats-server $\n''"
    );
    Ok(())
}

#[test]
fn functions_let_with_and_if_lay_out_like_nixpkgs() -> TestResult {
    let pattern = SetPattern::new(["self", "nixpkgs"])?
        .field_with_default("system", "x86_64-linux")?
        .ellipsis()
        .bind("inputs")?;
    let mut bindings = AttrSet::new();
    bindings.insert("pkgs", import(path("<nixpkgs>")?).apply(attrs::<&str>([])));
    let body = let_in(
        bindings,
        with(
            ident("pkgs")?,
            if_then_else(ident("x")?, list([ident("hello")?]), Expr::List(vec![])),
        ),
    );
    assert_eq!(
        show(&lambda(pattern, body))?,
        "{ self, nixpkgs, system ? \"x86_64-linux\", ... }@inputs:\n\nlet\n  pkgs = import <nixpkgs> { };\nin\nwith pkgs;\n\nif x then [ hello ] else [ ]"
    );
    let nested = attrs([("f", lambda(Pattern::ident("x")?, ident("x")?))]);
    assert_eq!(show(&nested)?, "{ f = x: x; }");
    Ok(())
}

#[test]
fn inherit_rec_and_interpolation() -> TestResult {
    let mut set = AttrSet::new_rec();
    set.inherit([Ident::new("lib")?]);
    set.inherit_from(ident("pkgs")?, [Ident::new("hello")?, Ident::new("jq")?]);
    set.insert(
        "name",
        interpolated([StrPart::lit("cim-"), StrPart::interp(ident("version")?)]),
    );
    assert_eq!(
        show(&set.into())?,
        "rec {\n  inherit lib;\n  inherit (pkgs) hello jq;\n  name = \"cim-${version}\";\n}"
    );
    assert_eq!(show(&rec_attrs([("a", Expr::from(1))]))?, "rec { a = 1; }");
    Ok(())
}

#[test]
fn long_lists_break_one_item_per_line() -> TestResult {
    let items: Vec<String> = (0..12).map(|i| format!("item-number-{i}")).collect();
    let text = show(&list(items.iter()))?;
    assert_eq!(text.lines().count(), 14);
    assert!(text.starts_with("[\n  \"item-number-0\"\n"));
    Ok(())
}

#[test]
fn sorted_output_orders_keys_at_every_level() -> TestResult {
    let mut set = AttrSet::new();
    set.insert(["z", "b"], 1);
    set.insert(["z", "a"], 2);
    set.insert("m", 3);
    let text = render_with(
        &set.into(),
        &RenderOptions {
            sort_keys: true,
            ..RenderOptions::default()
        },
    );
    assert_eq!(
        text,
        "{\n  m = 3;\n  z = {\n    a = 2;\n    b = 1;\n  };\n}\n"
    );
    Ok(())
}

#[test]
fn large_sets_find_existing_keys_and_inherits() -> TestResult {
    let mut set = AttrSet::new();
    for i in 0..40 {
        set.insert(format!("k{i}"), i);
    }
    set.insert("k3", "replaced");
    set.inherit([Ident::new("k7")?]);
    set.insert(["k39", "deep"], 1);
    assert_eq!(
        set.len(),
        40,
        "k7 moved into the inherit; no key was duplicated"
    );
    assert_eq!(set.get("k3"), Some(&Expr::from("replaced")));
    assert_eq!(set.get("k7"), None);
    assert_eq!(set.get_path(["k39", "deep"]), Some(&Expr::from(1)));
    let text = show(&set.into())?;
    assert_eq!(text.matches("k7").count(), 1);
    Ok(())
}
