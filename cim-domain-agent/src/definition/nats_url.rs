//! The one rule for a NATS server URL, wherever one is given (`nats.url` in a definition,
//! `--nats-url` on the command line, a graph's message bus address).

/// Why `url` is not a NATS server URL, or `None`: the scheme is `nats://`, `tls://`, `ws://` or
/// `wss://`, a host follows, and nothing after the optional port (NATS clients connect to a
/// server, so a path, query or fragment would be ignored or refused; the rule is the same in
/// every command). Whitespace and control characters are refused.
pub fn nats_url_problem(url: &str) -> Option<&'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("it has no scheme (nats://, tls://, ws:// or wss://)");
    };
    if !matches!(scheme, "nats" | "tls" | "ws" | "wss") {
        return Some("its scheme is not nats://, tls://, ws:// or wss://");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it contains whitespace or control characters");
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Some("a NATS server URL has no path, query or fragment");
    }
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() || host.starts_with(':') {
        return Some("it names no host");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::nats_url_problem;

    #[test]
    fn one_rule_for_nats_urls() {
        for good in [
            "nats://10.0.0.1:4222",
            "nats://bus.example.org",
            "tls://user:pw@bus:4443/",
            "ws://[fd00::1]:8080",
        ] {
            assert_eq!(nats_url_problem(good), None, "{good}");
        }
        for bad in [
            "10.0.0.1:4222",
            "http://bus:4222",
            "nats://",
            "nats://:4222",
            "nats://bus:4222/x",
            "nats://bus?x=1",
            "nats://bus #",
        ] {
            assert!(nats_url_problem(bad).is_some(), "{bad}");
        }
    }
}
