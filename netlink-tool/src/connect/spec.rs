//! The `connect` request: LXC's link types and which options go with which.

use std::net::IpAddr;

use crate::error::Error;
use crate::msg::MacvlanMode;
use crate::parse::{Cidr, Mac};

/// LXC's link types (and OpenVZ's venet as `routed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Only loopback.
    Empty,
    /// A veth pair, host end optionally in a bridge.
    Veth,
    /// A macvlan on a host link.
    Macvlan,
    /// An 802.1Q VLAN on a host link.
    Vlan,
    /// A host NIC moved in.
    Phys,
    /// A veth with host routes and proxy ARP (OpenVZ venet).
    Routed,
}

impl Type {
    /// Parse the `--type` word.
    pub fn parse(s: &str) -> Option<Type> {
        Some(match s {
            "empty" => Type::Empty,
            "veth" => Type::Veth,
            "macvlan" => Type::Macvlan,
            "vlan" => Type::Vlan,
            "phys" => Type::Phys,
            "routed" | "venet" => Type::Routed,
            _ => return None,
        })
    }

    /// The word.
    pub fn name(self) -> &'static str {
        match self {
            Type::Empty => "empty",
            Type::Veth => "veth",
            Type::Macvlan => "macvlan",
            Type::Vlan => "vlan",
            Type::Phys => "phys",
            Type::Routed => "routed",
        }
    }
}

/// A `connect` request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The container's namespace (PID, path or name).
    pub ns: String,
    /// The link type.
    pub ty: Type,
    /// Bridge (veth), parent (macvlan, vlan) or NIC (phys).
    pub link: Option<String>,
    /// Create the `--link` bridge when it does not exist (veth).
    pub create_bridge: bool,
    /// The link's name inside the container.
    pub name: String,
    /// Addresses inside the container.
    pub addrs: Vec<Cidr>,
    /// Default gateway inside the container.
    pub gw: Option<IpAddr>,
    /// MTU (both veth ends).
    pub mtu: Option<u32>,
    /// The container link's MAC.
    pub hwaddr: Option<Mac>,
    /// The host end's name (veth, routed).
    pub host_name: Option<String>,
    /// Addresses on the host end (veth, routed).
    pub host_addrs: Vec<Cidr>,
    /// VLAN id (vlan).
    pub vlan_id: Option<u16>,
    /// macvlan mode.
    pub macvlan_mode: MacvlanMode,
    /// Keep IPv6 duplicate address detection on veth (off by default: `nodad`).
    pub dad: bool,
}

impl Spec {
    /// A spec with defaults: `--name eth0`, macvlan mode bridge, no addresses.
    pub fn new(ns: &str, ty: Type) -> Spec {
        Spec {
            ns: ns.to_owned(),
            ty,
            link: None,
            create_bridge: false,
            name: "eth0".to_owned(),
            addrs: Vec::new(),
            gw: None,
            mtu: None,
            hwaddr: None,
            host_name: None,
            host_addrs: Vec::new(),
            vlan_id: None,
            macvlan_mode: MacvlanMode::Bridge,
            dad: false,
        }
    }

    /// The checks that need no kernel: which options go with which type.
    pub fn check(&self) -> Result<(), Error> {
        let usage = |m: String| Err(Error::Usage(format!("connect: {m}")));
        let t = self.ty.name();
        match self.ty {
            Type::Macvlan | Type::Vlan | Type::Phys if self.link.is_none() => {
                return usage(format!("--type {t} needs --link DEV"));
            }
            Type::Vlan if self.vlan_id.is_none() => {
                return usage("--type vlan needs --vlan-id N".to_owned());
            }
            Type::Routed if self.link.is_some() => {
                return usage(
                    "--type routed takes no --link (it is routed, not bridged)".to_owned(),
                );
            }
            Type::Routed if self.addrs.is_empty() => {
                return usage("--type routed needs at least one --addr".to_owned());
            }
            Type::Routed if self.addrs.iter().any(Cidr::is_v6) => {
                return usage(
                    "--type routed takes IPv4 addresses only (proxy ARP); use --type veth for IPv6"
                        .to_owned(),
                );
            }
            Type::Empty
                if self.link.is_some()
                    || !self.addrs.is_empty()
                    || self.gw.is_some()
                    || self.mtu.is_some()
                    || self.hwaddr.is_some() =>
            {
                return usage(
                    "--type empty takes no link options (it only brings lo up)".to_owned(),
                );
            }
            _ => {}
        }
        if self.vlan_id.is_some() && self.ty != Type::Vlan {
            return usage(format!("--vlan-id goes with --type vlan, not {t}"));
        }
        if (self.host_name.is_some() || !self.host_addrs.is_empty())
            && !matches!(self.ty, Type::Veth | Type::Routed)
        {
            return usage(format!(
                "--host-name and --host-addr go with veth or routed, not {t}"
            ));
        }
        if self.create_bridge && (self.ty != Type::Veth || self.link.is_none()) {
            return usage("--create-bridge goes with --type veth --link BRIDGE".to_owned());
        }
        if let Some(gw) = self.gw
            && self.ty != Type::Routed
            && !self.addrs.is_empty()
            && !self.addrs.iter().any(|a| a.is_v6() == gw.is_ipv6())
        {
            return usage(format!("--gw {gw} has no --addr of its family"));
        }
        for (i, a) in self.addrs.iter().enumerate() {
            if self.addrs[..i].contains(a) {
                return usage(format!("--addr {a} given twice"));
            }
        }
        Ok(())
    }

    /// The host end's name: `--host-name`, or `veth` + 8 hex digits derived from the
    /// container's namespace and link name, so that the same container always gets the
    /// same name (a re-run finds it) and two containers practically never clash.
    pub fn host_end(&self, ns_inode: u64) -> String {
        if let Some(h) = &self.host_name {
            return h.clone();
        }
        format!("veth{:08x}", host_hash(ns_inode, &self.name))
    }
}

/// FNV-1a over the namespace inode and the link name, folded to 32 bits.
fn host_hash(ns_inode: u64, name: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in ns_inode.to_le_bytes().iter().chain(name.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}
