//! netlink-tool's iproute2 words, side by side with iproute2's own `ip` on the same
//! links, in throwaway namespaces: the text scripts parse (and count lines of) must be
//! the same.

use integration::netns::Netns;
use integration::{Output, bin, cmd, require_root, run};
use serde_json::Value;

fn state_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("netlink-tool-state")
}

fn nt(ns: &Netns, args: &[&str]) -> Output {
    run(cmd(bin("netlink-tool"))
        .env("NETLINK_TOOL_STATE_DIR", state_dir())
        .args(["-n", &ns.name])
        .args(args))
}

fn ip(ns: &Netns, args: &[&str]) -> Output {
    run(cmd("ip").args(["-n", &ns.name]).args(args))
}

/// Both tools print the same for `args`.
#[track_caller]
fn same(ns: &Netns, args: &[&str]) {
    let (a, b) = (ip(ns, args), nt(ns, args));
    a.ok();
    b.ok();
    assert_eq!(b.stdout, a.stdout, "netlink-tool {args:?} vs ip {args:?}");
}

/// Both tools print the same counters for `args`: ours is read between two reads of ip's
/// that agree (a link still sees traffic of its own now and then: IPv6 multicast
/// listener reports, router solicitations), retried until such a quiet moment comes.
#[track_caller]
fn same_counters(ns: &Netns, args: &[&str]) {
    let mut last = None;
    for _ in 0..50 {
        let before = ip(ns, args);
        let ours = nt(ns, args);
        let after = ip(ns, args);
        before.ok();
        ours.ok();
        if before.stdout == after.stdout {
            assert_eq!(
                ours.stdout, before.stdout,
                "netlink-tool {args:?} vs ip {args:?}"
            );
            return;
        }
        last = Some((before, after));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the counters of {args:?} never held still: {last:?}");
}

/// A namespace with lo up, a bridge with a port whose peer is in another namespace, a
/// veth pair inside, a macvlan, addresses, routes and some traffic.
fn lab() -> (Netns, Netns) {
    let h = Netns::new("nih");
    let c = Netns::new("nic");
    for a in [
        vec!["link", "set", "lo", "up"],
        vec!["link", "add", "br0", "type", "bridge"],
        vec![
            "link", "add", "v0", "type", "veth", "peer", "v1", "netns", &c.name,
        ],
        vec!["link", "set", "v0", "master", "br0", "up"],
        vec!["link", "set", "br0", "up"],
        vec!["link", "set", "v0", "alias", "to the container"],
        vec!["link", "add", "vx", "type", "veth", "peer", "vy"],
        vec!["link", "set", "vx", "up"],
        vec![
            "link", "add", "m0", "link", "vx", "type", "macvlan", "mode", "bridge",
        ],
        vec!["addr", "add", "10.9.0.1/24", "dev", "br0"],
        vec!["addr", "add", "fd09::1/64", "dev", "br0", "nodad"],
    ] {
        ip(&h, &a).ok();
    }
    ip(&c, &["link", "set", "v1", "up"]).ok();
    ip(&c, &["addr", "add", "10.9.0.2/24", "dev", "v1"]).ok();
    assert!(c.ping("10.9.0.1"), "some traffic for the counters");
    (h, c)
}

#[test]
fn link_show_is_ips_layout() {
    if !require_root("netlink-tool link show vs ip") {
        return;
    }
    let (h, c) = lab();
    same(&h, &["link", "show"]);
    same(&h, &["link", "show", "v0"]);
    same(&h, &["link", "show", "dev", "m0"]);
    same(&c, &["link", "show"]);
    // Two lines per link (three with an alias): what scripts count.
    let out = nt(&h, &["link", "show"]);
    assert_eq!(out.stdout.lines().count(), 2 * 6 + 1, "{out}");
    // -s: the counters, in ip's table.
    same_counters(&h, &["-s", "link", "show", "v0"]);
    same_counters(&c, &["-s", "link", "show"]);
    // -d: the first line, the link line with promiscuity and MTU limits, the kind.
    for name in ["v0", "m0", "vx", "lo"] {
        let (a, b) = (
            ip(&h, &["-d", "link", "show", name]),
            nt(&h, &["-d", "link", "show", name]),
        );
        let (a, b): (Vec<&str>, Vec<&str>) =
            (a.stdout.lines().collect(), b.stdout.lines().collect());
        assert_eq!(b[..2], a[..2], "{name}");
        if name != "lo" {
            let kind = a[2].split_whitespace().next().unwrap();
            assert_eq!(b[2].split_whitespace().next(), Some(kind), "{name}");
        }
        if name == "m0" || name == "vx" {
            assert_eq!(b, a, "{name}: everything ip -d prints for this kind");
        }
    }
}

#[test]
fn link_json_carries_the_counters() {
    if !require_root("netlink-tool link show --json stats64") {
        return;
    }
    let (_h, c) = lab();
    let theirs = || -> Value {
        serde_json::from_str(&ip(&c, &["-j", "-s", "link", "show", "v1"]).stdout).unwrap()
    };
    // The link still sees traffic of its own (IPv6 router solicitations, DAD) while the
    // two tools read it: ours is read between two reads of ip's.
    let before = theirs();
    let ours: Value =
        serde_json::from_str(nt(&c, &["link", "show", "v1", "--json"]).stdout.trim()).unwrap();
    let after = theirs();
    for dir in ["rx", "tx"] {
        for k in ["bytes", "packets"] {
            let n = ours["stats64"][dir][k].as_u64().unwrap();
            assert!(n > 0, "{dir} {k}: {ours}");
            let low = before[0]["stats64"][dir][k].as_u64().unwrap();
            let high = after[0]["stats64"][dir][k].as_u64().unwrap();
            assert!(
                (low..=high).contains(&n),
                "{dir} {k}: ours {n}, ip's {low} before and {high} after"
            );
        }
    }
}

#[test]
fn route_show_and_flush_are_ips() {
    if !require_root("netlink-tool route show vs ip") {
        return;
    }
    let (h, _c) = lab();
    // A route added by netlink-tool gets ip's default protocol: boot (shown as nothing).
    nt(&h, &["route", "add", "default", "via", "10.9.0.254"]).ok();
    nt(&h, &["route", "add", "10.8.0.0/16", "via", "10.9.0.3"]).ok();
    ip(
        &h,
        &[
            "route",
            "add",
            "10.7.0.0/16",
            "dev",
            "br0",
            "proto",
            "static",
        ],
    )
    .ok();
    let ours = nt(&h, &["route", "show", "10.8.0.0/16", "--json"]);
    assert!(ours.stdout.contains("\"protocol\":\"boot\""), "{ours}");
    for args in [
        &["route", "show"][..],
        &["route", "show", "default"],
        &["route", "show", "10.7.0.0/16"],
        &["route", "show", "dev", "br0"],
        &["-4", "route", "show"],
        &["-6", "route", "show"],
        &["-6", "route", "show", "dev", "br0"],
    ] {
        same(&h, args);
    }
    // flush takes the family filter too.
    nt(&h, &["-6", "addr", "flush", "dev", "br0"]).ok();
    let addrs = ip(&h, &["-j", "addr", "show", "dev", "br0"]).stdout;
    assert!(
        addrs.contains("10.9.0.1") && !addrs.contains("fd09::1"),
        "{addrs}"
    );
    nt(&h, &["route", "flush", "dev", "br0"]).ok();
    assert_eq!(ip(&h, &["route", "show", "dev", "br0"]).stdout, "");
}
