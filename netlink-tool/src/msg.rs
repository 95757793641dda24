//! Building rtnetlink requests and reading rtnetlink answers: pure functions over
//! `netlink-packet-route`'s types, unit-tested without a kernel. The rest of the tool
//! never touches a `LinkAttribute` directly.

use std::net::IpAddr;
use std::os::fd::RawFd;

use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, InfoVeth, InfoVlan, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage, MacVlanMode, State,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use serde::Serialize;

use crate::parse::{Cidr, Mac, format_hw};

/// The kind of link to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A veth pair; the peer may be created straight in another namespace (by fd).
    Veth {
        /// The peer's name.
        peer: String,
        /// The namespace the peer is created in.
        peer_netns: Option<RawFd>,
        /// The peer's MTU (the MTU is not shared between the ends).
        peer_mtu: Option<u32>,
        /// The peer's MAC.
        peer_mac: Option<Mac>,
        /// Bring the peer up at creation.
        peer_up: bool,
    },
    /// A bridge.
    Bridge,
    /// A macvlan on a parent link.
    Macvlan {
        /// The parent's ifindex.
        parent: u32,
        /// bridge, vepa, private or passthru.
        mode: MacvlanMode,
    },
    /// An 802.1Q VLAN on a parent link.
    Vlan {
        /// The parent's ifindex.
        parent: u32,
        /// The VLAN id.
        id: u16,
    },
}

impl Kind {
    /// The kernel's name of the kind (`veth`, `bridge`, `macvlan`, `vlan`).
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Veth { .. } => "veth",
            Kind::Bridge => "bridge",
            Kind::Macvlan { .. } => "macvlan",
            Kind::Vlan { .. } => "vlan",
        }
    }
}

/// macvlan modes, as `ip link … type macvlan mode M` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacvlanMode {
    /// Macvlans on one parent talk to each other directly.
    Bridge,
    /// Traffic goes out to the switch (which must hairpin).
    Vepa,
    /// No traffic between macvlans on one parent.
    Private,
    /// One macvlan takes over the parent.
    Passthru,
}

impl MacvlanMode {
    /// Parse `bridge|vepa|private|passthru`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bridge" => MacvlanMode::Bridge,
            "vepa" => MacvlanMode::Vepa,
            "private" => MacvlanMode::Private,
            "passthru" => MacvlanMode::Passthru,
            _ => return None,
        })
    }

    fn to_nl(self) -> MacVlanMode {
        match self {
            MacvlanMode::Bridge => MacVlanMode::Bridge,
            MacvlanMode::Vepa => MacVlanMode::Vepa,
            MacvlanMode::Private => MacVlanMode::Private,
            MacvlanMode::Passthru => MacVlanMode::Passthrough,
        }
    }
}

/// What an RTM_NEWLINK creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    /// The name.
    pub name: String,
    /// The kind and its data.
    pub kind: Kind,
    /// MTU.
    pub mtu: Option<u32>,
    /// MAC.
    pub mac: Option<Mac>,
    /// Bridge to join (ifindex).
    pub master: Option<u32>,
    /// Bring it up at creation.
    pub up: bool,
    /// Create it in this namespace (by fd) instead of the socket's.
    pub netns: Option<RawFd>,
}

impl NewLink {
    /// A link of `kind` named `name` with nothing else set.
    pub fn new(name: &str, kind: Kind) -> Self {
        NewLink {
            name: name.to_owned(),
            kind,
            mtu: None,
            mac: None,
            master: None,
            up: false,
            netns: None,
        }
    }
}

fn up_flags(m: &mut LinkMessage, up: bool) {
    m.header.change_mask = LinkFlags::Up;
    if up {
        m.header.flags = LinkFlags::Up;
    }
}

/// RTM_NEWLINK for `l`.
pub fn new_link(l: &NewLink) -> LinkMessage {
    let mut m = LinkMessage::default();
    if l.up {
        up_flags(&mut m, true);
    }
    m.attributes.push(LinkAttribute::IfName(l.name.clone()));
    if let Some(mtu) = l.mtu {
        m.attributes.push(LinkAttribute::Mtu(mtu));
    }
    if let Some(mac) = l.mac {
        m.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
    }
    if let Some(master) = l.master {
        m.attributes.push(LinkAttribute::Controller(master));
    }
    if let Some(fd) = l.netns {
        m.attributes.push(LinkAttribute::NetNsFd(fd));
    }
    let (kind, data) = match &l.kind {
        Kind::Veth {
            peer,
            peer_netns,
            peer_mtu,
            peer_mac,
            peer_up,
        } => {
            let mut p = LinkMessage::default();
            if *peer_up {
                up_flags(&mut p, true);
            }
            p.attributes.push(LinkAttribute::IfName(peer.clone()));
            if let Some(mtu) = peer_mtu {
                p.attributes.push(LinkAttribute::Mtu(*mtu));
            }
            if let Some(mac) = peer_mac {
                p.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
            }
            if let Some(fd) = peer_netns {
                p.attributes.push(LinkAttribute::NetNsFd(*fd));
            }
            (InfoKind::Veth, Some(InfoData::Veth(InfoVeth::Peer(p))))
        }
        Kind::Bridge => (InfoKind::Bridge, None),
        Kind::Macvlan { parent, mode } => {
            m.attributes.push(LinkAttribute::Link(*parent));
            (
                InfoKind::MacVlan,
                Some(InfoData::MacVlan(vec![InfoMacVlan::Mode(mode.to_nl())])),
            )
        }
        Kind::Vlan { parent, id } => {
            m.attributes.push(LinkAttribute::Link(*parent));
            (
                InfoKind::Vlan,
                Some(InfoData::Vlan(vec![InfoVlan::Id(*id)])),
            )
        }
    };
    let mut info = vec![LinkInfo::Kind(kind)];
    if let Some(d) = data {
        info.push(LinkInfo::Data(d));
    }
    m.attributes.push(LinkAttribute::LinkInfo(info));
    m
}

/// The hint for an EOPNOTSUPP ("Unknown device type") when creating a link of `kind`:
/// the kernel was built without it. The config option names the missing part.
pub fn missing_kind_hint(kind: &str) -> String {
    let option = match kind {
        "vlan" => "CONFIG_VLAN_8021Q",
        "macvlan" => "CONFIG_MACVLAN",
        "veth" => "CONFIG_VETH",
        "bridge" => "CONFIG_BRIDGE",
        _ => "",
    };
    if option.is_empty() {
        format!("kernel lacks {kind} support")
    } else {
        format!("kernel lacks {kind} support: {option}")
    }
}

/// What an RTM_SETLINK changes; `None` leaves a property alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetLink {
    /// The link's index.
    pub index: u32,
    /// Up (true) or down (false).
    pub up: Option<bool>,
    /// MTU.
    pub mtu: Option<u32>,
    /// MAC.
    pub mac: Option<Mac>,
    /// Bridge to join: an ifindex, or 0 to leave it (`nomaster`).
    pub master: Option<u32>,
    /// Move into this namespace (by fd).
    pub netns: Option<RawFd>,
    /// New name.
    pub rename: Option<String>,
    /// The alias (`ifalias`); an empty string clears it.
    pub alias: Option<String>,
}

/// RTM_SETLINK for `s`.
pub fn set_link(s: &SetLink) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = s.index;
    if let Some(up) = s.up {
        up_flags(&mut m, up);
    }
    if let Some(n) = &s.rename {
        m.attributes.push(LinkAttribute::IfName(n.clone()));
    }
    if let Some(mtu) = s.mtu {
        m.attributes.push(LinkAttribute::Mtu(mtu));
    }
    if let Some(mac) = s.mac {
        m.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
    }
    if let Some(master) = s.master {
        m.attributes.push(LinkAttribute::Controller(master));
    }
    if let Some(fd) = s.netns {
        m.attributes.push(LinkAttribute::NetNsFd(fd));
    }
    if let Some(a) = &s.alias {
        m.attributes.push(LinkAttribute::IfAlias(a.clone()));
    }
    m
}

/// The changes of a SETLINK in ip's words, for the trace: `up mtu 1400 master 3`.
pub fn describe_set(s: &SetLink) -> String {
    let mut w = Vec::new();
    match s.up {
        Some(true) => w.push("up".to_owned()),
        Some(false) => w.push("down".to_owned()),
        None => {}
    }
    if let Some(m) = s.mtu {
        w.push(format!("mtu {m}"));
    }
    if let Some(m) = s.mac {
        w.push(format!("address {m}"));
    }
    match s.master {
        Some(0) => w.push("nomaster".to_owned()),
        Some(i) => w.push(format!("master {i}")),
        None => {}
    }
    if let Some(fd) = s.netns {
        w.push(format!("netns fd {fd}"));
    }
    if let Some(n) = &s.rename {
        w.push(format!("name {n:?}"));
    }
    if let Some(a) = &s.alias {
        w.push(format!("alias {a:?}"));
    }
    w.join(" ")
}

/// RTM_GETLINK of one link by name.
pub fn get_link_by_name(name: &str) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_owned()));
    m
}

/// RTM_GETLINK of one link by index.
pub fn get_link_by_index(index: u32) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m
}

/// RTM_DELLINK by index.
pub fn del_link(index: u32) -> LinkMessage {
    get_link_by_index(index)
}

/// RTM_NEWADDR / RTM_DELADDR of `cidr` on link `index`. `nodad` makes an IPv6 address
/// usable at once (no duplicate address detection: ≈ 2 s saved per address).
pub fn addr(index: u32, cidr: &Cidr, nodad: bool) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = family(cidr.addr);
    m.header.prefix_len = cidr.prefix;
    m.header.index = index;
    m.header.scope = if cidr.addr.is_loopback() {
        AddressScope::Host
    } else if let IpAddr::V6(a) = cidr.addr {
        if a.segments()[0] & 0xffc0 == 0xfe80 {
            AddressScope::Link
        } else {
            AddressScope::Universe
        }
    } else {
        AddressScope::Universe
    };
    m.attributes.push(AddressAttribute::Local(cidr.addr));
    m.attributes.push(AddressAttribute::Address(cidr.addr));
    if nodad && cidr.is_v6() {
        m.header.flags = AddressHeaderFlags::Nodad;
        m.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    m
}

/// RTM_GETADDR dump request (all families).
pub fn get_addrs() -> AddressMessage {
    AddressMessage::default()
}

fn family(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// A route to add or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix (`None`: default).
    pub dest: Option<Cidr>,
    /// Family when `dest` is `None` and there is no gateway (true: IPv6).
    pub v6: bool,
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Output link index.
    pub dev: Option<u32>,
}

/// RTM_NEWROUTE / RTM_DELROUTE for `r` in the main table, protocol `boot` (what `ip
/// route add` gives a route when it is not told otherwise). Without a gateway the route
/// is a link route (scope link), as `ip route add … dev X` makes it.
pub fn route(r: &Route) -> RouteMessage {
    let mut m = RouteMessage::default();
    let v6 = r
        .dest
        .map_or(r.via.map_or(r.v6, |g| g.is_ipv6()), |d| d.is_v6());
    m.header.address_family = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Boot;
    m.header.kind = RouteType::Unicast;
    m.header.scope = if r.via.is_some() || v6 {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    if let Some(d) = r.dest {
        m.header.destination_prefix_length = d.prefix;
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(d.network())));
    }
    if let Some(g) = r.via {
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(g)));
    }
    if let Some(i) = r.dev {
        m.attributes.push(RouteAttribute::Oif(i));
    }
    m
}

/// RTM_DELROUTE for `r` in the main table, matching as `ip route del` does: any
/// protocol, scope and type (a route the kernel added for an address, or one `ip`
/// added with protocol `boot`, is deleted too); the destination, and the gateway and
/// link when given, select the route.
pub fn route_delete(r: &Route) -> RouteMessage {
    let mut m = route(r);
    m.header.protocol = RouteProtocol::Unspec;
    m.header.scope = RouteScope::NoWhere;
    m.header.kind = RouteType::Unspec;
    m
}

/// RTM_GETROUTE dump request of one family.
pub fn get_routes(v6: bool) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    m
}

/// A link as `link show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// Index.
    pub ifindex: u32,
    /// Name.
    pub ifname: String,
    /// IFF_* flag names, as ip prints them.
    pub flags: Vec<&'static str>,
    /// MTU.
    pub mtu: u32,
    /// Operational state (`UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`).
    pub operstate: String,
    /// Link kind (`veth`, `bridge`, `macvlan`, `vlan`), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The bridge it belongs to (name, when known in this namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// Hardware address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The alias (netlink-tool's connect record lives here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The master's index (resolved to a name by the caller).
    #[serde(skip)]
    pub master_index: Option<u32>,
    /// IFLA_LINK: a veth's peer, a macvlan's or vlan's parent (an ifindex of the
    /// namespace `link_netnsid` names, or of this one).
    #[serde(skip)]
    pub link_index: Option<u32>,
    /// IFLA_LINK_NETNSID: the namespace (as this one numbers it) `link_index` is in.
    #[serde(skip)]
    pub link_netnsid: Option<i32>,
    /// The permanent hardware address (real NICs).
    #[serde(skip)]
    pub perm_address: Option<String>,
    /// The device the link hangs off (real NICs: `0000:00:03.0`).
    #[serde(skip)]
    pub parent_dev: Option<String>,
    /// Traffic counters (IFLA_STATS64): what `-s` prints and JSON always carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats64: Option<Stats>,
    /// What `ip link show` prints besides (not in JSON).
    #[serde(skip)]
    pub more: LinkMore,
}

/// Traffic counters of a link, as `ip -j -s link` names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Received.
    pub rx: RxStats,
    /// Sent.
    pub tx: TxStats,
}

/// Received: bytes, packets and the error counters `ip -s` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RxStats {
    /// Bytes.
    pub bytes: u64,
    /// Packets.
    pub packets: u64,
    /// Errors.
    pub errors: u64,
    /// Dropped.
    pub dropped: u64,
    /// Missed (`missed` in the text).
    pub missed: u64,
    /// Multicast.
    pub multicast: u64,
}

/// Sent: bytes, packets and the error counters `ip -s` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TxStats {
    /// Bytes.
    pub bytes: u64,
    /// Packets.
    pub packets: u64,
    /// Errors.
    pub errors: u64,
    /// Dropped.
    pub dropped: u64,
    /// Carrier errors.
    pub carrier_errors: u64,
    /// Collisions.
    pub collisions: u64,
}

/// The rest of what `ip link show` prints (and `-d` adds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkMore {
    /// ifi_flags as the kernel sent them.
    pub raw_flags: u32,
    /// ifi_type (ARPHRD_*).
    pub link_type: u16,
    /// Queueing discipline.
    pub qdisc: Option<String>,
    /// IFLA_LINKMODE.
    pub linkmode: Option<u8>,
    /// IFLA_GROUP.
    pub group: Option<u32>,
    /// IFLA_TXQLEN.
    pub txqlen: Option<u32>,
    /// Broadcast address.
    pub broadcast: Option<String>,
    /// The name of `link_index` when it is in this namespace (filled in by the caller),
    /// and whether it is down (`M-DOWN`).
    pub peer: Option<(String, bool)>,
    /// The name of the namespace `link_netnsid` numbers (filled in by the caller).
    pub link_netns: Option<String>,
    /// `-d`: promiscuity, allmulti, minmtu, maxmtu.
    pub promiscuity: Option<u32>,
    /// `-d`.
    pub allmulti: Option<u32>,
    /// `-d`.
    pub min_mtu: Option<u32>,
    /// `-d`.
    pub max_mtu: Option<u32>,
    /// `-d`: the kind's own words (`mode bridge`, `protocol 802.1Q id 10`).
    pub kind_words: Vec<String>,
    /// `-d`: the port kind (`bridge` for a bridge port).
    pub port_kind: Option<String>,
    /// `-d`: addrgenmode.
    pub addrgenmode: Option<String>,
    /// `-d`: numtxqueues numrxqueues gso_max_size gso_max_segs tso_max_size tso_max_segs
    /// gro_max_size, in that order.
    pub queues: [Option<u32>; 7],
}

impl Link {
    /// True when administratively up.
    pub fn is_up(&self) -> bool {
        self.flags.contains(&"UP")
    }
}

const FLAG_NAMES: &[(LinkFlags, &str)] = &[
    (LinkFlags::Loopback, "LOOPBACK"),
    (LinkFlags::Broadcast, "BROADCAST"),
    (LinkFlags::Pointopoint, "POINTOPOINT"),
    (LinkFlags::Multicast, "MULTICAST"),
    (LinkFlags::Noarp, "NOARP"),
    (LinkFlags::Allmulti, "ALLMULTI"),
    (LinkFlags::Promisc, "PROMISC"),
    (LinkFlags::Controller, "MASTER"),
    (LinkFlags::Port, "SLAVE"),
    (LinkFlags::Up, "UP"),
    (LinkFlags::LowerUp, "LOWER_UP"),
];

/// Read a link from an RTM_NEWLINK answer.
pub fn link_from(m: &LinkMessage) -> Link {
    let mut l = Link {
        ifindex: m.header.index,
        ifname: String::new(),
        flags: FLAG_NAMES
            .iter()
            .filter(|(f, _)| m.header.flags.contains(*f))
            .map(|(_, n)| *n)
            .collect(),
        mtu: 0,
        operstate: "UNKNOWN".to_owned(),
        kind: None,
        master: None,
        address: None,
        alias: None,
        master_index: None,
        link_index: None,
        link_netnsid: None,
        perm_address: None,
        parent_dev: None,
        stats64: None,
        more: LinkMore {
            raw_flags: m.header.flags.bits(),
            link_type: u16::from(m.header.link_layer_type),
            ..LinkMore::default()
        },
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.ifname.clone_from(n),
            LinkAttribute::Mtu(n) => l.mtu = *n,
            LinkAttribute::Address(b) if !b.is_empty() => l.address = Some(format_hw(b)),
            LinkAttribute::IfAlias(s) if !s.is_empty() => l.alias = Some(s.clone()),
            LinkAttribute::Controller(i) => l.master_index = Some(*i),
            LinkAttribute::Link(i) => l.link_index = Some(*i),
            LinkAttribute::LinkNetNsId(i) => l.link_netnsid = Some(*i),
            LinkAttribute::PermAddress(b) if !b.is_empty() => l.perm_address = Some(format_hw(b)),
            LinkAttribute::ParentDevName(n) => l.parent_dev = Some(n.clone()),
            LinkAttribute::OperState(s) => {
                l.operstate = match s {
                    State::Up => "UP",
                    State::Down => "DOWN",
                    State::LowerLayerDown => "LOWERLAYERDOWN",
                    State::Dormant => "DORMANT",
                    State::NotPresent => "NOTPRESENT",
                    State::Testing => "TESTING",
                    _ => "UNKNOWN",
                }
                .to_owned();
            }
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    match i {
                        LinkInfo::Kind(k) => l.kind = Some(k.to_string()),
                        LinkInfo::PortKind(k) => l.more.port_kind = Some(k.to_string()),
                        LinkInfo::Data(InfoData::MacVlan(d)) => {
                            l.more.kind_words = macvlan_words(d);
                        }
                        LinkInfo::Data(InfoData::Vlan(d)) => l.more.kind_words = vlan_words(d),
                        _ => {}
                    }
                }
            }
            LinkAttribute::Qdisc(q) => l.more.qdisc = Some(q.clone()),
            LinkAttribute::Mode(m) => l.more.linkmode = Some(u8::from(*m)),
            LinkAttribute::Group(g) => l.more.group = Some(*g),
            LinkAttribute::TxQueueLen(q) => l.more.txqlen = Some(*q),
            LinkAttribute::Broadcast(b) if !b.is_empty() => l.more.broadcast = Some(format_hw(b)),
            LinkAttribute::Promiscuity(n) => l.more.promiscuity = Some(*n),
            LinkAttribute::AllMulticast(n) => l.more.allmulti = Some(*n),
            LinkAttribute::MinMtu(n) => l.more.min_mtu = Some(*n),
            LinkAttribute::MaxMtu(n) => l.more.max_mtu = Some(*n),
            LinkAttribute::NumTxQueues(n) => l.more.queues[0] = Some(*n),
            LinkAttribute::NumRxQueues(n) => l.more.queues[1] = Some(*n),
            LinkAttribute::GsoMaxSize(n) => l.more.queues[2] = Some(*n),
            LinkAttribute::GsoMaxSegs(n) => l.more.queues[3] = Some(*n),
            LinkAttribute::TsoMaxSize(n) => l.more.queues[4] = Some(*n),
            LinkAttribute::TsoMaxSegs(n) => l.more.queues[5] = Some(*n),
            LinkAttribute::GroMaxSize(n) => l.more.queues[6] = Some(*n),
            LinkAttribute::AfSpecUnspec(specs) => {
                use netlink_packet_route::link::{AfSpecInet6, AfSpecUnspec};
                for sp in specs {
                    if let AfSpecUnspec::Inet6(v) = sp {
                        for x in v {
                            if let AfSpecInet6::AddrGenMode(g) = x {
                                l.more.addrgenmode = Some(addrgenmode_word(u8::from(g)));
                            }
                        }
                    }
                }
            }
            LinkAttribute::Stats64(st) => {
                l.stats64 = Some(Stats {
                    rx: RxStats {
                        bytes: st.rx_bytes,
                        packets: st.rx_packets,
                        errors: st.rx_errors,
                        dropped: st.rx_dropped,
                        missed: st.rx_missed_errors,
                        multicast: st.multicast,
                    },
                    tx: TxStats {
                        bytes: st.tx_bytes,
                        packets: st.tx_packets,
                        errors: st.tx_errors,
                        dropped: st.tx_dropped,
                        carrier_errors: st.tx_carrier_errors,
                        collisions: st.collisions,
                    },
                });
            }
            _ => {}
        }
    }
    l
}

fn addrgenmode_word(m: u8) -> String {
    match m {
        0 => "eui64".to_owned(),
        1 => "none".to_owned(),
        2 => "stable_secret".to_owned(),
        3 => "random".to_owned(),
        n => format!("{n:#04x}"),
    }
}

/// `macvlan mode bridge bcqueuelen 1000 usedbcqueuelen 1000`, as `ip -d` prints them.
fn macvlan_words(d: &[InfoMacVlan]) -> Vec<String> {
    let mut w = Vec::new();
    for x in d {
        if let InfoMacVlan::Mode(m) = x {
            w.push(format!(
                "mode {}",
                match m {
                    MacVlanMode::Private => "private",
                    MacVlanMode::Vepa => "vepa",
                    MacVlanMode::Bridge => "bridge",
                    MacVlanMode::Passthrough => "passthru",
                    MacVlanMode::Source => "source",
                    _ => "unknown",
                }
            ));
        }
    }
    for x in d {
        match x {
            InfoMacVlan::BcQueueLen(n) => w.push(format!("bcqueuelen {n}")),
            InfoMacVlan::BcQueueLenUsed(n) => w.push(format!("usedbcqueuelen {n}")),
            _ => {}
        }
    }
    w
}

/// `vlan protocol 802.1Q id 10`, as `ip -d` begins it.
fn vlan_words(d: &[InfoVlan]) -> Vec<String> {
    let mut w = Vec::new();
    for x in d {
        if let InfoVlan::Protocol(p) = x {
            let p = u16::from(*p);
            w.push(format!(
                "protocol {}",
                match p {
                    0x8100 => "802.1Q".to_owned(),
                    0x88a8 => "802.1ad".to_owned(),
                    n => format!("{n:#06x}"),
                }
            ));
        }
    }
    for x in d {
        if let InfoVlan::Id(i) = x {
            w.push(format!("id {i}"));
        }
    }
    w
}

/// An address as `addr show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Addr {
    /// The link's index.
    pub ifindex: u32,
    /// The link's name (filled in by the caller).
    pub ifname: String,
    /// `inet` or `inet6`.
    pub family: &'static str,
    /// The address.
    pub local: IpAddr,
    /// Prefix length.
    pub prefixlen: u8,
    /// `global`, `link`, `host`.
    pub scope: &'static str,
    /// Still in duplicate address detection (IPv6): not usable yet.
    pub tentative: bool,
}

/// Read an address from an RTM_NEWADDR answer (`None` for a family we do not show).
pub fn addr_from(m: &AddressMessage) -> Option<Addr> {
    let mut local = None;
    let mut address = None;
    let mut flags = m.header.flags.bits().into();
    for a in &m.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Flags(f) => flags = f.bits(),
            _ => {}
        }
    }
    let ip = local.or(address)?;
    Some(Addr {
        ifindex: m.header.index,
        ifname: String::new(),
        family: if ip.is_ipv6() { "inet6" } else { "inet" },
        local: ip,
        prefixlen: m.header.prefix_len,
        scope: scope_name(u8::from(m.header.scope)),
        tentative: flags & AddressFlags::Tentative.bits() != 0,
    })
}

fn scope_name(s: u8) -> &'static str {
    match s {
        0 => "global",
        200 => "site",
        253 => "link",
        254 => "host",
        _ => "nowhere",
    }
}

/// A route as `route show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteEntry {
    /// `default` or `PREFIX/LEN`.
    pub dst: String,
    /// `inet` or `inet6`.
    pub family: &'static str,
    /// Gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Output link (name, filled in by the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// `kernel`, `static`, `boot`…
    pub protocol: String,
    /// `global`, `link`, `host`.
    pub scope: &'static str,
    /// Preferred source address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefsrc: Option<IpAddr>,
    /// Output link index.
    #[serde(skip)]
    pub oif: Option<u32>,
    /// Metric (RTA_PRIORITY), when the route has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// IPv6 router preference (`medium`…).
    #[serde(skip)]
    pub pref: Option<&'static str>,
    /// The link is down (RTNH_F_LINKDOWN).
    #[serde(skip)]
    pub linkdown: bool,
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v) => Some(IpAddr::V4(*v)),
        RouteAddress::Inet6(v) => Some(IpAddr::V6(*v)),
        _ => None,
    }
}

/// Read a route of the main table from an RTM_NEWROUTE answer (`None` for other tables
/// and for local, broadcast and multicast routes, which `ip route show` hides too).
pub fn route_from(m: &RouteMessage) -> Option<RouteEntry> {
    let mut table = u32::from(m.header.table);
    let mut dst = None;
    let mut gateway = None;
    let mut oif = None;
    let mut prefsrc = None;
    let mut metric = None;
    let mut pref = None;
    for a in &m.attributes {
        match a {
            RouteAttribute::Priority(p) => metric = Some(*p),
            RouteAttribute::Preference(p) => {
                pref = Some(match p {
                    netlink_packet_route::route::RoutePreference::Low => "low",
                    netlink_packet_route::route::RoutePreference::Medium => "medium",
                    netlink_packet_route::route::RoutePreference::High => "high",
                    _ => "invalid",
                });
            }
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(d) => dst = route_ip(d),
            RouteAttribute::Gateway(g) => gateway = route_ip(g),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::PrefSource(p) => prefsrc = route_ip(p),
            _ => {}
        }
    }
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) || m.header.kind != RouteType::Unicast {
        return None;
    }
    let v6 = m.header.address_family == AddressFamily::Inet6;
    let dst = match dst {
        _ if m.header.destination_prefix_length == 0 => "default".to_owned(),
        Some(d) => format!("{d}/{}", m.header.destination_prefix_length),
        None => return None,
    };
    Some(RouteEntry {
        dst,
        family: if v6 { "inet6" } else { "inet" },
        gateway,
        dev: None,
        protocol: match m.header.protocol {
            RouteProtocol::Kernel => "kernel".to_owned(),
            RouteProtocol::Static => "static".to_owned(),
            RouteProtocol::Boot => "boot".to_owned(),
            RouteProtocol::Ra => "ra".to_owned(),
            RouteProtocol::Dhcp => "dhcp".to_owned(),
            p => u8::from(p).to_string(),
        },
        scope: scope_name(u8::from(m.header.scope)),
        prefsrc,
        oif,
        metric,
        pref,
        linkdown: m.header.flags.bits() & 0x10 != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use netlink_packet_core::Emitable;

    fn info(m: &LinkMessage) -> &Vec<LinkInfo> {
        m.attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::LinkInfo(i) => Some(i),
                _ => None,
            })
            .expect("IFLA_LINKINFO")
    }

    #[test]
    fn veth_with_peer_in_a_namespace_and_mtu_on_both_ends() {
        let mut l = NewLink::new(
            "vethab",
            Kind::Veth {
                peer: "eth0".into(),
                peer_netns: Some(7),
                peer_mtu: Some(9000),
                peer_mac: Some(parse::mac("02:00:00:00:00:01").unwrap()),
                peer_up: true,
            },
        );
        l.mtu = Some(9000);
        l.master = Some(4);
        l.up = true;
        let m = new_link(&l);
        assert!(m.header.flags.contains(LinkFlags::Up));
        assert!(
            m.attributes
                .contains(&LinkAttribute::IfName("vethab".into()))
        );
        assert!(m.attributes.contains(&LinkAttribute::Mtu(9000)));
        assert!(m.attributes.contains(&LinkAttribute::Controller(4)));
        let i = info(&m);
        assert_eq!(i[0], LinkInfo::Kind(InfoKind::Veth));
        let LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))) = &i[1] else {
            panic!("no peer: {i:?}");
        };
        assert!(p.attributes.contains(&LinkAttribute::IfName("eth0".into())));
        assert!(p.attributes.contains(&LinkAttribute::NetNsFd(7)));
        assert!(p.attributes.contains(&LinkAttribute::Mtu(9000)));
        assert!(
            p.attributes
                .contains(&LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]))
        );
        assert!(p.header.flags.contains(LinkFlags::Up));
        // It serializes (the kernel gets what the crate emits).
        let mut buf = vec![0; m.buffer_len()];
        m.emit(&mut buf);
        assert!(buf.len() > 60);
    }

    #[test]
    fn vlan_and_macvlan_name_their_parent() {
        let m = new_link(&NewLink::new("v100", Kind::Vlan { parent: 3, id: 100 }));
        assert!(m.attributes.contains(&LinkAttribute::Link(3)));
        assert_eq!(
            info(&m),
            &vec![
                LinkInfo::Kind(InfoKind::Vlan),
                LinkInfo::Data(InfoData::Vlan(vec![InfoVlan::Id(100)]))
            ]
        );
        let mut l = NewLink::new(
            "mv0",
            Kind::Macvlan {
                parent: 5,
                mode: MacvlanMode::Passthru,
            },
        );
        l.netns = Some(9);
        let m = new_link(&l);
        assert!(m.attributes.contains(&LinkAttribute::Link(5)));
        assert!(m.attributes.contains(&LinkAttribute::NetNsFd(9)));
        assert_eq!(
            info(&m)[1],
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                MacVlanMode::Passthrough
            )]))
        );
        assert_eq!(MacvlanMode::parse("vepa"), Some(MacvlanMode::Vepa));
        assert_eq!(MacvlanMode::parse("l2"), None);
        assert_eq!(
            missing_kind_hint("vlan"),
            "kernel lacks vlan support: CONFIG_VLAN_8021Q"
        );
    }

    #[test]
    fn setlink_only_sends_what_changes() {
        let m = set_link(&SetLink {
            index: 4,
            up: Some(false),
            ..SetLink::default()
        });
        assert_eq!(m.header.index, 4);
        assert_eq!(
            describe_set(&SetLink {
                index: 4,
                up: Some(false),
                mtu: Some(1400),
                master: Some(0),
                ..SetLink::default()
            }),
            "down mtu 1400 nomaster"
        );
        assert_eq!(m.header.change_mask, LinkFlags::Up);
        assert!(!m.header.flags.contains(LinkFlags::Up));
        assert!(m.attributes.is_empty());
        let m = set_link(&SetLink {
            index: 4,
            master: Some(0),
            rename: Some("eth0".into()),
            alias: Some(String::new()),
            ..SetLink::default()
        });
        assert!(m.header.change_mask.is_empty());
        assert_eq!(
            m.attributes,
            vec![
                LinkAttribute::IfName("eth0".into()),
                LinkAttribute::Controller(0),
                LinkAttribute::IfAlias(String::new())
            ]
        );
    }

    #[test]
    fn addresses() {
        let m = addr(3, &parse::cidr("10.0.3.2/24").unwrap(), true);
        assert_eq!(m.header.family, AddressFamily::Inet);
        assert_eq!(m.header.prefix_len, 24);
        assert!(
            !m.attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Flags(_)))
        );
        let m = addr(3, &parse::cidr("fd00::2/64").unwrap(), true);
        assert_eq!(m.header.family, AddressFamily::Inet6);
        assert!(
            m.attributes
                .contains(&AddressAttribute::Flags(AddressFlags::Nodad))
        );
        let m = addr(3, &parse::cidr("fd00::2/64").unwrap(), false);
        assert!(
            !m.attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Flags(_)))
        );
        assert_eq!(m.header.scope, AddressScope::Universe);
        let m = addr(3, &parse::cidr("fe80::2/64").unwrap(), false);
        assert_eq!(m.header.scope, AddressScope::Link);
        let back = addr_from(&addr(3, &parse::cidr("10.0.3.2/24").unwrap(), false)).unwrap();
        assert_eq!(back.local.to_string(), "10.0.3.2");
        assert_eq!(back.prefixlen, 24);
        assert_eq!(back.family, "inet");
    }

    #[test]
    fn routes() {
        let m = route(&Route {
            dest: None,
            v6: false,
            via: Some("10.0.3.1".parse().unwrap()),
            dev: None,
        });
        assert_eq!(m.header.address_family, AddressFamily::Inet);
        assert_eq!(m.header.destination_prefix_length, 0);
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert_eq!(m.header.table, RouteHeader::RT_TABLE_MAIN);
        let e = route_from(&m).unwrap();
        assert_eq!(e.dst, "default");
        assert_eq!(e.gateway.unwrap().to_string(), "10.0.3.1");
        let m = route(&Route {
            dest: Some(parse::cidr("10.0.4.2/32").unwrap()),
            v6: false,
            via: None,
            dev: Some(6),
        });
        assert_eq!(m.header.scope, RouteScope::Link);
        assert!(m.attributes.contains(&RouteAttribute::Oif(6)));
        let e = route_from(&m).unwrap();
        assert_eq!(e.dst, "10.0.4.2/32");
        assert_eq!(e.oif, Some(6));
        // The destination is the network, host bits cleared, as the kernel demands.
        let m = route(&Route {
            dest: Some(parse::cidr("10.1.2.3/16").unwrap()),
            v6: false,
            via: Some("10.0.0.1".parse().unwrap()),
            dev: None,
        });
        assert_eq!(route_from(&m).unwrap().dst, "10.1.0.0/16");
        let m = route(&Route {
            dest: None,
            v6: true,
            via: None,
            dev: Some(2),
        });
        assert_eq!(m.header.address_family, AddressFamily::Inet6);
        // ::/0 is the IPv6 default route.
        let m = route(&Route {
            dest: Some(parse::cidr("::/0").unwrap()),
            v6: true,
            via: None,
            dev: Some(2),
        });
        assert_eq!(m.header.address_family, AddressFamily::Inet6);
        assert_eq!(route_from(&m).unwrap().dst, "default");
    }

    #[test]
    fn route_delete_matches_any_protocol_scope_and_type() {
        // The kernel compares every non-wildcard field of a delete with the route:
        // protocol static or scope link would miss routes `ip` or the kernel made.
        let r = Route {
            dest: Some(parse::cidr("10.9.0.0/24").unwrap()),
            v6: false,
            via: None,
            dev: Some(3),
        };
        let m = route_delete(&r);
        assert_eq!(m.header.protocol, RouteProtocol::Unspec);
        assert_eq!(m.header.scope, RouteScope::NoWhere);
        assert_eq!(m.header.kind, RouteType::Unspec);
        assert_eq!(m.header.table, RouteHeader::RT_TABLE_MAIN);
        assert_eq!(m.header.destination_prefix_length, 24);
        assert!(m.attributes.contains(&RouteAttribute::Oif(3)));
    }
}
