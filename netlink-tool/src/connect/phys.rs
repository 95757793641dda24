//! phys: a host NIC moved into the container and sent home as it was.

use super::ctx::{Ctx, Undo};
use super::record::{ALIAS_MAX, Record};
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

pub(super) fn connect_phys(cx: &mut Ctx<'_>, spec: &Spec) -> Result<(), Error> {
    let nic_name = spec.link.clone().expect("checked");
    // The final name must be free in the container before the NIC leaves the host;
    // checked first, so that a re-run says "already connected" (the NIC is gone from
    // the host by then).
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
    let record = Record {
        ty: "phys".to_owned(),
        orig_name: Some(nic_name.clone()),
        orig_mtu: Some(nic.mtu),
        orig_mac: spec.hwaddr.and(nic.address.clone()),
        orig_up: nic.is_up(),
        orig_alias: nic.alias.clone(),
        orig_master,
        ..Record::default()
    };
    // The record replaces the NIC's alias while it is away, and must hold that alias to
    // give it back: refuse, before the NIC moves, what the kernel could not keep.
    if record.to_alias().len() > ALIAS_MAX {
        return Err(Error::Refused(format!(
            "{}: the alias of '{nic_name}' is too long to be kept in the connection record \
             (the record would take {} of {ALIAS_MAX} bytes); shorten or clear it first",
            cx.what,
            record.to_alias().len()
        )));
    }
    // Move under a temporary name (which cannot clash), then rename inside: a clash on
    // the final name can no longer leave the NIC half moved.
    let tmp = temp_name();
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
    cx.undo.push(Undo::Phys {
        now: tmp.clone(),
        record: record.clone(),
    });
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
    if let Some(Undo::Phys { now, .. }) = cx.undo.last_mut() {
        now.clone_from(&spec.name);
    }
    configure_container(cx, spec, &record)
}

/// Send a phys NIC named `now` in the container back to the host: down, moved under a
/// temporary name, then renamed to its original name with its original MTU (and MAC)
/// and its own alias (or none) in place of the record.
pub(super) fn phys_home(cx: &mut Ctx<'_>, now: &str, record: &Record) -> Result<(), Error> {
    let orig = record.orig_name.clone().unwrap_or_else(|| now.to_owned());
    let tmp = temp_name();
    let host_fd = cx.sides.host_fd();
    let host_label = cx.sides.host_label();
    let step = cx.step(format!("move '{now}' back to the host"));
    let what = cx.what.clone();
    let l = ops::need_link(cx.ctn()?, now, &what)?;
    ops::set_link(
        cx.ctn()?,
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
    let step = cx.step(format!("rename '{tmp}' back to '{orig}'"));
    let mac = record
        .orig_mac
        .as_deref()
        .and_then(|m| crate::parse::mac(m).ok());
    let back = ops::need_link(cx.host()?, &tmp, &what)?;
    // Back into its bridge, if that is still there.
    let master = match &record.orig_master {
        Some(br) => {
            let look = cx.step(format!("look up bridge '{br}'"));
            ops::find_link(cx.host()?, br)
                .map_err(look)?
                .filter(|l| l.kind.as_deref() == Some("bridge"))
                .map(|l| l.ifindex)
        }
        None => None,
    };
    ops::set_link(
        cx.host()?,
        &SetLink {
            index: back.ifindex,
            rename: Some(orig.clone()),
            mtu: record.orig_mtu,
            mac,
            alias: Some(record.orig_alias.clone().unwrap_or_default()),
            up: record.orig_up.then_some(true),
            master,
            ..SetLink::default()
        },
        format_args!(
            "{tmp:?} name {orig:?} mtu {:?} alias {:?}{}",
            record.orig_mtu,
            record.orig_alias.as_deref().unwrap_or_default(),
            match (&record.orig_master, master) {
                (Some(br), Some(_)) => format!(" master {br}"),
                _ => String::new(),
            }
        ),
    )
    .map_err(step)
}
