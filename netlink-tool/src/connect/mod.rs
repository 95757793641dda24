//! `connect`, `disconnect` and `readdr`: one call gives a container (a network
//! namespace) its link, as LXC's `lxc.net.type` does, changes its addresses, or takes it
//! away again.
//!
//! | type | what connect makes |
//! | --- | --- |
//! | empty | only `lo`, up |
//! | veth | a pair: host end (into the `--link` bridge, up), peer created in the container, addressed, up; default route via `--gw` |
//! | routed | OpenVZ's venet: a veth without a bridge, a host route to each container address, proxy ARP on the host end, default route in the container through its link |
//! | macvlan | a macvlan on `--link`, created straight inside the container |
//! | vlan | an 802.1Q link on `--link`, created straight inside the container |
//! | phys | the host NIC `--link` moved in through a temporary name, how it was recorded |
//!
//! What connect makes is recorded on the host side ([`record`], kept by [`store`]), never
//! in the container, whose root could rewrite it. The record is written *before* the
//! first change (state `pending`) and marked `connected` after the last, so a run killed
//! at any moment leaves a pending record naming everything it may have made:
//! `disconnect` undoes it, and `connect` refuses with a message that says so. A failure
//! or a stopping signal midway undoes what this call made, in reverse order, and removes
//! the record. `disconnect` and `readdr` act only on objects that the record and the
//! kernel agree belong to the connection ([`verify`]).

mod ctx;
mod disconnect;
mod phys;
mod readdr;
pub mod record;
mod sides;
mod spec;
mod stacked;
pub mod store;
mod verify;
mod veth;

use nix::errno::Errno;

use crate::error::{Error, KernelError};
use crate::msg::{self, SetLink};
use crate::ns::{Net, NetNs};
use crate::ops;

use ctx::{Ctx, Undo};
pub use disconnect::{disconnect, disconnect_with};
pub use readdr::{Readdr, readdr, readdr_with};
pub use record::Record;
use record::{NsIdent, State};
pub use sides::{Real, Sides};
pub use spec::{Spec, Type};
use store::{Key, Store};
use verify::Found;

/// `connect`: give the container its link. On failure, what this call made is undone.
pub fn connect(net: &mut Net, spec: &Spec) -> Result<(), Error> {
    spec.check()?;
    let ctn = NetNs::open(&spec.ns)?;
    if ctn.id == net.host.id {
        return Err(Error::Refused(format!(
            "connect {}: the container's namespace is the host namespace",
            spec.ns
        )));
    }
    connect_with(&mut Real { net, ctn }, &Store::from_env(), spec)
}

/// `connect` over any [`Sides`], keeping records in `store`.
pub fn connect_with(sides: &mut dyn Sides, store: &Store, spec: &Spec) -> Result<(), Error> {
    let what = format!("connect {}", spec.ns);
    let host_ns = sides.host_ident()?;
    let ctn_ns = sides.ctn_ident()?;
    let key = Key {
        dev: ctn_ns.dev,
        ino: ctn_ns.ino,
        name: spec.name.clone(),
    };
    let mut cx = Ctx::new(sides, store, key, what);
    let mut lock = None;
    let r = make(&mut cx, &mut lock, spec, host_ns, ctn_ns);
    let Err(e) = r else {
        return Ok(());
    };
    let problems = cx.rollback();
    if problems.is_empty() {
        if cx.record.is_some() {
            store.remove(&cx.key)?;
        }
        // Nothing recorded for this link: its lock file goes too.
        if let Some(l) = lock
            && !store.path(&cx.key).exists()
        {
            l.release_and_remove();
        }
        return Err(in_context(e, &cx.what));
    }
    // The pending record stays: disconnect finishes what the rollback could not.
    Err(in_context(e, &cx.what).context(format!(
        "rollback incomplete ({}; 'netlink-tool disconnect {} --name {}' retries it); first failure",
        problems.join("; "),
        spec.ns,
        spec.name
    )))
}

/// The work of connect: check what is there, record, make, mark connected.
fn make(
    cx: &mut Ctx<'_>,
    lock: &mut Option<store::Lock>,
    spec: &Spec,
    host_ns: NsIdent,
    ctn_ns: NsIdent,
) -> Result<(), Error> {
    cx.check()?;
    // `empty` makes no link: nothing to record.
    if spec.ty != Type::Empty {
        *lock = Some(cx.store.lock(&cx.key, &cx.what)?);
        if let Some(old) = cx.store.read(&cx.key)? {
            existing(cx, &old, host_ns)?;
        }
    }
    let step = cx.step("look up lo");
    let lo = ops::find_link(cx.ctn()?, "lo").map_err(step)?;
    let lo_was_down = !lo.as_ref().is_some_and(msg::Link::is_up);
    let mut base = Record::new(spec.ty, &spec.name, host_ns, ctn_ns);
    base.lo_was_down = lo_was_down;
    base.addrs.clone_from(&spec.addrs);
    base.gw = spec.gw;
    match spec.ty {
        Type::Empty => lo_up(cx, lo_was_down)?,
        Type::Veth | Type::Routed => veth::connect_veth(cx, spec, base)?,
        Type::Macvlan | Type::Vlan => stacked::connect_stacked(cx, spec, base)?,
        Type::Phys => phys::connect_phys(cx, spec, base)?,
    }
    // The last check: after it the connection is made and recorded as such.
    cx.check()?;
    if let Some(rec) = cx.record.as_mut() {
        rec.state = State::Connected;
        if let Some(b) = rec.bridge.as_mut() {
            b.temp = None;
        }
        if let Some(p) = rec.phys.as_mut() {
            p.temp = None;
        }
    }
    cx.save()
}

/// A record exists for this container link already: it is a live connection (refused),
/// the leftover of an interrupted run (refused, naming the cleanup), or stale (its
/// namespace died and the inode was reused, or nothing it names exists any more: it is
/// dropped, with a bridge it made that no port uses).
fn existing(cx: &mut Ctx<'_>, old: &Record, host_ns: NsIdent) -> Result<(), Error> {
    let (what, name) = (cx.what.clone(), old.name.clone());
    if old.host_ns != host_ns && old.ctn_ns.cookie == cx.sides.ctn_ident()?.cookie {
        return Err(Error::Refused(format!(
            "{what}: '{name}' is connected from another host namespace \
             (disconnect it from there first)"
        )));
    }
    let alive = old.ctn_ns.cookie == cx.sides.ctn_ident()?.cookie && anything_left(cx, old)?;
    if !alive {
        common::trace::line(
            1,
            format_args!("{what}: dropping the stale record of '{name}' (nothing of it is left)"),
        );
        if let Found::Ours(b) = verify::bridge(cx, old)? {
            disconnect::remove_bridge_if_unused(cx, &b)?;
        }
        return cx.store.remove(&cx.key);
    }
    Err(Error::Refused(match old.state {
        State::Connected => format!("{what}: '{name}' is already connected (disconnect it first)"),
        State::Pending | State::Undoing => format!(
            "{what}: an earlier connect or disconnect of '{name}' was interrupted; \
             'netlink-tool disconnect {} --name {name}' undoes what it left",
            cx.sides.ctn_label()
        ),
    }))
}

/// Does anything the record names still exist (as the record's)?
fn anything_left(cx: &mut Ctx<'_>, rec: &Record) -> Result<bool, Error> {
    if verify::bridge(cx, rec)?.ours().is_some() {
        return Ok(true);
    }
    Ok(match rec.ty {
        Type::Empty => false,
        Type::Veth | Type::Routed => verify::host_end(cx, rec)?.ours().is_some(),
        Type::Macvlan | Type::Vlan => verify::stacked(cx, rec)?.ours().is_some(),
        Type::Phys => matches!(
            verify::nic(cx, rec)?,
            verify::Nic::InCtn(_) | verify::Nic::Returning(_)
        ),
    })
}

/// An EEXIST at creation, explained: which name exists.
fn explain_exists(cx: &mut Ctx<'_>, spec: &Spec, host_end: Option<&str>) -> Error {
    let what = cx.what.clone();
    if let Ok(s) = cx.sides.ctn()
        && let Ok(Some(_)) = ops::find_link(s, &spec.name)
    {
        return Error::Refused(format!(
            "{what}: a link '{}' already exists in the container",
            spec.name
        ));
    }
    if let Some(h) = host_end
        && let Ok(s) = cx.sides.host()
        && let Ok(Some(_)) = ops::find_link(s, h)
    {
        return Error::Refused(format!("{what}: the host-side link '{h}' already exists"));
    }
    Error::Kernel {
        context: format!("{what}: create the link"),
        source: KernelError::new(Errno::EEXIST),
    }
}

/// A link in the host namespace that connect relies on.
fn host_link(cx: &mut Ctx<'_>, name: &str) -> Result<Option<msg::Link>, Error> {
    let step = cx.step(format!("look up '{name}'"));
    let s = cx.host()?;
    ops::find_link(s, name).map_err(step)
}

/// Bring the container's `lo` up when it was down; a rollback brings it down again.
fn lo_up(cx: &mut Ctx<'_>, was_down: bool) -> Result<(), Error> {
    if !was_down {
        return Ok(());
    }
    let step = cx.step("bring lo up");
    ops::lo_up(cx.ctn()?).map_err(step)?;
    cx.undo.push(Undo::LoDown);
    Ok(())
}

/// The routes `connect` adds in the container for a spec.
fn container_routes(spec: &Spec, idx: u32) -> Vec<msg::Route> {
    let mut routes = Vec::new();
    if spec.ty == Type::Routed {
        match spec.gw {
            Some(gw) => {
                // The gateway is on the link (the host end answers for it), then the
                // default route through it.
                routes.push(msg::Route {
                    dest: Some(crate::parse::Cidr {
                        addr: gw,
                        prefix: if gw.is_ipv6() { 128 } else { 32 },
                    }),
                    v6: gw.is_ipv6(),
                    via: None,
                    dev: Some(idx),
                });
                routes.push(msg::Route {
                    dest: None,
                    v6: gw.is_ipv6(),
                    via: Some(gw),
                    dev: Some(idx),
                });
            }
            None => routes.push(msg::Route {
                dest: None,
                v6: false,
                via: None,
                dev: Some(idx),
            }),
        }
    } else if let Some(gw) = spec.gw {
        routes.push(msg::Route {
            dest: None,
            v6: gw.is_ipv6(),
            via: Some(gw),
            dev: Some(idx),
        });
    }
    routes
}

/// Inside the container: up, addresses, lo up, routes. Records the link's index.
fn configure_container(cx: &mut Ctx<'_>, spec: &Spec) -> Result<(), Error> {
    use netlink_packet_route::RouteNetlinkMessage as M;
    let what = cx.what.clone();
    let name = spec.name.clone();
    let l = ops::need_link(cx.ctn()?, &name, &what)?;
    let idx = l.ifindex;
    cx.rec().ctn_index = Some(idx);
    let step = cx.step(format!("bring '{name}' up"));
    ops::set_link(
        cx.ctn()?,
        &SetLink {
            index: idx,
            up: Some(true),
            ..SetLink::default()
        },
        format_args!("{name:?} up"),
    )
    .map_err(step)?;
    let veth = matches!(spec.ty, Type::Veth | Type::Routed);
    for a in &spec.addrs {
        let step = cx.step(format!("add {a} to '{name}'"));
        cx.ctn()?
            .request(
                M::NewAddress(msg::addr(idx, a, veth && !spec.dad)),
                crate::nl::CREATE_EXCL,
                format_args!("{a} dev {name:?}"),
            )
            .map_err(step)?;
    }
    let lo_was_down = cx.rec().lo_was_down;
    lo_up(cx, lo_was_down)?;
    for r in &container_routes(spec, idx) {
        let shown = match (r.dest, r.via) {
            (Some(d), _) => format!("{d} dev '{name}'"),
            (None, Some(g)) => format!("default via {g}"),
            (None, None) => format!("default dev '{name}'"),
        };
        let step = cx.step(format!("add route {shown}"));
        cx.ctn()?
            .request(
                M::NewRoute(msg::route(r)),
                crate::nl::CREATE_EXCL,
                format_args!("{shown}"),
            )
            .map_err(step)?;
    }
    Ok(())
}

/// An error of a run, with the run's context once: the errors of its steps carry it
/// already (`connect c1: add 10.0.3.2/24 to 'eth0': …`), a stopping signal does not.
fn in_context(e: Error, what: &str) -> Error {
    match e {
        Error::Interrupted { .. } => e.context(what),
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn host_names_are_stable_and_fit() {
        let s = Spec::new("c1", Type::Veth);
        let a = s.host_end(4026532000);
        assert_eq!(a, s.host_end(4026532000));
        assert_ne!(a, s.host_end(4026532001));
        assert_eq!(a.len(), 12);
        assert!(parse::ifname(&a).is_ok());
        let mut s2 = s.clone();
        s2.name = "eth1".into();
        assert_ne!(a, s2.host_end(4026532000));
        s2.host_name = Some("h1".into());
        assert_eq!(s2.host_end(1), "h1");
        assert!(phys::temp_name().starts_with("nlt"));
        assert_eq!(phys::temp_name().len(), 11);
    }

    #[test]
    fn options_must_fit_the_type() {
        let msg = |s: &Spec| s.check().unwrap_err().to_string();
        assert_eq!(
            msg(&Spec::new("c", Type::Phys)),
            "connect: --type phys needs --link DEV"
        );
        let mut v = Spec::new("c", Type::Vlan);
        v.link = Some("eth0".into());
        assert_eq!(msg(&v), "connect: --type vlan needs --vlan-id N");
        v.vlan_id = Some(10);
        assert!(v.check().is_ok());
        let mut r = Spec::new("c", Type::Routed);
        assert_eq!(msg(&r), "connect: --type routed needs at least one --addr");
        r.addrs.push(parse::cidr("fd00::2/128").unwrap());
        assert!(msg(&r).contains("IPv4 addresses only"));
        r.addrs = vec![parse::cidr("10.0.4.2/32").unwrap()];
        assert!(r.check().is_ok());
        r.link = Some("br0".into());
        assert!(msg(&r).contains("takes no --link"));
        let mut e = Spec::new("c", Type::Empty);
        assert!(e.check().is_ok());
        e.addrs.push(parse::cidr("10.0.0.2/24").unwrap());
        assert!(msg(&e).contains("takes no link options"));
        let mut g = Spec::new("c", Type::Veth);
        g.addrs.push(parse::cidr("10.0.0.2/24").unwrap());
        g.gw = Some("fd00::1".parse().unwrap());
        assert_eq!(msg(&g), "connect: --gw fd00::1 has no --addr of its family");
        g.gw = None;
        g.addrs.push(parse::cidr("10.0.0.2/24").unwrap());
        assert_eq!(msg(&g), "connect: --addr 10.0.0.2/24 given twice");
        let mut b = Spec::new("c", Type::Macvlan);
        b.link = Some("eth0".into());
        b.create_bridge = true;
        assert!(msg(&b).contains("--create-bridge"));
        assert_eq!(Type::parse("venet"), Some(Type::Routed));
        assert_eq!(Type::parse("ipvlan"), None);
    }

    mod with_a_fake_kernel {
        use super::super::*;
        use crate::fake::{Fake, Side};
        use crate::parse;

        fn store() -> (tempfile::TempDir, Store) {
            let d = tempfile::tempdir().unwrap();
            let s = Store::at(d.path());
            (d, s)
        }

        fn msg(e: &Error) -> String {
            common::exit::message(e)
        }

        /// Connect once to count the calls; then fail each call in turn, and then
        /// interrupt (a stopping signal) before each call in turn, and check that the
        /// rollback leaves both namespaces as they were and no record; then check that
        /// disconnect after a success leaves them as they were too (with `lo` up).
        fn sweep(setup: &dyn Fn() -> Fake, spec: &Spec) -> Fake {
            let (_d, st) = store();
            let mut ok = setup();
            let before = ok.state();
            connect_with(&mut ok, &st, spec).unwrap_or_else(|e| panic!("{}", msg(&e)));
            let n = ok.calls;
            assert!(n >= 2, "{n} calls");
            let recorded = st.names();
            assert_eq!(recorded.len(), usize::from(spec.ty != Type::Empty));
            for k in 1..=n {
                for interrupt in [false, true] {
                    let (_d2, st2) = store();
                    let mut f = setup();
                    if interrupt {
                        f.interrupt_at = Some(k);
                    } else {
                        f.fail_at = Some((k, Errno::EIO));
                    }
                    let e = connect_with(&mut f, &st2, spec).expect_err("an injected failure");
                    let m = msg(&e);
                    if interrupt {
                        assert_eq!(e.exit_code(), 130, "{m}");
                        assert!(m.ends_with("interrupted by SIGINT"), "{m}");
                    } else {
                        assert!(m.contains("I/O error"), "{m}");
                    }
                    assert!(!m.contains("rollback incomplete"), "{m}");
                    f.fail_at = None;
                    assert_eq!(
                        f.state(),
                        before,
                        "{} at call {k}/{n} ({m}); log: {:#?}",
                        if interrupt { "interrupt" } else { "failure" },
                        f.log
                    );
                    assert!(st2.names().is_empty(), "record left: {:?}", st2.names());
                }
            }
            let mut d = ok.clone();
            if spec.ty != Type::Empty {
                disconnect_with(&mut d, &st, &spec.ns, &spec.name)
                    .unwrap_or_else(|e| panic!("{}", msg(&e)));
            }
            assert!(st.names().is_empty());
            let mut expected = setup();
            expected
                .links
                .iter_mut()
                .filter(|l| l.side == Side::Ctn && l.name == "lo")
                .for_each(|l| l.up = true);
            assert_eq!(
                d.state(),
                expected.state(),
                "after disconnect; log: {:#?}",
                d.log
            );
            ok
        }

        /// Connect while the run is "killed" (SIGKILL: it stops dead, no rollback)
        /// before each call in turn; then connect must either work (nothing was made)
        /// or refuse naming the cleanup, after which disconnect must leave both
        /// namespaces as they were and connect must work.
        fn killed(setup: &dyn Fn() -> Fake, spec: &Spec) {
            let (_d, st) = store();
            let mut ok = setup();
            connect_with(&mut ok, &st, spec).unwrap();
            let n = ok.calls;
            for k in 1..=n {
                let (_d2, st2) = store();
                let before = setup().state();
                let mut f = setup();
                f.dead_from = Some(k);
                let _ = connect_with(&mut f, &st2, spec);
                f.dead_from = None;
                if let Err(e) = connect_with(&mut f, &st2, spec) {
                    let m = msg(&e);
                    assert!(
                        m.contains("was interrupted") && m.contains("disconnect ctn --name eth0"),
                        "killed before call {k}: {m}"
                    );
                    disconnect_with(&mut f, &st2, &spec.ns, &spec.name)
                        .unwrap_or_else(|e| panic!("killed before call {k}: {}", msg(&e)));
                    assert_eq!(
                        f.state(),
                        before,
                        "killed before call {k}: after the cleanup"
                    );
                    assert!(st2.names().is_empty());
                    connect_with(&mut f, &st2, spec)
                        .unwrap_or_else(|e| panic!("killed before call {k}: rerun: {}", msg(&e)));
                }
            }
        }

        fn spec(ty: Type) -> Spec {
            let mut s = Spec::new("ctn", ty);
            s.addrs = vec![parse::cidr("10.0.3.2/24").unwrap()];
            s
        }

        fn bridge_spec() -> Spec {
            let mut s = spec(Type::Veth);
            s.link = Some("br0".into());
            s.create_bridge = true;
            s.addrs.push(parse::cidr("fd03::2/64").unwrap());
            s.gw = Some("10.0.3.1".parse().unwrap());
            s.host_name = Some("hv0".into());
            s.host_addrs = vec![parse::cidr("10.0.3.254/24").unwrap()];
            s
        }

        #[test]
        fn veth_with_a_new_bridge() {
            let s = bridge_spec();
            let ok = sweep(&Fake::new, &s);
            let eth0 = ok.link(Side::Ctn, "eth0").unwrap();
            assert!(eth0.up);
            assert_eq!(eth0.alias, None, "nothing is kept in the container");
            let br = ok.link(Side::Host, "br0").unwrap().index;
            assert_eq!(ok.link(Side::Host, "hv0").unwrap().master, Some(br));
            let log: Vec<String> = ok
                .log
                .iter()
                .map(|l| {
                    // The bridge's temporary name is random.
                    let mut l = l.clone();
                    if let Some(i) = l.find("\"nlt") {
                        l.replace_range(i + 1..i + 12, "nltXXXXXXXX");
                    }
                    l
                })
                .collect();
            assert_eq!(
                log,
                [
                    "Host: RTM_NEWLINK(\"nltXXXXXXXX\" type bridge)",
                    "Host: RTM_SETLINK(\"nltXXXXXXXX\" name \"br0\" up)",
                    "Host: RTM_NEWLINK(\"hv0\" type veth peer \"eth0\" netns ctn)",
                    "Host: RTM_NEWADDR(10.0.3.254/24 dev \"hv0\")",
                    "Ctn: RTM_SETLINK(\"eth0\" up)",
                    "Ctn: RTM_NEWADDR(10.0.3.2/24 dev \"eth0\")",
                    "Ctn: RTM_NEWADDR(fd03::2/64 dev \"eth0\")",
                    "Ctn: RTM_SETLINK(lo up)",
                    "Ctn: RTM_NEWROUTE(default via 10.0.3.1)",
                ]
            );
        }

        #[test]
        fn a_killed_connect_is_cleaned_up_by_disconnect_and_then_works() {
            killed(&Fake::new, &bridge_spec());
            let mut r = spec(Type::Routed);
            r.addrs = vec![parse::cidr("10.0.4.2/32").unwrap()];
            killed(&Fake::new, &r);
            let setup = || {
                let mut f = Fake::new();
                f.add(Side::Host, "up0", Some("veth"), true, 1500);
                f
            };
            let mut m = spec(Type::Macvlan);
            m.link = Some("up0".into());
            killed(&setup, &m);
            let mut p = spec(Type::Phys);
            p.link = Some("up0".into());
            p.gw = Some("10.0.3.1".parse().unwrap());
            killed(&setup, &p);
        }

        #[test]
        fn veth_joins_an_existing_bridge_with_its_mtu() {
            let setup = || {
                let mut f = Fake::new();
                f.add(Side::Host, "br0", Some("bridge"), true, 1400);
                f
            };
            let mut s = spec(Type::Veth);
            s.link = Some("br0".into());
            let ok = sweep(&setup, &s);
            let host_end = s.host_end(4_026_532_999);
            assert_eq!(ok.link(Side::Host, &host_end).unwrap().mtu, 1400);
            assert_eq!(ok.link(Side::Ctn, "eth0").unwrap().mtu, 1400);
            // The bridge was not connect's: disconnect leaves it (checked by sweep).
        }

        #[test]
        fn routed() {
            let mut s = spec(Type::Routed);
            s.addrs = vec![parse::cidr("10.0.4.2/32").unwrap()];
            s.host_name = Some("venet0h".into());
            let ok = sweep(&Fake::new, &s);
            assert_eq!(ok.sysctls, ["net/ipv4/conf/venet0h/proxy_arp=1"]);
            assert!(
                ok.routes
                    .iter()
                    .any(|(side, r, _)| *side == Side::Host && r.starts_with("10.0.4.2/32 dev"))
            );
            assert!(
                ok.routes
                    .iter()
                    .any(|(side, r, _)| *side == Side::Ctn && r == "default dev 'eth0'")
            );
        }

        #[test]
        fn macvlan() {
            let setup = || {
                let mut f = Fake::new();
                f.add(Side::Host, "up0", Some("veth"), true, 1500);
                f
            };
            let mut s = spec(Type::Macvlan);
            s.link = Some("up0".into());
            s.hwaddr = Some(parse::mac("02:00:00:00:06:02").unwrap());
            let ok = sweep(&setup, &s);
            assert_eq!(
                ok.link(Side::Ctn, "eth0").unwrap().kind.as_deref(),
                Some("macvlan")
            );
        }

        #[test]
        fn phys_goes_and_comes_back() {
            let setup = || {
                let mut f = Fake::new();
                f.add(Side::Host, "nic0", Some("veth"), true, 1450);
                f
            };
            let mut s = spec(Type::Phys);
            s.link = Some("nic0".into());
            s.mtu = Some(1400);
            s.hwaddr = Some(parse::mac("02:00:00:00:07:02").unwrap());
            let ok = sweep(&setup, &s);
            assert!(ok.link(Side::Host, "nic0").is_none());
            let eth0 = ok.link(Side::Ctn, "eth0").unwrap();
            assert_eq!(
                (eth0.mtu, eth0.mac.as_slice()),
                (1400, &[2, 0, 0, 0, 7, 2][..])
            );
        }

        #[test]
        fn phys_gives_the_nic_its_own_alias_and_bridge_back() {
            let setup = || {
                let mut f = Fake::new();
                let br = f.add(Side::Host, "br0", Some("bridge"), true, 1500);
                let i = f.add(Side::Host, "nic0", Some("veth"), false, 1500);
                let l = f.links.iter_mut().find(|l| l.index == i).unwrap();
                l.alias = Some("uplink to the lab, ".repeat(20));
                l.master = Some(br);
                f
            };
            let mut s = spec(Type::Phys);
            s.link = Some("nic0".into());
            s.gw = Some("10.0.3.1".parse().unwrap());
            // Every rollback and the disconnect compare the whole state, alias and
            // master included; the container may rewrite the alias meanwhile.
            let (_d, st) = store();
            let mut f = setup();
            let before = f.state();
            connect_with(&mut f, &st, &s).unwrap();
            f.links
                .iter_mut()
                .find(|l| l.side == Side::Ctn && l.name == "eth0")
                .unwrap()
                .alias = Some("netlink-tool:v1 type=phys orig-master=br9".into());
            disconnect_with(&mut f, &st, "ctn", "eth0").unwrap();
            let mut expected = before.clone();
            expected = expected.replace("Ctn lo None up=false", "Ctn lo None up=true");
            assert_eq!(f.state(), expected);
            sweep(&setup, &s);
        }

        #[test]
        fn empty() {
            sweep(&Fake::new, &Spec::new("ctn", Type::Empty));
        }

        #[test]
        fn vlan_without_kernel_support_is_one_clear_line() {
            let (_d, st) = store();
            let mut f = Fake::new();
            f.add(Side::Host, "up0", Some("veth"), true, 1500);
            let before = f.state();
            let mut s = spec(Type::Vlan);
            s.link = Some("up0".into());
            s.vlan_id = Some(10);
            let e = connect_with(&mut f, &st, &s).unwrap_err();
            assert_eq!(
                msg(&e),
                "connect ctn: create vlan 'eth0' on 'up0': Unknown device type (kernel lacks vlan support: CONFIG_VLAN_8021Q)"
            );
            assert_eq!(f.state(), before);
            assert!(st.names().is_empty());
        }

        #[test]
        fn already_connected_and_not_ours() {
            let (_d, st) = store();
            let mut f = Fake::new();
            let s = spec(Type::Veth);
            connect_with(&mut f, &st, &s).unwrap();
            let after = f.state();
            let e = connect_with(&mut f, &st, &s).unwrap_err();
            assert_eq!(
                msg(&e),
                "connect ctn: 'eth0' is already connected (disconnect it first)"
            );
            assert_eq!(f.state(), after);
            // phys too, though the NIC has left the host by then.
            let (_d, st) = store();
            let mut f = Fake::new();
            f.add(Side::Host, "nic0", Some("veth"), true, 1500);
            let mut p = spec(Type::Phys);
            p.link = Some("nic0".into());
            connect_with(&mut f, &st, &p).unwrap();
            let after = f.state();
            let e = connect_with(&mut f, &st, &p).unwrap_err();
            assert_eq!(
                msg(&e),
                "connect ctn: 'eth0' is already connected (disconnect it first)"
            );
            assert_eq!(f.state(), after);
            // A link the container made, whatever its alias says, is not a connection.
            let (_d, st) = store();
            let mut g = Fake::new();
            g.add(Side::Ctn, "eth0", Some("bridge"), false, 1500);
            let e = disconnect_with(&mut g, &st, "ctn", "eth0").unwrap_err();
            assert!(msg(&e).contains("was not made by netlink-tool connect"));
            g.links.last_mut().unwrap().alias =
                Some("netlink-tool:v1 type=veth host=x created-bridge=mgmt0".into());
            let e = disconnect_with(&mut g, &st, "ctn", "eth0").unwrap_err();
            assert_eq!(
                msg(&e),
                "disconnect ctn: 'eth0' carries a record of netlink-tool 0.1 in its alias, \
                 which the container can rewrite and is not trusted; undo that connection by hand"
            );
        }

        #[test]
        fn a_record_of_a_dead_namespace_is_stale() {
            // The namespace died without disconnect (its veth with it); a new one got
            // its inode: the old record is dropped, the new connect works.
            let (_d, st) = store();
            let mut f = Fake::new();
            let s = spec(Type::Veth);
            connect_with(&mut f, &st, &s).unwrap();
            let mut g = Fake::new();
            g.ctn_cookie = 99;
            connect_with(&mut g, &st, &s).unwrap();
            disconnect_with(&mut g, &st, "ctn", "eth0").unwrap();
            assert!(st.names().is_empty());
            // disconnect on a stale record drops it and says there is no connection.
            let mut f = Fake::new();
            connect_with(&mut f, &st, &s).unwrap();
            let mut g = Fake::new();
            g.ctn_cookie = 99;
            let e = disconnect_with(&mut g, &st, "ctn", "eth0").unwrap_err();
            assert_eq!(
                msg(&e),
                "disconnect ctn: no link 'eth0' in the container: not connected"
            );
            assert!(st.names().is_empty());
        }

        #[test]
        fn the_container_cannot_make_disconnect_touch_the_host() {
            // A real connection, then the container's root renames its end, makes a
            // veth of its own under the connection's name and rewrites aliases.
            let setup = || {
                let mut f = Fake::new();
                f.add(Side::Host, "mgmt0", Some("bridge"), true, 1500);
                f.add(Side::Host, "nic0", Some("veth"), true, 1500);
                f
            };
            for ty in [Type::Veth, Type::Phys, Type::Macvlan] {
                let (_d, st) = store();
                let mut f = setup();
                let mut s = spec(ty);
                if ty != Type::Veth {
                    s.link = Some("nic0".into());
                }
                connect_with(&mut f, &st, &s).unwrap();
                let host_before: Vec<_> = f
                    .links
                    .iter()
                    .filter(|l| l.side == Side::Host)
                    .cloned()
                    .collect();
                let real = f
                    .links
                    .iter_mut()
                    .find(|l| l.side == Side::Ctn && l.name == "eth0")
                    .unwrap();
                let real_index = real.index;
                real.name = "eth9".into();
                let fake = f.add(Side::Ctn, "eth0", Some("veth"), true, 1500);
                let peer = f.add(Side::Ctn, "x0", Some("veth"), true, 1500);
                for l in f.links.iter_mut().filter(|l| l.side == Side::Ctn) {
                    l.alias =
                        Some("netlink-tool:v1 type=phys orig-name=evil orig-master=mgmt0".into());
                    if l.index == fake {
                        l.peer = Some(peer);
                    }
                }
                let r = disconnect_with(&mut f, &st, "ctn", "eth0");
                let host_after: Vec<_> = f
                    .links
                    .iter()
                    .filter(|l| l.side == Side::Host)
                    .cloned()
                    .collect();
                assert!(
                    f.link(Side::Ctn, "eth0").is_some(),
                    "{ty:?}: the fake stays"
                );
                assert!(
                    host_after.iter().all(|l| l.name != "evil"),
                    "{ty:?}: nothing came to the host"
                );
                match ty {
                    // The real connection is undone (by its host end / by its index).
                    Type::Veth | Type::Macvlan => {
                        r.unwrap();
                        assert!(f.links.iter().all(|l| l.index != real_index));
                    }
                    // The NIC (renamed eth9, same index) comes home.
                    _ => {
                        r.unwrap();
                        assert!(f.link(Side::Host, "nic0").is_some());
                        assert_eq!(host_after.len(), host_before.len() + 1);
                    }
                }
                if ty == Type::Veth {
                    assert_eq!(
                        host_after.len() + 1,
                        host_before.len(),
                        "only the host end went"
                    );
                }
            }
        }

        #[test]
        fn readdr_adds_and_removes_and_disconnect_undoes_all() {
            for ty in [Type::Veth, Type::Routed, Type::Macvlan] {
                let setup = || {
                    let mut f = Fake::new();
                    f.add(Side::Host, "up0", Some("veth"), true, 1500);
                    f
                };
                let (_d, st) = store();
                let mut f = setup();
                let before = f.state();
                let mut s = spec(ty);
                if ty == Type::Routed {
                    s.addrs = vec![parse::cidr("10.0.4.2/32").unwrap()];
                }
                if ty == Type::Macvlan {
                    s.link = Some("up0".into());
                }
                connect_with(&mut f, &st, &s).unwrap();
                let connected = f.state();
                let r = Readdr {
                    ns: "ctn".into(),
                    name: "eth0".into(),
                    add: vec![parse::cidr("10.0.4.3/32").unwrap()],
                    del: vec![s.addrs[0]],
                };
                // Each failure and each interruption rolls back to the connected state.
                let calls = {
                    let mut g = f.clone();
                    let before = g.calls;
                    readdr_with(&mut g, &st.clone(), &r).unwrap();
                    // Undo for the next runs: a fresh copy of the connected state.
                    g.calls - before
                };
                // Reset the record (the probe run above wrote the new one).
                let (_d3, st3) = store();
                let mut f3 = setup();
                connect_with(&mut f3, &st3, &s).unwrap();
                for k in 1..=calls {
                    for interrupt in [false, true] {
                        let mut g = f3.clone();
                        let base = g.calls;
                        if interrupt {
                            g.interrupt_at = Some(base + k);
                        } else {
                            g.fail_at = Some((base + k, Errno::EIO));
                        }
                        let rec_before = std::fs::read_to_string(st3.path(&Key {
                            dev: 4,
                            ino: 4_026_532_999,
                            name: "eth0".into(),
                        }))
                        .unwrap();
                        assert!(readdr_with(&mut g, &st3, &r).is_err());
                        g.fail_at = None;
                        g.interrupt_at = None;
                        assert_eq!(g.state(), connected, "{ty:?} call {k}");
                        let rec_after = std::fs::read_to_string(st3.path(&Key {
                            dev: 4,
                            ino: 4_026_532_999,
                            name: "eth0".into(),
                        }))
                        .unwrap();
                        assert_eq!(rec_before, rec_after);
                    }
                }
                let mut f = f3;
                readdr_with(&mut f, &st3, &r).unwrap();
                let shown = f.state();
                assert!(shown.contains("10.0.4.3/32"), "{shown}");
                assert!(
                    !shown.contains(&format!("\"eth0 {}\"", s.addrs[0])),
                    "{shown}"
                );
                if ty == Type::Routed {
                    assert!(
                        f.routes
                            .iter()
                            .any(|(side, r, _)| *side == Side::Host
                                && r.starts_with("10.0.4.3/32"))
                    );
                    assert!(
                        !f.routes
                            .iter()
                            .any(|(side, r, _)| *side == Side::Host
                                && r.starts_with("10.0.4.2/32"))
                    );
                }
                // Idempotent: again changes nothing.
                let once = f.state();
                readdr_with(&mut f, &st3, &r).unwrap();
                assert_eq!(f.state(), once);
                let text = std::fs::read_to_string(st3.path(&Key {
                    dev: 4,
                    ino: 4_026_532_999,
                    name: "eth0".into(),
                }))
                .unwrap();
                assert!(text.contains("addr 10.0.4.3/32\n"), "{text}");
                disconnect_with(&mut f, &st3, "ctn", "eth0").unwrap();
                let expected = before.replace("Ctn lo None up=false", "Ctn lo None up=true");
                assert_eq!(f.state(), expected, "{ty:?}");
            }
        }
    }
}
