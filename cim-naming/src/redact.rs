//! The one redaction of URLs for display: credentials (`user:password@`) never reach a message,
//! a log line or generated output.

/// What stands in for removed credentials.
pub const REDACTED: &str = "***";

/// `text` (one URL, or several separated by commas as NATS clients accept) with the userinfo of
/// every URL replaced by [`REDACTED`]: `nats://alice:s3cret@host:4222` shows as
/// `nats://***@host:4222`. A URL the `url` crate cannot parse is redacted by text: everything
/// before its last `@` (after any `scheme://`) is replaced. Text without `@` is returned as is.
pub fn redact_url(text: &str) -> String {
    text.split(',')
        .map(redact_one)
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `text` (one URL or several, comma-separated) carries a user name or password.
pub fn has_credentials(text: &str) -> bool {
    redact_url(text) != text
}

fn redact_one(part: &str) -> String {
    if !part.contains('@') {
        return part.to_owned();
    }
    if let Ok(mut url) = url::Url::parse(part.trim())
        && url.has_host()
        && !url.cannot_be_a_base()
    {
        if url.username().is_empty() && url.password().is_none() {
            return part.to_owned();
        }
        if url.set_username(REDACTED).is_ok() && url.set_password(None).is_ok() {
            return url.to_string();
        }
    }
    let (scheme, rest) = match part.find("://") {
        Some(at) => part.split_at(at + 3),
        None => ("", part),
    };
    match rest.rfind('@') {
        Some(at) => format!("{scheme}{REDACTED}{}", &rest[at..]),
        None => part.to_owned(),
    }
}
