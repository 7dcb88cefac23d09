//! Values that NixOS writes into line-based files: systemd unit lines, nginx configuration,
//! `/etc/hosts`. NixOS does not escape them there, so a newline or a `;` in such a value adds a
//! line or a directive of its own. Each function here is the one rule for one kind of value.
//!
//! | value | rule |
//! |---|---|
//! | [`line_value_problem`]: commands, environment values, paths, URLs, free text | no control characters (newline, carriage return, tab, NUL, ...) and no Unicode line or paragraph separators |
//! | [`host_address_problem`]: `/etc/hosts` entries, addresses other hosts connect to | an IPv4 or IPv6 address, or a DNS name |
//! | [`server_name_problem`]: nginx `server_name` | one DNS name, optionally with a leading `*.` wildcard |
//!
//! ```
//! use cim_naming::{host_address_problem, line_value_problem, server_name_problem};
//!
//! assert!(line_value_problem("true\nExecStartPre=+/bin/sh").is_some());
//! assert!(host_address_problem("10.0.0.1\nevil").is_some());
//! assert!(host_address_problem("fd00::1").is_none());
//! assert!(server_name_problem("a; return 302 http://evil").is_some());
//! assert!(server_name_problem("*.example.org").is_none());
//! ```

use std::net::IpAddr;

/// Longest DNS name in text form (RFC 1035: 255 octets on the wire, 253 characters written).
pub const MAX_DNS_NAME_LEN: usize = 253;

/// Why `value` cannot be written as (part of) one line of a generated file, or `None` when it
/// can: it must hold no control character (`\n`, `\r`, `\t`, NUL, U+0085, ...) and no Unicode
/// line or paragraph separator (U+2028, U+2029).
pub fn line_value_problem(value: &str) -> Option<&'static str> {
    value
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
        .then_some(
            "it contains a control character or line break, which would add a line to the generated file",
        )
}

/// Why `address` is neither an IP address nor a DNS name, or `None` when it is one.
pub fn host_address_problem(address: &str) -> Option<&'static str> {
    if address.parse::<IpAddr>().is_ok() {
        return None;
    }
    dns_name_problem(address).map(|_| "must be an IPv4 or IPv6 address or a DNS name")
}

/// Why `name` is not one valid nginx `server_name`, or `None` when it is: a DNS name, optionally
/// starting with the wildcard label `*.`. Several names and regular expressions
/// are not accepted.
pub fn server_name_problem(name: &str) -> Option<&'static str> {
    let rest = name.strip_prefix("*.").unwrap_or(name);
    dns_name_problem(rest).map(|_| {
        "must be one DNS name such as `app.example.org` or `*.example.org` \
         (letters, digits, `-` and `.`)"
    })
}

/// Why `name` is not a DNS name: labels of 1–63 letters, digits, `-` and `_` (used by SRV
/// names), not starting or ending with `-`, at most 253 characters; one trailing `.` allowed.
fn dns_name_problem(name: &str) -> Option<()> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > MAX_DNS_NAME_LEN {
        return Some(());
    }
    let bad_label = |label: &str| {
        label.is_empty()
            || label.len() > crate::MAX_LABEL_LEN
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    name.split('.').any(bad_label).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_values_refuse_every_line_break() {
        for bad in ["a\nb", "a\rb", "a\u{0}b", "a\u{85}b", "a\u{2028}b", "a\tb"] {
            assert!(line_value_problem(bad).is_some(), "{bad:?}");
        }
        assert!(line_value_problem("python3 -m http.server 8080 --bind '::'").is_none());
    }

    #[test]
    fn addresses_are_ips_or_dns_names() {
        for good in [
            "10.0.0.1",
            "fd00::1",
            "db.internal",
            "h1",
            "h1.example.org.",
        ] {
            assert_eq!(host_address_problem(good), None, "{good}");
        }
        for bad in [
            "10.0.0.1\nevil",
            "10.0.0.1 evil",
            "",
            "a..b",
            "-a",
            "a/b",
            "[fd00::1]",
        ] {
            assert!(host_address_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn server_names_are_single_dns_names() {
        for good in ["example.org", "*.example.org", "localhost"] {
            assert_eq!(server_name_problem(good), None, "{good}");
        }
        for bad in [
            "a; return 302 http://evil",
            "a b",
            "a{",
            "*",
            "~^x$",
            "a\nb",
        ] {
            assert!(server_name_problem(bad).is_some(), "{bad:?}");
        }
    }
}
