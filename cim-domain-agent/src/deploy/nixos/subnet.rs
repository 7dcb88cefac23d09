//! Container addresses: each agent container gets a host/container address pair (the two ends of
//! its veth link) from one IPv4 subnet, never shared with another agent.
//!
//! The subnet is cut into blocks of four addresses and an agent's block is chosen by a hash of its
//! name, probing forward on collision, with names taken in sorted order. Adding an agent therefore
//! moves no other agent unless they collide, and the same names always give the same addresses.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 subnet such as `10.233.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Subnet {
    network: Ipv4Addr,
    prefix: u8,
}

/// Why a subnet is not usable for containers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    /// Not `a.b.c.d/n`.
    #[error("{0:?} is not an IPv4 subnet like 10.233.0.0/16")]
    Malformed(String),
    /// Host bits set in the network address.
    #[error("{0:?} has host bits set; did you mean {1}?")]
    HostBits(String, Ipv4Subnet),
    /// Smaller than one block of four addresses.
    #[error("{0:?} is too small; containers need at least a /30")]
    TooSmall(String),
    /// More agents than blocks.
    #[error("subnet {subnet} holds {capacity} agent containers but {needed} were asked for")]
    Exhausted {
        /// The subnet.
        subnet: Ipv4Subnet,
        /// Blocks available.
        capacity: u64,
        /// Agents to place.
        needed: usize,
    },
}

impl Ipv4Subnet {
    /// `10.233.0.0/16`, room for 16,384 agent containers.
    pub const DEFAULT: Self = Self {
        network: Ipv4Addr::new(10, 233, 0, 0),
        prefix: 16,
    };

    /// Number of agent containers the subnet can hold (blocks of four addresses).
    pub fn capacity(self) -> u64 {
        1u64 << ((32 - u32::from(self.prefix)) - 2)
    }

    /// Whether `address` lies inside the subnet.
    pub fn contains(self, address: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0);
        u32::from(address) & mask == u32::from(self.network)
    }

    fn block(self, index: u64) -> ContainerAddresses {
        // `index` is below `capacity()`, so the block lies inside the subnet and fits in u32.
        let base = u32::from(self.network) + (index as u32) * 4;
        ContainerAddresses {
            host: Ipv4Addr::from(base + 1),
            container: Ipv4Addr::from(base + 2),
        }
    }
}

impl FromStr for Ipv4Subnet {
    type Err = SubnetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || SubnetError::Malformed(text.to_owned());
        let (address, prefix) = text.split_once('/').ok_or_else(malformed)?;
        let address: Ipv4Addr = address.parse().map_err(|_| malformed())?;
        let prefix: u8 = prefix.parse().map_err(|_| malformed())?;
        if prefix > 32 {
            return Err(malformed());
        }
        if prefix > 30 {
            return Err(SubnetError::TooSmall(text.to_owned()));
        }
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        let network = Ipv4Addr::from(u32::from(address) & mask);
        let subnet = Self { network, prefix };
        if network != address {
            return Err(SubnetError::HostBits(text.to_owned(), subnet));
        }
        Ok(subnet)
    }
}

impl fmt::Display for Ipv4Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The two ends of one container's veth link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerAddresses {
    /// The host's end (`hostAddress`); the container reaches host services here.
    pub host: Ipv4Addr,
    /// The container's end (`localAddress`).
    pub container: Ipv4Addr,
}

/// Gives every name its own address pair from `subnet`. Duplicate names get one pair.
pub fn allocate<'a>(
    names: impl IntoIterator<Item = &'a str>,
    subnet: Ipv4Subnet,
) -> Result<BTreeMap<&'a str, ContainerAddresses>, SubnetError> {
    let names: BTreeSet<&str> = names.into_iter().collect();
    let capacity = subnet.capacity();
    if names.len() as u64 > capacity {
        return Err(SubnetError::Exhausted {
            subnet,
            capacity,
            needed: names.len(),
        });
    }
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for name in names {
        let mut index = fnv1a(name) % capacity;
        // Terminates: fewer names than blocks, so a free block exists.
        while !taken.insert(index) {
            index = (index + 1) % capacity;
        }
        out.insert(name, subnet.block(index));
    }
    Ok(out)
}

/// FNV-1a: tiny, and fixed forever, so addresses do not change between releases.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn subnets_parse_and_reject_what_cannot_hold_containers() {
        assert_eq!(
            "10.233.0.0/16".parse::<Ipv4Subnet>().map(|s| s.capacity()),
            Ok(16384)
        );
        assert_eq!(
            "10.233.0.0/30".parse::<Ipv4Subnet>().map(|s| s.capacity()),
            Ok(1)
        );
        assert!(matches!(
            "10.233.1.0/16".parse::<Ipv4Subnet>(),
            Err(SubnetError::HostBits(_, s)) if s.to_string() == "10.233.0.0/16"
        ));
        assert!(matches!(
            "10.0.0.0/31".parse::<Ipv4Subnet>(),
            Err(SubnetError::TooSmall(_))
        ));
        for bad in ["10.0.0.0", "10.0.0/8", "10.0.0.0/33", "x/8", "10.0.0.0/-1"] {
            assert!(
                matches!(bad.parse::<Ipv4Subnet>(), Err(SubnetError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_full_subnet_is_an_error_and_exactly_full_is_fine() -> Result<(), SubnetError> {
        let subnet: Ipv4Subnet = "192.168.50.0/29".parse()?;
        assert_eq!(allocate(["a", "b"], subnet)?.len(), 2);
        assert_eq!(
            allocate(["a", "b", "c"], subnet),
            Err(SubnetError::Exhausted {
                subnet,
                capacity: 2,
                needed: 3
            })
        );
        Ok(())
    }

    #[test]
    fn adding_an_agent_keeps_the_others_addresses_unless_they_collide() -> Result<(), SubnetError> {
        let subnet: Ipv4Subnet = "10.233.0.0/16".parse()?;
        let before = allocate(["sage", "nix-expert"], subnet)?;
        let after = allocate(["sage", "nix-expert", "ddd-expert"], subnet)?;
        assert_eq!(before.get("sage"), after.get("sage"));
        assert_eq!(before.get("nix-expert"), after.get("nix-expert"));
        Ok(())
    }

    proptest! {
        #[test]
        fn addresses_never_collide_and_stay_inside_the_subnet(
            names in proptest::collection::btree_set("[a-z][a-z0-9-]{0,12}", 1..60),
            prefix in 20u8..=24,
        ) {
            let subnet: Ipv4Subnet = format!("10.64.0.0/{prefix}").parse().map_err(|e: SubnetError| TestCaseError::fail(e.to_string()))?;
            let allocated = allocate(names.iter().map(String::as_str), subnet)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(allocated.len(), names.len());
            let mut seen = BTreeSet::new();
            for pair in allocated.values() {
                prop_assert!(subnet.contains(pair.host) && subnet.contains(pair.container));
                prop_assert!(seen.insert(pair.host) && seen.insert(pair.container));
                let last_octet = pair.host.octets()[3] % 4;
                prop_assert_eq!(last_octet, 1, "host end is the first usable address of its block");
            }
        }
    }
}
