//! `redact_url` (issue 12, item 8): a URL is displayed without its user name or password, in
//! every form a NATS client accepts; URLs without credentials are shown unchanged.

use cim_naming::redact::{has_credentials, redact_url};

#[test]
fn user_and_password_are_replaced() {
    let shown = redact_url("nats://alice:s3cret@nats.internal:4222");
    assert_eq!(shown, "nats://***@nats.internal:4222");
}

#[test]
fn a_token_alone_is_replaced() {
    assert_eq!(redact_url("tls://tok3n@nats:7422"), "tls://***@nats:7422");
}

#[test]
fn every_url_of_a_comma_separated_list_is_redacted() {
    let shown = redact_url("nats://a:pw1@n1:4222,nats://n2:4222,nats://b:pw2@n3:4222");
    assert_eq!(
        shown,
        "nats://***@n1:4222,nats://n2:4222,nats://***@n3:4222"
    );
}

#[test]
fn a_url_without_a_scheme_is_redacted_by_text() {
    let shown = redact_url("alice:s3cret@nats:4222");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.ends_with("@nats:4222"), "{shown}");
}

#[test]
fn a_password_with_an_at_sign_does_not_survive() {
    let shown = redact_url("nats://alice:p@ss@nats:4222");
    assert!(
        !shown.contains("p@ss") && !shown.contains("alice"),
        "{shown}"
    );
}

#[test]
fn urls_without_credentials_are_unchanged() {
    for url in [
        "nats://127.0.0.1:4222",
        "nats://[::1]:4222",
        "localhost:4222",
    ] {
        assert_eq!(redact_url(url), url);
        assert!(!has_credentials(url), "{url}");
    }
    assert!(has_credentials("nats://u:p@h:4222"));
}
