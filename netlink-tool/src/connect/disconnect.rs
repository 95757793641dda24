//! `disconnect`: undo exactly what connect made.

use super::ctx::Ctx;
use super::phys::phys_home;
use super::record::Record;
use super::sides::{Real, Sides};
use crate::error::{Error, kernel};
use crate::ns::{Net, NetNs};
use crate::ops;

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
