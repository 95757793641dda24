//! macvlan and vlan: a link on a host parent, created straight inside the container.

use netlink_packet_route::RouteNetlinkMessage as M;
use nix::errno::Errno;

use super::ctx::{Ctx, Undo};
use super::record::Record;
use super::spec::{Spec, Type};
use super::{configure_container, explain_exists, host_link};
use crate::error::Error;
use crate::msg::{self, Kind, NewLink};
use crate::nl::CREATE_EXCL;

pub(super) fn connect_stacked(cx: &mut Ctx<'_>, spec: &Spec, mut rec: Record) -> Result<(), Error> {
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
    rec.parent_index = Some(parent.ifindex);
    cx.begin(rec)?;
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
    configure_container(cx, spec)
}
