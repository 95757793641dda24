//! The commands netlink-tool runs, checked: what the command line, a batch line or a
//! caller of the library hands to [`crate::execute`].

use std::net::IpAddr;

use crate::connect::Spec;
use crate::msg::MacvlanMode;
use crate::nat::Rule;
use crate::parse::{Cidr, Dest, Mac};

/// What `link add` creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddKind {
    /// veth pair. The words after `peer NAME` are the peer's, as in ip.
    Veth {
        /// Peer name.
        peer: String,
        /// Peer's namespace.
        peer_netns: Option<String>,
        /// Peer's MTU (`peer P mtu N`; default: the link's own `mtu`).
        peer_mtu: Option<u32>,
        /// Peer's MAC (`peer P address MAC`).
        peer_mac: Option<Mac>,
        /// Peer up at creation (`peer P up`).
        peer_up: bool,
    },
    /// Bridge.
    Bridge,
    /// macvlan.
    Macvlan {
        /// Parent.
        link: String,
        /// Mode.
        mode: MacvlanMode,
    },
    /// 802.1Q.
    Vlan {
        /// Parent.
        link: String,
        /// Id.
        id: u16,
    },
}

/// `master BR` or `nomaster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Master {
    /// Join this bridge.
    Bridge(String),
    /// Leave the bridge.
    None,
}

/// One command, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `link add`.
    LinkAdd {
        /// Name.
        name: String,
        /// Kind.
        kind: AddKind,
        /// MTU.
        mtu: Option<u32>,
        /// MAC.
        mac: Option<Mac>,
        /// Up at once.
        up: bool,
    },
    /// `link set`.
    LinkSet {
        /// Name.
        name: String,
        /// up/down.
        up: Option<bool>,
        /// MTU.
        mtu: Option<u32>,
        /// MAC.
        mac: Option<Mac>,
        /// master/nomaster.
        master: Option<Master>,
        /// Move to.
        netns: Option<String>,
        /// Rename.
        rename: Option<String>,
    },
    /// `link del`.
    LinkDel(String),
    /// `link show`.
    LinkShow(Option<String>),
    /// `addr add`.
    AddrAdd {
        /// Address.
        cidr: Cidr,
        /// Link.
        dev: String,
        /// No DAD.
        nodad: bool,
    },
    /// `addr del`.
    AddrDel {
        /// Address.
        cidr: Cidr,
        /// Link.
        dev: String,
    },
    /// `addr show`.
    AddrShow(Option<String>),
    /// `addr flush dev NAME`.
    AddrFlush(String),
    /// `route add`.
    RouteAdd(RouteSpec),
    /// `route del`.
    RouteDel(RouteSpec),
    /// `route show [DEST] [dev NAME]`.
    RouteShow(RouteFilter),
    /// `route flush DEST|dev NAME`.
    RouteFlush(RouteFilter),
    /// `netns add`.
    NetnsAdd(String),
    /// `netns del`.
    NetnsDel(String),
    /// `netns list`.
    NetnsList,
    /// `connect`.
    Connect(Box<Spec>),
    /// `readdr`: change the addresses of a connection.
    Readdr(crate::connect::Readdr),
    /// `disconnect`.
    Disconnect {
        /// Namespace.
        ns: String,
        /// Link name.
        name: String,
    },
    /// `nat masquerade|forward` (add or, with --delete, remove).
    NatRule {
        /// The rule.
        rule: Rule,
        /// Remove instead of add.
        delete: bool,
    },
    /// `nat list`.
    NatList,
    /// `nat flush`.
    NatFlush,
}

/// Which routes `route show` and `route flush` select (all when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteFilter {
    /// Only this destination (`default` or a prefix).
    pub dest: Option<Dest>,
    /// Only routes through this link.
    pub dev: Option<String>,
}

/// A route to add or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// Destination.
    pub dest: Dest,
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Link.
    pub dev: Option<String>,
}
