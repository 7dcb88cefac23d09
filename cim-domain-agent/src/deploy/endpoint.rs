//! Service URLs (NATS, Ollama) split into host and port, which network policies and firewall-like
//! output need; the URL itself is passed on unchanged.

/// A `scheme://[user@]host[:port][/path]` URL with its port made explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    host: String,
    /// Byte range of the host inside `url`, so the host can be swapped without re-assembling
    /// (and possibly re-spelling) the rest of the URL.
    host_at: std::ops::Range<usize>,
    port: u16,
}

impl Endpoint {
    /// Parses `url`; a missing port is the scheme's usual one (NATS 4222, HTTP 80, HTTPS 443).
    /// `None` when it is not a URL of that shape or the scheme has no known port and none is given.
    pub fn parse(url: &str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme_ok = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok || url.chars().any(char::is_whitespace) {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next()?;
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']')?;
            (host, after.strip_prefix(':'))
        } else {
            match host_port.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            }
        };
        if host.is_empty() {
            return None;
        }
        // `host` is a sub-slice of `url`, so its offset is a pointer difference.
        let start = host.as_ptr() as usize - url.as_ptr() as usize;
        let port = match port {
            Some(text) => text.parse::<u16>().ok().filter(|p| *p != 0)?,
            None => default_port(scheme)?,
        };
        Some(Self {
            url: url.to_owned(),
            host: host.to_owned(),
            host_at: start..start + host.len(),
            port,
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The host name or address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the host is this machine (`localhost`, `127.0.0.0/8`, `::1`).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The same URL with another host (an IPv4 address or a name).
    pub fn with_host(&self, host: &str) -> Self {
        let mut url = self.url.clone();
        url.replace_range(self.host_at.clone(), host);
        Self {
            url,
            host: host.to_owned(),
            host_at: self.host_at.start..self.host_at.start + host.len(),
            port: self.port,
        }
    }

    /// The explicit or scheme-default port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "nats" | "tls" => Some(4222),
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn ports_are_explicit_or_the_schemes_default() {
        let cases = [
            ("nats://10.0.0.1:4223", "10.0.0.1", 4223),
            ("nats://nats.internal", "nats.internal", 4222),
            ("tls://user:pw@nats:7422/x", "nats", 7422),
            ("http://gpu-1:11434", "gpu-1", 11434),
            ("https://ollama.example", "ollama.example", 443),
            ("nats://[fd00::1]:4222", "fd00::1", 4222),
        ];
        for (url, host, port) in cases {
            let endpoint = Endpoint::parse(url);
            assert_eq!(
                endpoint.as_ref().map(|e| (e.host(), e.port())),
                Some((host, port)),
                "{url}"
            );
        }
    }

    #[test]
    fn swapping_a_loopback_host_keeps_the_rest_of_the_url() {
        let local = Endpoint::parse("nats://user@127.0.0.1:4222/x?y");
        assert_eq!(local.as_ref().map(Endpoint::is_loopback), Some(true));
        let swapped = local.map(|e| e.with_host("10.233.0.1"));
        assert_eq!(
            swapped.as_ref().map(|e| (e.url(), e.host(), e.port())),
            Some(("nats://user@10.233.0.1:4222/x?y", "10.233.0.1", 4222))
        );
        assert_eq!(
            Endpoint::parse("http://localhost").map(|e| e.with_host("h").url().to_owned()),
            Some("http://h".to_owned())
        );
        assert_eq!(
            Endpoint::parse("nats://10.0.0.1").map(|e| e.is_loopback()),
            Some(false)
        );
    }

    #[test]
    fn malformed_urls_are_rejected() {
        for url in [
            "",
            "nats",
            "://host",
            "nats://",
            "nats://host:0",
            "nats://host:99999",
            "nats://host:port",
            "gopher://host",
            "nats://ho st",
            "nats://[fd00::1",
        ] {
            assert_eq!(Endpoint::parse(url), None, "{url}");
        }
    }
}
