//! Small operations on one namespace's socket that every command builds on: find a link
//! by name, list links (with bridge names resolved), addresses and routes, delete a link.

use std::fmt;

use netlink_packet_route::RouteNetlinkMessage as M;
use netlink_packet_route::link::LinkMessage;
use nix::errno::Errno;

use crate::error::{Error, KernelError, kernel};
use crate::msg::{self, Addr, Link, RouteEntry};
use crate::nl::Rtnl;

/// The link named `name`, or `None` when there is none (ENODEV).
pub fn find_link(sock: &mut dyn Rtnl, name: &str) -> Result<Option<Link>, KernelError> {
    get_link(sock, msg::get_link_by_name(name), format_args!("{name:?}"))
}

/// The link with ifindex `index`, or `None` when there is none (ENODEV).
pub fn find_link_by_index(sock: &mut dyn Rtnl, index: u32) -> Result<Option<Link>, KernelError> {
    get_link(
        sock,
        msg::get_link_by_index(index),
        format_args!("index {index}"),
    )
}

/// The one link an RTM_GETLINK request selects, or `None` when there is none (ENODEV).
fn get_link(
    sock: &mut dyn Rtnl,
    req: LinkMessage,
    what: fmt::Arguments<'_>,
) -> Result<Option<Link>, KernelError> {
    match sock.query(&M::GetLink(req), false, what) {
        Ok(v) => Ok(v.iter().find_map(|m| match m {
            M::NewLink(l) => Some(msg::link_from(l)),
            _ => None,
        })),
        Err(e) if e.errno == Errno::ENODEV => Ok(None),
        Err(e) => Err(e),
    }
}

/// The link named `name`, or an error that names the namespace.
pub fn need_link(sock: &mut dyn Rtnl, name: &str, context: &str) -> Result<Link, Error> {
    find_link(sock, name)
        .map_err(kernel(format!("{context}: look up '{name}'")))?
        .ok_or_else(|| {
            Error::Refused(format!(
                "{context}: no link '{name}' in network namespace {}",
                sock.label()
            ))
        })
}

/// All links, with `master` resolved to the bridge's name.
pub fn links(sock: &mut dyn Rtnl) -> Result<Vec<Link>, KernelError> {
    let msgs = sock.query(&M::GetLink(Default::default()), true, format_args!("dump"))?;
    let mut out: Vec<Link> = msgs
        .iter()
        .filter_map(|m| match m {
            M::NewLink(l) => Some(msg::link_from(l)),
            _ => None,
        })
        .collect();
    let names: Vec<(u32, String, bool)> = out
        .iter()
        .map(|l| (l.ifindex, l.ifname.clone(), l.is_up()))
        .collect();
    for l in &mut out {
        if let Some(i) = l.master_index {
            l.master = names
                .iter()
                .find(|(x, ..)| *x == i)
                .map(|(_, n, _)| n.clone());
        }
        if let (Some(i), None) = (l.link_index, l.link_netnsid) {
            l.more.peer = names
                .iter()
                .find(|(x, ..)| *x == i)
                .map(|(_, n, up)| (n.clone(), !up));
        }
    }
    out.sort_by_key(|l| l.ifindex);
    Ok(out)
}

/// All addresses, with link names.
pub fn addrs(sock: &mut dyn Rtnl) -> Result<Vec<Addr>, KernelError> {
    let names = links(sock)?;
    let msgs = sock.query(&M::GetAddress(msg::get_addrs()), true, format_args!("dump"))?;
    let mut out: Vec<Addr> = msgs
        .iter()
        .filter_map(|m| match m {
            M::NewAddress(a) => msg::addr_from(a),
            _ => None,
        })
        .collect();
    for a in &mut out {
        if let Some(l) = names.iter().find(|l| l.ifindex == a.ifindex) {
            a.ifname.clone_from(&l.ifname);
        }
    }
    out.sort_by_key(|a| (a.ifindex, a.family == "inet6"));
    Ok(out)
}

/// The routes of the main table, IPv4 then IPv6, with link names.
pub fn routes(sock: &mut dyn Rtnl) -> Result<Vec<RouteEntry>, KernelError> {
    let names = links(sock)?;
    let mut out = Vec::new();
    for v6 in [false, true] {
        let msgs = sock.query(
            &M::GetRoute(msg::get_routes(v6)),
            true,
            format_args!("dump"),
        )?;
        out.extend(msgs.iter().filter_map(|m| match m {
            M::NewRoute(r) => msg::route_from(r),
            _ => None,
        }));
    }
    for r in &mut out {
        if let Some(i) = r.oif {
            r.dev = names
                .iter()
                .find(|l| l.ifindex == i)
                .map(|l| l.ifname.clone());
        }
    }
    Ok(out)
}

/// Delete a link by index.
pub fn del_link(
    sock: &mut dyn Rtnl,
    index: u32,
    name: &dyn fmt::Display,
) -> Result<(), KernelError> {
    sock.request(
        M::DelLink(msg::del_link(index)),
        0,
        format_args!("{name} index {index}"),
    )
}

/// Apply a SETLINK.
pub fn set_link(
    sock: &mut dyn Rtnl,
    s: &msg::SetLink,
    what: fmt::Arguments<'_>,
) -> Result<(), KernelError> {
    sock.request(M::SetLink(msg::set_link(s)), 0, what)
}

/// The id under which the namespace open on `fd` is known in the socket's namespace
/// (RTM_GETNSID; what IFLA_LINK_NETNSID of a link whose peer is there says), or `None`
/// when it has none (then no link of this namespace has its peer there).
pub fn nsid(sock: &mut dyn Rtnl, fd: std::os::fd::RawFd) -> Result<Option<i32>, KernelError> {
    use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
    let mut m = NsidMessage::default();
    m.attributes.push(NsidAttribute::Fd(fd as u32));
    let answers = sock.query(&M::GetNsId(m), false, format_args!("fd {fd}"))?;
    Ok(answers
        .iter()
        .find_map(|a| match a {
            M::NewNsId(n) => n.attributes.iter().find_map(|x| match x {
                NsidAttribute::Id(i) => Some(*i),
                _ => None,
            }),
            _ => None,
        })
        .filter(|i| *i >= 0))
}

/// Bring `lo` (always ifindex 1 in a network namespace) up.
pub fn lo_up(sock: &mut dyn Rtnl) -> Result<(), KernelError> {
    set_link(
        sock,
        &msg::SetLink {
            index: 1,
            up: Some(true),
            ..msg::SetLink::default()
        },
        format_args!("lo up"),
    )
}
