//! Reading back which TCP ports a generated host module opens, from its syntax tree (rnix).

use std::collections::BTreeSet;

use rnix::ast::{self, HasEntry as _};

/// Why a host module's firewall could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirewallError {
    /// The text does not parse.
    #[error("the module does not parse: {0}")]
    Syntax(String),
    /// `allowedTCPPorts` is not a list of port numbers.
    #[error("networking.firewall.allowedTCPPorts is not a list of port numbers: {0}")]
    NotPorts(String),
}

const PATH: [&str; 3] = ["networking", "firewall", "allowedTCPPorts"];

/// The ports `networking.firewall.allowedTCPPorts` opens in a NixOS module's text, wherever
/// the path is split between nested attribute sets (`networking = { firewall.x = ...; }`),
/// through a module function's body. Per-interface rules (`firewall.interfaces.<if>`) are not
/// counted: they do not open a port to the network.
///
/// # Errors
/// [`FirewallError`] when the text does not parse or the value is not a list of integers.
pub fn opened_tcp_ports(text: &str) -> Result<BTreeSet<u16>, FirewallError> {
    let parse = rnix::Root::parse(text);
    if let Some(error) = parse.errors().first() {
        return Err(FirewallError::Syntax(error.to_string()));
    }
    let mut ports = BTreeSet::new();
    if let Some(expr) = parse.tree().expr() {
        collect(&expr, &mut Vec::new(), &mut ports)?;
    }
    Ok(ports)
}

fn collect(
    expr: &ast::Expr,
    path: &mut Vec<String>,
    ports: &mut BTreeSet<u16>,
) -> Result<(), FirewallError> {
    match expr {
        ast::Expr::Lambda(lambda) => match lambda.body() {
            Some(body) => collect(&body, path, ports),
            None => Ok(()),
        },
        ast::Expr::Paren(paren) => match paren.expr() {
            Some(inner) => collect(&inner, path, ports),
            None => Ok(()),
        },
        ast::Expr::AttrSet(set) => {
            for entry in set.attrpath_values() {
                let Some(attrpath) = entry.attrpath() else {
                    continue;
                };
                let depth = path.len();
                path.extend(attrpath.attrs().map(|attr| attr_name(&attr)));
                let relevant = path.iter().zip(PATH).all(|(a, b)| a == b);
                if relevant && let Some(value) = entry.value() {
                    if path.len() == PATH.len() {
                        read_ports(&value, ports)?;
                    } else if path.len() < PATH.len() {
                        collect(&value, path, ports)?;
                    }
                }
                path.truncate(depth);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn attr_name(attr: &ast::Attr) -> String {
    match attr {
        ast::Attr::Ident(ident) => ident.to_string(),
        other => other.to_string().trim_matches('"').to_owned(),
    }
}

fn read_ports(value: &ast::Expr, ports: &mut BTreeSet<u16>) -> Result<(), FirewallError> {
    let ast::Expr::List(list) = value else {
        return Err(FirewallError::NotPorts(value.to_string()));
    };
    for item in list.items() {
        let port = match &item {
            ast::Expr::Literal(literal) => match literal.kind() {
                ast::LiteralKind::Integer(integer) => integer
                    .value()
                    .ok()
                    .and_then(|value| u16::try_from(value).ok()),
                _ => None,
            },
            _ => None,
        };
        match port {
            Some(port) => {
                ports.insert(port);
            }
            None => return Err(FirewallError::NotPorts(item.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_dotted_paths_are_read_through_the_module_function() {
        let text = "{ config, ... }:\n{\n  networking = {\n    hostName = \"a\";\n    firewall.allowedTCPPorts = [ 80 9100 ];\n  };\n  networking.firewall.interfaces.\"ve-+\".allowedTCPPorts = [ 4222 ];\n}\n";
        assert_eq!(opened_tcp_ports(text), Ok(BTreeSet::from([80, 9100])));
    }

    #[test]
    fn a_fully_dotted_path_counts_and_other_options_do_not() {
        let text =
            "{ networking.firewall.allowedTCPPorts = [ 22 ]; services.x.allowedTCPPorts = [ 1 ]; }";
        assert_eq!(opened_tcp_ports(text), Ok(BTreeSet::from([22])));
    }

    #[test]
    fn a_port_that_is_not_a_number_is_an_error() {
        let text = "{ networking.firewall.allowedTCPPorts = [ config.port ]; }";
        assert!(matches!(
            opened_tcp_ports(text),
            Err(FirewallError::NotPorts(_))
        ));
        assert!(matches!(
            opened_tcp_ports("{ networking = "),
            Err(FirewallError::Syntax(_))
        ));
    }
}
