//! Validation of the names that become subjects, stream names and KV keys.
//!
//! A name is checked once, where it enters; a bad one is an error naming it, never a wildcard.

use crate::error::{JetStreamError, NameKind};

/// Checks one subject token: not empty, no `.`, `*`, `>` or whitespace/control characters.
pub(crate) fn check_token(kind: NameKind, value: &str) -> Result<(), JetStreamError> {
    let reason = if value.is_empty() {
        Some("it is empty")
    } else if value.contains('.') {
        Some("it contains '.', which separates subject tokens")
    } else if value.contains('*') || value.contains('>') {
        Some("it contains a subject wildcard ('*' or '>')")
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains whitespace or a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(JetStreamError::InvalidName {
            kind,
            value: value.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks a dotted subject prefix such as `cim.events`: every token must be valid.
pub(crate) fn check_prefix(value: &str) -> Result<(), JetStreamError> {
    if value.is_empty() {
        return Err(JetStreamError::InvalidName {
            kind: NameKind::SubjectPrefix,
            value: String::new(),
            reason: "it is empty",
        });
    }
    for token in value.split('.') {
        check_token(NameKind::SubjectPrefix, token).map_err(|_| JetStreamError::InvalidName {
            kind: NameKind::SubjectPrefix,
            value: value.to_string(),
            reason: "every dot-separated token must be non-empty without '*', '>' or whitespace",
        })?;
    }
    Ok(())
}

/// Checks a stream or bucket name: letters, digits, `-` and `_` only.
pub(crate) fn check_resource_name(kind: NameKind, value: &str) -> Result<(), JetStreamError> {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(JetStreamError::InvalidName {
            kind,
            value: value.to_string(),
            reason: "only ASCII letters, digits, '-' and '_' are allowed",
        })
    }
}

/// Turns an id into a KV key token: `[A-Za-z0-9_-]` stay, every other byte becomes `=XX`.
///
/// Injective and deterministic, so any valid subject token maps to exactly one KV key.
pub(crate) fn kv_token(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("={byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_with_separators_or_wildcards_are_rejected() {
        for bad in ["", "a.b", "*", "a>", "a b", "tab\t", "new\nline"] {
            assert!(
                check_token(NameKind::AggregateId, bad).is_err(),
                "{bad:?} was accepted"
            );
        }
        for good in [
            "host-1",
            "0197b5a4-7c1e-7000-8000-000000000001",
            "a:b",
            "ünïcode",
        ] {
            assert!(
                check_token(NameKind::AggregateId, good).is_ok(),
                "{good:?} was rejected"
            );
        }
    }

    #[test]
    fn bad_id_error_names_the_id() {
        let err = check_token(NameKind::AggregateId, "a.*").err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("aggregate id \"a.*\""), "{text}");
    }

    #[test]
    fn prefixes_are_checked_token_by_token() {
        assert!(check_prefix("cim.events").is_ok());
        for bad in ["", "cim..events", "cim.*", ".cim", "cim events"] {
            assert!(check_prefix(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn kv_tokens_are_injective_on_escapes() {
        assert_eq!(kv_token("plain-id_1"), "plain-id_1");
        assert_eq!(kv_token("a:b"), "a=3Ab");
        assert_ne!(kv_token("a=3Ab"), kv_token("a:b"));
        assert_eq!(kv_token("a/b"), "a=2Fb");
    }
}
