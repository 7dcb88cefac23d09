//! The one place socket addresses and URLs are written: `host:port` and `scheme://host:port`.
//!
//! An IP literal is kept as a typed [`IpAddr`] and an IPv6 one is always bracketed
//! (`[fd00::10]:8080`, `nats-route://[fd00::2]:6222`, RFC 3986 section 3.2.2); a host name is
//! kept as the name it is.
//!
//! ```
//! use cim_naming::HostPort;
//!
//! assert_eq!(HostPort::new("fd00::10", 8080).to_string(), "[fd00::10]:8080");
//! assert_eq!(HostPort::new("10.0.0.2", 6222).url("nats-route"), "nats-route://10.0.0.2:6222");
//! assert_eq!(HostPort::new("hub.example", 7422).url("nats-leaf"), "nats-leaf://hub.example:7422");
//! ```

use std::fmt;
use std::net::IpAddr;

/// A host: an IP address literal or a name (DNS or `/etc/hosts`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A host name, written as given.
    Name(String),
}

impl Host {
    /// Reads `text` as an IP literal (an IPv6 one with or without brackets), else as a name.
    pub fn parse(text: &str) -> Self {
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        match bare.parse::<IpAddr>() {
            Ok(ip) => Self::Ip(ip),
            Err(_) => Self::Name(text.to_owned()),
        }
    }
}

impl fmt::Display for Host {
    /// IPv6 bracketed (`[fd00::1]`), IPv4 and names as they are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Self::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// A host and a TCP/UDP port, written `host:port` with IPv6 bracketed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostPort {
    /// The host.
    pub host: Host,
    /// The port.
    pub port: u16,
}

impl HostPort {
    /// `host` (an address or a name, see [`Host::parse`]) and `port`.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: Host::parse(host),
            port,
        }
    }

    /// `scheme://host:port`, e.g. `nats://[fd00::2]:4222`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{self}")
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

    fn name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9-]{0,20}[a-z0-9](\\.[a-z][a-z0-9]{0,10}){0,3}"
    }

    proptest! {
        #[test]
        fn ip_literals_parse_back_as_socket_addresses_and_urls(
            v4 in any::<u32>(),
            v6 in any::<u128>(),
            port in 1u16..,
        ) {
            for ip in [IpAddr::V4(Ipv4Addr::from(v4)), IpAddr::V6(Ipv6Addr::from(v6))] {
                let hp = HostPort::new(&ip.to_string(), port);
                let socket: SocketAddr = hp.to_string().parse().expect("socket address");
                prop_assert_eq!(socket, SocketAddr::new(ip, port));
                for scheme in ["nats", "nats-route", "nats-leaf", "http"] {
                    let url = url::Url::parse(&hp.url(scheme)).expect("url");
                    prop_assert_eq!(url.scheme(), scheme);
                    prop_assert_eq!(url.port_or_known_default(), Some(port));
                    // Non-special schemes keep IPv4 as an opaque host: compare the parsed text.
                    let host = url.host_str().expect("host");
                    let host = host.trim_start_matches('[').trim_end_matches(']');
                    prop_assert_eq!(host.parse::<IpAddr>().ok(), Some(ip));
                }
            }
        }

        #[test]
        fn host_names_are_kept_and_parse_back(name in name(), port in 1u16..) {
            let hp = HostPort::new(&name, port);
            prop_assert_eq!(&hp.host, &Host::Name(name.clone()));
            prop_assert_eq!(hp.to_string(), format!("{name}:{port}"));
            for scheme in ["nats", "nats-route", "nats-leaf"] {
                let url = url::Url::parse(&hp.url(scheme)).expect("url");
                prop_assert_eq!(url.host_str(), Some(name.as_str()));
                prop_assert_eq!(url.port(), Some(port));
            }
        }
    }

    #[test]
    fn ipv6_is_bracketed_once() {
        assert_eq!(
            HostPort::new("fd00::2", 6222).url("nats-route"),
            "nats-route://[fd00::2]:6222"
        );
        assert_eq!(
            HostPort::new("[fd00::2]", 6222).to_string(),
            "[fd00::2]:6222"
        );
        assert_eq!(HostPort::new("10.0.0.1", 80).to_string(), "10.0.0.1:80");
    }
}
