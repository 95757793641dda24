//! `connect` and `disconnect`: one call gives a container (a network namespace) its
//! link, as LXC's `lxc.net.type` does, and takes it away again.
//!
//! | type | what connect makes |
//! | --- | --- |
//! | empty | only `lo`, up |
//! | veth | a pair: host end (into the `--link` bridge, up), container end moved, renamed, addressed, up; default route via `--gw` |
//! | routed | OpenVZ's venet: a veth without a bridge, a host route to each container address, proxy ARP on the host end, default route in the container through its link |
//! | macvlan | a macvlan on `--link`, created straight inside the container |
//! | vlan | an 802.1Q link on `--link`, created straight inside the container |
//! | phys | the host NIC `--link` moved in through a temporary name, original name and MTU recorded |
//!
//! What connect made is recorded in the container link's alias (`ifalias`, which moves
//! with the link), so that `disconnect` undoes exactly that and nothing else. A failure
//! midway undoes what this call made, in reverse order (no leaked veth, no half-moved
//! NIC, no orphan route).

mod ctx;
mod disconnect;
mod phys;
mod record;
mod sides;
mod spec;
mod stacked;
mod veth;

use netlink_packet_route::RouteNetlinkMessage as M;
use nix::errno::Errno;

use crate::error::{Error, KernelError};
use crate::msg::{self, SetLink};
use crate::nl::CREATE_EXCL;
use crate::ns::{Net, NetNs};
use crate::ops;
use crate::parse::Cidr;

use ctx::{Ctx, Undo};
pub use disconnect::{disconnect, disconnect_with};
use phys::connect_phys;
pub use record::Record;
pub use sides::{Real, Sides};
pub use spec::{Spec, Type};
use stacked::connect_stacked;
use veth::connect_veth;

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
    connect_with(&mut Real { net, ctn }, spec)
}

/// `connect` over any [`Sides`].
pub fn connect_with(sides: &mut dyn Sides, spec: &Spec) -> Result<(), Error> {
    let what = format!("connect {}", spec.ns);
    let mut cx = Ctx {
        sides,
        what,
        undo: Vec::new(),
    };
    let r = match spec.ty {
        Type::Empty => lo_up(&mut cx),
        Type::Veth | Type::Routed => connect_veth(&mut cx, spec),
        Type::Macvlan | Type::Vlan => connect_stacked(&mut cx, spec),
        Type::Phys => connect_phys(&mut cx, spec),
    };
    if let Err(e) = r {
        let problems = cx.rollback();
        if problems.is_empty() {
            return Err(e);
        }
        return Err(e.context(format!(
            "rollback incomplete ({}); first failure",
            problems.join("; ")
        )));
    }
    Ok(())
}

/// An EEXIST at creation, explained: which name exists, and whether it is a connection
/// of ours ("already connected").
fn explain_exists(cx: &mut Ctx<'_>, spec: &Spec, host_end: Option<&str>) -> Error {
    let what = cx.what.clone();
    if let Ok(s) = cx.ctn()
        && let Ok(Some(l)) = ops::find_link(s, &spec.name)
    {
        if l.alias.as_deref().and_then(Record::parse).is_some() {
            return Error::Refused(format!(
                "{what}: '{}' is already connected (disconnect it first)",
                spec.name
            ));
        }
        return Error::Refused(format!(
            "{what}: a link '{}' already exists in the container",
            spec.name
        ));
    }
    if let Some(h) = host_end
        && let Ok(s) = cx.host()
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

/// Bring the container's `lo` up; when it was down, a rollback brings it down again.
fn lo_up(cx: &mut Ctx<'_>) -> Result<(), Error> {
    let step = cx.step("look up lo");
    let s = cx.ctn()?;
    let lo = ops::find_link(s, "lo").map_err(step)?;
    if lo.as_ref().is_some_and(msg::Link::is_up) {
        return Ok(());
    }
    let step = cx.step("bring lo up");
    ops::lo_up(cx.ctn()?).map_err(step)?;
    cx.undo.push(Undo::LoDown);
    Ok(())
}

/// Inside the container: record, addresses, up, lo up, routes.
fn configure_container(cx: &mut Ctx<'_>, spec: &Spec, record: &Record) -> Result<(), Error> {
    let what = cx.what.clone();
    let name = spec.name.clone();
    let l = ops::need_link(cx.ctn()?, &name, &what)?;
    let idx = l.ifindex;
    let step = cx.step(format!("record the connection on '{name}'"));
    ops::set_link(
        cx.ctn()?,
        &SetLink {
            index: idx,
            alias: Some(record.to_alias()),
            up: Some(true),
            ..SetLink::default()
        },
        format_args!("{name:?} alias {:?} up", record.to_alias()),
    )
    .map_err(step)?;
    let veth = matches!(spec.ty, Type::Veth | Type::Routed);
    for a in &spec.addrs {
        let step = cx.step(format!("add {a} to '{name}'"));
        cx.ctn()?
            .request(
                M::NewAddress(msg::addr(idx, a, veth && !spec.dad)),
                CREATE_EXCL,
                format_args!("{a} dev {name:?}"),
            )
            .map_err(step)?;
    }
    lo_up(cx)?;
    let mut routes = Vec::new();
    if spec.ty == Type::Routed {
        match spec.gw {
            Some(gw) => {
                // The gateway is on the link (the host end answers for it), then the
                // default route through it.
                routes.push(msg::Route {
                    dest: Some(Cidr {
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
    for r in &routes {
        let shown = match (r.dest, r.via) {
            (Some(d), _) => format!("{d} dev '{name}'"),
            (None, Some(g)) => format!("default via {g}"),
            (None, None) => format!("default dev '{name}'"),
        };
        let step = cx.step(format!("add route {shown}"));
        cx.ctn()?
            .request(
                M::NewRoute(msg::route(r)),
                CREATE_EXCL,
                format_args!("{shown}"),
            )
            .map_err(step)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn records_round_trip() {
        let r = Record {
            ty: "veth".into(),
            host: Some("veth1a2b3c4d".into()),
            created_bridge: Some("br0".into()),
            ..Record::default()
        };
        assert_eq!(
            r.to_alias(),
            "netlink-tool:v1 type=veth host=veth1a2b3c4d created-bridge=br0"
        );
        assert_eq!(Record::parse(&r.to_alias()), Some(r));
        let p = Record {
            ty: "phys".into(),
            orig_name: Some("enp3s0".into()),
            orig_mtu: Some(1500),
            orig_mac: Some("02:00:00:00:00:01".into()),
            orig_up: true,
            ..Record::default()
        };
        assert_eq!(Record::parse(&p.to_alias()), Some(p.clone()));
        // The NIC's own alias, any text, as one word.
        let a = Record {
            orig_alias: Some("uplink = 50% of the lab, é\ttab".into()),
            orig_master: Some("br0".into()),
            ..p
        };
        assert!(a.to_alias().ends_with(
            " orig-master=br0 orig-alias=uplink%20%3D%2050%25%20of%20the%20lab,%20%C3%A9%09tab"
        ));
        assert_eq!(Record::parse(&a.to_alias()), Some(a));
        assert_eq!(
            Record::parse("netlink-tool:v1 type=phys orig-alias=%4"),
            None
        );
        assert_eq!(Record::parse("uplink to the lab"), None);
        assert_eq!(Record::parse("netlink-tool:v1 orig-mtu=x type=phys"), None);
        assert_eq!(Record::parse("netlink-tool:v1"), None);
    }

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

        /// Connect once to count the calls; then fail each call in turn and check that
        /// the rollback leaves both namespaces as they were; then check that disconnect
        /// after a success leaves them as they were too (with `lo` up).
        fn sweep(setup: &dyn Fn() -> Fake, spec: &Spec) -> Fake {
            let mut ok = setup();
            let before = ok.state();
            connect_with(&mut ok, spec).unwrap_or_else(|e| panic!("{}", common::exit::message(&e)));
            let n = ok.calls;
            assert!(n >= 2, "{n} calls");
            for k in 1..=n {
                let mut f = setup();
                f.fail_at = Some((k, Errno::EIO));
                let e = connect_with(&mut f, spec).expect_err("an injected failure");
                let msg = common::exit::message(&e);
                assert!(msg.contains("I/O error"), "{msg}");
                assert!(!msg.contains("rollback incomplete"), "{msg}");
                f.fail_at = None;
                assert_eq!(
                    f.state(),
                    before,
                    "failure at call {k}/{n} ({msg}); log: {:#?}",
                    f.log
                );
            }
            let mut d = ok.clone();
            if spec.ty != Type::Empty {
                disconnect_with(&mut d, &spec.ns, &spec.name)
                    .unwrap_or_else(|e| panic!("{}", common::exit::message(&e)));
            }
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

        fn spec(ty: Type) -> Spec {
            let mut s = Spec::new("ctn", ty);
            s.addrs = vec![parse::cidr("10.0.3.2/24").unwrap()];
            s
        }

        #[test]
        fn veth_with_a_new_bridge() {
            let mut s = spec(Type::Veth);
            s.link = Some("br0".into());
            s.create_bridge = true;
            s.addrs.push(parse::cidr("fd03::2/64").unwrap());
            s.gw = Some("10.0.3.1".parse().unwrap());
            s.host_name = Some("hv0".into());
            s.host_addrs = vec![parse::cidr("10.0.3.254/24").unwrap()];
            let ok = sweep(&Fake::new, &s);
            let eth0 = ok.link(Side::Ctn, "eth0").unwrap();
            assert!(eth0.up);
            assert_eq!(
                eth0.alias.as_deref(),
                Some("netlink-tool:v1 type=veth host=hv0 created-bridge=br0")
            );
            let br = ok.link(Side::Host, "br0").unwrap().index;
            assert_eq!(ok.link(Side::Host, "hv0").unwrap().master, Some(br));
            assert_eq!(
                ok.log,
                [
                    "Host: RTM_NEWLINK(\"br0\" type bridge up)",
                    "Host: RTM_NEWLINK(\"hv0\" type veth peer \"eth0\" netns ctn)",
                    "Host: RTM_NEWADDR(10.0.3.254/24 dev \"hv0\")",
                    "Ctn: RTM_SETLINK(\"eth0\" alias \"netlink-tool:v1 type=veth host=hv0 created-bridge=br0\" up)",
                    "Ctn: RTM_NEWADDR(10.0.3.2/24 dev \"eth0\")",
                    "Ctn: RTM_NEWADDR(fd03::2/64 dev \"eth0\")",
                    "Ctn: RTM_SETLINK(lo up)",
                    "Ctn: RTM_NEWROUTE(default via 10.0.3.1)",
                ]
            );
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
                    .any(|(side, r, _)| *side == Side::Host && r == "10.0.4.2/32 dev \"venet0h\"")
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
            assert!(
                eth0.alias
                    .as_deref()
                    .unwrap()
                    .contains("orig-name=nic0 orig-mtu=1450")
            );
        }

        #[test]
        fn phys_gives_the_nic_its_own_alias_back() {
            let setup = || {
                let mut f = Fake::new();
                let i = f.add(Side::Host, "nic0", Some("veth"), false, 1500);
                f.links.iter_mut().find(|l| l.index == i).unwrap().alias =
                    Some("uplink to the lab".into());
                f
            };
            let mut s = spec(Type::Phys);
            s.link = Some("nic0".into());
            s.gw = Some("10.0.3.1".parse().unwrap());
            // Every rollback and the disconnect compare the whole state, alias included.
            let ok = sweep(&setup, &s);
            assert!(
                ok.link(Side::Ctn, "eth0")
                    .unwrap()
                    .alias
                    .as_deref()
                    .unwrap()
                    .ends_with(" orig-alias=uplink%20to%20the%20lab")
            );
            // An alias the record cannot hold: refused before the NIC moves.
            let mut f = setup();
            f.links.iter_mut().find(|l| l.name == "nic0").unwrap().alias = Some("x".repeat(200));
            let before = f.state();
            let e = connect_with(&mut f, &s).unwrap_err();
            assert!(
                common::exit::message(&e).contains("the alias of 'nic0' is too long"),
                "{}",
                common::exit::message(&e)
            );
            assert_eq!(f.state(), before);
        }

        #[test]
        fn phys_rejoins_its_bridge() {
            let setup = || {
                let mut f = Fake::new();
                let br = f.add(Side::Host, "br0", Some("bridge"), true, 1500);
                let i = f.add(Side::Host, "nic0", Some("veth"), true, 1500);
                f.links.iter_mut().find(|l| l.index == i).unwrap().master = Some(br);
                f
            };
            let mut s = spec(Type::Phys);
            s.link = Some("nic0".into());
            s.gw = Some("10.0.3.1".parse().unwrap());
            // Every rollback and the disconnect compare the whole state, master included.
            let ok = sweep(&setup, &s);
            assert!(
                ok.link(Side::Ctn, "eth0")
                    .unwrap()
                    .alias
                    .as_deref()
                    .unwrap()
                    .contains(" orig-master=br0")
            );
        }

        #[test]
        fn empty() {
            sweep(&Fake::new, &Spec::new("ctn", Type::Empty));
        }

        #[test]
        fn vlan_without_kernel_support_is_one_clear_line() {
            let mut f = Fake::new();
            f.add(Side::Host, "up0", Some("veth"), true, 1500);
            let before = f.state();
            let mut s = spec(Type::Vlan);
            s.link = Some("up0".into());
            s.vlan_id = Some(10);
            let e = connect_with(&mut f, &s).unwrap_err();
            assert_eq!(
                common::exit::message(&e),
                "connect ctn: create vlan 'eth0' on 'up0': Unknown device type (kernel lacks vlan support: CONFIG_VLAN_8021Q)"
            );
            assert_eq!(f.state(), before);
        }

        #[test]
        fn already_connected_and_not_ours() {
            let mut f = Fake::new();
            let s = spec(Type::Veth);
            connect_with(&mut f, &s).unwrap();
            let after = f.state();
            let e = connect_with(&mut f, &s).unwrap_err();
            assert_eq!(
                common::exit::message(&e),
                "connect ctn: 'eth0' is already connected (disconnect it first)"
            );
            assert_eq!(f.state(), after);
            // phys too, though the NIC has left the host by then.
            let mut f = Fake::new();
            f.add(Side::Host, "nic0", Some("veth"), true, 1500);
            let mut p = spec(Type::Phys);
            p.link = Some("nic0".into());
            connect_with(&mut f, &p).unwrap();
            let after = f.state();
            let e = connect_with(&mut f, &p).unwrap_err();
            assert_eq!(
                common::exit::message(&e),
                "connect ctn: 'eth0' is already connected (disconnect it first)"
            );
            assert_eq!(f.state(), after);
            let mut g = Fake::new();
            g.add(Side::Ctn, "eth0", Some("bridge"), false, 1500);
            let e = disconnect_with(&mut g, "ctn", "eth0").unwrap_err();
            assert!(common::exit::message(&e).contains("was not made by netlink-tool connect"));
        }
    }
}
