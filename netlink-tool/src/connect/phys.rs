//! phys: a host NIC moved into the container and sent home as it was.

use super::ctx::{Ctx, Undo};
use super::record::{Phys, Record, State};
use super::spec::Spec;
use super::{configure_container, explain_exists, host_link};
use crate::error::{Error, kernel};
use crate::msg::SetLink;
use crate::ops;

/// A temporary interface name no one else uses: `nlt` + 8 hex digits.
pub(super) fn temp_name() -> String {
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

pub(super) fn connect_phys(cx: &mut Ctx<'_>, spec: &Spec, mut rec: Record) -> Result<(), Error> {
    let nic_name = spec.link.clone().expect("checked");
    // The final name must be free in the container before the NIC leaves the host.
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
    // How to know the NIC again when it comes back: a veth's peer stays on the host
    // (when it is there), a real NIC has a permanent address and a parent device.
    let peer_index = match (nic.kind.as_deref(), nic.link_index, nic.link_netnsid) {
        (Some("veth"), Some(i), None) => Some(i),
        _ => None,
    };
    let tmp = temp_name();
    rec.phys = Some(Phys {
        orig_name: nic_name.clone(),
        orig_index: nic.ifindex,
        orig_mtu: nic.mtu,
        orig_mac: spec
            .hwaddr
            .and(nic.address.as_deref())
            .and_then(|m| crate::parse::mac(m).ok()),
        orig_up: nic.is_up(),
        orig_alias: nic.alias.clone(),
        orig_master,
        kind: nic.kind.clone(),
        peer_index,
        perm_addr: nic.perm_address.clone(),
        parent_dev: nic.parent_dev.clone(),
        temp: Some(tmp.clone()),
    });
    cx.begin(rec)?;
    // Move under a temporary name (which cannot clash), then rename inside: a clash on
    // the final name can no longer leave the NIC half moved.
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
    cx.undo.push(Undo::Phys { now: tmp.clone() });
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
    if let Some(Undo::Phys { now }) = cx.undo.last_mut() {
        now.clone_from(&spec.name);
    }
    configure_container(cx, spec)
}

/// Send a phys NIC named `now` in the container back to the host: down, moved under a
/// temporary name, then renamed to its original name with its original MTU, MAC, alias,
/// up state and bridge. With `record_temp`, the temporary name is written into the
/// record first (disconnect: a run killed in between finds the NIC by it).
pub(super) fn phys_home(
    cx: &mut Ctx<'_>,
    now: &str,
    record: &Record,
    record_temp: bool,
) -> Result<(), Error> {
    let what = cx.what.clone();
    let l = ops::need_link(cx.sides.ctn()?, now, &what)?;
    let tmp = temp_name();
    if record_temp {
        let rec = cx.rec();
        rec.state = State::Undoing;
        if let Some(p) = rec.phys.as_mut() {
            p.temp = Some(tmp.clone());
        }
        cx.save()?;
    }
    let host_fd = cx.sides.host_fd();
    let host_label = cx.sides.host_label();
    let step = cx.step(format!("move '{now}' back to the host"));
    ops::set_link(
        cx.sides.ctn()?,
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
    let back = ops::need_link(cx.sides.host()?, &tmp, &what)?;
    restore(cx, &back, record)
}

/// Give a NIC back on the host (under a temporary name) its name, MTU, MAC, alias, up
/// state and bridge, as the record says it had.
pub(super) fn restore(
    cx: &mut Ctx<'_>,
    back: &crate::msg::Link,
    record: &Record,
) -> Result<(), Error> {
    let p = record.phys.clone().expect("a phys record");
    let tmp = back.ifname.clone();
    let orig = p.orig_name.clone();
    let step = cx.step(format!("rename '{tmp}' back to '{orig}'"));
    // Back into its bridge, if that is still there.
    let master = match &p.orig_master {
        Some(br) => {
            let look = cx.step(format!("look up bridge '{br}'"));
            ops::find_link(cx.sides.host()?, br)
                .map_err(look)?
                .filter(|l| l.kind.as_deref() == Some("bridge"))
                .map(|l| l.ifindex)
        }
        None => None,
    };
    ops::set_link(
        cx.sides.host()?,
        &SetLink {
            index: back.ifindex,
            rename: Some(orig.clone()),
            mtu: Some(p.orig_mtu),
            mac: p.orig_mac,
            alias: Some(p.orig_alias.clone().unwrap_or_default()),
            up: p.orig_up.then_some(true),
            master,
            ..SetLink::default()
        },
        format_args!(
            "{tmp:?} name {orig:?} mtu {} alias {:?}{}",
            p.orig_mtu,
            p.orig_alias.as_deref().unwrap_or_default(),
            match (&p.orig_master, master) {
                (Some(br), Some(_)) => format!(" master {br}"),
                _ => String::new(),
            }
        ),
    )
    .map_err(step)
}
