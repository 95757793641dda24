//! What `show` prints as text, in iproute2's layout (scripts count its lines and cut its
//! words): `link show` as `ip link show` (two lines per link, `-s` adds the counters,
//! `-d` the details we know), `route show` as `ip route show`.

use std::fmt::Write as _;

use crate::msg::{Link, RouteEntry, Stats};

/// The display options of `show` (the global `-d`, `-s`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Opts {
    /// `-d`.
    pub details: bool,
    /// `-s` (counted; `-s -s` prints the same as `-s` here).
    pub stats: u8,
}

/// IFF_* bits, in the order `ip` prints them.
const FLAGS: &[(u32, &str)] = &[
    (libc::IFF_LOOPBACK as u32, "LOOPBACK"),
    (libc::IFF_BROADCAST as u32, "BROADCAST"),
    (libc::IFF_POINTOPOINT as u32, "POINTOPOINT"),
    (libc::IFF_MULTICAST as u32, "MULTICAST"),
    (libc::IFF_NOARP as u32, "NOARP"),
    (libc::IFF_ALLMULTI as u32, "ALLMULTI"),
    (libc::IFF_PROMISC as u32, "PROMISC"),
    (libc::IFF_MASTER as u32, "MASTER"),
    (libc::IFF_SLAVE as u32, "SLAVE"),
    (libc::IFF_DEBUG as u32, "DEBUG"),
    (libc::IFF_DYNAMIC as u32, "DYNAMIC"),
    (libc::IFF_AUTOMEDIA as u32, "AUTOMEDIA"),
    (libc::IFF_PORTSEL as u32, "PORTSEL"),
    (libc::IFF_NOTRAILERS as u32, "NOTRAILERS"),
    (libc::IFF_UP as u32, "UP"),
    (libc::IFF_LOWER_UP as u32, "LOWER_UP"),
    (libc::IFF_DORMANT as u32, "DORMANT"),
    (libc::IFF_ECHO as u32, "ECHO"),
];

/// `<NO-CARRIER,BROADCAST,MULTICAST,UP>` as `ip` prints a link's flags.
pub fn flags_text(raw: u32, peer_down: bool) -> String {
    let mut words = Vec::new();
    let up = libc::IFF_UP as u32;
    let running = libc::IFF_RUNNING as u32;
    if raw & up != 0 && raw & running == 0 {
        words.push("NO-CARRIER".to_owned());
    }
    let mut rest = raw & !running;
    for (bit, name) in FLAGS {
        if rest & bit != 0 {
            rest &= !bit;
            words.push((*name).to_owned());
        }
    }
    if rest != 0 {
        words.push(format!("{rest:x}"));
    }
    let mut s = words.join(",");
    if peer_down {
        s.push_str(",M-DOWN");
    }
    format!("<{s}>")
}

/// The name `ip` gives an ARPHRD_* link type.
fn link_type(t: u16) -> String {
    match t {
        1 => "ether".to_owned(),
        32 => "infiniband".to_owned(),
        512 => "ppp".to_owned(),
        768 => "ipip".to_owned(),
        769 => "tunnel6".to_owned(),
        772 => "loopback".to_owned(),
        776 => "sit".to_owned(),
        778 => "gre".to_owned(),
        823 => "ip6gre".to_owned(),
        65534 => "none".to_owned(),
        65535 => "void".to_owned(),
        n => format!("[{n}]"),
    }
}

const OPERSTATES: [&str; 7] = [
    "UNKNOWN",
    "NOTPRESENT",
    "DOWN",
    "LOWERLAYERDOWN",
    "TESTING",
    "DORMANT",
    "UP",
];

/// One link as `ip link show` prints it (without the final newline).
pub fn link_text(l: &Link, o: Opts) -> String {
    let m = &l.more;
    let mut t = format!("{}: {}", l.ifindex, l.ifname);
    let mut peer_down = false;
    match (l.link_index, l.link_netnsid, &m.peer) {
        (Some(0), ..) => t.push_str("@NONE"),
        (Some(i), Some(_), _) => {
            let _ = write!(t, "@if{i}");
        }
        (Some(_), None, Some((name, down))) => {
            let _ = write!(t, "@{name}");
            peer_down = *down;
        }
        (Some(i), None, None) => {
            let _ = write!(t, "@if{i}");
        }
        (None, ..) => {}
    }
    let _ = write!(t, ": {} mtu {}", flags_text(m.raw_flags, peer_down), l.mtu);
    if let Some(q) = &m.qdisc {
        let _ = write!(t, " qdisc {q}");
    }
    if let Some(b) = &l.master {
        let _ = write!(t, " master {b}");
    }
    let state = OPERSTATES
        .iter()
        .position(|s| *s == l.operstate)
        .map_or(l.operstate.as_str(), |i| OPERSTATES[i]);
    let _ = write!(t, " state {state}");
    match m.linkmode {
        Some(0) => t.push_str(" mode DEFAULT"),
        Some(1) => t.push_str(" mode DORMANT"),
        Some(n) => {
            let _ = write!(t, " mode {n}");
        }
        None => {}
    }
    match m.group {
        Some(0) => t.push_str(" group default"),
        Some(g) => {
            let _ = write!(t, " group {g}");
        }
        None => {}
    }
    if let Some(q) = m.txqlen.filter(|q| *q != 0) {
        let _ = write!(t, " qlen {q}");
    }
    let _ = write!(t, "\n    link/{} ", link_type(m.link_type));
    if let Some(a) = &l.address {
        t.push_str(a);
    }
    if let Some(b) = &m.broadcast {
        let pointopoint = m.raw_flags & libc::IFF_POINTOPOINT as u32 != 0;
        let _ = write!(t, " {} {b}", if pointopoint { "peer" } else { "brd" });
    }
    if let Some(p) = &l.perm_address
        && l.address.as_ref() != Some(p)
    {
        let _ = write!(t, " permaddr {p}");
    }
    if let Some(id) = l.link_netnsid {
        match &m.link_netns {
            Some(n) => {
                let _ = write!(t, " link-netns {n}");
            }
            None if id >= 0 => {
                let _ = write!(t, " link-netnsid {id}");
            }
            None => t.push_str(" link-netnsid unknown"),
        }
    }
    if o.details {
        details(&mut t, l);
    }
    if let Some(a) = &l.alias {
        let _ = write!(t, "\n    alias {a}");
    }
    if o.stats > 0
        && let Some(s) = &l.stats64
    {
        t.push('\n');
        stats_text(&mut t, s);
    }
    t
}

/// What `-d` adds: promiscuity and MTU limits, then the kind's line with what we know of
/// it, and the queue limits.
fn details(t: &mut String, l: &Link) {
    let m = &l.more;
    let _ = write!(
        t,
        " promiscuity {}  allmulti {} minmtu {} maxmtu {} ",
        m.promiscuity.unwrap_or(0),
        m.allmulti.unwrap_or(0),
        m.min_mtu.unwrap_or(0),
        m.max_mtu.unwrap_or(0)
    );
    if let Some(k) = &l.kind {
        let _ = write!(t, "\n    {k} ");
        for w in &m.kind_words {
            let _ = write!(t, "{w} ");
        }
    }
    if let Some(p) = &m.port_kind {
        let _ = write!(t, "\n    {p}_slave ");
    }
    if let Some(g) = &m.addrgenmode {
        let _ = write!(t, "addrgenmode {g} ");
    }
    let names = [
        "numtxqueues",
        "numrxqueues",
        "gso_max_size",
        "gso_max_segs",
        "tso_max_size",
        "tso_max_segs",
        "gro_max_size",
    ];
    for (n, v) in names.iter().zip(m.queues) {
        if let Some(v) = v {
            let _ = write!(t, "{n} {v} ");
        }
    }
}

/// The number of digits of `v`.
fn width(v: u64) -> usize {
    v.to_string().len()
}

/// The RX and TX tables of `ip -s link show`: columns as wide as their widest value or
/// title.
pub fn stats_text(t: &mut String, s: &Stats) {
    let mut cols = [
        "*X errors:".len(),
        "packets".len(),
        "errors".len(),
        "dropped".len(),
        "heartbt".len(),
        "overrun".len(),
        "compressed".len(),
    ];
    let rx = [
        s.rx.bytes,
        s.rx.packets,
        s.rx.errors,
        s.rx.dropped,
        s.rx.missed,
        s.rx.multicast,
    ];
    let tx = [
        s.tx.bytes,
        s.tx.packets,
        s.tx.errors,
        s.tx.dropped,
        s.tx.carrier_errors,
        s.tx.collisions,
    ];
    for row in [rx, tx] {
        for (c, v) in cols.iter_mut().zip(row) {
            *c = (*c).max(width(v));
        }
    }
    let head = |t: &mut String, what: &str, names: [&str; 6]| {
        let _ = write!(t, "    {what}: {:>w$}", names[0], w = cols[0] - 4);
        for (n, w) in names[1..].iter().zip(&cols[1..6]) {
            let _ = write!(t, " {n:>w$}");
        }
        let _ = writeln!(t, " {:>w$}", "", w = cols[6]);
    };
    let row = |t: &mut String, vals: [u64; 6]| {
        t.push_str("    ");
        for (v, w) in vals.iter().zip(&cols) {
            let _ = write!(t, "{v:>w$} ");
        }
    };
    head(
        t,
        "RX",
        ["bytes", "packets", "errors", "dropped", "missed", "mcast"],
    );
    row(t, rx);
    t.push('\n');
    head(
        t,
        "TX",
        [
            "bytes", "packets", "errors", "dropped", "carrier", "collsns",
        ],
    );
    row(t, tx);
}

/// One route as `ip route show` prints it: the destination, `via`, `dev`, then `proto`
/// unless it is `boot`, `scope` unless it is `global`, `src`, `metric`, `linkdown`, each
/// word pair followed by a space as `ip` leaves it; an IPv6 route ends with `pref`.
/// `by_dev`: the routes were selected with `dev NAME`, which `ip` then leaves out.
pub fn route_text(r: &RouteEntry, by_dev: bool) -> String {
    let mut t = format!("{} ", r.dst);
    if let Some(g) = r.gateway {
        let _ = write!(t, "via {g} ");
    }
    if let Some(d) = r.dev.as_ref().filter(|_| !by_dev) {
        let _ = write!(t, "dev {d} ");
    }
    if r.protocol != "boot" {
        let _ = write!(t, "proto {} ", r.protocol);
    }
    if r.scope != "global" {
        let _ = write!(t, "scope {} ", r.scope);
    }
    if let Some(p) = r.prefsrc {
        let _ = write!(t, "src {p} ");
    }
    if let Some(m) = r.metric {
        let _ = write!(t, "metric {m} ");
    }
    if r.linkdown {
        t.push_str("linkdown ");
    }
    if r.family == "inet6"
        && let Some(p) = &r.pref
    {
        let _ = write!(t, "pref {p}");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_ip_order() {
        let up = libc::IFF_UP as u32;
        let b = (libc::IFF_BROADCAST | libc::IFF_MULTICAST) as u32;
        assert_eq!(
            flags_text(b | up, false),
            "<NO-CARRIER,BROADCAST,MULTICAST,UP>"
        );
        assert_eq!(flags_text(b, true), "<BROADCAST,MULTICAST,M-DOWN>");
        let lo = (libc::IFF_LOOPBACK | libc::IFF_RUNNING | libc::IFF_LOWER_UP) as u32 | up;
        assert_eq!(flags_text(lo, false), "<LOOPBACK,UP,LOWER_UP>");
    }

    #[test]
    fn counters_as_ip_prints_them() {
        let mut t = String::new();
        stats_text(&mut t, &Stats::default());
        assert_eq!(
            t,
            "    RX:  bytes packets errors dropped  missed   mcast           \n             0       0      0       0       0       0 \n    TX:  bytes packets errors dropped carrier collsns           \n             0       0      0       0       0       0 "
        );
        let mut s = Stats::default();
        s.rx.bytes = 12_345_678_901;
        s.tx.packets = 123_456_789;
        let mut t = String::new();
        stats_text(&mut t, &s);
        assert!(t.starts_with("    RX:   bytes   packets errors"), "{t}");
        assert!(t.contains("\n    12345678901         0 "), "{t}");
    }
}
