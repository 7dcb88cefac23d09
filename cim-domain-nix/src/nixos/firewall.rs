//! `networking.firewall` ports, kept sorted and de-duplicated so output does not depend on the
//! order ports were added in.

use crate::attrs::AttrSet;
use crate::error::NixError;
use crate::expr::{Expr, attrs, list};
use std::collections::BTreeSet;

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP
    Tcp,
    /// UDP
    Udp,
}

impl Protocol {
    /// `"tcp"` or `"udp"`, as NixOS options spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// Open firewall ports and port ranges, optionally bound to one interface.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FirewallPorts {
    interface: Option<String>,
    tcp: BTreeSet<u16>,
    udp: BTreeSet<u16>,
    tcp_ranges: BTreeSet<(u16, u16)>,
    udp_ranges: BTreeSet<(u16, u16)>,
}

fn check_port(port: u16) -> Result<u16, NixError> {
    if port == 0 {
        Err(NixError::InvalidOptionValue {
            option: "networking.firewall.allowed*Ports".to_owned(),
            value: "0".to_owned(),
            reason: "ports are 1 to 65535",
        })
    } else {
        Ok(port)
    }
}

impl FirewallPorts {
    /// Ports opened on every interface.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ports opened only on `interface` (`networking.firewall.interfaces.<name>`).
    pub fn on_interface(interface: impl Into<String>) -> Self {
        Self {
            interface: Some(interface.into()),
            ..Self::default()
        }
    }

    /// Opens one port.
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for port 0.
    pub fn allow(&mut self, protocol: Protocol, port: u16) -> Result<&mut Self, NixError> {
        let port = check_port(port)?;
        match protocol {
            Protocol::Tcp => self.tcp.insert(port),
            Protocol::Udp => self.udp.insert(port),
        };
        Ok(self)
    }

    /// Opens an inclusive range of ports.
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for port 0 or `from > to`.
    pub fn allow_range(
        &mut self,
        protocol: Protocol,
        from: u16,
        to: u16,
    ) -> Result<&mut Self, NixError> {
        check_port(from)?;
        if from > to {
            return Err(NixError::InvalidOptionValue {
                option: "networking.firewall.allowed*PortRanges".to_owned(),
                value: format!("{from}-{to}"),
                reason: "a range must start at or below its end",
            });
        }
        match protocol {
            Protocol::Tcp => self.tcp_ranges.insert((from, to)),
            Protocol::Udp => self.udp_ranges.insert((from, to)),
        };
        Ok(self)
    }

    /// The interface these ports are limited to, if any.
    pub fn interface(&self) -> Option<&str> {
        self.interface.as_deref()
    }

    /// Adds every port and range of `other` (whatever its interface).
    pub fn extend_from(&mut self, other: &FirewallPorts) {
        self.tcp.extend(&other.tcp);
        self.udp.extend(&other.udp);
        self.tcp_ranges.extend(&other.tcp_ranges);
        self.udp_ranges.extend(&other.udp_ranges);
    }

    /// Whether nothing is opened.
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty()
            && self.udp.is_empty()
            && self.tcp_ranges.is_empty()
            && self.udp_ranges.is_empty()
    }

    /// Adds these ports under `networking.firewall` in `config`.
    pub fn apply_to(&self, config: &mut AttrSet) {
        let mut base = vec!["networking".to_owned(), "firewall".to_owned()];
        if let Some(interface) = &self.interface {
            base.push("interfaces".to_owned());
            base.push(interface.clone());
        }
        let at = |name: &str| {
            let mut path = base.clone();
            path.push(name.to_owned());
            path
        };
        let ranges = |set: &BTreeSet<(u16, u16)>| {
            list(
                set.iter()
                    .map(|&(from, to)| attrs([("from", Expr::from(from)), ("to", to.into())])),
            )
        };
        if !self.tcp.is_empty() {
            config.insert(at("allowedTCPPorts"), list(self.tcp.iter().copied()));
        }
        if !self.tcp_ranges.is_empty() {
            config.insert(at("allowedTCPPortRanges"), ranges(&self.tcp_ranges));
        }
        if !self.udp.is_empty() {
            config.insert(at("allowedUDPPorts"), list(self.udp.iter().copied()));
        }
        if !self.udp_ranges.is_empty() {
            config.insert(at("allowedUDPPortRanges"), ranges(&self.udp_ranges));
        }
    }
}
