//! Does the kernel agree with the record? Before disconnect or readdr touches anything,
//! each object the record names is found and checked against what only the host could
//! have made: a veth host end must have its peer in the container's namespace (the
//! host's own IFLA_LINK_NETNSID says where), a bridge must carry the index connect
//! recorded, a phys NIC must still be that NIC (its veth peer on the host, its permanent
//! address, its parent device). The container's root can rename, delete and create links
//! in its namespace and rewrite their aliases; none of that can make one of its links
//! pass for a host object.

use super::ctx::Ctx;
use super::record::{Phys, Record};
use crate::error::{Error, kernel};
use crate::msg::Link;
use crate::ops;

/// What the kernel holds where the record points.
#[derive(Debug)]
pub(super) enum Found {
    /// The object, checked.
    Ours(Link),
    /// Nothing there.
    Absent,
    /// Something that is not the object: left alone.
    Foreign(Link),
}

impl Found {
    pub(super) fn ours(&self) -> Option<&Link> {
        match self {
            Found::Ours(l) => Some(l),
            _ => None,
        }
    }
}

/// The id the host gives the container's namespace (what a host link whose peer is in
/// the container carries as IFLA_LINK_NETNSID).
pub(super) fn ctn_nsid_in_host(cx: &mut Ctx<'_>) -> Result<Option<i32>, Error> {
    let fd = cx.sides.ctn_fd();
    let step = cx.step("look up the container's namespace id");
    ops::nsid(cx.sides.host()?, fd).map_err(step)
}

/// The veth host end of a veth or routed connection.
pub(super) fn host_end(cx: &mut Ctx<'_>, rec: &Record) -> Result<Found, Error> {
    let Some(name) = rec.host.clone() else {
        return Ok(Found::Absent);
    };
    let step = cx.step(format!("look up '{name}'"));
    let Some(l) = ops::find_link(cx.sides.host()?, &name).map_err(step)? else {
        return Ok(Found::Absent);
    };
    let nsid = ctn_nsid_in_host(cx)?;
    let ok = l.kind.as_deref() == Some("veth")
        && nsid.is_some()
        && l.link_netnsid == nsid
        && rec.ctn_index.is_none_or(|i| l.link_index == Some(i));
    Ok(if ok {
        Found::Ours(l)
    } else {
        Found::Foreign(l)
    })
}

/// The macvlan or vlan link connect created inside the container.
pub(super) fn stacked(cx: &mut Ctx<'_>, rec: &Record) -> Result<Found, Error> {
    let step = cx.step(format!("look up '{}'", rec.name));
    let s = cx.sides.ctn()?;
    let l = match rec.ctn_index {
        Some(i) => ops::find_link_by_index(s, i),
        None => ops::find_link(s, &rec.name),
    }
    .map_err(step)?;
    let Some(l) = l else {
        return Ok(Found::Absent);
    };
    let ok = l.kind.as_deref() == Some(rec.ty.name())
        && l.link_netnsid.is_some()
        && rec.parent_index.is_none_or(|p| l.link_index == Some(p));
    Ok(if ok {
        Found::Ours(l)
    } else {
        Found::Foreign(l)
    })
}

/// The bridge connect created.
pub(super) fn bridge(cx: &mut Ctx<'_>, rec: &Record) -> Result<Found, Error> {
    let Some(b) = rec.bridge.clone() else {
        return Ok(Found::Absent);
    };
    let step = cx.step(format!("look up bridge '{}'", b.name));
    let s = cx.sides.host()?;
    let l = match (b.index, &b.temp) {
        (Some(i), _) => ops::find_link_by_index(s, i),
        // Created under a unique temporary name, index not yet recorded.
        (None, Some(t)) => ops::find_link(s, t),
        (None, None) => return Ok(Found::Absent),
    }
    .map_err(step)?;
    let Some(l) = l else {
        return Ok(Found::Absent);
    };
    let named = l.ifname == b.name || b.temp.as_deref() == Some(l.ifname.as_str());
    Ok(if named && l.kind.as_deref() == Some("bridge") {
        Found::Ours(l)
    } else {
        Found::Foreign(l)
    })
}

/// Where a phys NIC is now.
#[derive(Debug)]
pub(super) enum Nic {
    /// In the container (checked to be the NIC).
    InCtn(Link),
    /// On the host under the temporary name of an interrupted move back.
    Returning(Link),
    /// On the host under its own name (never moved, or already back).
    Home,
    /// Nowhere to be found.
    Gone,
    /// A link in the container at the NIC's index that is not the NIC.
    Foreign(Link),
}

/// Find the NIC of a phys connection.
pub(super) fn nic(cx: &mut Ctx<'_>, rec: &Record) -> Result<Nic, Error> {
    let p = rec.phys.clone().expect("a phys record");
    let what = cx.what.clone();
    let look = |s: &str| kernel(format!("{what}: look up {s}"));
    // In the container: by index (kept across the move), else under the temporary name
    // of a move that was under way.
    let s = cx.sides.ctn()?;
    let mut here = match rec.ctn_index {
        Some(i) => ops::find_link_by_index(s, i).map_err(look("the NIC"))?,
        None => None,
    };
    if here.is_none()
        && let Some(t) = &p.temp
    {
        here = ops::find_link(s, t).map_err(look("the NIC"))?;
    }
    if here.is_none() && rec.ctn_index.is_none() {
        here = ops::find_link(s, &rec.name).map_err(look("the NIC"))?;
    }
    if let Some(l) = here {
        return Ok(if is_the_nic(cx, &p, &l)? {
            Nic::InCtn(l)
        } else {
            Nic::Foreign(l)
        });
    }
    let s = cx.sides.host()?;
    if let Some(t) = &p.temp
        && let Some(l) = ops::find_link(s, t).map_err(look("the NIC"))?
        && l.kind == p.kind
    {
        return Ok(Nic::Returning(l));
    }
    Ok(
        match ops::find_link(s, &p.orig_name).map_err(look("the NIC"))? {
            Some(l) if l.kind == p.kind => Nic::Home,
            _ => Nic::Gone,
        },
    )
}

/// Is `l`, a link in the container, the NIC the record describes?
fn is_the_nic(cx: &mut Ctx<'_>, p: &Phys, l: &Link) -> Result<bool, Error> {
    if l.kind != p.kind {
        return Ok(false);
    }
    if p.perm_addr.is_some() && l.perm_address != p.perm_addr {
        return Ok(false);
    }
    if p.parent_dev.is_some() && l.parent_dev != p.parent_dev {
        return Ok(false);
    }
    if let Some(peer) = p.peer_index {
        // A veth NIC: its peer stayed on the host and must point at this link, in the
        // container's namespace, by the host's own account.
        let nsid = ctn_nsid_in_host(cx)?;
        let step = cx.step("look up the NIC's peer");
        let Some(pl) = ops::find_link_by_index(cx.sides.host()?, peer).map_err(step)? else {
            return Ok(false);
        };
        return Ok(nsid.is_some()
            && pl.link_netnsid == nsid
            && pl.link_index == Some(l.ifindex)
            && pl.kind.as_deref() == Some("veth"));
    }
    Ok(true)
}
