//! veth and routed (OpenVZ venet): a pair, the host end on the host (in a bridge, or
//! routed with proxy ARP), the peer created straight in the container.

use netlink_packet_route::RouteNetlinkMessage as M;
use nix::errno::Errno;

use super::ctx::{Ctx, Undo, host_route, host_route_of};
use super::phys::temp_name;
use super::record::{Bridge, Record};
use super::spec::{Spec, Type};
use super::{configure_container, explain_exists, host_link};
use crate::error::Error;
use crate::msg::{self, Kind, NewLink, SetLink};
use crate::nl::CREATE_EXCL;
use crate::ops;

pub(super) fn connect_veth(cx: &mut Ctx<'_>, spec: &Spec, mut rec: Record) -> Result<(), Error> {
    let routed = spec.ty == Type::Routed;
    let host_end = spec.host_end(rec.ctn_ns.ino);
    crate::parse::exact_ifname(&host_end)?;
    rec.host = Some(host_end.clone());
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
                rec.bridge = Some(Bridge {
                    name: br.clone(),
                    temp: Some(temp_name()),
                    index: None,
                });
            }
            None => {
                return Err(Error::Refused(format!(
                    "{}: no bridge '{br}' in the host namespace (create it, or add --create-bridge)",
                    cx.what
                )));
            }
        }
    }
    cx.begin(rec)?;
    if let Some(b) = cx.rec().bridge.clone() {
        master = Some(create_bridge(cx, spec, &b)?);
    }
    // The pair: host end in the host namespace, peer created straight in the container
    // under its final name, both ends with the MTU, the host end up.
    let mut l = NewLink::new(
        &host_end,
        Kind::Veth {
            peer: spec.name.clone(),
            peer_netns: Some(cx.sides.ctn_fd()),
            peer_mtu: mtu,
            peer_mac: spec.hwaddr,
            // Up later: up at creation fails with ENOTCONN when the peer is created in
            // another namespace.
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
    if !routed && spec.host_addrs.is_empty() {
        return configure_container(cx, spec);
    }
    let h = host_link(cx, &host_end)?
        .ok_or_else(|| Error::Refused(format!("{}: host end '{host_end}' vanished", cx.what)))?;
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
    configure_container(cx, spec)?;
    if routed {
        for a in &spec.addrs {
            let dest = host_route_of(a);
            let step = cx.step(format!("host route {dest} dev '{host_end}'"));
            host_route(cx.host()?, h.ifindex, dest, true).map_err(step)?;
        }
    }
    Ok(())
}

/// Create the bridge under its unique temporary name, record its index, then give it
/// its name: a run killed at any point leaves a bridge the record identifies (by the
/// temporary name, or by the index), never one it could mistake for someone else's.
fn create_bridge(cx: &mut Ctx<'_>, spec: &Spec, b: &Bridge) -> Result<u32, Error> {
    let temp = b.temp.clone().expect("a new bridge has a temporary name");
    let br = &b.name;
    let step = cx.step(format!("create bridge '{br}'"));
    let mut nb = NewLink::new(&temp, Kind::Bridge);
    nb.mtu = spec.mtu;
    cx.host()?
        .request(
            M::NewLink(msg::new_link(&nb)),
            CREATE_EXCL,
            format_args!("{temp:?} type bridge"),
        )
        .map_err(step)?;
    cx.undo.push(Undo::HostLink(temp.clone()));
    let l = host_link(cx, &temp)?
        .ok_or_else(|| Error::Refused(format!("{}: bridge '{temp}' vanished", cx.what)))?;
    cx.undo.pop();
    cx.undo.push(Undo::HostIndex(l.ifindex));
    if let Some(rb) = cx.rec().bridge.as_mut() {
        rb.index = Some(l.ifindex);
    }
    cx.save()?;
    let step = cx.step(format!("name bridge '{temp}' '{br}' and bring it up"));
    ops::set_link(
        cx.host()?,
        &SetLink {
            index: l.ifindex,
            rename: Some(br.clone()),
            up: Some(true),
            ..SetLink::default()
        },
        format_args!("{temp:?} name {br:?} up"),
    )
    .map_err(|e| {
        if e.errno == Errno::EEXIST {
            Error::Refused(format!(
                "{}: a link '{br}' appeared in the host namespace meanwhile",
                cx.what
            ))
        } else {
            step(e)
        }
    })?;
    Ok(l.ifindex)
}

/// Proxy ARP on the routed host end: the host answers the container's ARP requests for
/// any address it can route (OpenVZ venet's "the host is the gateway").
pub(super) fn proxy_arp(cx: &mut Ctx<'_>, dev: &str) -> Result<(), Error> {
    let what = cx.what.clone();
    cx.check()?;
    cx.sides
        .host_sysctl(&format!("net/ipv4/conf/{dev}/proxy_arp"), "1")
        .map_err(|e| e.context(what))
}
