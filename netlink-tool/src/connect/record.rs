//! The record of a connection: what `connect` made, kept on the host side (a file under
//! the state directory, see [`super::store`]) so that `disconnect` and `readdr` undo or
//! change exactly that. The container cannot write it: nothing in it comes from the
//! container's own links, whose root may rewrite them.
//!
//! The text form is versioned, one `key value` per line after the version line:
//!
//! ```text
//! netlink-tool record 2
//! state connected
//! type veth
//! name eth0
//! host-ns 4:4026531840:1
//! ctn-ns 4:4026532999:8
//! host veth1a2b3c4d
//! addr 10.0.3.2/24
//! ```
//!
//! Values are single words: bytes other than printable ASCII, and `%`, as `%XX`. Keys
//! may repeat (`addr`). A file with another version line, an unknown key or a malformed
//! value is refused as a whole: a record is trusted only when it is read exactly.
//!
//! The old container-side record (`netlink-tool:v1 …` in the container link's alias) is
//! not trusted any more: [`is_v1_alias`] only recognises it to say so.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::spec::Type;
use crate::parse::{self, Cidr, Mac};

/// The first line of a record file.
pub const VERSION_LINE: &str = "netlink-tool record 2";

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// connect is making it (or was stopped while making it): not a connection yet.
    Pending,
    /// connect finished.
    Connected,
    /// disconnect is undoing it (or was stopped while undoing it).
    Undoing,
}

impl State {
    fn word(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Connected => "connected",
            State::Undoing => "undoing",
        }
    }

    fn parse(w: &str) -> Option<State> {
        Some(match w {
            "pending" => State::Pending,
            "connected" => State::Connected,
            "undoing" => State::Undoing,
            _ => return None,
        })
    }
}

/// A network namespace as the record names it: the (device, inode) of its nsfs file
/// and its cookie (`SO_NETNS_COOKIE`, never reused while the system runs: an inode
/// can be, once its namespace is gone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NsIdent {
    /// Device of the nsfs inode.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// The namespace's cookie.
    pub cookie: u64,
}

impl NsIdent {
    fn text(&self) -> String {
        format!("{}:{}:{}", self.dev, self.ino, self.cookie)
    }

    fn parse(s: &str) -> Option<NsIdent> {
        let mut it = s.split(':');
        let n = NsIdent {
            dev: num(it.next()?)?,
            ino: num(it.next()?)?,
            cookie: num(it.next()?)?,
        };
        it.next().is_none().then_some(n)
    }
}

/// A bridge connect created on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bridge {
    /// Its name.
    pub name: String,
    /// The unique name it is created under before it is known by index (then renamed).
    pub temp: Option<String>,
    /// Its ifindex, once known.
    pub index: Option<u32>,
}

/// A host NIC moved into the container (phys): how it was, and how to know it again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phys {
    /// Its name on the host.
    pub orig_name: String,
    /// Its ifindex on the host (the kernel keeps it across the move when it is free).
    pub orig_index: u32,
    /// Its MTU on the host.
    pub orig_mtu: u32,
    /// Its MAC on the host, when connect changes it.
    pub orig_mac: Option<Mac>,
    /// It was up on the host.
    pub orig_up: bool,
    /// Its own alias on the host.
    pub orig_alias: Option<String>,
    /// The bridge it was a port of on the host.
    pub orig_master: Option<String>,
    /// Its link kind (`veth`…; none for a real NIC).
    pub kind: Option<String>,
    /// For a veth: the ifindex of its peer, which stays on the host.
    pub peer_index: Option<u32>,
    /// Its permanent hardware address (real NICs have one; the container cannot change it).
    pub perm_addr: Option<String>,
    /// The device it hangs off (`0000:00:03.0`), for a real NIC.
    pub parent_dev: Option<String>,
    /// The temporary name of a move in progress (into the container, or back).
    pub temp: Option<String>,
}

/// What connect made for one container link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Pending, connected or being undone.
    pub state: State,
    /// The link type.
    pub ty: Type,
    /// The link's name in the container, as connect gave it.
    pub name: String,
    /// The namespace playing the host.
    pub host_ns: NsIdent,
    /// The container's namespace.
    pub ctn_ns: NsIdent,
    /// The host end (veth, routed).
    pub host: Option<String>,
    /// The container link's ifindex, once known.
    pub ctn_index: Option<u32>,
    /// The parent's ifindex on the host (macvlan, vlan).
    pub parent_index: Option<u32>,
    /// The bridge connect created.
    pub bridge: Option<Bridge>,
    /// The container's `lo` was down before connect (an interrupted connect's cleanup
    /// brings it down again).
    pub lo_was_down: bool,
    /// The container link's addresses that connect (or readdr) gave it.
    pub addrs: Vec<Cidr>,
    /// The default gateway inside the container.
    pub gw: Option<IpAddr>,
    /// A host NIC moved in (phys).
    pub phys: Option<Phys>,
}

impl Record {
    /// A pending record with nothing made yet.
    pub fn new(ty: Type, name: &str, host_ns: NsIdent, ctn_ns: NsIdent) -> Record {
        Record {
            state: State::Pending,
            ty,
            name: name.to_owned(),
            host_ns,
            ctn_ns,
            host: None,
            ctn_index: None,
            parent_index: None,
            bridge: None,
            lo_was_down: false,
            addrs: Vec::new(),
            gw: None,
            phys: None,
        }
    }

    /// The text form (see the module's documentation).
    pub fn to_text(&self) -> String {
        let mut s = format!("{VERSION_LINE}\n");
        let mut kv = |k: &str, v: &str| {
            let _ = writeln!(s, "{k} {v}");
        };
        kv("state", self.state.word());
        kv("type", self.ty.name());
        kv("name", &encode(&self.name));
        kv("host-ns", &self.host_ns.text());
        kv("ctn-ns", &self.ctn_ns.text());
        if let Some(h) = &self.host {
            kv("host", &encode(h));
        }
        if let Some(i) = self.ctn_index {
            kv("ctn-index", &i.to_string());
        }
        if let Some(i) = self.parent_index {
            kv("parent-index", &i.to_string());
        }
        if let Some(b) = &self.bridge {
            kv("bridge", &encode(&b.name));
            if let Some(t) = &b.temp {
                kv("bridge-temp", &encode(t));
            }
            if let Some(i) = b.index {
                kv("bridge-index", &i.to_string());
            }
        }
        if self.lo_was_down {
            kv("lo-was-down", "1");
        }
        for a in &self.addrs {
            kv("addr", &a.to_string());
        }
        if let Some(g) = self.gw {
            kv("gw", &g.to_string());
        }
        if let Some(p) = &self.phys {
            kv("orig-name", &encode(&p.orig_name));
            kv("orig-index", &p.orig_index.to_string());
            kv("orig-mtu", &p.orig_mtu.to_string());
            if let Some(m) = p.orig_mac {
                kv("orig-mac", &m.to_string());
            }
            if p.orig_up {
                kv("orig-up", "1");
            }
            if let Some(a) = &p.orig_alias {
                kv("orig-alias", &encode(a));
            }
            if let Some(m) = &p.orig_master {
                kv("orig-master", &encode(m));
            }
            if let Some(k) = &p.kind {
                kv("orig-kind", &encode(k));
            }
            if let Some(i) = p.peer_index {
                kv("orig-peer-index", &i.to_string());
            }
            if let Some(a) = &p.perm_addr {
                kv("orig-perm-addr", &encode(a));
            }
            if let Some(d) = &p.parent_dev {
                kv("orig-parent-dev", &encode(d));
            }
            if let Some(t) = &p.temp {
                kv("phys-temp", &encode(t));
            }
        }
        s
    }

    /// Read a record back; the error says what is wrong (a file of another version, an
    /// unknown key, a malformed value).
    pub fn parse(text: &str) -> Result<Record, String> {
        let mut lines = text.lines();
        match lines.next() {
            Some(VERSION_LINE) => {}
            Some(l) => return Err(format!("not a version 2 record (first line {l:?})")),
            None => return Err("empty".to_owned()),
        }
        let mut state = None;
        let mut ty = None;
        let mut name = None;
        let mut host_ns = None;
        let mut ctn_ns = None;
        let mut r = Record::new(Type::Empty, "", NsIdent::default(), NsIdent::default());
        let mut phys = Phys::default();
        let mut is_phys = false;
        for line in lines {
            let (k, v) = line
                .split_once(' ')
                .ok_or_else(|| format!("malformed line {line:?}"))?;
            let bad = || format!("malformed value of {k}: {v:?}");
            let word = || decode(v).ok_or_else(bad);
            let n32 = || num::<u32>(v).ok_or_else(bad);
            let flag = || match v {
                "1" => Ok(true),
                _ => Err(bad()),
            };
            match k {
                "state" => state = Some(State::parse(v).ok_or_else(bad)?),
                "type" => ty = Some(Type::parse(v).ok_or_else(bad)?),
                "name" => name = Some(word()?),
                "host-ns" => host_ns = Some(NsIdent::parse(v).ok_or_else(bad)?),
                "ctn-ns" => ctn_ns = Some(NsIdent::parse(v).ok_or_else(bad)?),
                "host" => r.host = Some(word()?),
                "ctn-index" => r.ctn_index = Some(n32()?),
                "parent-index" => r.parent_index = Some(n32()?),
                "bridge" => r.bridge.get_or_insert_with(Bridge::default).name = word()?,
                "bridge-temp" => {
                    r.bridge.get_or_insert_with(Bridge::default).temp = Some(word()?);
                }
                "bridge-index" => {
                    r.bridge.get_or_insert_with(Bridge::default).index = Some(n32()?);
                }
                "lo-was-down" => r.lo_was_down = flag()?,
                "addr" => r.addrs.push(parse::cidr(v).map_err(|_| bad())?),
                "gw" => r.gw = Some(v.parse().map_err(|_| bad())?),
                _ if k.starts_with("orig-") || k == "phys-temp" => {
                    is_phys = true;
                    match k {
                        "orig-name" => phys.orig_name = word()?,
                        "orig-index" => phys.orig_index = n32()?,
                        "orig-mtu" => phys.orig_mtu = n32()?,
                        "orig-mac" => phys.orig_mac = Some(parse::mac(v).map_err(|_| bad())?),
                        "orig-up" => phys.orig_up = flag()?,
                        "orig-alias" => phys.orig_alias = Some(word()?),
                        "orig-master" => phys.orig_master = Some(word()?),
                        "orig-kind" => phys.kind = Some(word()?),
                        "orig-peer-index" => phys.peer_index = Some(n32()?),
                        "orig-perm-addr" => phys.perm_addr = Some(word()?),
                        "orig-parent-dev" => phys.parent_dev = Some(word()?),
                        "phys-temp" => phys.temp = Some(word()?),
                        _ => return Err(format!("unknown key {k:?}")),
                    }
                }
                _ => return Err(format!("unknown key {k:?}")),
            }
        }
        r.state = state.ok_or("no state")?;
        r.ty = ty.ok_or("no type")?;
        r.name = name.ok_or("no name")?;
        r.host_ns = host_ns.ok_or("no host-ns")?;
        r.ctn_ns = ctn_ns.ok_or("no ctn-ns")?;
        if r.bridge.as_ref().is_some_and(|b| b.name.is_empty()) {
            return Err("bridge-temp or bridge-index without bridge".to_owned());
        }
        if is_phys {
            if phys.orig_name.is_empty() {
                return Err("phys fields without orig-name".to_owned());
            }
            r.phys = Some(phys);
        }
        Ok(r)
    }
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// A value as one word: bytes other than printable ASCII, and `%`, as `%XX` (an empty
/// value is `%`, alone).
fn encode(v: &str) -> String {
    if v.is_empty() {
        return "%".to_owned();
    }
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The inverse of [`encode`]; `None` for a malformed word.
fn decode(w: &str) -> Option<String> {
    if w == "%" {
        return Some(String::new());
    }
    let b = w.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                if !hex.iter().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F')) {
                    return None;
                }
                let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                if v.is_ascii_graphic() && v != b'%' {
                    return None; // not how encode writes it: one text, one form
                }
                out.push(v);
                i += 3;
            }
            c if c.is_ascii_graphic() => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// True for the alias text of netlink-tool 0.1's container-side record
/// (`netlink-tool:v1 type=…`), which is no longer trusted.
pub fn is_v1_alias(alias: &str) -> bool {
    alias.split_whitespace().next() == Some("netlink-tool:v1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Record {
        let mut r = Record::new(
            Type::Veth,
            "eth0",
            NsIdent {
                dev: 4,
                ino: 4_026_531_840,
                cookie: 1,
            },
            NsIdent {
                dev: 4,
                ino: 4_026_532_999,
                cookie: 8,
            },
        );
        r.state = State::Connected;
        r.host = Some("veth1a2b3c4d".into());
        r.addrs = vec![parse::cidr("10.0.3.2/24").unwrap()];
        r
    }

    #[test]
    fn the_text_form() {
        assert_eq!(
            sample().to_text(),
            "netlink-tool record 2\nstate connected\ntype veth\nname eth0\n\
             host-ns 4:4026531840:1\nctn-ns 4:4026532999:8\nhost veth1a2b3c4d\naddr 10.0.3.2/24\n"
        );
        assert_eq!(Record::parse(&sample().to_text()), Ok(sample()));
    }

    #[test]
    fn anything_else_is_refused() {
        let t = sample().to_text();
        assert!(Record::parse("netlink-tool:v1 type=veth host=x").is_err());
        assert!(Record::parse(&t.replace("record 2", "record 3")).is_err());
        assert!(Record::parse(&format!("{t}colour blue\n")).is_err());
        assert!(Record::parse(&t.replace("state connected\n", "")).is_err());
        assert!(Record::parse(&t.replace("type veth", "type ipvlan")).is_err());
        assert!(Record::parse(&t.replace("4:4026532999:8", "4:x:8")).is_err());
        assert!(Record::parse(&t.replace("name eth0", "name eth%4")).is_err());
        assert!(Record::parse(&t.replace("name eth0", "name eth%300")).is_err());
        assert!(Record::parse(&format!("{t}ctn-index 007\n")).is_err());
        assert!(Record::parse(&format!("{t}orig-mtu 1500\n")).is_err());
        assert!(Record::parse("").is_err());
        assert!(is_v1_alias(
            "netlink-tool:v1 type=veth host=x created-bridge=mgmt0"
        ));
        assert!(!is_v1_alias("uplink to the lab"));
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[ -~]{0,20}", Just(String::new())]
    }

    fn ns() -> impl Strategy<Value = NsIdent> {
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(dev, ino, cookie)| NsIdent {
            dev,
            ino,
            cookie,
        })
    }

    fn cidr() -> impl Strategy<Value = Cidr> {
        prop_oneof![
            (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, p)| Cidr {
                addr: IpAddr::from(a),
                prefix: p
            }),
            (any::<[u8; 16]>(), 0u8..=128).prop_map(|(a, p)| Cidr {
                addr: IpAddr::from(a),
                prefix: p
            }),
        ]
    }

    fn mac() -> impl Strategy<Value = Mac> {
        any::<[u8; 6]>().prop_filter_map("unicast, not zero", |m| {
            parse::mac(&Mac(m).to_string()).ok()
        })
    }

    fn phys() -> impl Strategy<Value = Phys> {
        (
            (
                text(),
                any::<u32>(),
                any::<u32>(),
                proptest::option::of(mac()),
            ),
            (
                any::<bool>(),
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::option::of(text()),
            ),
            (
                proptest::option::of(any::<u32>()),
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::option::of(text()),
            ),
        )
            .prop_filter("a name", |((n, ..), ..)| !n.is_empty())
            .prop_map(
                |(
                    (orig_name, orig_index, orig_mtu, orig_mac),
                    (orig_up, orig_alias, orig_master, kind),
                    (peer_index, perm_addr, parent_dev, temp),
                )| Phys {
                    orig_name,
                    orig_index,
                    orig_mtu,
                    orig_mac,
                    orig_up,
                    orig_alias,
                    orig_master,
                    kind,
                    peer_index,
                    perm_addr,
                    parent_dev,
                    temp,
                },
            )
    }

    fn record() -> impl Strategy<Value = Record> {
        let ty = prop_oneof![
            Just(Type::Empty),
            Just(Type::Veth),
            Just(Type::Macvlan),
            Just(Type::Vlan),
            Just(Type::Phys),
            Just(Type::Routed),
        ];
        let state = prop_oneof![
            Just(State::Pending),
            Just(State::Connected),
            Just(State::Undoing)
        ];
        let bridge = (
            text().prop_filter("a name", |n| !n.is_empty()),
            proptest::option::of(text()),
            proptest::option::of(any::<u32>()),
        )
            .prop_map(|(name, temp, index)| Bridge { name, temp, index });
        (
            (state, ty, text(), ns(), ns()),
            (
                proptest::option::of(text()),
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u32>()),
                proptest::option::of(bridge),
            ),
            (
                any::<bool>(),
                proptest::collection::vec(cidr(), 0..4),
                proptest::option::of(any::<[u8; 16]>().prop_map(IpAddr::from)),
                proptest::option::of(phys()),
            ),
        )
            .prop_map(
                |(
                    (state, ty, name, host_ns, ctn_ns),
                    (host, ctn_index, parent_index, bridge),
                    (lo_was_down, addrs, gw, phys),
                )| Record {
                    state,
                    ty,
                    name,
                    host_ns,
                    ctn_ns,
                    host,
                    ctn_index,
                    parent_index,
                    bridge,
                    lo_was_down,
                    addrs,
                    gw,
                    phys,
                },
            )
    }

    proptest! {
        #[test]
        fn every_record_reads_back_as_written(r in record()) {
            prop_assert_eq!(Record::parse(&r.to_text()), Ok(r));
        }

        #[test]
        fn every_value_is_one_word(v in any::<String>()) {
            let w = encode(&v);
            prop_assert!(!w.is_empty() && w.bytes().all(|b| b.is_ascii_graphic()));
            prop_assert_eq!(decode(&w), Some(v));
        }

        #[test]
        fn garbage_never_panics(t in any::<String>()) {
            let _ = Record::parse(&format!("{VERSION_LINE}\n{t}"));
        }
    }
}
