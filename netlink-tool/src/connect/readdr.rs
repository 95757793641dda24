//! `readdr`: add or remove addresses of an existing connection (vzctl's `set --ipadd`,
//! `--ipdel`): the address on the container's link, and for `routed` its host route
//! through the host end (proxy ARP is on for the whole host end already). Additions
//! come before removals; removing the last IPv4 address of a link takes the kernel's
//! IPv4 routes through it along (that is the kernel's rule, as with `ip addr del`). The record
//! is updated last; every step is idempotent, so a run stopped midway (even by SIGKILL)
//! converges when run again, and `disconnect` removes all of it with the link.

use netlink_packet_route::RouteNetlinkMessage as M;
use nix::errno::Errno;

use super::ctx::{Ctx, Undo, del_addr, host_route, host_route_of};
use super::record::State;
use super::sides::{Real, Sides};
use super::spec::Type;
use super::store::{Key, Store};
use super::verify::{self, Found, Nic};
use crate::error::Error;
use crate::msg;
use crate::nl::CREATE_EXCL;
use crate::ns::{Net, NetNs};
use crate::parse::Cidr;

/// A `readdr` request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readdr {
    /// The container's namespace.
    pub ns: String,
    /// The container link, as connect named it.
    pub name: String,
    /// Addresses to add.
    pub add: Vec<Cidr>,
    /// Addresses to remove.
    pub del: Vec<Cidr>,
}

impl Readdr {
    /// The checks that need no kernel.
    pub fn check(&self) -> Result<(), Error> {
        let usage = |m: String| Err(Error::Usage(format!("readdr: {m}")));
        if self.add.is_empty() && self.del.is_empty() {
            return usage("nothing to change (--add CIDR or --del CIDR)".to_owned());
        }
        for (i, a) in self.add.iter().enumerate() {
            if self.add[..i].contains(a) {
                return usage(format!("--add {a} given twice"));
            }
            if self.del.contains(a) {
                return usage(format!("{a} is both added and removed"));
            }
        }
        for (i, a) in self.del.iter().enumerate() {
            if self.del[..i].contains(a) {
                return usage(format!("--del {a} given twice"));
            }
        }
        Ok(())
    }
}

/// `readdr` in the real namespaces.
pub fn readdr(net: &mut Net, r: &Readdr) -> Result<(), Error> {
    r.check()?;
    let ctn = NetNs::open(&r.ns)?;
    readdr_with(&mut Real { net, ctn }, &Store::from_env(), r)
}

/// `readdr` over any [`Sides`], with records in `store`.
pub fn readdr_with(sides: &mut dyn Sides, store: &Store, r: &Readdr) -> Result<(), Error> {
    let what = format!("readdr {}", r.ns);
    let host_ns = sides.host_ident()?;
    let ctn_ns = sides.ctn_ident()?;
    let key = Key {
        dev: ctn_ns.dev,
        ino: ctn_ns.ino,
        name: r.name.clone(),
    };
    let mut cx = Ctx::new(sides, store, key, what.clone());
    let lock = store.lock(&cx.key, &what)?;
    let refuse = |m: String| Err(Error::Refused(format!("{what}: {m}")));
    let Some(mut rec) = store.read(&cx.key)? else {
        lock.release_and_remove();
        return refuse(format!(
            "'{}' is not connected (no record on the host)",
            r.name
        ));
    };
    if rec.ctn_ns.cookie != ctn_ns.cookie || rec.host_ns != host_ns {
        return refuse(format!(
            "'{}' is not connected from this host namespace",
            r.name
        ));
    }
    if rec.state != State::Connected {
        return refuse(format!(
            "an earlier connect or disconnect of '{}' was interrupted; \
             'netlink-tool disconnect {} --name {}' undoes what it left",
            r.name, r.ns, r.name
        ));
    }
    if rec.ty == Type::Empty {
        return refuse("an empty connection has no link".to_owned());
    }
    if rec.ty == Type::Routed && r.add.iter().any(Cidr::is_v6) {
        return Err(Error::Usage(format!(
            "{what}: --type routed takes IPv4 addresses only (proxy ARP)"
        )));
    }
    cx.record = Some(rec.clone());
    let r2 = change(&mut cx, &rec, r);
    match r2 {
        Ok(()) => {
            rec.addrs.retain(|a| !r.del.contains(a));
            for a in &r.add {
                if !rec.addrs.contains(a) {
                    rec.addrs.push(*a);
                }
            }
            let done = cx.check().and_then(|()| store.write(&cx.key, &rec));
            if let Err(e) = done {
                cx.rollback();
                return Err(in_context(e, &what));
            }
            Ok(())
        }
        Err(e) => {
            let problems = cx.rollback();
            let e = in_context(e, &what);
            if problems.is_empty() {
                Err(e)
            } else {
                Err(e.context(format!(
                    "rollback incomplete ({}); first failure",
                    problems.join("; ")
                )))
            }
        }
    }
}

fn in_context(e: Error, what: &str) -> Error {
    match e {
        Error::Interrupted { .. } => e.context(what),
        e => e,
    }
}

/// Find the connection's links (checked), then add and remove.
fn change(cx: &mut Ctx<'_>, rec: &super::Record, r: &Readdr) -> Result<(), Error> {
    let what = cx.what.clone();
    let gone = || {
        Error::Refused(format!(
            "{what}: the link of '{}' is gone (disconnect cleans up the record)",
            r.name
        ))
    };
    let foreign = |l: &msg::Link| {
        Error::Refused(format!(
            "{what}: '{}' is not the link connect made for '{}'; left alone",
            l.ifname, r.name
        ))
    };
    // (container link index, host end index for routed)
    let (idx, host_idx) = match rec.ty {
        Type::Veth | Type::Routed => match verify::host_end(cx, rec)? {
            Found::Ours(h) => (h.link_index.ok_or_else(gone)?, Some(h.ifindex)),
            Found::Absent => return Err(gone()),
            Found::Foreign(h) => return Err(foreign(&h)),
        },
        Type::Macvlan | Type::Vlan => match verify::stacked(cx, rec)? {
            Found::Ours(l) => (l.ifindex, None),
            Found::Absent => return Err(gone()),
            Found::Foreign(l) => return Err(foreign(&l)),
        },
        Type::Phys => match verify::nic(cx, rec)? {
            Nic::InCtn(l) => (l.ifindex, None),
            Nic::Foreign(l) => return Err(foreign(&l)),
            _ => return Err(gone()),
        },
        Type::Empty => return Err(gone()),
    };
    let nodad = matches!(rec.ty, Type::Veth | Type::Routed);
    let routed = rec.ty == Type::Routed;
    // Adds first: removing a link's last IPv4 address makes the kernel drop every IPv4
    // route through it (the container's default route among them).
    for a in &r.add {
        let step = cx.step(format!("add {a} to '{}'", r.name));
        let made = cx.ctn()?.request(
            M::NewAddress(msg::addr(idx, a, nodad)),
            CREATE_EXCL,
            format_args!("{a} dev {:?}", r.name),
        );
        match made {
            Ok(()) => cx.undo.push(Undo::CtnAddr {
                index: idx,
                cidr: *a,
            }),
            Err(e) if e.errno == Errno::EEXIST => {}
            Err(e) => return Err(step(e)),
        }
        if let (true, Some(h)) = (routed, host_idx) {
            let dest = host_route_of(a);
            let step = cx.step(format!("host route {dest}"));
            match host_route(cx.host()?, h, dest, true) {
                Ok(()) => cx.undo.push(Undo::HostRoute { index: h, dest }),
                Err(e) if e.errno == Errno::EEXIST => {}
                Err(e) => return Err(step(e)),
            }
        }
    }
    for a in &r.del {
        if let (true, Some(h)) = (routed, host_idx) {
            let dest = host_route_of(a);
            let step = cx.step(format!("delete host route {dest}"));
            match host_route(cx.host()?, h, dest, false) {
                Ok(()) => cx.undo.push(Undo::HostRouteBack { index: h, dest }),
                Err(e) if e.errno == Errno::ESRCH => {}
                Err(e) => return Err(step(e)),
            }
        }
        let step = cx.step(format!("delete {a} from '{}'", r.name));
        match del_addr(cx.ctn()?, idx, a) {
            Ok(()) => cx.undo.push(Undo::CtnAddrBack {
                index: idx,
                cidr: *a,
                nodad,
            }),
            Err(e) if e.errno == Errno::EADDRNOTAVAIL => {}
            Err(e) => return Err(step(e)),
        }
    }
    Ok(())
}
