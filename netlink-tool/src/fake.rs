//! A fake kernel for the unit tests of `connect`/`disconnect`: two namespaces (host and
//! container) holding links, addresses and routes, answering the rtnetlink messages the
//! tool sends (as far as the tool uses them), and failing the Nth call on demand. The
//! tests run a connect once to count its calls, then again failing at each call in turn,
//! and check that every failure leaves both namespaces as they were.

use std::fmt;
use std::os::fd::RawFd;

use netlink_packet_route::RouteNetlinkMessage as M;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use nix::errno::Errno;

use crate::connect::Sides;
use crate::connect::record::NsIdent;
use crate::error::{Error, KernelError};
use crate::nl::Rtnl;

const HOST_FD: RawFd = 200;
const CTN_FD: RawFd = 100;

/// Which namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The host.
    Host,
    /// The container.
    Ctn,
}

/// A link of the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeLink {
    /// Index (unique across both sides, for simplicity).
    pub index: u32,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: Option<String>,
    /// Administratively up.
    pub up: bool,
    /// MTU.
    pub mtu: u32,
    /// Alias.
    pub alias: Option<String>,
    /// Master's index.
    pub master: Option<u32>,
    /// MAC.
    pub mac: Vec<u8>,
    /// Where it is.
    pub side: Side,
    /// The veth peer's index.
    pub peer: Option<u32>,
    /// The parent's index (macvlan, vlan).
    pub parent: Option<u32>,
}

/// The fake kernel.
#[derive(Debug, Clone)]
pub struct Fake {
    /// Every link of both sides.
    pub links: Vec<FakeLink>,
    /// Addresses: (link index, text).
    pub addrs: Vec<(u32, String)>,
    /// Routes: (side, text, link index).
    pub routes: Vec<(Side, String, Option<u32>)>,
    /// Sysctls written.
    pub sysctls: Vec<String>,
    /// Calls so far (requests and queries).
    pub calls: usize,
    /// Fail this call (1-based) with this errno.
    pub fail_at: Option<(usize, Errno)>,
    /// Each mutating request, in order, as `host: RTM_NEWLINK(…)`.
    pub log: Vec<String>,
    /// The process "died" (SIGKILL) before this call: it and every later one fail
    /// without effect.
    pub dead_from: Option<usize>,
    /// "A stopping signal arrived" from this call (1-based) on.
    pub interrupt_at: Option<usize>,
    /// The container namespace's cookie (a new one plays a reused inode).
    pub ctn_cookie: u64,
    next: u32,
    side: Side,
}

impl Fake {
    /// Two namespaces with only `lo` (down) in the container and `lo` (up) on the host.
    pub fn new() -> Fake {
        let mut f = Fake {
            links: Vec::new(),
            addrs: Vec::new(),
            routes: Vec::new(),
            sysctls: Vec::new(),
            calls: 0,
            fail_at: None,
            log: Vec::new(),
            dead_from: None,
            interrupt_at: None,
            ctn_cookie: 8,
            next: 10,
            side: Side::Host,
        };
        f.add(Side::Host, "lo", None, true, 65536);
        f.links[0].index = 1;
        f.add(Side::Ctn, "lo", None, false, 65536);
        f.links[1].index = 1;
        f
    }

    /// Add a link.
    pub fn add(&mut self, side: Side, name: &str, kind: Option<&str>, up: bool, mtu: u32) -> u32 {
        self.next += 1;
        let index = self.next;
        self.links.push(FakeLink {
            index,
            name: name.to_owned(),
            kind: kind.map(str::to_owned),
            up,
            mtu,
            alias: None,
            master: None,
            mac: vec![2, 0, 0, 0, 0, index as u8],
            side,
            peer: None,
            parent: None,
        });
        index
    }

    /// A link by name on a side.
    pub fn link(&self, side: Side, name: &str) -> Option<&FakeLink> {
        self.links.iter().find(|l| l.side == side && l.name == name)
    }

    /// What a test compares: links (without indexes), addresses, routes, per side.
    pub fn state(&self) -> String {
        let name_of = |i: u32| {
            self.links
                .iter()
                .find(|l| l.index == i)
                .map_or("?".to_owned(), |l| l.name.clone())
        };
        let mut links: Vec<String> = self
            .links
            .iter()
            .map(|l| {
                format!(
                    "{:?} {} {:?} up={} mtu={} alias={:?} master={:?} mac={:?}",
                    l.side,
                    l.name,
                    l.kind,
                    l.up,
                    l.mtu,
                    l.alias,
                    l.master.map(name_of),
                    l.mac
                )
            })
            .collect();
        links.sort();
        let mut addrs: Vec<String> = self
            .addrs
            .iter()
            .map(|(i, a)| format!("{} {a}", name_of(*i)))
            .collect();
        addrs.sort();
        let mut routes: Vec<String> = self
            .routes
            .iter()
            .map(|(s, r, i)| format!("{s:?} {r} {:?}", i.map(name_of)))
            .collect();
        routes.sort();
        format!(
            "{links:#?}\n{addrs:?}\n{routes:?}\nsysctls={:?}",
            self.sysctls
        )
    }

    fn side_of_fd(fd: RawFd) -> Side {
        if fd == CTN_FD { Side::Ctn } else { Side::Host }
    }

    fn find(&self, side: Side, m: &LinkMessage) -> Option<usize> {
        if m.header.index != 0 {
            return self
                .links
                .iter()
                .position(|l| l.side == side && l.index == m.header.index);
        }
        let name = m.attributes.iter().find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        })?;
        self.links
            .iter()
            .position(|l| l.side == side && l.name == name)
    }

    /// The id one side gives the other (IFLA_LINK_NETNSID, RTM_GETNSID).
    fn nsid_of_other(side: Side) -> i32 {
        match side {
            Side::Host => 7,
            Side::Ctn => 3,
        }
    }

    fn to_msg(&self, l: &FakeLink) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header.index = l.index;
        if l.up {
            m.header.flags = LinkFlags::Up;
        }
        m.attributes.push(LinkAttribute::IfName(l.name.clone()));
        m.attributes.push(LinkAttribute::Mtu(l.mtu));
        m.attributes.push(LinkAttribute::Address(l.mac.clone()));
        if let Some(a) = &l.alias {
            m.attributes.push(LinkAttribute::IfAlias(a.clone()));
        }
        if let Some(i) = l.master {
            m.attributes.push(LinkAttribute::Controller(i));
        }
        if let Some(other) = l.peer.or(l.parent) {
            m.attributes.push(LinkAttribute::Link(other));
            let there = self.links.iter().find(|x| x.index == other).map(|x| x.side);
            if there.is_some_and(|s| s != l.side) {
                m.attributes
                    .push(LinkAttribute::LinkNetNsId(Self::nsid_of_other(l.side)));
            }
        }
        if let Some(k) = &l.kind {
            let kind = match k.as_str() {
                "veth" => InfoKind::Veth,
                "bridge" => InfoKind::Bridge,
                "macvlan" => InfoKind::MacVlan,
                "vlan" => InfoKind::Vlan,
                o => InfoKind::Other(o.to_owned()),
            };
            m.attributes
                .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(kind)]));
        }
        m
    }

    fn fail(&mut self) -> Result<(), KernelError> {
        self.calls += 1;
        if self.dead_from.is_some_and(|n| self.calls >= n) {
            return Err(KernelError::new(Errno::EIO));
        }
        match self.fail_at {
            Some((n, e)) if n == self.calls => Err(KernelError::new(e)),
            _ => Ok(()),
        }
    }

    fn exists(&self, side: Side, name: &str) -> bool {
        self.link(side, name).is_some()
    }

    fn new_link(&mut self, m: &LinkMessage) -> Result<(), KernelError> {
        let eexist = || Err(KernelError::new(Errno::EEXIST));
        let mut name = String::new();
        let (mut side, mut mtu, mut mac, mut master, mut kind, mut peer) =
            (self.side, 1500, None, None, None, None);
        let mut parent = None;
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => name.clone_from(n),
                LinkAttribute::NetNsFd(fd) => side = Self::side_of_fd(*fd),
                LinkAttribute::Mtu(n) => mtu = *n,
                LinkAttribute::Address(b) => mac = Some(b.clone()),
                LinkAttribute::Controller(i) => master = Some(*i),
                LinkAttribute::Link(i) => parent = Some(*i),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        match i {
                            LinkInfo::Kind(k) => kind = Some(k.to_string()),
                            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))) => {
                                peer = Some(p.clone());
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if kind.as_deref() == Some("vlan") {
            let mut e = KernelError::new(Errno::EOPNOTSUPP);
            e.extack = Some("Unknown device type".to_owned());
            return Err(e);
        }
        if self.exists(side, &name) {
            return eexist();
        }
        let mut peer_info = None;
        if let Some(p) = &peer {
            let mut pname = String::new();
            let (mut pside, mut pmtu, mut pmac) = (self.side, 1500, None);
            for a in &p.attributes {
                match a {
                    LinkAttribute::IfName(n) => pname.clone_from(n),
                    LinkAttribute::NetNsFd(fd) => pside = Self::side_of_fd(*fd),
                    LinkAttribute::Mtu(n) => pmtu = *n,
                    LinkAttribute::Address(b) => pmac = Some(b.clone()),
                    _ => {}
                }
            }
            if self.exists(pside, &pname) || (pside == side && pname == name) {
                return eexist();
            }
            peer_info = Some((
                pname,
                pside,
                pmtu,
                pmac,
                p.header.flags.contains(LinkFlags::Up),
            ));
        }
        let up = m.header.flags.contains(LinkFlags::Up);
        let i = self.add(side, &name, kind.as_deref(), up, mtu);
        let l = self.links.last_mut().expect("added");
        l.master = master;
        l.parent = parent;
        if let Some(mac) = mac {
            l.mac = mac;
        }
        if let Some((pname, pside, pmtu, pmac, pup)) = peer_info {
            let j = self.add(pside, &pname, Some("veth"), pup, pmtu);
            let pl = self.links.last_mut().expect("added");
            pl.peer = Some(i);
            if let Some(mac) = pmac {
                pl.mac = mac;
            }
            self.links
                .iter_mut()
                .find(|l| l.index == i)
                .expect("added")
                .peer = Some(j);
        }
        Ok(())
    }

    fn set_link(&mut self, m: &LinkMessage) -> Result<(), KernelError> {
        let at = self
            .find(self.side, m)
            .ok_or_else(|| KernelError::new(Errno::ENODEV))?;
        let mut to = self.links[at].side;
        let mut rename = None;
        for a in &m.attributes {
            match a {
                LinkAttribute::NetNsFd(fd) => to = Self::side_of_fd(*fd),
                LinkAttribute::IfName(n) if m.header.index != 0 => rename = Some(n.clone()),
                _ => {}
            }
        }
        let new_name = rename
            .clone()
            .unwrap_or_else(|| self.links[at].name.clone());
        if (to != self.links[at].side || rename.is_some()) && self.exists(to, &new_name) {
            return Err(KernelError::new(Errno::EEXIST));
        }
        let l = &mut self.links[at];
        if to != l.side {
            l.side = to;
            l.up = false;
            l.master = None;
            // Addresses and routes do not move with a link.
            let idx = l.index;
            self.addrs.retain(|(i, _)| *i != idx);
            self.routes.retain(|(_, _, i)| *i != Some(idx));
        }
        let l = &mut self.links[at];
        l.name = new_name;
        if m.header.change_mask.contains(LinkFlags::Up) {
            l.up = m.header.flags.contains(LinkFlags::Up);
        }
        for a in &m.attributes {
            match a {
                LinkAttribute::Mtu(n) => l.mtu = *n,
                LinkAttribute::Address(b) => l.mac.clone_from(b),
                LinkAttribute::IfAlias(s) => {
                    l.alias = if s.is_empty() { None } else { Some(s.clone()) };
                }
                LinkAttribute::Controller(i) => l.master = (*i != 0).then_some(*i),
                _ => {}
            }
        }
        Ok(())
    }

    fn del_link(&mut self, m: &LinkMessage) -> Result<(), KernelError> {
        let at = self
            .find(self.side, m)
            .ok_or_else(|| KernelError::new(Errno::ENODEV))?;
        let l = self.links.remove(at);
        let mut gone = vec![l.index];
        let mut names = vec![l.name.clone()];
        if let Some(p) = l.peer {
            if let Some(pl) = self.links.iter().find(|x| x.index == p) {
                names.push(pl.name.clone());
            }
            self.links.retain(|x| x.index != p);
            gone.push(p);
        }
        // A link's own sysctls (conf/NAME/…) go with it.
        self.sysctls
            .retain(|s| !names.iter().any(|n| s.contains(&format!("/{n}/"))));
        self.addrs.retain(|(i, _)| !gone.contains(i));
        self.routes
            .retain(|(_, _, i)| !i.is_some_and(|i| gone.contains(&i)));
        for x in &mut self.links {
            if x.master.is_some_and(|m| gone.contains(&m)) {
                x.master = None;
            }
        }
        Ok(())
    }
}

impl Rtnl for Fake {
    fn request(
        &mut self,
        msg: M,
        _flags: u16,
        what: fmt::Arguments<'_>,
    ) -> Result<(), KernelError> {
        self.fail()?;
        self.log.push(format!(
            "{:?}: {}({what})",
            self.side,
            crate::nl::rtm_name(&msg)
        ));
        match &msg {
            M::NewLink(m) => self.new_link(m),
            M::SetLink(m) => self.set_link(m),
            M::DelLink(m) => self.del_link(m),
            M::NewAddress(a) => {
                let text = format!("{what}");
                let text = text.split(' ').next().unwrap_or_default().to_owned();
                if self
                    .addrs
                    .iter()
                    .any(|(i, t)| *i == a.header.index && *t == text)
                {
                    return Err(KernelError::new(Errno::EEXIST));
                }
                self.addrs.push((a.header.index, text));
                Ok(())
            }
            M::DelAddress(a) => {
                let text = format!("{what}");
                let cidr = text.split(' ').next().unwrap_or_default().to_owned();
                let before = self.addrs.len();
                self.addrs
                    .retain(|(i, t)| !(*i == a.header.index && *t == cidr));
                if self.addrs.len() == before {
                    return Err(KernelError::new(Errno::EADDRNOTAVAIL));
                }
                Ok(())
            }
            M::DelRoute(_) => {
                let text = format!("{what}");
                let dest = text.split(' ').next().unwrap_or_default().to_owned();
                let side = self.side;
                let before = self.routes.len();
                self.routes
                    .retain(|(s, t, _)| !(*s == side && t.split(' ').next() == Some(&dest)));
                if self.routes.len() == before {
                    return Err(KernelError::new(Errno::ESRCH));
                }
                Ok(())
            }
            M::NewRoute(r) => {
                let oif = r.attributes.iter().find_map(|a| match a {
                    netlink_packet_route::route::RouteAttribute::Oif(i) => Some(*i),
                    _ => None,
                });
                let text = format!("{what}");
                let dest = text.split(' ').next().unwrap_or_default();
                let side = self.side;
                if self
                    .routes
                    .iter()
                    .any(|(s, t, o)| *s == side && *o == oif && t.split(' ').next() == Some(dest))
                {
                    return Err(KernelError::new(Errno::EEXIST));
                }
                self.routes.push((self.side, text, oif));
                Ok(())
            }
            _ => Err(KernelError::new(Errno::EOPNOTSUPP)),
        }
    }

    fn query(
        &mut self,
        msg: &M,
        dump: bool,
        _what: fmt::Arguments<'_>,
    ) -> Result<Vec<M>, KernelError> {
        self.fail()?;
        let side = self.side;
        match msg {
            M::GetLink(_) if dump => Ok(self
                .links
                .iter()
                .filter(|l| l.side == side)
                .map(|l| M::NewLink(self.to_msg(l)))
                .collect()),
            M::GetLink(m) => {
                let at = self
                    .find(side, m)
                    .ok_or_else(|| KernelError::new(Errno::ENODEV))?;
                Ok(vec![M::NewLink(self.to_msg(&self.links[at]))])
            }
            M::GetNsId(_) => {
                use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
                let mut n = NsidMessage::default();
                n.attributes
                    .push(NsidAttribute::Id(Self::nsid_of_other(side)));
                Ok(vec![M::NewNsId(n)])
            }
            _ => Ok(Vec::new()),
        }
    }

    fn label(&self) -> &str {
        match self.side {
            Side::Host => "host",
            Side::Ctn => "ctn",
        }
    }
}

impl Sides for Fake {
    fn host(&mut self) -> Result<&mut dyn Rtnl, Error> {
        self.side = Side::Host;
        Ok(self)
    }

    fn ctn(&mut self) -> Result<&mut dyn Rtnl, Error> {
        self.side = Side::Ctn;
        Ok(self)
    }

    fn host_fd(&self) -> RawFd {
        HOST_FD
    }

    fn ctn_fd(&self) -> RawFd {
        CTN_FD
    }

    fn host_ident(&mut self) -> Result<NsIdent, Error> {
        Ok(NsIdent {
            dev: 4,
            ino: 4_026_531_840,
            cookie: 1,
        })
    }

    fn ctn_ident(&mut self) -> Result<NsIdent, Error> {
        Ok(NsIdent {
            dev: 4,
            ino: 4_026_532_999,
            cookie: self.ctn_cookie,
        })
    }

    fn interrupted(&mut self) -> Option<nix::sys::signal::Signal> {
        self.interrupt_at
            .filter(|n| self.calls + 1 >= *n)
            .map(|_| nix::sys::signal::Signal::SIGINT)
    }

    fn host_label(&self) -> String {
        "host".to_owned()
    }

    fn ctn_label(&self) -> String {
        "ctn".to_owned()
    }

    fn host_sysctl(&mut self, key: &str, value: &str) -> Result<(), Error> {
        self.fail().map_err(|e| Error::Sys {
            context: format!("write /proc/sys/{key}"),
            source: e.errno,
        })?;
        self.sysctls.push(format!("{key}={value}"));
        Ok(())
    }
}
