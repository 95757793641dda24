//! `disconnect`: undo exactly what connect made, as its host-side record says, and only
//! where the kernel agrees ([`super::verify`]). It also finishes what an interrupted
//! connect or disconnect left (a pending record). Once it has begun to change things it
//! runs to its end: a stopping signal that arrives then is ignored.

use super::ctx::Ctx;
use super::phys::{phys_home, restore};
use super::record::{State, is_v1_alias};
use super::sides::{Real, Sides};
use super::spec::Type;
use super::store::{Key, Store};
use super::verify::{self, Found, Nic};
use crate::error::{Error, kernel};
use crate::msg::{Link, SetLink};
use crate::ns::{Net, NetNs};
use crate::ops;

/// `disconnect`: undo what `connect` made for the container link `name`.
pub fn disconnect(net: &mut Net, ns: &str, name: &str) -> Result<(), Error> {
    let ctn = NetNs::open(ns)?;
    disconnect_with(&mut Real { net, ctn }, &Store::from_env(), ns, name)
}

/// `disconnect` over any [`Sides`], with records in `store`.
pub fn disconnect_with(
    sides: &mut dyn Sides,
    store: &Store,
    ns: &str,
    name: &str,
) -> Result<(), Error> {
    let what = format!("disconnect {ns}");
    let host_ns = sides.host_ident()?;
    let ctn_ns = sides.ctn_ident()?;
    let key = Key {
        dev: ctn_ns.dev,
        ino: ctn_ns.ino,
        name: name.to_owned(),
    };
    let mut cx = Ctx::new(sides, store, key, what.clone());
    cx.check().map_err(|e| e.context(what.clone()))?;
    let lock = store.lock(&cx.key, &what)?;
    let Some(rec) = store.read(&cx.key)? else {
        let e = no_record(&mut cx, name);
        lock.release_and_remove();
        return Err(e);
    };
    if rec.host_ns != host_ns && rec.ctn_ns.cookie == ctn_ns.cookie {
        return Err(Error::Refused(format!(
            "{what}: '{name}' was connected from another host namespace (inode {}); \
             run disconnect with that namespace as -n",
            rec.host_ns.ino
        )));
    }
    // The last moment a signal stops disconnect: from here on it finishes.
    cx.check().map_err(|e| e.context(what.clone()))?;
    cx.record = Some(rec.clone());
    if rec.ctn_ns.cookie != ctn_ns.cookie {
        // The record of a namespace that is gone, whose inode this one got: drop it
        // (with a bridge it made that no port uses); this namespace has no record.
        common::trace::line(
            1,
            format_args!("{what}: the namespace of that record is gone; dropping it"),
        );
        if let Found::Ours(b) = verify::bridge(&mut cx, &rec)? {
            remove_bridge_if_unused(&mut cx, &b)?;
        }
        store.remove(&cx.key)?;
        let e = no_record(&mut cx, name);
        lock.release_and_remove();
        return Err(e);
    }
    {
        match rec.ty {
            Type::Empty => {}
            Type::Veth | Type::Routed => match verify::host_end(&mut cx, &rec)? {
                // Deleting the host end deletes its peer, and with them the host
                // routes and the proxy ARP setting of a routed link.
                Found::Ours(h) => {
                    let step = cx.step(format!("delete '{}'", h.ifname));
                    ops::del_link(cx.sides.host()?, h.ifindex, &h.ifname).map_err(step)?;
                }
                Found::Absent => {}
                Found::Foreign(h) => {
                    return Err(Error::Refused(format!(
                        "{what}: the host link '{}' is not the host end of '{name}' (its peer \
                         is not in the container); left alone",
                        h.ifname
                    )));
                }
            },
            Type::Macvlan | Type::Vlan => match verify::stacked(&mut cx, &rec)? {
                Found::Ours(l) => {
                    let step = cx.step(format!("delete '{}'", l.ifname));
                    ops::del_link(cx.sides.ctn()?, l.ifindex, &l.ifname).map_err(step)?;
                }
                Found::Absent => {}
                Found::Foreign(l) => {
                    return Err(Error::Refused(format!(
                        "{what}: the link '{}' in the container is not the {} connect made; \
                         left alone",
                        l.ifname,
                        rec.ty.name()
                    )));
                }
            },
            Type::Phys => match verify::nic(&mut cx, &rec)? {
                Nic::InCtn(l) => phys_home(&mut cx, &l.ifname, &rec, true)?,
                Nic::Returning(l) => restore(&mut cx, &l, &rec)?,
                Nic::Home | Nic::Gone => {}
                Nic::Foreign(l) => {
                    return Err(Error::Refused(format!(
                        "{what}: the link '{}' in the container is not the NIC '{}' connect \
                         moved in; left alone (find the NIC and move it back by hand)",
                        l.ifname,
                        rec.phys.as_ref().map_or("", |p| p.orig_name.as_str())
                    )));
                }
            },
        }
        // An interrupted connect brought lo up: its cleanup brings it down again.
        if rec.state == State::Pending && rec.lo_was_down {
            let step = cx.step("bring lo down");
            let down = SetLink {
                index: 1,
                up: Some(false),
                ..SetLink::default()
            };
            ops::set_link(cx.sides.ctn()?, &down, format_args!("lo down")).map_err(step)?;
        }
    }
    if let Found::Ours(b) = verify::bridge(&mut cx, &rec)? {
        remove_bridge_if_unused(&mut cx, &b)?;
    }
    store.remove(&cx.key)?;
    lock.release_and_remove();
    Ok(())
}

/// Why there is nothing to disconnect, in one line.
fn no_record(cx: &mut Ctx<'_>, name: &str) -> Error {
    let what = cx.what.clone();
    let link = cx
        .sides
        .ctn()
        .and_then(|s| ops::find_link(s, name).map_err(kernel(format!("{what}: look up '{name}'"))));
    match link {
        Err(e) => e,
        Ok(None) => Error::Refused(format!(
            "{what}: no link '{name}' in the container: not connected"
        )),
        Ok(Some(l)) if l.alias.as_deref().is_some_and(is_v1_alias) => Error::Refused(format!(
            "{what}: '{name}' carries a record of netlink-tool 0.1 in its alias, which the \
             container can rewrite and is not trusted; undo that connection by hand"
        )),
        Ok(Some(_)) => Error::Refused(format!(
            "{what}: '{name}' was not made by netlink-tool connect (no record on the host); \
             left alone"
        )),
    }
}

/// Delete a bridge connect made, unless a port still uses it.
pub(super) fn remove_bridge_if_unused(cx: &mut Ctx<'_>, b: &Link) -> Result<(), Error> {
    let step = cx.step("list host links");
    let links = ops::links(cx.sides.host()?).map_err(step)?;
    if links.iter().any(|l| l.master_index == Some(b.ifindex)) {
        return Ok(()); // other containers still use it
    }
    let step = cx.step(format!("delete bridge '{}'", b.ifname));
    ops::del_link(cx.sides.host()?, b.ifindex, &b.ifname).map_err(step)
}
