//! `connect` and `disconnect`: one call gives a container (a network namespace) its
//! link, as LXC's `lxc.net.type` does, and takes it away again.
//!
//! | type | what connect makes |
//! | --- | --- |
//! | empty | only `lo`, up |
//! | veth | a pair: host end (into the `--link` bridge, up), container end moved, renamed, addressed, up; default route via `--gw` |
//! | routed | OpenVZ's venet: a veth without a bridge, a host route to each container address, proxy ARP on the host end, default route in the container through its link |
//! | macvlan | a macvlan on `--link`, created straight inside the container |
//! | vlan | an 802.1Q link on `--link`, created straight inside the container |
//! | phys | the host NIC `--link` moved in through a temporary name, original name and MTU recorded |
//!
//! What connect made is recorded in the container link's alias (`ifalias`, which moves
//! with the link), so that `disconnect` undoes exactly that and nothing else. A failure
//! midway undoes what this call made, in reverse order (no leaked veth, no half-moved
//! NIC, no orphan route).

use std::net::IpAddr;
use std::os::fd::RawFd;
use std::path::PathBuf;

use netlink_packet_route::RouteNetlinkMessage as M;
use nix::errno::Errno;

use crate::error::{Error, KernelError, kernel};
use crate::msg::{self, Kind, MacvlanMode, NewLink, SetLink};
use crate::nl::{CREATE_EXCL, Rtnl};
use crate::ns::{Net, NetNs};
use crate::ops;
use crate::parse::{Cidr, Mac};
use crate::sys;

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

/// What `connect` made, kept in the container link's alias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The type (its word).
    pub ty: String,
    /// The host end (veth, routed).
    pub host: Option<String>,
    /// The bridge connect created (deleted by disconnect when no port is left).
    pub created_bridge: Option<String>,
    /// The NIC's name on the host (phys).
    pub orig_name: Option<String>,
    /// The NIC's MTU on the host (phys).
    pub orig_mtu: Option<u32>,
    /// The NIC's MAC on the host when connect changed it (phys).
    pub orig_mac: Option<String>,
    /// The NIC was up on the host (phys): it comes back up.
    pub orig_up: bool,
    /// The NIC's own alias on the host (phys), which the record replaces meanwhile.
    pub orig_alias: Option<String>,
    /// The bridge the NIC was a port of on the host (phys): leaving the namespace took
    /// it out, coming back puts it in again.
    pub orig_master: Option<String>,
}

const RECORD_TAG: &str = "netlink-tool:v1";

/// The longest alias the kernel keeps (IFALIASZ - 1).
const ALIAS_MAX: usize = 255;

/// A value of the record, as one word: bytes other than printable ASCII, `%` and `=`
/// as `%XX`.
fn encode_word(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_graphic() && b != b'%' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`encode_word`]; `None` for a malformed word.
fn decode_word(w: &str) -> Option<String> {
    let b = w.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Record {
    /// The alias text: `netlink-tool:v1 type=veth host=veth1a2b3c4d`.
    pub fn to_alias(&self) -> String {
        let mut s = format!("{RECORD_TAG} type={}", self.ty);
        let mut kv = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                s.push_str(&format!(" {k}={v}"));
            }
        };
        kv("host", self.host.clone());
        kv("created-bridge", self.created_bridge.clone());
        kv("orig-name", self.orig_name.clone());
        kv("orig-mtu", self.orig_mtu.map(|m| m.to_string()));
        kv("orig-mac", self.orig_mac.clone());
        kv("orig-up", self.orig_up.then(|| "1".to_owned()));
        kv("orig-master", self.orig_master.clone());
        kv("orig-alias", self.orig_alias.as_deref().map(encode_word));
        s
    }

    /// Read an alias back; `None` when it is not netlink-tool's.
    pub fn parse(alias: &str) -> Option<Record> {
        let mut words = alias.split_whitespace();
        if words.next()? != RECORD_TAG {
            return None;
        }
        let mut r = Record::default();
        for w in words {
            let (k, v) = w.split_once('=')?;
            match k {
                "type" => r.ty = v.to_owned(),
                "host" => r.host = Some(v.to_owned()),
                "created-bridge" => r.created_bridge = Some(v.to_owned()),
                "orig-name" => r.orig_name = Some(v.to_owned()),
                "orig-mtu" => r.orig_mtu = Some(v.parse().ok()?),
                "orig-mac" => r.orig_mac = Some(v.to_owned()),
                "orig-up" => r.orig_up = v == "1",
                "orig-master" => r.orig_master = Some(v.to_owned()),
                "orig-alias" => r.orig_alias = Some(decode_word(v)?),
                _ => {}
            }
        }
        if r.ty.is_empty() { None } else { Some(r) }
    }
}

/// One thing to undo when a later step fails.
#[derive(Debug)]
enum Undo {
    /// Delete a link in the host namespace (a veth host end: its peer goes too; a bridge).
    HostLink(String),
    /// Delete a link in the container namespace.
    ContainerLink(String),
    /// Bring the container's `lo` down again (connect brought it up).
    LoDown,
    /// Send a phys NIC back to the host under its original name and MTU.
    Phys { now: String, record: Record },
}

/// The two namespaces connect works with, as it sees them: a conversation with each,
/// their fds (for IFLA_NET_NS_FD), and the host's /proc/sys. [`Real`] is the kernel; the
/// unit tests use a fake that also injects failures at every step.
pub trait Sides {
    /// The host side's rtnetlink.
    fn host(&mut self) -> Result<&mut dyn Rtnl, Error>;
    /// The container side's rtnetlink.
    fn ctn(&mut self) -> Result<&mut dyn Rtnl, Error>;
    /// The host namespace's fd.
    fn host_fd(&self) -> RawFd;
    /// The container namespace's fd.
    fn ctn_fd(&self) -> RawFd;
    /// The container namespace's inode (for the default host-end name).
    fn ctn_inode(&self) -> u64;
    /// The host namespace as the user named it.
    fn host_label(&self) -> String;
    /// The container namespace as the user named it.
    fn ctn_label(&self) -> String;
    /// Write a sysctl of the host namespace (`net/ipv4/conf/X/proxy_arp`).
    fn host_sysctl(&mut self, key: &str, value: &str) -> Result<(), Error>;
}

/// The real namespaces.
#[derive(Debug)]
pub struct Real<'a> {
    net: &'a mut Net,
    ctn: NetNs,
}

impl Sides for Real<'_> {
    fn host(&mut self) -> Result<&mut dyn Rtnl, Error> {
        Ok(self.net.route_host()?)
    }

    fn ctn(&mut self) -> Result<&mut dyn Rtnl, Error> {
        Ok(self.net.route(&self.ctn)?)
    }

    fn host_fd(&self) -> RawFd {
        self.net.host.raw_fd()
    }

    fn ctn_fd(&self) -> RawFd {
        self.ctn.raw_fd()
    }

    fn ctn_inode(&self) -> u64 {
        self.ctn.inode()
    }

    fn host_label(&self) -> String {
        self.net.host.label.clone()
    }

    fn ctn_label(&self) -> String {
        self.ctn.label.clone()
    }

    fn host_sysctl(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let path = PathBuf::from(format!("/proc/sys/{key}"));
        self.net
            .inside_host(|| sys::write_sysctl(&path, value))?
            .map_err(|source| Error::File {
                context: "cannot write",
                path: path.clone(),
                source,
            })
    }
}

struct Ctx<'a> {
    sides: &'a mut dyn Sides,
    what: String,
    undo: Vec<Undo>,
}

impl Ctx<'_> {
    fn host(&mut self) -> Result<&mut dyn Rtnl, Error> {
        self.sides.host()
    }

    fn ctn(&mut self) -> Result<&mut dyn Rtnl, Error> {
        self.sides.ctn()
    }

    fn step<S: std::fmt::Display>(&self, step: S) -> impl FnOnce(KernelError) -> Error + use<S> {
        kernel(format!("{}: {step}", self.what))
    }

    /// Undo in reverse order; failures are collected, not fatal.
    fn rollback(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        while let Some(u) = self.undo.pop() {
            let r = match &u {
                Undo::HostLink(name) => self.host().and_then(|s| del_by_name(s, name)),
                Undo::ContainerLink(name) => self.ctn().and_then(|s| del_by_name(s, name)),
                Undo::LoDown => self.ctn().and_then(|s| {
                    let down = SetLink {
                        index: 1,
                        up: Some(false),
                        ..SetLink::default()
                    };
                    ops::set_link(s, &down, format_args!("lo down")).map_err(kernel("lo down"))
                }),
                Undo::Phys { now, record } => {
                    let (now, record) = (now.clone(), record.clone());
                    phys_home(self, &now, &record)
                }
            };
            if let Err(e) = r {
                problems.push(common::exit::message(&e));
            }
        }
        problems
    }
}

fn del_by_name(sock: &mut dyn Rtnl, name: &str) -> Result<(), Error> {
    match ops::find_link(sock, name).map_err(kernel(format!("look up '{name}'")))? {
        Some(l) => {
            ops::del_link(sock, l.ifindex, &name).map_err(kernel(format!("delete '{name}'")))
        }
        None => Ok(()),
    }
}

/// `connect`: give the container its link. On failure, what this call made is undone.
pub fn connect(net: &mut Net, spec: &Spec) -> Result<(), Error> {
    spec.check()?;
    let ctn = NetNs::open(&spec.ns)?;
    if ctn.id == net.host.id {
        return Err(Error::Refused(format!(
            "connect {}: the container's namespace is the host namespace",
            spec.ns
        )));
    }
    connect_with(&mut Real { net, ctn }, spec)
}

/// `connect` over any [`Sides`].
pub fn connect_with(sides: &mut dyn Sides, spec: &Spec) -> Result<(), Error> {
    let what = format!("connect {}", spec.ns);
    let mut cx = Ctx {
        sides,
        what,
        undo: Vec::new(),
    };
    let r = match spec.ty {
        Type::Empty => lo_up(&mut cx),
        Type::Veth | Type::Routed => connect_veth(&mut cx, spec),
        Type::Macvlan | Type::Vlan => connect_stacked(&mut cx, spec),
        Type::Phys => connect_phys(&mut cx, spec),
    };
    if let Err(e) = r {
        let problems = cx.rollback();
        if problems.is_empty() {
            return Err(e);
        }
        return Err(e.context(format!(
            "rollback incomplete ({}); first failure",
            problems.join("; ")
        )));
    }
    Ok(())
}

/// An EEXIST at creation, explained: which name exists, and whether it is a connection
/// of ours ("already connected").
fn explain_exists(cx: &mut Ctx<'_>, spec: &Spec, host_end: Option<&str>) -> Error {
    let what = cx.what.clone();
    if let Ok(s) = cx.ctn()
        && let Ok(Some(l)) = ops::find_link(s, &spec.name)
    {
        if l.alias.as_deref().and_then(Record::parse).is_some() {
            return Error::Refused(format!(
                "{what}: '{}' is already connected (disconnect it first)",
                spec.name
            ));
        }
        return Error::Refused(format!(
            "{what}: a link '{}' already exists in the container",
            spec.name
        ));
    }
    if let Some(h) = host_end
        && let Ok(s) = cx.host()
        && let Ok(Some(_)) = ops::find_link(s, h)
    {
        return Error::Refused(format!("{what}: the host-side link '{h}' already exists"));
    }
    Error::Kernel {
        context: format!("{what}: create the link"),
        source: KernelError::new(Errno::EEXIST),
    }
}

/// A link in the host namespace that connect relies on.
fn host_link(cx: &mut Ctx<'_>, name: &str) -> Result<Option<msg::Link>, Error> {
    let step = cx.step(format!("look up '{name}'"));
    let s = cx.host()?;
    ops::find_link(s, name).map_err(step)
}

fn connect_veth(cx: &mut Ctx<'_>, spec: &Spec) -> Result<(), Error> {
    let routed = spec.ty == Type::Routed;
    let host_end = spec.host_end(cx.sides.ctn_inode());
    crate::parse::exact_ifname(&host_end)?;
    let mut record = Record {
        ty: spec.ty.name().to_owned(),
        host: Some(host_end.clone()),
        ..Record::default()
    };
    // The bridge: it must exist and be a bridge, or be created when asked.
    let mut master = None;
    let mut mtu = spec.mtu;
    if let Some(br) = &spec.link {
        match host_link(cx, br)? {
            Some(l) if l.kind.as_deref() == Some("bridge") => {
                master = Some(l.ifindex);
                // A port joining a bridge takes the bridge's MTU unless told otherwise
                // (a smaller port would lower the bridge's MTU for everyone).
                mtu = mtu.or(Some(l.mtu));
            }
            Some(l) => {
                return Err(Error::Refused(format!(
                    "{}: '{br}' is not a bridge (it is {})",
                    cx.what,
                    l.kind.as_deref().unwrap_or("a plain link")
                )));
            }
            None if spec.create_bridge => {
                let step = cx.step(format!("create bridge '{br}'"));
                let mut b = NewLink::new(br, Kind::Bridge);
                b.up = true;
                b.mtu = spec.mtu;
                cx.host()?
                    .request(
                        M::NewLink(msg::new_link(&b)),
                        CREATE_EXCL,
                        format_args!("{br:?} type bridge up"),
                    )
                    .map_err(step)?;
                cx.undo.push(Undo::HostLink(br.clone()));
                record.created_bridge = Some(br.clone());
                let l = host_link(cx, br)?.ok_or_else(|| {
                    Error::Refused(format!("{}: bridge '{br}' vanished", cx.what))
                })?;
                master = Some(l.ifindex);
            }
            None => {
                return Err(Error::Refused(format!(
                    "{}: no bridge '{br}' in the host namespace (create it, or add --create-bridge)",
                    cx.what
                )));
            }
        }
    }
    // The pair: host end in the host namespace, peer created straight in the container
    // under its final name, both ends with the MTU, both up.
    let mut l = NewLink::new(
        &host_end,
        Kind::Veth {
            peer: spec.name.clone(),
            peer_netns: Some(cx.sides.ctn_fd()),
            peer_mtu: mtu,
            peer_mac: spec.hwaddr,
            // Up later, with the record: up at creation fails with ENOTCONN when the
            // peer is created in another namespace.
            peer_up: false,
        },
    );
    l.mtu = mtu;
    l.master = master;
    l.up = true;
    let label = cx.sides.ctn_label();
    let r = cx.host()?.request(
        M::NewLink(msg::new_link(&l)),
        CREATE_EXCL,
        format_args!("{host_end:?} type veth peer {:?} netns {label}", spec.name),
    );
    match r {
        Ok(()) => cx.undo.push(Undo::HostLink(host_end.clone())),
        Err(e) if e.errno == Errno::EEXIST => {
            return Err(explain_exists(cx, spec, Some(&host_end)));
        }
        Err(e) => {
            let e = if e.errno == Errno::EOPNOTSUPP {
                e.with_hint(msg::missing_kind_hint("veth"))
            } else {
                e
            };
            return Err(cx
                .step(format!("create veth '{host_end}' (peer '{}')", spec.name))(
                e,
            ));
        }
    }
    if routed || !spec.host_addrs.is_empty() {
        let h = host_link(cx, &host_end)?.ok_or_else(|| {
            Error::Refused(format!("{}: host end '{host_end}' vanished", cx.what))
        })?;
        for a in &spec.host_addrs {
            let step = cx.step(format!("add {a} to '{host_end}'"));
            cx.host()?
                .request(
                    M::NewAddress(msg::addr(h.ifindex, a, !spec.dad)),
                    CREATE_EXCL,
                    format_args!("{a} dev {host_end:?}"),
                )
                .map_err(step)?;
        }
        if routed {
            proxy_arp(cx, &host_end)?;
        }
        configure_container(cx, spec, &record)?;
        if routed {
            for a in &spec.addrs {
                let host_route = Cidr {
                    addr: a.addr,
                    prefix: a.bits(),
                };
                let r = msg::Route {
                    dest: Some(host_route),
                    v6: a.is_v6(),
                    via: None,
                    dev: Some(h.ifindex),
                };
                let step = cx.step(format!("host route {host_route} dev '{host_end}'"));
                cx.host()?
                    .request(
                        M::NewRoute(msg::route(&r)),
                        CREATE_EXCL,
                        format_args!("{host_route} dev {host_end:?}"),
                    )
                    .map_err(step)?;
            }
        }
        return Ok(());
    }
    configure_container(cx, spec, &record)
}

/// Proxy ARP on the routed host end: the host answers the container's ARP requests for
/// any address it can route (OpenVZ venet's "the host is the gateway").
fn proxy_arp(cx: &mut Ctx<'_>, dev: &str) -> Result<(), Error> {
    let what = cx.what.clone();
    cx.sides
        .host_sysctl(&format!("net/ipv4/conf/{dev}/proxy_arp"), "1")
        .map_err(|e| e.context(what))
}

/// Bring the container's `lo` up; when it was down, a rollback brings it down again.
fn lo_up(cx: &mut Ctx<'_>) -> Result<(), Error> {
    let step = cx.step("look up lo");
    let s = cx.ctn()?;
    let lo = ops::find_link(s, "lo").map_err(step)?;
    if lo.as_ref().is_some_and(msg::Link::is_up) {
        return Ok(());
    }
    let step = cx.step("bring lo up");
    ops::lo_up(cx.ctn()?).map_err(step)?;
    cx.undo.push(Undo::LoDown);
    Ok(())
}

/// Inside the container: record, addresses, up, lo up, routes.
fn configure_container(cx: &mut Ctx<'_>, spec: &Spec, record: &Record) -> Result<(), Error> {
    let what = cx.what.clone();
    let name = spec.name.clone();
    let l = ops::need_link(cx.ctn()?, &name, &what)?;
    let idx = l.ifindex;
    let step = cx.step(format!("record the connection on '{name}'"));
    ops::set_link(
        cx.ctn()?,
        &SetLink {
            index: idx,
            alias: Some(record.to_alias()),
            up: Some(true),
            ..SetLink::default()
        },
        format_args!("{name:?} alias {:?} up", record.to_alias()),
    )
    .map_err(step)?;
    let veth = matches!(spec.ty, Type::Veth | Type::Routed);
    for a in &spec.addrs {
        let step = cx.step(format!("add {a} to '{name}'"));
        cx.ctn()?
            .request(
                M::NewAddress(msg::addr(idx, a, veth && !spec.dad)),
                CREATE_EXCL,
                format_args!("{a} dev {name:?}"),
            )
            .map_err(step)?;
    }
    lo_up(cx)?;
    let mut routes = Vec::new();
    if spec.ty == Type::Routed {
        match spec.gw {
            Some(gw) => {
                // The gateway is on the link (the host end answers for it), then the
                // default route through it.
                routes.push(msg::Route {
                    dest: Some(Cidr {
                        addr: gw,
                        prefix: if gw.is_ipv6() { 128 } else { 32 },
                    }),
                    v6: gw.is_ipv6(),
                    via: None,
                    dev: Some(idx),
                });
                routes.push(msg::Route {
                    dest: None,
                    v6: gw.is_ipv6(),
                    via: Some(gw),
                    dev: Some(idx),
                });
            }
            None => routes.push(msg::Route {
                dest: None,
                v6: false,
                via: None,
                dev: Some(idx),
            }),
        }
    } else if let Some(gw) = spec.gw {
        routes.push(msg::Route {
            dest: None,
            v6: gw.is_ipv6(),
            via: Some(gw),
            dev: Some(idx),
        });
    }
    for r in &routes {
        let shown = match (r.dest, r.via) {
            (Some(d), _) => format!("{d} dev '{name}'"),
            (None, Some(g)) => format!("default via {g}"),
            (None, None) => format!("default dev '{name}'"),
        };
        let step = cx.step(format!("add route {shown}"));
        cx.ctn()?
            .request(
                M::NewRoute(msg::route(r)),
                CREATE_EXCL,
                format_args!("{shown}"),
            )
            .map_err(step)?;
    }
    Ok(())
}

fn connect_stacked(cx: &mut Ctx<'_>, spec: &Spec) -> Result<(), Error> {
    let parent_name = spec.link.clone().expect("checked");
    let parent = host_link(cx, &parent_name)?.ok_or_else(|| {
        Error::Refused(format!(
            "{}: no link '{parent_name}' in the host namespace",
            cx.what
        ))
    })?;
    let kind = match spec.ty {
        Type::Vlan => Kind::Vlan {
            parent: parent.ifindex,
            id: spec.vlan_id.expect("checked"),
        },
        _ => Kind::Macvlan {
            parent: parent.ifindex,
            mode: spec.macvlan_mode,
        },
    };
    let kname = kind.name();
    // Created straight inside the container under its final name: atomic, nothing is
    // left behind if it fails.
    let mut l = NewLink::new(&spec.name, kind);
    l.netns = Some(cx.sides.ctn_fd());
    l.mtu = spec.mtu;
    l.mac = spec.hwaddr;
    let label = cx.sides.ctn_label();
    let r = cx.host()?.request(
        M::NewLink(msg::new_link(&l)),
        CREATE_EXCL,
        format_args!(
            "{:?} link {parent_name:?} type {kname} netns {label}",
            spec.name
        ),
    );
    match r {
        Ok(()) => cx.undo.push(Undo::ContainerLink(spec.name.clone())),
        Err(e) if e.errno == Errno::EEXIST => return Err(explain_exists(cx, spec, None)),
        Err(e) => {
            let e = if e.errno == Errno::EOPNOTSUPP {
                e.with_hint(msg::missing_kind_hint(kname))
            } else {
                e
            };
            return Err(cx
                .step(format!("create {kname} '{}' on '{parent_name}'", spec.name))(
                e,
            ));
        }
    }
    let record = Record {
        ty: spec.ty.name().to_owned(),
        ..Record::default()
    };
    configure_container(cx, spec, &record)
}

/// A temporary interface name no one else uses: `nlt` + 8 hex digits.
fn temp_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "nlt{:08x}",
        std::process::id().wrapping_mul(2_654_435_761) ^ t ^ n.rotate_left(16)
    )
}

fn connect_phys(cx: &mut Ctx<'_>, spec: &Spec) -> Result<(), Error> {
    let nic_name = spec.link.clone().expect("checked");
    // The final name must be free in the container before the NIC leaves the host;
    // checked first, so that a re-run says "already connected" (the NIC is gone from
    // the host by then).
    let what = cx.what.clone();
    if ops::find_link(cx.ctn()?, &spec.name)
        .map_err(kernel(format!("{what}: look up '{}'", spec.name)))?
        .is_some()
    {
        return Err(explain_exists(cx, spec, None));
    }
    let nic = host_link(cx, &nic_name)?.ok_or_else(|| {
        Error::Refused(format!(
            "{}: no link '{nic_name}' in the host namespace",
            cx.what
        ))
    })?;
    let orig_master = match nic.master_index {
        Some(i) => {
            let step = cx.step(format!("look up the bridge of '{nic_name}'"));
            ops::find_link_by_index(cx.host()?, i)
                .map_err(step)?
                .map(|l| l.ifname)
        }
        None => None,
    };
    let record = Record {
        ty: "phys".to_owned(),
        orig_name: Some(nic_name.clone()),
        orig_mtu: Some(nic.mtu),
        orig_mac: spec.hwaddr.and(nic.address.clone()),
        orig_up: nic.is_up(),
        orig_alias: nic.alias.clone(),
        orig_master,
        ..Record::default()
    };
    // The record replaces the NIC's alias while it is away, and must hold that alias to
    // give it back: refuse, before the NIC moves, what the kernel could not keep.
    if record.to_alias().len() > ALIAS_MAX {
        return Err(Error::Refused(format!(
            "{}: the alias of '{nic_name}' is too long to be kept in the connection record \
             (the record would take {} of {ALIAS_MAX} bytes); shorten or clear it first",
            cx.what,
            record.to_alias().len()
        )));
    }
    // Move under a temporary name (which cannot clash), then rename inside: a clash on
    // the final name can no longer leave the NIC half moved.
    let tmp = temp_name();
    let step = cx.step(format!("move '{nic_name}' into the container"));
    let ctn_fd = cx.sides.ctn_fd();
    let label = cx.sides.ctn_label();
    ops::set_link(
        cx.host()?,
        &SetLink {
            index: nic.ifindex,
            up: Some(false),
            netns: Some(ctn_fd),
            rename: Some(tmp.clone()),
            ..SetLink::default()
        },
        format_args!("{nic_name:?} down netns {label} name {tmp:?}"),
    )
    .map_err(step)?;
    cx.undo.push(Undo::Phys {
        now: tmp.clone(),
        record: record.clone(),
    });
    let step = cx.step(format!("rename '{tmp}' to '{}'", spec.name));
    let what = cx.what.clone();
    let moved = ops::need_link(cx.ctn()?, &tmp, &what)?;
    ops::set_link(
        cx.ctn()?,
        &SetLink {
            index: moved.ifindex,
            rename: Some(spec.name.clone()),
            mtu: spec.mtu,
            mac: spec.hwaddr,
            ..SetLink::default()
        },
        format_args!("{tmp:?} name {:?}", spec.name),
    )
    .map_err(step)?;
    if let Some(Undo::Phys { now, .. }) = cx.undo.last_mut() {
        now.clone_from(&spec.name);
    }
    configure_container(cx, spec, &record)
}

/// Send a phys NIC named `now` in the container back to the host: down, moved under a
/// temporary name, then renamed to its original name with its original MTU (and MAC)
/// and its own alias (or none) in place of the record.
fn phys_home(cx: &mut Ctx<'_>, now: &str, record: &Record) -> Result<(), Error> {
    let orig = record.orig_name.clone().unwrap_or_else(|| now.to_owned());
    let tmp = temp_name();
    let host_fd = cx.sides.host_fd();
    let host_label = cx.sides.host_label();
    let step = cx.step(format!("move '{now}' back to the host"));
    let what = cx.what.clone();
    let l = ops::need_link(cx.ctn()?, now, &what)?;
    ops::set_link(
        cx.ctn()?,
        &SetLink {
            index: l.ifindex,
            up: Some(false),
            netns: Some(host_fd),
            rename: Some(tmp.clone()),
            ..SetLink::default()
        },
        format_args!("{now:?} down netns {host_label} name {tmp:?}"),
    )
    .map_err(step)?;
    let step = cx.step(format!("rename '{tmp}' back to '{orig}'"));
    let mac = record
        .orig_mac
        .as_deref()
        .and_then(|m| crate::parse::mac(m).ok());
    let back = ops::need_link(cx.host()?, &tmp, &what)?;
    // Back into its bridge, if that is still there.
    let master = match &record.orig_master {
        Some(br) => {
            let look = cx.step(format!("look up bridge '{br}'"));
            ops::find_link(cx.host()?, br)
                .map_err(look)?
                .filter(|l| l.kind.as_deref() == Some("bridge"))
                .map(|l| l.ifindex)
        }
        None => None,
    };
    ops::set_link(
        cx.host()?,
        &SetLink {
            index: back.ifindex,
            rename: Some(orig.clone()),
            mtu: record.orig_mtu,
            mac,
            alias: Some(record.orig_alias.clone().unwrap_or_default()),
            up: record.orig_up.then_some(true),
            master,
            ..SetLink::default()
        },
        format_args!(
            "{tmp:?} name {orig:?} mtu {:?} alias {:?}{}",
            record.orig_mtu,
            record.orig_alias.as_deref().unwrap_or_default(),
            match (&record.orig_master, master) {
                (Some(br), Some(_)) => format!(" master {br}"),
                _ => String::new(),
            }
        ),
    )
    .map_err(step)
}

/// `disconnect`: undo what `connect` made for the container link `name`.
pub fn disconnect(net: &mut Net, ns: &str, name: &str) -> Result<(), Error> {
    let ctn = NetNs::open(ns)?;
    disconnect_with(&mut Real { net, ctn }, ns, name)
}

/// `disconnect` over any [`Sides`].
pub fn disconnect_with(sides: &mut dyn Sides, ns: &str, name: &str) -> Result<(), Error> {
    let what = format!("disconnect {ns}");
    let mut cx = Ctx {
        sides,
        what: what.clone(),
        undo: Vec::new(),
    };
    let l = ops::find_link(cx.ctn()?, name)
        .map_err(kernel(format!("{what}: look up '{name}'")))?
        .ok_or_else(|| {
            Error::Refused(format!(
                "{what}: no link '{name}' in the container: not connected"
            ))
        })?;
    let record = l.alias.as_deref().and_then(Record::parse).ok_or_else(|| {
        Error::Refused(format!(
            "{what}: '{name}' was not made by netlink-tool connect (no record in its alias); left alone"
        ))
    })?;
    match record.ty.as_str() {
        "phys" => phys_home(&mut cx, name, &record),
        _ => {
            // Deleting the container end deletes the host end of a veth, and with it the
            // host routes and proxy ARP setting of a routed link.
            let step = cx.step(format!("delete '{name}'"));
            ops::del_link(cx.ctn()?, l.ifindex, &name).map_err(step)?;
            if let Some(br) = &record.created_bridge {
                remove_bridge_if_unused(&mut cx, br)?;
            }
            Ok(())
        }
    }
}

fn remove_bridge_if_unused(cx: &mut Ctx<'_>, br: &str) -> Result<(), Error> {
    let step = cx.step("list host links");
    let links = ops::links(cx.host()?).map_err(step)?;
    let Some(b) = links
        .iter()
        .find(|l| l.ifname == br && l.kind.as_deref() == Some("bridge"))
    else {
        return Ok(());
    };
    if links.iter().any(|l| l.master_index == Some(b.ifindex)) {
        return Ok(()); // other containers still use it
    }
    let step = cx.step(format!("delete bridge '{br}'"));
    let idx = b.ifindex;
    ops::del_link(cx.host()?, idx, &br).map_err(step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn records_round_trip() {
        let r = Record {
            ty: "veth".into(),
            host: Some("veth1a2b3c4d".into()),
            created_bridge: Some("br0".into()),
            ..Record::default()
        };
        assert_eq!(
            r.to_alias(),
            "netlink-tool:v1 type=veth host=veth1a2b3c4d created-bridge=br0"
        );
        assert_eq!(Record::parse(&r.to_alias()), Some(r));
        let p = Record {
            ty: "phys".into(),
            orig_name: Some("enp3s0".into()),
            orig_mtu: Some(1500),
            orig_mac: Some("02:00:00:00:00:01".into()),
            orig_up: true,
            ..Record::default()
        };
        assert_eq!(Record::parse(&p.to_alias()), Some(p.clone()));
        // The NIC's own alias, any text, as one word.
        let a = Record {
            orig_alias: Some("uplink = 50% of the lab, é\ttab".into()),
            orig_master: Some("br0".into()),
            ..p
        };
        assert!(a.to_alias().ends_with(
            " orig-master=br0 orig-alias=uplink%20%3D%2050%25%20of%20the%20lab,%20%C3%A9%09tab"
        ));
        assert_eq!(Record::parse(&a.to_alias()), Some(a));
        assert_eq!(
            Record::parse("netlink-tool:v1 type=phys orig-alias=%4"),
            None
        );
        assert_eq!(Record::parse("uplink to the lab"), None);
        assert_eq!(Record::parse("netlink-tool:v1 orig-mtu=x type=phys"), None);
        assert_eq!(Record::parse("netlink-tool:v1"), None);
    }

    #[test]
    fn host_names_are_stable_and_fit() {
        let s = Spec::new("c1", Type::Veth);
        let a = s.host_end(4026532000);
        assert_eq!(a, s.host_end(4026532000));
        assert_ne!(a, s.host_end(4026532001));
        assert_eq!(a.len(), 12);
        assert!(parse::ifname(&a).is_ok());
        let mut s2 = s.clone();
        s2.name = "eth1".into();
        assert_ne!(a, s2.host_end(4026532000));
        s2.host_name = Some("h1".into());
        assert_eq!(s2.host_end(1), "h1");
        assert!(temp_name().starts_with("nlt"));
        assert_eq!(temp_name().len(), 11);
    }

    #[test]
    fn options_must_fit_the_type() {
        let msg = |s: &Spec| s.check().unwrap_err().to_string();
        assert_eq!(
            msg(&Spec::new("c", Type::Phys)),
            "connect: --type phys needs --link DEV"
        );
        let mut v = Spec::new("c", Type::Vlan);
        v.link = Some("eth0".into());
        assert_eq!(msg(&v), "connect: --type vlan needs --vlan-id N");
        v.vlan_id = Some(10);
        assert!(v.check().is_ok());
        let mut r = Spec::new("c", Type::Routed);
        assert_eq!(msg(&r), "connect: --type routed needs at least one --addr");
        r.addrs.push(parse::cidr("fd00::2/128").unwrap());
        assert!(msg(&r).contains("IPv4 addresses only"));
        r.addrs = vec![parse::cidr("10.0.4.2/32").unwrap()];
        assert!(r.check().is_ok());
        r.link = Some("br0".into());
        assert!(msg(&r).contains("takes no --link"));
        let mut e = Spec::new("c", Type::Empty);
        assert!(e.check().is_ok());
        e.addrs.push(parse::cidr("10.0.0.2/24").unwrap());
        assert!(msg(&e).contains("takes no link options"));
        let mut g = Spec::new("c", Type::Veth);
        g.addrs.push(parse::cidr("10.0.0.2/24").unwrap());
        g.gw = Some("fd00::1".parse().unwrap());
        assert_eq!(msg(&g), "connect: --gw fd00::1 has no --addr of its family");
        g.gw = None;
        g.addrs.push(parse::cidr("10.0.0.2/24").unwrap());
        assert_eq!(msg(&g), "connect: --addr 10.0.0.2/24 given twice");
        let mut b = Spec::new("c", Type::Macvlan);
        b.link = Some("eth0".into());
        b.create_bridge = true;
        assert!(msg(&b).contains("--create-bridge"));
        assert_eq!(Type::parse("venet"), Some(Type::Routed));
        assert_eq!(Type::parse("ipvlan"), None);
    }

    mod with_a_fake_kernel {
        use super::super::*;
        use crate::fake::{Fake, Side};
        use crate::parse;

        /// Connect once to count the calls; then fail each call in turn and check that
        /// the rollback leaves both namespaces as they were; then check that disconnect
        /// after a success leaves them as they were too (with `lo` up).
        fn sweep(setup: &dyn Fn() -> Fake, spec: &Spec) -> Fake {
            let mut ok = setup();
            let before = ok.state();
            connect_with(&mut ok, spec).unwrap_or_else(|e| panic!("{}", common::exit::message(&e)));
            let n = ok.calls;
            assert!(n >= 2, "{n} calls");
            for k in 1..=n {
                let mut f = setup();
                f.fail_at = Some((k, Errno::EIO));
                let e = connect_with(&mut f, spec).expect_err("an injected failure");
                let msg = common::exit::message(&e);
                assert!(msg.contains("I/O error"), "{msg}");
                assert!(!msg.contains("rollback incomplete"), "{msg}");
                f.fail_at = None;
                assert_eq!(
                    f.state(),
                    before,
                    "failure at call {k}/{n} ({msg}); log: {:#?}",
                    f.log
                );
            }
            let mut d = ok.clone();
            if spec.ty != Type::Empty {
                disconnect_with(&mut d, &spec.ns, &spec.name)
                    .unwrap_or_else(|e| panic!("{}", common::exit::message(&e)));
            }
            let mut expected = setup();
            expected
                .links
                .iter_mut()
                .filter(|l| l.side == Side::Ctn && l.name == "lo")
                .for_each(|l| l.up = true);
            assert_eq!(
                d.state(),
                expected.state(),
                "after disconnect; log: {:#?}",
                d.log
            );
            ok
        }

        fn spec(ty: Type) -> Spec {
            let mut s = Spec::new("ctn", ty);
            s.addrs = vec![parse::cidr("10.0.3.2/24").unwrap()];
            s
        }

        #[test]
        fn veth_with_a_new_bridge() {
            let mut s = spec(Type::Veth);
            s.link = Some("br0".into());
            s.create_bridge = true;
            s.addrs.push(parse::cidr("fd03::2/64").unwrap());
            s.gw = Some("10.0.3.1".parse().unwrap());
            s.host_name = Some("hv0".into());
            s.host_addrs = vec![parse::cidr("10.0.3.254/24").unwrap()];
            let ok = sweep(&Fake::new, &s);
            let eth0 = ok.link(Side::Ctn, "eth0").unwrap();
            assert!(eth0.up);
            assert_eq!(
                eth0.alias.as_deref(),
                Some("netlink-tool:v1 type=veth host=hv0 created-bridge=br0")
            );
            let br = ok.link(Side::Host, "br0").unwrap().index;
            assert_eq!(ok.link(Side::Host, "hv0").unwrap().master, Some(br));
            assert_eq!(
                ok.log,
                [
                    "Host: RTM_NEWLINK(\"br0\" type bridge up)",
                    "Host: RTM_NEWLINK(\"hv0\" type veth peer \"eth0\" netns ctn)",
                    "Host: RTM_NEWADDR(10.0.3.254/24 dev \"hv0\")",
                    "Ctn: RTM_SETLINK(\"eth0\" alias \"netlink-tool:v1 type=veth host=hv0 created-bridge=br0\" up)",
                    "Ctn: RTM_NEWADDR(10.0.3.2/24 dev \"eth0\")",
                    "Ctn: RTM_NEWADDR(fd03::2/64 dev \"eth0\")",
                    "Ctn: RTM_SETLINK(lo up)",
                    "Ctn: RTM_NEWROUTE(default via 10.0.3.1)",
                ]
            );
        }

        #[test]
        fn veth_joins_an_existing_bridge_with_its_mtu() {
            let setup = || {
                let mut f = Fake::new();
                f.add(Side::Host, "br0", Some("bridge"), true, 1400);
                f
            };
            let mut s = spec(Type::Veth);
            s.link = Some("br0".into());
            let ok = sweep(&setup, &s);
            let host_end = s.host_end(4_026_532_999);
            assert_eq!(ok.link(Side::Host, &host_end).unwrap().mtu, 1400);
            assert_eq!(ok.link(Side::Ctn, "eth0").unwrap().mtu, 1400);
            // The bridge was not connect's: disconnect leaves it (checked by sweep).
        }

        #[test]
        fn routed() {
            let mut s = spec(Type::Routed);
            s.addrs = vec![parse::cidr("10.0.4.2/32").unwrap()];
            s.host_name = Some("venet0h".into());
            let ok = sweep(&Fake::new, &s);
            assert_eq!(ok.sysctls, ["net/ipv4/conf/venet0h/proxy_arp=1"]);
            assert!(
                ok.routes
                    .iter()
                    .any(|(side, r, _)| *side == Side::Host && r == "10.0.4.2/32 dev \"venet0h\"")
            );
            assert!(
                ok.routes
                    .iter()
                    .any(|(side, r, _)| *side == Side::Ctn && r == "default dev 'eth0'")
            );
        }

        #[test]
        fn macvlan() {
            let setup = || {
                let mut f = Fake::new();
                f.add(Side::Host, "up0", Some("veth"), true, 1500);
                f
            };
            let mut s = spec(Type::Macvlan);
            s.link = Some("up0".into());
            s.hwaddr = Some(parse::mac("02:00:00:00:06:02").unwrap());
            let ok = sweep(&setup, &s);
            assert_eq!(
                ok.link(Side::Ctn, "eth0").unwrap().kind.as_deref(),
                Some("macvlan")
            );
        }

        #[test]
        fn phys_goes_and_comes_back() {
            let setup = || {
                let mut f = Fake::new();
                f.add(Side::Host, "nic0", Some("veth"), true, 1450);
                f
            };
            let mut s = spec(Type::Phys);
            s.link = Some("nic0".into());
            s.mtu = Some(1400);
            s.hwaddr = Some(parse::mac("02:00:00:00:07:02").unwrap());
            let ok = sweep(&setup, &s);
            assert!(ok.link(Side::Host, "nic0").is_none());
            let eth0 = ok.link(Side::Ctn, "eth0").unwrap();
            assert_eq!(
                (eth0.mtu, eth0.mac.as_slice()),
                (1400, &[2, 0, 0, 0, 7, 2][..])
            );
            assert!(
                eth0.alias
                    .as_deref()
                    .unwrap()
                    .contains("orig-name=nic0 orig-mtu=1450")
            );
        }

        #[test]
        fn phys_gives_the_nic_its_own_alias_back() {
            let setup = || {
                let mut f = Fake::new();
                let i = f.add(Side::Host, "nic0", Some("veth"), false, 1500);
                f.links.iter_mut().find(|l| l.index == i).unwrap().alias =
                    Some("uplink to the lab".into());
                f
            };
            let mut s = spec(Type::Phys);
            s.link = Some("nic0".into());
            s.gw = Some("10.0.3.1".parse().unwrap());
            // Every rollback and the disconnect compare the whole state, alias included.
            let ok = sweep(&setup, &s);
            assert!(
                ok.link(Side::Ctn, "eth0")
                    .unwrap()
                    .alias
                    .as_deref()
                    .unwrap()
                    .ends_with(" orig-alias=uplink%20to%20the%20lab")
            );
            // An alias the record cannot hold: refused before the NIC moves.
            let mut f = setup();
            f.links.iter_mut().find(|l| l.name == "nic0").unwrap().alias = Some("x".repeat(200));
            let before = f.state();
            let e = connect_with(&mut f, &s).unwrap_err();
            assert!(
                common::exit::message(&e).contains("the alias of 'nic0' is too long"),
                "{}",
                common::exit::message(&e)
            );
            assert_eq!(f.state(), before);
        }

        #[test]
        fn phys_rejoins_its_bridge() {
            let setup = || {
                let mut f = Fake::new();
                let br = f.add(Side::Host, "br0", Some("bridge"), true, 1500);
                let i = f.add(Side::Host, "nic0", Some("veth"), true, 1500);
                f.links.iter_mut().find(|l| l.index == i).unwrap().master = Some(br);
                f
            };
            let mut s = spec(Type::Phys);
            s.link = Some("nic0".into());
            s.gw = Some("10.0.3.1".parse().unwrap());
            // Every rollback and the disconnect compare the whole state, master included.
            let ok = sweep(&setup, &s);
            assert!(
                ok.link(Side::Ctn, "eth0")
                    .unwrap()
                    .alias
                    .as_deref()
                    .unwrap()
                    .contains(" orig-master=br0")
            );
        }

        #[test]
        fn empty() {
            sweep(&Fake::new, &Spec::new("ctn", Type::Empty));
        }

        #[test]
        fn vlan_without_kernel_support_is_one_clear_line() {
            let mut f = Fake::new();
            f.add(Side::Host, "up0", Some("veth"), true, 1500);
            let before = f.state();
            let mut s = spec(Type::Vlan);
            s.link = Some("up0".into());
            s.vlan_id = Some(10);
            let e = connect_with(&mut f, &s).unwrap_err();
            assert_eq!(
                common::exit::message(&e),
                "connect ctn: create vlan 'eth0' on 'up0': Unknown device type (kernel lacks vlan support: CONFIG_VLAN_8021Q)"
            );
            assert_eq!(f.state(), before);
        }

        #[test]
        fn already_connected_and_not_ours() {
            let mut f = Fake::new();
            let s = spec(Type::Veth);
            connect_with(&mut f, &s).unwrap();
            let after = f.state();
            let e = connect_with(&mut f, &s).unwrap_err();
            assert_eq!(
                common::exit::message(&e),
                "connect ctn: 'eth0' is already connected (disconnect it first)"
            );
            assert_eq!(f.state(), after);
            // phys too, though the NIC has left the host by then.
            let mut f = Fake::new();
            f.add(Side::Host, "nic0", Some("veth"), true, 1500);
            let mut p = spec(Type::Phys);
            p.link = Some("nic0".into());
            connect_with(&mut f, &p).unwrap();
            let after = f.state();
            let e = connect_with(&mut f, &p).unwrap_err();
            assert_eq!(
                common::exit::message(&e),
                "connect ctn: 'eth0' is already connected (disconnect it first)"
            );
            assert_eq!(f.state(), after);
            let mut g = Fake::new();
            g.add(Side::Ctn, "eth0", Some("bridge"), false, 1500);
            let e = disconnect_with(&mut g, "ctn", "eth0").unwrap_err();
            assert!(common::exit::message(&e).contains("was not made by netlink-tool connect"));
        }
    }
}
