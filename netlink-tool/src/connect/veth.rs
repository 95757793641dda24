//! veth and routed (OpenVZ venet): a pair, the host end on the host (in a bridge, or
//! routed with proxy ARP), the peer created straight in the container.

use netlink_packet_route::RouteNetlinkMessage as M;
use nix::errno::Errno;

use super::ctx::{Ctx, Undo};
use super::record::Record;
use super::spec::{Spec, Type};
use super::{configure_container, explain_exists, host_link};
use crate::error::Error;
use crate::msg::{self, Kind, NewLink};
use crate::nl::CREATE_EXCL;
use crate::parse::Cidr;

pub(super) fn connect_veth(cx: &mut Ctx<'_>, spec: &Spec) -> Result<(), Error> {
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
pub(super) fn proxy_arp(cx: &mut Ctx<'_>, dev: &str) -> Result<(), Error> {
    let what = cx.what.clone();
    cx.sides
        .host_sysctl(&format!("net/ipv4/conf/{dev}/proxy_arp"), "1")
        .map_err(|e| e.context(what))
}
