//! Port and address rules the networking resources share, in upstream's words
//! (`IsValidPortNum`, `IsValidPortName`, `IsValidCIDR` of `apimachinery/pkg/util/validation`).

use std::net::IpAddr;

/// `IsValidPortNum`.
pub fn port_number_problems(port: i32) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".into()]
    }
}

/// `IsValidPortName`: an IANA service name (at most 15 characters, lower-case letters, digits
/// and single inner hyphens, at least one letter).
pub fn port_name_problems(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if name.len() > 15 {
        problems.push("must be no more than 15 characters".to_string());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        problems
            .push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        problems.push("must contain at least one letter (a-z)".into());
    }
    if name.contains("--") {
        problems.push("must not contain consecutive hyphens".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        problems.push("must not begin or end with a hyphen".into());
    }
    problems
}

/// A parsed CIDR: its address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Parse `a.b.c.d/n` or `x::/n`.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = s.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix: u8 = prefix.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    /// The address as a 128-bit number (IPv4 in the low bits) and the address width.
    fn bits(addr: IpAddr) -> (u128, u32) {
        match addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    /// Whether `addr` lies inside this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let ((net, width), (other, other_width)) = (Self::bits(self.addr), Self::bits(addr));
        if width != other_width {
            return false;
        }
        let host_bits = width - u32::from(self.prefix);
        let mask = if host_bits >= 128 {
            0
        } else {
            !0u128 << host_bits
        };
        (net & mask) == (other & mask)
    }
}

/// `IsValidCIDR`'s message.
pub const CIDR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// `IsValidIP`'s message.
pub const IP_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_cidrs() {
        assert!(port_number_problems(80).is_empty());
        assert_eq!(
            port_number_problems(0),
            vec!["must be between 1 and 65535, inclusive"]
        );
        assert!(port_name_problems("http").is_empty());
        assert_eq!(
            port_name_problems("-x"),
            vec!["must not begin or end with a hyphen"]
        );
        let net = Cidr::parse("10.0.0.0/16").unwrap();
        assert!(net.contains("10.0.5.1".parse().unwrap()));
        assert!(!net.contains("10.1.0.0".parse().unwrap()));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("10.0.0.0"), None);
    }
}
