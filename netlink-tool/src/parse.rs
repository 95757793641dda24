//! The values a user types, checked before anything is sent to the kernel: interface
//! names, addresses with a prefix (CIDR), MAC addresses, ports, `IP:PORT`, MTUs, and
//! the words of a batch line. Every function is pure and returns a message that says
//! what is wrong.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::str::FromStr;

use serde::Serialize;

/// The longest interface name the kernel takes (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// A value as messages show it: control characters (a newline, an escape) as `\xNN`,
/// so that an error stays one line and shows what was typed.
pub fn shown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Why a value was refused: the value and the reason, shown as `invalid KIND 'v': why`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} '{}': {why}", shown(value))]
pub struct Invalid {
    /// What was expected ("interface name", "CIDR", "MAC address").
    pub kind: &'static str,
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub why: String,
}

fn invalid(kind: &'static str, value: &str, why: impl Into<String>) -> Invalid {
    Invalid {
        kind,
        value: value.to_owned(),
        why: why.into(),
    }
}

/// Check an interface name as the kernel's `dev_valid_name` does, so that a bad name
/// never reaches it (where it would come back as "Attribute failed policy validation").
pub fn ifname(s: &str) -> Result<String, Invalid> {
    let bad = |why: &str| Err(invalid("interface name", s, why));
    if s.is_empty() {
        return bad("empty");
    }
    if s.len() > IFNAME_MAX {
        return bad("longer than 15 bytes");
    }
    if s == "." || s == ".." {
        return bad("'.' and '..' are not names");
    }
    if s.contains('/') {
        return bad("contains '/'");
    }
    if s.contains(':') {
        return bad("contains ':'");
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains a space or a control character");
    }
    Ok(s.to_owned())
}

/// An interface name that must be used exactly as given: [`ifname`]'s checks, and no
/// `%`. The kernel takes a name with `%d` as a template and picks the first free
/// `eth0`, `eth1`…, so a link created under it could not be found again by that name
/// (connect could neither configure nor roll back what it made). Only `link add` and
/// `link set … name` accept templates, as `ip` does.
pub fn exact_ifname(s: &str) -> Result<String, Invalid> {
    let n = ifname(s)?;
    if n.contains('%') {
        return Err(invalid(
            "interface name",
            s,
            "contains '%' (a name template: the kernel would choose the name)",
        ));
    }
    Ok(n)
}

/// An address with a prefix length: `10.0.3.2/24`, `fd00::2/64`. Without `/N` the
/// prefix is the whole address (32 or 128), as `ip addr add` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The address (host bits may be set: it is an interface address).
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// The number of bits of the family (32 or 128).
    pub fn bits(&self) -> u8 {
        match self.addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    /// True for an IPv6 address.
    pub fn is_v6(&self) -> bool {
        self.addr.is_ipv6()
    }

    /// The network: the address with its host bits cleared.
    pub fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = v4_mask(self.prefix);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }

    /// True when `ip` lies inside this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let other = Cidr {
            addr: ip,
            prefix: self.prefix,
        };
        ip.is_ipv6() == self.is_v6() && other.network() == self.network()
    }
}

/// The IPv4 netmask of a prefix length, as a host-order u32.
pub fn v4_mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for Cidr {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        cidr(s)
    }
}

/// Parse `ADDR[/PREFIX]`.
pub fn cidr(s: &str) -> Result<Cidr, Invalid> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = a
        .parse()
        .map_err(|_| invalid("CIDR", s, format!("'{a}' is not an IPv4 or IPv6 address")))?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        None => bits,
        Some(p) => {
            let n: u8 = p
                .parse()
                .ok()
                .filter(|_| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| invalid("CIDR", s, format!("prefix '{p}' is not a number")))?;
            if n > bits {
                return Err(invalid(
                    "CIDR",
                    s,
                    format!("prefix /{n} is longer than {bits} bits"),
                ));
            }
            n
        }
    };
    Ok(Cidr { addr, prefix })
}

/// Parse an IPv4 or IPv6 address.
pub fn ip(s: &str) -> Result<IpAddr, Invalid> {
    s.parse()
        .map_err(|_| invalid("address", s, "not an IPv4 or IPv6 address"))
}

/// A route destination: `default` (which needs a family, taken from the gateway) or a
/// CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// `default`: 0.0.0.0/0 or ::/0.
    Default,
    /// A prefix.
    Prefix(Cidr),
}

/// Parse a route destination. A prefix with host bits set is refused, as the kernel
/// (and so `ip`) refuses it: taking its network instead would add, or delete, a route
/// other than the one typed.
pub fn dest(s: &str) -> Result<Dest, Invalid> {
    if s == "default" || s == "all" {
        return Ok(Dest::Default);
    }
    let c = cidr(s).map_err(|e| Invalid {
        kind: "destination",
        ..e
    })?;
    if c.network() != c.addr {
        return Err(invalid(
            "destination",
            s,
            format!("host bits set (the prefix is {}/{})", c.network(), c.prefix),
        ));
    }
    Ok(Dest::Prefix(c))
}

/// A MAC address: six hex octets separated by `:` (or `-`), unicast only (the kernel
/// refuses a multicast address on an Ethernet link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Parse a MAC address.
pub fn mac(s: &str) -> Result<Mac, Invalid> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(invalid(
            "MAC address",
            s,
            "expected six hex octets like 02:00:00:00:00:01",
        ));
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                "MAC address",
                s,
                format!("'{p}' is not a hex octet"),
            ));
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| invalid("MAC address", s, "bad octet"))?;
    }
    if out[0] & 1 == 1 {
        return Err(invalid(
            "MAC address",
            s,
            "a multicast address (lowest bit of the first octet set)",
        ));
    }
    if out == [0; 6] {
        return Err(invalid("MAC address", s, "all zeros"));
    }
    Ok(Mac(out))
}

/// Format a hardware address of any length as `aa:bb:…`.
pub fn format_hw(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parse an MTU: 68 (the IPv4 minimum) to 65535 here; the kernel checks the link's own
/// limits.
pub fn mtu(s: &str) -> Result<u32, Invalid> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() > 5 {
        return Err(invalid("MTU", s, "out of range 68-65535"));
    }
    let n: u32 = s
        .parse()
        .map_err(|_| invalid("MTU", s, "not a number in 68-65535"))?;
    if !(68..=65535).contains(&n) {
        return Err(invalid("MTU", s, "out of range 68-65535"));
    }
    Ok(n)
}

/// Check a namespace argument (a PID, a path or an `ip netns` name): not empty.
pub fn netns_spec(s: &str) -> Result<String, Invalid> {
    if s.is_empty() {
        return Err(invalid(
            "network namespace",
            s,
            "empty (a PID, a path or a name)",
        ));
    }
    Ok(s.to_owned())
}

/// Parse a port number 1-65535.
pub fn port(s: &str) -> Result<u16, Invalid> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(invalid("port", s, "not a number in 1-65535")),
    }
}

/// Parse an IPv4 `IP:PORT` (NAT targets are IPv4: the tool's table is of family `ip`).
pub fn ipv4_port(s: &str) -> Result<SocketAddrV4, Invalid> {
    let (a, p) = s
        .rsplit_once(':')
        .ok_or_else(|| invalid("IP:PORT", s, "expected an IPv4 address, ':' and a port"))?;
    let a: Ipv4Addr = a
        .parse()
        .map_err(|_| invalid("IP:PORT", s, format!("'{a}' is not an IPv4 address")))?;
    let p = port(p).map_err(|e| Invalid {
        kind: "IP:PORT",
        value: s.to_owned(),
        why: e.why,
    })?;
    Ok(SocketAddrV4::new(a, p))
}

/// Parse a VLAN id 1-4094.
pub fn vlan_id(s: &str) -> Result<u16, Invalid> {
    match s.parse::<u16>() {
        Ok(n) if (1..=4094).contains(&n) => Ok(n),
        _ => Err(invalid("VLAN id", s, "not a number in 1-4094")),
    }
}

/// Split one batch line into words as sh does, without expansions
/// ([`common::words::split`]). An empty result is a blank or comment line.
pub fn split_line(line: &str) -> Result<Vec<String>, Invalid> {
    common::words::split(line).map_err(|e| invalid("batch line", line, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert_eq!(ifname("eth0").unwrap(), "eth0");
        assert_eq!(ifname("a23456789012345").unwrap().len(), 15);
        let e = ifname("a234567890123456").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid interface name 'a234567890123456': longer than 15 bytes"
        );
        // 15 bytes counts bytes, not characters.
        assert!(ifname("ééééééééé").is_err());
        assert_eq!(
            ifname("a/b").unwrap_err().to_string(),
            "invalid interface name 'a/b': contains '/'"
        );
        assert!(ifname("a b").is_err());
        assert!(ifname("a\tb").is_err());
        assert!(ifname("").is_err());
        assert!(ifname(".").is_err());
        assert!(ifname("..").is_err());
        assert!(ifname("eth0:1").is_err());
        // Templates are names for `link add` only.
        assert_eq!(ifname("eth%d").unwrap(), "eth%d");
        assert_eq!(
            exact_ifname("eth%d").unwrap_err().to_string(),
            "invalid interface name 'eth%d': contains '%' (a name template: the kernel would choose the name)"
        );
        assert_eq!(exact_ifname("eth0").unwrap(), "eth0");
        assert!(exact_ifname("a/b").is_err());
    }

    #[test]
    fn cidrs() {
        let c = cidr("10.0.3.2/24").unwrap();
        assert_eq!(c.addr, "10.0.3.2".parse::<IpAddr>().unwrap());
        assert_eq!(c.prefix, 24);
        assert_eq!(c.network().to_string(), "10.0.3.0");
        assert_eq!(c.to_string(), "10.0.3.2/24");
        assert!(c.contains("10.0.3.200".parse().unwrap()));
        assert!(!c.contains("10.0.4.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        assert_eq!(cidr("10.0.0.1").unwrap().prefix, 32);
        assert_eq!(cidr("fd00::2/64").unwrap().network().to_string(), "fd00::");
        assert_eq!(cidr("fd00::2").unwrap().prefix, 128);
        assert_eq!(cidr("0.0.0.0/0").unwrap().network().to_string(), "0.0.0.0");
        assert_eq!(
            cidr("10.0.0.1/33").unwrap_err().to_string(),
            "invalid CIDR '10.0.0.1/33': prefix /33 is longer than 32 bits"
        );
        assert_eq!(
            cidr("10.0.0/24").unwrap_err().to_string(),
            "invalid CIDR '10.0.0/24': '10.0.0' is not an IPv4 or IPv6 address"
        );
        for bad in [
            "10.0.0.1/",
            "10.0.0.1/x",
            "10.0.0.1/+8",
            "fd00::/129",
            "",
            "/24",
            "host",
        ] {
            assert!(cidr(bad).is_err(), "{bad}");
        }
        assert_eq!(v4_mask(24), 0xffff_ff00);
        assert_eq!(v4_mask(0), 0);
        assert_eq!(v4_mask(32), u32::MAX);
    }

    #[test]
    fn destinations() {
        assert_eq!(dest("default").unwrap(), Dest::Default);
        assert_eq!(
            dest("10.1.0.0/16").unwrap(),
            Dest::Prefix(cidr("10.1.0.0/16").unwrap())
        );
        assert_eq!(
            dest("10.1.2.3/16").unwrap_err().to_string(),
            "invalid destination '10.1.2.3/16': host bits set (the prefix is 10.1.0.0/16)"
        );
        assert!(dest("fd00::1/64").is_err());
        assert!(dest("10.1.2.3").is_ok(), "a host route: /32");
        assert!(dest("::/0").is_ok());
        assert_eq!(
            dest("nowhere").unwrap_err().to_string(),
            "invalid destination 'nowhere': 'nowhere' is not an IPv4 or IPv6 address"
        );
    }

    #[test]
    fn macs() {
        assert_eq!(
            mac("02:00:00:aa:bb:0c").unwrap().0,
            [2, 0, 0, 0xaa, 0xbb, 0x0c]
        );
        assert_eq!(
            mac("02-00-00-AA-BB-0C").unwrap().to_string(),
            "02:00:00:aa:bb:0c"
        );
        assert_eq!(
            mac("01:00:5e:00:00:01").unwrap_err().to_string(),
            "invalid MAC address '01:00:5e:00:00:01': a multicast address (lowest bit of the first octet set)"
        );
        for bad in [
            "02:00:00:aa:bb",
            "02:00:00:aa:bb:cc:dd",
            "02:00:00:aa:bb:zz",
            "020:0:0:0:0:1",
            "00:00:00:00:00:00",
            "x",
        ] {
            assert!(mac(bad).is_err(), "{bad}");
        }
        assert_eq!(format_hw(&[0xde, 0xad, 1]), "de:ad:01");
    }

    #[test]
    fn numbers() {
        assert_eq!(mtu("1500").unwrap(), 1500);
        assert!(mtu("67").is_err());
        assert!(mtu("65536").is_err());
        assert!(mtu("x").is_err());
        assert_eq!(port("8080").unwrap(), 8080);
        assert!(port("0").is_err());
        assert!(port("65536").is_err());
        assert_eq!(vlan_id("100").unwrap(), 100);
        assert!(vlan_id("0").is_err());
        assert!(vlan_id("4095").is_err());
        assert_eq!(
            ipv4_port("10.0.1.2:80").unwrap(),
            "10.0.1.2:80".parse().unwrap()
        );
        assert_eq!(
            ipv4_port("10.0.1.2").unwrap_err().to_string(),
            "invalid IP:PORT '10.0.1.2': expected an IPv4 address, ':' and a port"
        );
        assert!(ipv4_port("fd00::1:80").is_err());
        assert!(ipv4_port("10.0.1.2:0").is_err());
    }

    #[test]
    fn batch_words() {
        // The splitting itself is common::words's, tested there.
        assert_eq!(split_line("link show # x").unwrap(), ["link", "show"]);
        let e = split_line("netns add 'open").unwrap_err();
        assert_eq!(
            (e.kind, e.why.as_str()),
            ("batch line", "unterminated ' quote")
        );
    }
}
