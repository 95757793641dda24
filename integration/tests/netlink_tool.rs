//! End-to-end tests of netlink-tool. Every root test makes its own network namespaces
//! (one plays the host, passed with `-n`; others the containers and an "outside" host),
//! with pid-based names and guards that delete them, panic or not. Nothing runs in the
//! machine's own network namespace; traffic stays inside the test's namespaces.

use integration::netns::{Listener, Netns, connect_tcp};
use integration::{Output, bin, cmd, require_root, run};
use serde_json::Value;

/// The state directory of the tests' runs (connection records): in the build tree, not
/// the machine's /run.
fn state_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("netlink-tool-state")
}

fn nt(args: &[&str]) -> Output {
    run(cmd(bin("netlink-tool"))
        .env("NETLINK_TOOL_STATE_DIR", state_dir())
        .args(args))
}

/// Run with `-n HOST`.
fn nth(host: &Netns, args: &[&str]) -> Output {
    let mut a = vec!["-n", host.name.as_str()];
    a.extend_from_slice(args);
    nt(&a)
}

fn json_lines(out: &Output) -> Vec<Value> {
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[track_caller]
fn fails(out: &Output, code: i32, stderr: &str) {
    assert_eq!(out.code, code, "{out}");
    assert_eq!(out.stderr, stderr, "{out}");
}

// ---------------------------------------------------------------- no root needed

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let try_help = "Try 'netlink-tool --help' for more information.\n";
    let cases: &[(&[&str], &str)] = &[
        (
            &["link", "add", "averyveryverylongname", "type", "bridge"],
            "invalid interface name 'averyveryverylongname': longer than 15 bytes",
        ),
        (
            &["link", "add", "a/b", "type", "bridge"],
            "invalid interface name 'a/b': contains '/'",
        ),
        (
            &["connect", "c1", "--type", "veth", "--name", "eth 0"],
            "invalid interface name 'eth 0': contains a space or a control character",
        ),
        (
            // A name template: the kernel would pick eth0, eth1… and connect could not
            // find (configure, roll back, disconnect) the link it made.
            &[
                "connect", "c1", "--type", "phys", "--link", "nic0", "--name", "e%d",
            ],
            "invalid interface name 'e%d': contains '%' (a name template: the kernel would choose the name)",
        ),
        (
            &["connect", "c1", "--type", "veth", "--addr", "10.0.3.2/33"],
            "invalid CIDR '10.0.3.2/33': prefix /33 is longer than 32 bits",
        ),
        (
            // ip refuses it too; taking 10.1.0.0/16 would change another route.
            &["route", "del", "10.1.2.3/16", "dev", "eth0"],
            "invalid destination '10.1.2.3/16': host bits set (the prefix is 10.1.0.0/16)",
        ),
        (
            &["addr", "add", "10.0.3/24", "dev", "eth0"],
            "invalid CIDR '10.0.3/24': '10.0.3' is not an IPv4 or IPv6 address",
        ),
        (
            &[
                "connect",
                "c1",
                "--type",
                "veth",
                "--hwaddr",
                "02:00:00:00:00",
            ],
            "invalid MAC address '02:00:00:00:00': expected six hex octets like 02:00:00:00:00:01",
        ),
        (
            &["link", "set", "eth0", "address", "01:00:5e:00:00:01"],
            "invalid MAC address '01:00:5e:00:00:01': a multicast address (lowest bit of the first octet set)",
        ),
        (
            &["connect", "c1", "--type", "ipvlan"],
            "connect: unknown --type 'ipvlan' (empty, veth, macvlan, vlan, phys, routed)",
        ),
        (
            &["connect", "c1", "--type", "phys"],
            "connect: --type phys needs --link DEV",
        ),
        (
            &[
                "nat", "forward", "--proto", "tcp", "--port", "80", "--to", "10.0.0.1",
            ],
            "invalid IP:PORT '10.0.0.1': expected an IPv4 address, ':' and a port",
        ),
    ];
    for (args, msg) in cases {
        let out = nt(args);
        fails(&out, 2, &format!("netlink-tool: {msg}\n{try_help}"));
        assert!(out.stdout.is_empty());
    }
    // An unknown namespace is refused before any request (exit 1: a lookup failed).
    let out = nt(&["connect", "nt-no-such-ns", "--type", "veth"]);
    fails(
        &out,
        1,
        "netlink-tool: network namespace 'nt-no-such-ns' does not exist (no /run/netns/nt-no-such-ns)\n",
    );
    let out = nt(&["-n", "/proc/self/ns/uts", "link", "show"]);
    fails(
        &out,
        1,
        "netlink-tool: network namespace '/proc/self/ns/uts' is not a network namespace (/proc/self/ns/uts)\n",
    );
}

#[test]
fn help_names_every_object() {
    let out = nt(&["--help"]);
    out.ok();
    for w in [
        "link",
        "addr",
        "route",
        "netns",
        "connect",
        "disconnect",
        "nat",
        "--batch",
    ] {
        assert!(out.stdout.contains(w), "{w} missing from --help");
    }
}

// ---------------------------------------------------------------- root tests

#[test]
fn netns_add_list_del() {
    if !require_root("netlink-tool netns") {
        return;
    }
    let name = integration::unique_name("ntn");
    let _guard = integration::Guard::new({
        let n = name.clone();
        move || {
            let _ = run(cmd("ip").args(["netns", "del", &n]));
        }
    });
    nt(&["netns", "add", &name]).ok();
    let listed = nt(&["netns", "list", "--json"]);
    listed.ok();
    assert!(
        json_lines(&listed)
            .iter()
            .any(|v| v["name"] == name.as_str())
    );
    // ip sees it and it is a working, separate network namespace.
    run(cmd("ip").args(["-n", &name, "link", "show", "lo"])).ok();
    fails(
        &nt(&["netns", "add", &name]),
        1,
        &format!("netlink-tool: netns add {name}: /run/netns/{name} already exists\n"),
    );
    nt(&["netns", "del", &name]).ok();
    assert!(!std::path::Path::new("/run/netns").join(&name).exists());
    fails(
        &nt(&["netns", "del", &name]),
        1,
        &format!(
            "netlink-tool: network namespace '{name}' does not exist (no /run/netns/{name})\n"
        ),
    );
}

#[test]
fn link_addr_route_objects_with_iproute2_words() {
    if !require_root("netlink-tool link/addr/route") {
        return;
    }
    let h = Netns::new("nth");
    let c = Netns::new("ntc");
    let before_h = h.snapshot();
    nth(
        &h,
        &[
            "link",
            "add",
            "v0",
            "mtu",
            "9000",
            "type",
            "veth",
            "peer",
            "v1",
            "peer-netns",
            &c.name,
        ],
    )
    .ok();
    // The MTU is set on both ends (ip sets it on one only).
    assert_eq!(h.link("v0").unwrap()["mtu"], 9000);
    assert_eq!(c.link("v1").unwrap()["mtu"], 9000);
    // As with ip, the words after `peer` are the peer's own.
    nth(
        &h,
        &[
            "link",
            "add",
            "v2",
            "type",
            "veth",
            "peer",
            "name",
            "v3",
            "address",
            "02:00:00:00:00:77",
            "mtu",
            "1280",
            "netns",
            &c.name,
        ],
    )
    .ok();
    let (v2, v3) = (h.link("v2").unwrap(), c.link("v3").unwrap());
    assert_eq!(
        (&v3["address"], &v3["mtu"]),
        (&"02:00:00:00:00:77".into(), &1280.into())
    );
    assert_ne!(v2["address"], "02:00:00:00:00:77");
    assert_eq!(v2["mtu"], 1500);
    nth(&h, &["link", "del", "v2"]).ok();
    nth(&h, &["link", "add", "br0", "type", "bridge"]).ok();
    nth(
        &h,
        &["link", "set", "v0", "up", "mtu", "1400", "master", "br0"],
    )
    .ok();
    let v0 = h.link("v0").unwrap();
    assert_eq!(v0["master"], "br0");
    assert_eq!(v0["mtu"], 1400);
    assert!(v0["flags"].as_array().unwrap().contains(&Value::from("UP")));
    nth(
        &h,
        &[
            "link",
            "set",
            "v0",
            "nomaster",
            "name",
            "v0x",
            "address",
            "02:00:00:00:00:42",
        ],
    )
    .ok();
    let v0 = h.link("v0x").unwrap();
    assert!(v0.get("master").is_none());
    assert_eq!(v0["address"], "02:00:00:00:00:42");
    nth(&h, &["link", "set", "br0", "up"]).ok();
    nth(&h, &["addr", "add", "10.9.0.1/24", "dev", "br0"]).ok();
    nth(&h, &["addr", "add", "fd09::1/64", "dev", "br0", "nodad"]).ok();
    nth(&h, &["route", "add", "10.10.0.0/16", "via", "10.9.0.254"]).ok();
    nth(&h, &["route", "add", "fd10::/48", "dev", "br0"]).ok();
    let addrs = json_lines(&nth(&h, &["addr", "show", "dev", "br0", "--json"]));
    assert!(
        addrs
            .iter()
            .any(|a| a["local"] == "10.9.0.1" && a["prefixlen"] == 24)
    );
    let six = addrs
        .iter()
        .find(|a| a["local"] == "fd09::1")
        .expect("fd09::1");
    assert_eq!(six["tentative"], false, "nodad: usable at once");
    let routes = json_lines(&nth(&h, &["route", "show", "--json"]));
    assert!(
        routes
            .iter()
            .any(|r| r["dst"] == "10.10.0.0/16" && r["gateway"] == "10.9.0.254")
    );
    // As ip: route show is IPv4 unless -6.
    assert!(routes.iter().all(|r| r["family"] == "inet"));
    let routes = json_lines(&nth(&h, &["-6", "route", "show", "--json"]));
    assert!(
        routes
            .iter()
            .any(|r| r["dst"] == "fd10::/48" && r["dev"] == "br0")
    );
    let links = json_lines(&nth(&h, &["link", "show", "--json"]));
    let br = links.iter().find(|l| l["ifname"] == "br0").unwrap();
    assert_eq!(br["kind"], "bridge");
    // Text output names the link too.
    let text = nth(&h, &["link", "show", "br0"]);
    assert!(text.stdout.contains(": br0: <"), "{text}");
    // Kernel errors are one clear line.
    fails(
        &nth(&h, &["link", "add", "br0", "type", "bridge"]),
        1,
        "netlink-tool: link add br0: File exists\n",
    );
    fails(
        &nth(&h, &["route", "add", "10.11.0.0/16", "via", "10.99.0.1"]),
        1,
        "netlink-tool: route add 10.11.0.0/16: Nexthop has invalid gateway\n",
    );
    fails(
        &nth(&h, &["link", "set", "nosuch", "up"]),
        1,
        &format!(
            "netlink-tool: link set nosuch: no link 'nosuch' in network namespace {}\n",
            h.name
        ),
    );
    // Moving a link: into the container's namespace by name, back by path.
    nth(&h, &["link", "set", "v0x", "netns", &c.name]).ok();
    assert!(h.link("v0x").is_none() && c.link("v0x").is_some());
    let home = format!("/run/netns/{}", h.name);
    nt(&[
        "-n", &c.name, "link", "set", "v0x", "netns", &home, "name", "v0",
    ])
    .ok();
    assert!(h.link("v0").is_some());
    nt(&["-n", &c.name, "link", "set", "v1", "netns", &home]).ok();
    assert!(h.link("v1").is_some());
    nth(&h, &["link", "set", "v0", "name", "v0x"]).ok();
    nth(&h, &["route", "del", "10.10.0.0/16", "via", "10.9.0.254"]).ok();
    nth(&h, &["route", "del", "fd10::/48", "dev", "br0"]).ok();
    // A delete matches as ip's does, whatever the protocol, scope and type: a route ip
    // added (proto boot), by destination alone or by its link.
    run(cmd("ip").args([
        "-n",
        &h.name,
        "route",
        "add",
        "10.12.0.0/16",
        "via",
        "10.9.0.254",
    ]))
    .ok();
    run(cmd("ip").args(["-n", &h.name, "route", "add", "10.13.0.0/16", "dev", "br0"])).ok();
    nth(&h, &["route", "del", "10.12.0.0/16"]).ok();
    nth(&h, &["route", "del", "10.13.0.0/16", "dev", "br0"]).ok();
    nth(&h, &["addr", "del", "10.9.0.1/24", "dev", "br0"]).ok();
    nth(&h, &["link", "del", "v0x"]).ok();
    nth(&h, &["link", "del", "br0"]).ok();
    assert!(c.link("v1").is_none(), "deleting one veth end deletes both");
    assert_eq!(h.snapshot(), before_h);
}

#[test]
fn kernel_errors_name_the_missing_capability_and_kernel_option() {
    if !require_root("netlink-tool kernel errors") {
        return;
    }
    let h = Netns::new("nth");
    // As nobody, inside the host namespace already (no setns needed): EPERM from netlink.
    let out = run(cmd("ip").args([
        "netns",
        "exec",
        &h.name,
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        bin("netlink-tool").to_str().unwrap(),
        "link",
        "add",
        "b0",
        "type",
        "bridge",
    ]));
    fails(
        &out,
        1,
        "netlink-tool: link add b0: Operation not permitted (needs CAP_NET_ADMIN)\n",
    );
    nth(&h, &["link", "add", "p0", "type", "veth", "peer", "p1"]).ok();
    let out = nth(
        &h,
        &[
            "link", "add", "v10", "type", "vlan", "link", "p0", "id", "10",
        ],
    );
    if out.code == 0 {
        // A kernel with 802.1Q (the VM lane): the link is real.
        assert_eq!(h.link("v10").unwrap()["linkinfo"]["info_kind"], "vlan");
    } else {
        fails(
            &out,
            1,
            "netlink-tool: link add v10: Unknown device type (kernel lacks vlan support: CONFIG_VLAN_8021Q)\n",
        );
    }
}

/// A host namespace with an address on `lo` (a source address for routed links).
fn host_ns() -> Netns {
    let h = Netns::new("nth");
    nth(&h, &["link", "set", "lo", "up"]).ok();
    h
}

#[test]
fn veth_on_a_bridge_pings_and_disconnect_leaves_nothing() {
    if !require_root("netlink-tool connect veth") {
        return;
    }
    let h = host_ns();
    let c = Netns::new("ntc");
    let (before_h, before_c) = (h.snapshot(), c.snapshot());
    nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "veth",
            "--link",
            "br0",
            "--create-bridge",
            "--addr",
            "10.0.3.2/24",
            "--addr",
            "fd03::2/64",
            "--gw",
            "10.0.3.1",
        ],
    )
    .ok();
    nth(&h, &["addr", "add", "10.0.3.1/24", "dev", "br0"]).ok();
    nth(&h, &["addr", "add", "fd03::1/64", "dev", "br0", "nodad"]).ok();
    assert!(c.ping("10.0.3.1"), "container → host over the bridge");
    assert!(c.ping("fd03::1"), "IPv6 usable at once (nodad on veth)");
    assert!(h.ping("10.0.3.2"), "host → container");
    // The record is on the host side, not in the container's alias.
    assert!(c.link("eth0").unwrap().get("ifalias").is_none());
    let routes = json_lines(&nt(&["-n", &c.name, "route", "show", "--json"]));
    assert!(
        routes
            .iter()
            .any(|r| r["dst"] == "default" && r["gateway"] == "10.0.3.1")
    );
    // Re-running is a clear "already connected", and changes nothing.
    let snap = (h.snapshot(), c.snapshot());
    fails(
        &nth(
            &h,
            &[
                "connect",
                &c.name,
                "--type",
                "veth",
                "--link",
                "br0",
                "--addr",
                "10.0.3.2/24",
            ],
        ),
        1,
        &format!(
            "netlink-tool: connect {}: 'eth0' is already connected (disconnect it first)\n",
            c.name
        ),
    );
    assert_eq!((h.snapshot(), c.snapshot()), snap);
    // Disconnect removes the pair, the routes and the bridge connect created.
    nth(&h, &["disconnect", &c.name]).ok();
    let mut after_c = c.snapshot();
    // lo stays up in the container (harmless; another link may need it): compare the rest.
    after_c["links"] = before_c["links"].clone();
    assert_eq!(h.snapshot(), before_h);
    assert_eq!(after_c, before_c);
    assert_eq!(c.links().as_array().unwrap().len(), 1, "only lo is left");
    fails(
        &nth(&h, &["disconnect", &c.name]),
        1,
        &format!(
            "netlink-tool: disconnect {}: no link 'eth0' in the container: not connected\n",
            c.name
        ),
    );
}

#[test]
fn veth_takes_the_bridge_mtu_on_both_ends() {
    if !require_root("netlink-tool connect veth mtu") {
        return;
    }
    let h = host_ns();
    let c = Netns::new("ntc");
    nth(&h, &["link", "add", "br0", "mtu", "1400", "type", "bridge"]).ok();
    nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "veth",
            "--link",
            "br0",
            "--host-name",
            "hv0",
            "--addr",
            "10.0.8.2/24",
        ],
    )
    .ok();
    assert_eq!(c.link("eth0").unwrap()["mtu"], 1400);
    assert_eq!(h.link("hv0").unwrap()["mtu"], 1400);
    assert_eq!(
        h.link("br0").unwrap()["mtu"],
        1400,
        "the bridge keeps its MTU"
    );
    // An explicit --mtu wins, on both ends.
    nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "veth",
            "--name",
            "eth1",
            "--host-name",
            "hv1",
            "--mtu",
            "9000",
        ],
    )
    .ok();
    assert_eq!(c.link("eth1").unwrap()["mtu"], 9000);
    assert_eq!(h.link("hv1").unwrap()["mtu"], 9000);
    nth(&h, &["disconnect", &c.name, "--name", "eth1"]).ok();
    assert!(h.link("hv1").is_none());
    // A bridge connect did not create stays after disconnect.
    nth(&h, &["disconnect", &c.name]).ok();
    assert!(h.link("br0").is_some());
}

#[test]
fn routed_venet_pings_both_ways_and_disconnect_leaves_nothing() {
    if !require_root("netlink-tool connect routed") {
        return;
    }
    let h = host_ns();
    nth(&h, &["addr", "add", "192.0.2.1/32", "dev", "lo"]).ok();
    let c = Netns::new("ntc");
    let before_h = h.snapshot();
    nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "routed",
            "--addr",
            "10.0.4.2/32",
            "--host-name",
            "venet0h",
        ],
    )
    .ok();
    let routes = json_lines(&nth(&h, &["route", "show", "--json"]));
    assert!(
        routes
            .iter()
            .any(|r| r["dst"] == "10.0.4.2/32" && r["dev"] == "venet0h")
    );
    let arp = h.exec("cat", &["/proc/sys/net/ipv4/conf/venet0h/proxy_arp"]);
    assert_eq!(arp.stdout.trim(), "1", "proxy ARP on the host end");
    assert!(c.ping("192.0.2.1"), "container → host");
    assert!(h.ping("10.0.4.2"), "host → container");
    nth(&h, &["disconnect", &c.name]).ok();
    assert_eq!(h.snapshot(), before_h);
}

#[test]
fn macvlan_pings_a_host_macvlan_on_the_same_parent() {
    if !require_root("netlink-tool connect macvlan") {
        return;
    }
    let h = host_ns();
    let c = Netns::new("ntc");
    nth(
        &h,
        &["link", "add", "up0", "up", "type", "veth", "peer", "up1"],
    )
    .ok();
    nth(&h, &["link", "set", "up1", "up"]).ok();
    // The host's own macvlan on the parent (a macvlan cannot talk to its parent).
    nth(
        &h,
        &[
            "link", "add", "shim", "up", "type", "macvlan", "link", "up0", "mode", "bridge",
        ],
    )
    .ok();
    nth(&h, &["addr", "add", "10.0.6.1/24", "dev", "shim"]).ok();
    let before_h = h.snapshot();
    nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "macvlan",
            "--link",
            "up0",
            "--macvlan-mode",
            "bridge",
            "--addr",
            "10.0.6.2/24",
            "--hwaddr",
            "02:00:00:00:06:02",
        ],
    )
    .ok();
    let eth0 = c.link("eth0").unwrap();
    assert_eq!(eth0["linkinfo"]["info_kind"], "macvlan");
    assert_eq!(eth0["address"], "02:00:00:00:06:02");
    assert!(c.ping("10.0.6.1"), "container → host");
    nth(&h, &["disconnect", &c.name]).ok();
    assert!(c.link("eth0").is_none());
    assert_eq!(h.snapshot(), before_h);
}

#[test]
fn vlan_connect_fails_clearly_here_and_leaves_nothing() {
    if !require_root("netlink-tool connect vlan") {
        return;
    }
    let h = host_ns();
    let c = Netns::new("ntc");
    nth(
        &h,
        &["link", "add", "up0", "up", "type", "veth", "peer", "up1"],
    )
    .ok();
    let (before_h, before_c) = (h.snapshot(), c.snapshot());
    let out = nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "vlan",
            "--link",
            "up0",
            "--vlan-id",
            "10",
            "--addr",
            "10.0.10.2/24",
        ],
    );
    if out.code == 0 {
        // A kernel with 802.1Q (the VM lane).
        assert_eq!(c.link("eth0").unwrap()["linkinfo"]["info_kind"], "vlan");
        nth(&h, &["disconnect", &c.name]).ok();
    } else {
        fails(
            &out,
            1,
            &format!(
                "netlink-tool: connect {}: create vlan 'eth0' on 'up0': Unknown device type (kernel lacks vlan support: CONFIG_VLAN_8021Q)\n",
                c.name
            ),
        );
    }
    assert_eq!(h.snapshot(), before_h);
    let mut after_c = c.snapshot();
    if out.code == 0 {
        after_c["links"] = before_c["links"].clone();
    }
    assert_eq!(after_c, before_c);
}

#[test]
fn phys_moves_in_pings_and_comes_back_with_name_mtu_mac_and_state() {
    if !require_root("netlink-tool connect phys") {
        return;
    }
    let h = host_ns();
    let c = Netns::new("ntc");
    // The "NIC": one end of a veth pair in the host namespace; its peer stays on the host.
    nth(
        &h,
        &[
            "link", "add", "nic0", "mtu", "1450", "up", "type", "veth", "peer", "wire0",
        ],
    )
    .ok();
    nth(&h, &["link", "set", "wire0", "up"]).ok();
    nth(&h, &["addr", "add", "10.0.7.1/24", "dev", "wire0"]).ok();
    // The NIC's own alias (the record stands in for it meanwhile) and its bridge come
    // back too.
    nth(&h, &["link", "add", "nb0", "type", "bridge"]).ok();
    nth(&h, &["link", "set", "nic0", "master", "nb0"]).ok();
    run(cmd("ip").args([
        "-n",
        &h.name,
        "link",
        "set",
        "nic0",
        "alias",
        "uplink to the lab",
    ]))
    .ok();
    let before_h = h.snapshot();
    let nic_before = h.link("nic0").unwrap();
    nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "phys",
            "--link",
            "nic0",
            "--name",
            "eth0",
            "--mtu",
            "1400",
            "--hwaddr",
            "02:00:00:00:07:02",
            "--addr",
            "10.0.7.2/24",
        ],
    )
    .ok();
    assert!(h.link("nic0").is_none(), "moved out of the host");
    let eth0 = c.link("eth0").unwrap();
    assert_eq!(eth0["mtu"], 1400);
    assert_eq!(eth0["address"], "02:00:00:00:07:02");
    assert!(c.ping("10.0.7.1"));
    // A re-run is a clear "already connected" (not "no link 'nic0'"), and changes nothing.
    let snap = (h.snapshot(), c.snapshot());
    fails(
        &nth(
            &h,
            &["connect", &c.name, "--type", "phys", "--link", "nic0"],
        ),
        1,
        &format!(
            "netlink-tool: connect {}: 'eth0' is already connected (disconnect it first)\n",
            c.name
        ),
    );
    assert_eq!((h.snapshot(), c.snapshot()), snap);
    nth(&h, &["disconnect", &c.name]).ok();
    let nic_after = h.link("nic0").expect("nic0 back on the host");
    assert_eq!(nic_after["mtu"], nic_before["mtu"]);
    assert_eq!(nic_after["address"], nic_before["address"]);
    assert_eq!(h.snapshot(), before_h, "name, MTU, MAC, up state, no alias");
}

#[test]
fn failure_midway_rolls_back_what_the_call_made() {
    if !require_root("netlink-tool connect rollback") {
        return;
    }
    let h = host_ns();
    let c = Netns::new("ntc");
    nth(
        &h,
        &[
            "link", "add", "nic0", "mtu", "1450", "type", "veth", "peer", "wire0",
        ],
    )
    .ok();
    // Its alias and its bridge come back with it.
    run(cmd("ip").args(["-n", &h.name, "link", "set", "nic0", "alias", "uplink"])).ok();
    nth(&h, &["link", "add", "nb0", "type", "bridge"]).ok();
    nth(&h, &["link", "set", "nic0", "master", "nb0"]).ok();
    let (before_h, before_c) = (h.snapshot(), c.snapshot());
    // veth: everything is made, then the gateway is refused (not on any link).
    fails(
        &nth(
            &h,
            &[
                "connect",
                &c.name,
                "--type",
                "veth",
                "--link",
                "br9",
                "--create-bridge",
                "--host-name",
                "hv0",
                "--addr",
                "10.0.3.2/24",
                "--gw",
                "10.0.9.1",
            ],
        ),
        1,
        &format!(
            "netlink-tool: connect {}: add route default via 10.0.9.1: Nexthop has invalid gateway\n",
            c.name
        ),
    );
    assert_eq!(h.snapshot(), before_h, "no leaked veth or bridge");
    assert_eq!(
        c.snapshot(),
        before_c,
        "no half-configured container (lo back down)"
    );
    // phys: the NIC was moved and renamed; it comes back with its name and MTU.
    fails(
        &nth(
            &h,
            &[
                "connect",
                &c.name,
                "--type",
                "phys",
                "--link",
                "nic0",
                "--mtu",
                "1400",
                "--addr",
                "10.0.3.2/24",
                "--gw",
                "10.0.9.1",
            ],
        ),
        1,
        &format!(
            "netlink-tool: connect {}: add route default via 10.0.9.1: Nexthop has invalid gateway\n",
            c.name
        ),
    );
    assert_eq!(h.snapshot(), before_h, "no half-moved NIC");
    assert_eq!(c.snapshot(), before_c);
    // macvlan on a missing parent: refused before anything is made.
    fails(
        &nth(
            &h,
            &["connect", &c.name, "--type", "macvlan", "--link", "nosuch"],
        ),
        1,
        &format!(
            "netlink-tool: connect {}: no link 'nosuch' in the host namespace\n",
            c.name
        ),
    );
    // A name taken in the container: the phys NIC never leaves the host.
    nt(&["-n", &c.name, "link", "add", "eth0", "type", "bridge"]).ok();
    let taken = c.snapshot();
    fails(
        &nth(
            &h,
            &["connect", &c.name, "--type", "phys", "--link", "nic0"],
        ),
        1,
        &format!(
            "netlink-tool: connect {}: a link 'eth0' already exists in the container\n",
            c.name
        ),
    );
    fails(
        &nth(
            &h,
            &["connect", &c.name, "--type", "veth", "--host-name", "hv0"],
        ),
        1,
        &format!(
            "netlink-tool: connect {}: a link 'eth0' already exists in the container\n",
            c.name
        ),
    );
    assert_eq!(h.snapshot(), before_h);
    assert_eq!(c.snapshot(), taken);
    // A link connect did not make is left alone by disconnect.
    fails(
        &nth(&h, &["disconnect", &c.name]),
        1,
        &format!(
            "netlink-tool: disconnect {}: 'eth0' was not made by netlink-tool connect (no record on the host); left alone\n",
            c.name
        ),
    );
}

#[test]
fn empty_brings_only_lo_up() {
    if !require_root("netlink-tool connect empty") {
        return;
    }
    let h = host_ns();
    let c = Netns::new("ntc");
    let before_h = h.snapshot();
    nth(&h, &["connect", &c.name, "--type", "empty"]).ok();
    assert_eq!(c.links().as_array().unwrap().len(), 1);
    assert!(c.ping("127.0.0.1"));
    assert_eq!(h.snapshot(), before_h);
}

/// client (container) → router (host, masquerading) → outside, with no route back to
/// the container's prefix on the outside.
#[test]
fn nat_masquerade_and_port_forward_carry_real_tcp() {
    if !require_root("netlink-tool nat") {
        return;
    }
    let r = host_ns();
    let c = Netns::new("ntc");
    let o = Netns::new("nto");
    r.sysctl("net.ipv4.ip_forward=1");
    nth(
        &r,
        &[
            "connect",
            &c.name,
            "--type",
            "veth",
            "--host-name",
            "rc0",
            "--host-addr",
            "10.0.1.1/24",
            "--addr",
            "10.0.1.2/24",
            "--gw",
            "10.0.1.1",
        ],
    )
    .ok();
    nth(
        &r,
        &[
            "link",
            "add",
            "ro",
            "up",
            "type",
            "veth",
            "peer",
            "oe",
            "peer-netns",
            &o.name,
        ],
    )
    .ok();
    nth(&r, &["addr", "add", "192.168.77.1/24", "dev", "ro"]).ok();
    nt(&["-n", &o.name, "link", "set", "oe", "up"]).ok();
    nt(&["-n", &o.name, "addr", "add", "192.168.77.2/24", "dev", "oe"]).ok();
    let before = r.ruleset();
    // Without NAT the outside cannot answer (no route back).
    let l = Listener::start(&o, "192.168.77.2", 9000);
    assert_ne!(
        connect_tcp(&c, "192.168.77.2", 9000, "x").code,
        0,
        "no NAT yet: no route back"
    );
    drop(l);
    // Twice: idempotent.
    for _ in 0..2 {
        nth(
            &r,
            &[
                "nat",
                "masquerade",
                "--source",
                "10.0.1.0/24",
                "--out",
                "ro",
            ],
        )
        .ok();
        nth(
            &r,
            &[
                "nat",
                "forward",
                "--proto",
                "tcp",
                "--port",
                "8080",
                "--to",
                "10.0.1.2:80",
            ],
        )
        .ok();
    }
    let rules = json_lines(&nth(&r, &["nat", "list", "--json"]));
    assert_eq!(
        rules,
        vec![
            serde_json::json!({"type": "masquerade", "source": "10.0.1.0/24", "out": "ro"}),
            serde_json::json!({"type": "forward", "proto": "tcp", "port": 8080, "to": "10.0.1.2:80"}),
        ]
    );
    let nft_rules: Vec<Value> = r
        .ruleset()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i.get("rule").cloned())
        .collect();
    assert_eq!(
        nft_rules.len(),
        2,
        "no duplicates after a re-run: {nft_rules:?}"
    );
    assert!(nft_rules.iter().all(|r| r["table"] == "netlink_tool"));
    // Masquerade: the outside listener sees the router's address.
    let l = Listener::start(&o, "192.168.77.2", 9000);
    connect_tcp(&c, "192.168.77.2", 9000, "out").ok();
    assert_eq!(l.peer(), ("192.168.77.1".to_owned(), "out".to_owned()));
    // Port forward: a connection to the router's 8080 reaches the container's 80.
    let l = Listener::start(&c, "10.0.1.2", 80);
    connect_tcp(&o, "192.168.77.1", 8080, "in").ok();
    assert_eq!(l.peer(), ("192.168.77.2".to_owned(), "in".to_owned()));
    // Removing one rule keeps the other; flush removes the table entirely.
    nth(
        &r,
        &[
            "nat",
            "forward",
            "--proto",
            "tcp",
            "--port",
            "8080",
            "--to",
            "10.0.1.2:80",
            "--delete",
        ],
    )
    .ok();
    assert_eq!(
        nth(&r, &["nat", "list"]).stdout,
        "masquerade source 10.0.1.0/24 out ro\n"
    );
    nth(&r, &["nat", "flush"]).ok();
    assert_eq!(r.ruleset(), before);
    assert_eq!(nth(&r, &["nat", "list"]).stdout, "");
    // A table someone else edited is not silently rewritten.
    nth(&r, &["nat", "masquerade", "--source", "10.0.1.0/24"]).ok();
    r.exec(
        "nft",
        &[
            "add",
            "rule",
            "ip",
            "netlink_tool",
            "postrouting",
            "counter",
        ],
    )
    .ok();
    fails(
        &nth(&r, &["nat", "list"]),
        1,
        "netlink-tool: nat list: table ip netlink_tool holds a rule netlink-tool did not write (comment None); run 'netlink-tool nat flush' to reset it\n",
    );
    nth(&r, &["nat", "flush"]).ok();
    assert_eq!(r.ruleset(), before);
}

/// `netns del` in a batch lets the namespace go at once: the batch's own socket in it
/// no longer keeps it (and the host ends of its veths) alive until the batch ends.
#[test]
fn batch_netns_del_frees_the_namespace_while_the_batch_runs() {
    use std::io::{BufRead, Write};
    if !require_root("netlink-tool --batch netns del") {
        return;
    }
    let h = host_ns();
    let c = integration::unique_name("ntc");
    let _guard = integration::Guard::new({
        let n = c.clone();
        move || {
            let _ = run(cmd("ip").args(["netns", "del", &n]));
        }
    });
    // The batch is parsed whole before it runs; its output (far more than a pipe
    // holds) keeps it running until the test reads it.
    let mut text =
        format!("netns add {c}\nconnect {c} --type veth --host-name hv1\nnetns del {c}\n");
    for _ in 0..3000 {
        text.push_str("link show lo\n");
    }
    let mut child = std::process::Command::new(bin("netlink-tool"))
        .env("NETLINK_TOOL_STATE_DIR", state_dir())
        .args(["-n", &h.name, "--batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start netlink-tool --batch -");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    // The first output line comes after `netns del` ran (lines run in order).
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains(": lo: <"), "{first}");
    // The kernel removes a dead namespace's links asynchronously (tens of ms): wait
    // for it, with the batch still running (blocked on its full standard output).
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        h.link("hv1").is_none()
    });
    let still_running = child.try_wait().expect("try_wait").is_none();
    let rest = std::io::read_to_string(stdout).unwrap();
    let status = child.wait().expect("wait for the batch");
    assert!(status.success(), "{status}");
    assert_eq!(rest.lines().filter(|l| l.contains(": lo: <")).count(), 2999);
    assert!(still_running, "the batch ended before the check");
    assert!(
        gone,
        "the veth of a deleted namespace outlived it while the batch ran"
    );
}

/// NAT changes are read-modify-write of the whole table: writers running at once must
/// not lose each other's rules (each commit is tied to the generation it read).
#[test]
fn nat_commands_run_at_once_keep_every_rule() {
    if !require_root("netlink-tool nat, parallel") {
        return;
    }
    let r = Netns::new("nth");
    let ports: Vec<u16> = (9001..=9016).collect();
    let threads: Vec<_> = ports
        .iter()
        .map(|p| {
            let (host, port) = (r.name.clone(), p.to_string());
            std::thread::spawn(move || {
                nt(&[
                    "-n",
                    &host,
                    "nat",
                    "forward",
                    "--proto",
                    "tcp",
                    "--port",
                    &port,
                    "--to",
                    "10.0.1.2:80",
                ])
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a thread running netlink-tool").ok();
    }
    let mut listed: Vec<u64> = json_lines(&nth(&r, &["nat", "list", "--json"]))
        .iter()
        .map(|v| v["port"].as_u64().unwrap())
        .collect();
    listed.sort_unstable();
    let want: Vec<u64> = ports.iter().map(|p| u64::from(*p)).collect();
    assert_eq!(
        listed, want,
        "every command exited 0, so every rule must be there"
    );
    nth(&r, &["nat", "flush"]).ok();
    assert_eq!(r.ruleset(), Value::Array(Vec::new()));
}

#[test]
fn batch_connects_many_containers_in_one_process() {
    if !require_root("netlink-tool --batch") {
        return;
    }
    let h = host_ns();
    let cs: Vec<Netns> = (0..4).map(|_| Netns::new("ntc")).collect();
    let dir = integration::tempdir();
    let file = dir.path().join("batch");
    let mut text = String::from(
        "# four containers on one bridge\nlink add br0 up type bridge\naddr add 10.0.5.1/24 dev br0\n\n",
    );
    for (i, c) in cs.iter().enumerate() {
        text.push_str(&format!(
            "connect {} --type veth --link br0 --addr 10.0.5.{}/24 --gw 10.0.5.1\n",
            c.name,
            i + 10
        ));
    }
    text.push_str(&format!("-n {} addr show dev eth0\n", cs[0].name));
    std::fs::write(&file, &text).unwrap();
    let out = nth(&h, &["--json", "--batch", file.to_str().unwrap()]);
    out.ok();
    let addrs = json_lines(&out);
    assert!(addrs.iter().any(|a| a["local"] == "10.0.5.10"), "{out}");
    for c in &cs {
        assert!(c.ping("10.0.5.1"));
    }
    assert!(
        cs[3].ping("10.0.5.10"),
        "containers reach each other over the bridge"
    );
    // From stdin; a failing line stops the batch and is named.
    let out = run(cmd("sh").arg("-c").arg(format!(
        "printf 'link show lo\\nlink add br0 type bridge\\nlink show lo\\n' | NETLINK_TOOL_STATE_DIR={} {} -n {} --batch -",
        state_dir().display(),
        bin("netlink-tool").display(),
        h.name
    )));
    fails(
        &out,
        1,
        "netlink-tool: line 2: link add br0: File exists (applied: line 1)\n",
    );
    assert_eq!(out.stdout.lines().count(), 2, "line 3 did not run");
    // A syntax error anywhere stops the batch before any line runs.
    let before = h.snapshot();
    let out = run(cmd("sh").arg("-c").arg(format!(
        "printf 'link add nb1 type bridge\\nlink show lo\\nlink add x type veth peer\\n' | NETLINK_TOOL_STATE_DIR={} {} -n {} --batch -",
        state_dir().display(),
        bin("netlink-tool").display(),
        h.name
    )));
    fails(
        &out,
        2,
        "netlink-tool: line 3: link add: 'peer' needs a value\nTry 'netlink-tool --help' for more information.\n",
    );
    assert_eq!(out.stdout, "", "line 2 did not run");
    assert_eq!(h.snapshot(), before, "line 1 did not run");
}

/// Every kind of malformed input, with `-n HOST` (and a batch of it): the exit code, one
/// `netlink-tool: …` line on stderr (usage errors add the standard `Try …` hint), nothing
/// on stdout, and nothing changed in the namespaces.
#[test]
fn every_malformed_input_is_one_line_and_changes_nothing() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    if !require_root("netlink-tool malformed input") {
        return;
    }
    let h = host_ns();
    let c = Netns::new("ntc");
    nth(&h, &["link", "add", "e0", "type", "veth", "peer", "e1"]).ok();
    let before = (h.snapshot(), c.snapshot());
    let long = "a".repeat(16);
    let huge = "9".repeat(30);
    let cn = c.name.as_str();
    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, i32)> = vec![
        // lengths and name rules
        (vec!["link", "add", &long, "type", "bridge"], 2),
        (vec!["link", "add", "ééééééééé", "type", "bridge"], 2),
        (vec!["link", "add", "", "type", "bridge"], 2),
        (vec!["link", "add", "..", "type", "bridge"], 2),
        (vec!["link", "add", ".", "type", "bridge"], 2),
        (vec!["link", "add", "a/b", "type", "bridge"], 2),
        (vec!["link", "add", "a:b", "type", "bridge"], 2),
        (vec!["link", "add", "a b", "type", "bridge"], 2),
        (vec!["link", "add", "a\nb", "type", "bridge"], 2),
        (vec!["connect", cn, "--type", "veth", "--name", "eth%d"], 2),
        (vec!["connect", cn, "--type", "veth", "--host-name", &long], 2),
        (vec!["disconnect", cn, "--name", "../x"], 2),
        (vec!["netns", "add", ".."], 2),
        (vec!["netns", "add", ""], 2),
        (vec!["netns", "add", "a/b"], 2),
        (vec!["netns", "del", "../../etc"], 2),
        // namespaces
        (vec!["connect", "", "--type", "veth"], 2),
        (vec!["connect", "nt-no-such-ns", "--type", "veth"], 1),
        (vec!["connect", "/proc/self/ns/uts", "--type", "veth"], 1),
        (vec!["connect", "999999999", "--type", "veth"], 1),
        (vec!["link", "set", "e0", "netns", ""], 2),
        // numbers: negative, huge, with units, not numbers, empty
        (vec!["link", "set", "e0", "mtu", "-1"], 2),
        (vec!["link", "set", "e0", "mtu", &huge], 2),
        (vec!["link", "set", "e0", "mtu", "9k"], 2),
        (vec!["link", "set", "e0", "mtu", "1500bytes"], 2),
        (vec!["link", "set", "e0", "mtu", "67"], 2),
        (vec!["link", "set", "e0", "mtu", "65536"], 2),
        (vec!["link", "set", "e0", "mtu", ""], 2),
        (vec!["connect", cn, "--type", "veth", "--mtu", "-5"], 2),
        (vec!["connect", cn, "--type", "vlan", "--link", "e0", "--vlan-id", "0"], 2),
        (vec!["connect", cn, "--type", "vlan", "--link", "e0", "--vlan-id", "4095"], 2),
        (vec!["connect", cn, "--type", "vlan", "--link", "e0", "--vlan-id", "-1"], 2),
        (vec!["connect", cn, "--type", "vlan", "--link", "e0", "--vlan-id", "1.5"], 2),
        (vec!["nat", "forward", "--proto", "tcp", "--port", "0", "--to", "10.0.0.1:80"], 2),
        (vec!["nat", "forward", "--proto", "tcp", "--port", "-1", "--to", "10.0.0.1:80"], 2),
        (vec!["nat", "forward", "--proto", "tcp", "--port", "0x50", "--to", "10.0.0.1:80"], 2),
        (vec!["nat", "forward", "--proto", "tcp", "--port", "80", "--to", "10.0.0.1:99999"], 2),
        (vec!["nat", "forward", "--proto", "tcp", "--port", "80", "--to", "10.0.0.1"], 2),
        // unknown names
        (vec!["frob"], 2),
        (vec!["link", "frob"], 2),
        (vec!["link", "add", "x", "type", "dummy"], 2),
        (vec!["link", "add", "x", "type", "macvlan", "link", "e0", "mode", "nope"], 2),
        (vec!["connect", cn, "--type", "ipvlan"], 2),
        (vec!["connect", cn, "--type", ""], 2),
        (vec!["connect", cn, "--type", "macvlan", "--link", "e0", "--macvlan-mode", "x"], 2),
        (vec!["nat", "forward", "--proto", "sctp", "--port", "1", "--to", "10.0.0.1:1"], 2),
        (vec!["connect", cn, "--type", "veth", "--bogus"], 2),
        (vec!["link", "set", "nosuch", "up"], 1),
        (vec!["connect", cn, "--type", "macvlan", "--link", "nosuch"], 1),
        // CIDRs and addresses
        (vec!["addr", "add", "10.0.3/24", "dev", "e0"], 2),
        (vec!["addr", "add", "10.0.0.1/33", "dev", "e0"], 2),
        (vec!["addr", "add", "10.0.0.1/", "dev", "e0"], 2),
        (vec!["addr", "add", "10.0.0.1/+8", "dev", "e0"], 2),
        (vec!["addr", "add", "fd00::/129", "dev", "e0"], 2),
        (vec!["addr", "add", "", "dev", "e0"], 2),
        (vec!["route", "add", "10.1.2.3/16", "via", "10.0.0.1"], 2),
        (vec!["route", "add", "10.0.0.0/8", "via", "::1"], 2),
        (vec!["connect", cn, "--type", "veth", "--gw", "10.0.0.256"], 2),
        (vec!["connect", cn, "--type", "routed", "--addr", "fd00::2/128"], 2),
        (vec!["nat", "masquerade", "--source", ""], 2),
        (vec!["readdr", cn, "--add", "10.0.0.1/24", "--del", "10.0.0.1/24"], 2),
        (vec!["readdr", cn], 2),
        // MACs
        (vec!["link", "set", "e0", "address", "02:00:00:00:00"], 2),
        (vec!["link", "set", "e0", "address", "02:00:00:00:00:0g"], 2),
        (vec!["link", "set", "e0", "address", "01:00:5e:00:00:01"], 2),
        (vec!["link", "set", "e0", "address", "00:00:00:00:00:00"], 2),
        (vec!["link", "set", "e0", "address", ""], 2),
        (vec!["connect", cn, "--type", "veth", "--hwaddr", "020:0:0:0:0:1"], 2),
        // words missing or extra
        (vec!["link", "add", "x", "type", "veth", "peer"], 2),
        (vec!["link", "set", "e0"], 2),
        (vec!["link", "del", "e0", "extra"], 2),
        (vec!["route", "flush"], 2),
        (vec!["addr", "flush"], 2),
        (vec!["-4", "-6", "route", "show"], 2),
    ];
    let check = |out: &Output, code: i32, what: &str| {
        assert_eq!(out.code, code, "{what}: {out}");
        assert_eq!(out.stdout, "", "{what}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert!(lines[0].starts_with("netlink-tool: "), "{what}: {out}");
        let rest: Vec<&str> = lines[1..].to_vec();
        if code == 2 {
            assert!(
                rest.is_empty() || rest == ["Try 'netlink-tool --help' for more information."],
                "{what}: {out}"
            );
        } else {
            assert!(rest.is_empty(), "{what}: {out}");
        }
    };
    for (args, code) in &cases {
        check(&nth(&h, args), *code, &format!("{args:?}"));
    }
    // Bytes that are not UTF-8.
    for bad in [&b"e\xff"[..], b"\xc3"] {
        let out = run(cmd(bin("netlink-tool"))
            .env("NETLINK_TOOL_STATE_DIR", state_dir())
            .args(["-n", &h.name, "link", "add"])
            .arg(OsStr::from_bytes(bad))
            .args(["type", "bridge"]));
        check(&out, 2, "not UTF-8");
    }
    // The same lines as a batch: refused at parse time, before any line runs.
    for (args, code) in cases.iter().filter(|(_, c)| *c == 2) {
        let line = args
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let dir = integration::tempdir();
        let file = dir.path().join("batch");
        std::fs::write(&file, format!("link add nb9 type bridge\n{line}\n")).unwrap();
        let out = nth(&h, &["--batch", file.to_str().unwrap()]);
        // A line whose own text is malformed words (a newline inside a name) may fail to
        // split first: still one line, exit 2, nothing run.
        check(&out, *code, &format!("batch {line}"));
        assert!(out.stderr.starts_with("netlink-tool: line 2: "), "{out}");
    }
    assert_eq!((h.snapshot(), c.snapshot()), before, "nothing changed");
}

/// The record of a connection in the tests' state directory.
fn record_of(c: &Netns, name: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(format!("/run/netns/{}", c.name)).ok()?;
    std::fs::read_to_string(state_dir().join(format!("{}:{}:{name}", m.dev(), m.ino()))).ok()
}

/// vzctl's `set --ipadd/--ipdel` on a routed (venet) and a veth connection: the address
/// in the container, for routed its host route; the record follows; disconnect undoes all.
#[test]
fn readdr_adds_and_removes_addresses_of_a_connection() {
    if !require_root("netlink-tool readdr") {
        return;
    }
    let h = host_ns();
    nth(&h, &["addr", "add", "192.0.2.1/32", "dev", "lo"]).ok();
    let c = Netns::new("ntc");
    let before_h = h.snapshot();
    nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "routed",
            "--addr",
            "10.0.4.2/32",
            "--host-name",
            "venet0h",
        ],
    )
    .ok();
    assert!(
        record_of(&c, "eth0")
            .unwrap()
            .contains("addr 10.0.4.2/32\n")
    );
    nth(
        &h,
        &[
            "readdr",
            &c.name,
            "--add",
            "10.0.4.3/32",
            "--del",
            "10.0.4.2/32",
        ],
    )
    .ok();
    let routes = json_lines(&nth(&h, &["route", "show", "dev", "venet0h", "--json"]));
    let dsts: Vec<&str> = routes.iter().map(|r| r["dst"].as_str().unwrap()).collect();
    assert_eq!(dsts, ["10.0.4.3/32"], "the host route follows the address");
    let addrs = json_lines(&nt(&[
        "-n", &c.name, "-4", "addr", "show", "dev", "eth0", "--json",
    ]));
    let locals: Vec<&str> = addrs.iter().map(|a| a["local"].as_str().unwrap()).collect();
    assert_eq!(locals, ["10.0.4.3"]);
    assert!(h.ping("10.0.4.3"), "host → the new address");
    let rec = record_of(&c, "eth0").unwrap();
    assert!(
        rec.contains("addr 10.0.4.3/32\n") && !rec.contains("10.0.4.2"),
        "{rec}"
    );
    // Again: nothing to do, nothing changes.
    let snap = (h.snapshot(), c.snapshot());
    nth(&h, &["readdr", &c.name, "--add", "10.0.4.3/32"]).ok();
    assert_eq!((h.snapshot(), c.snapshot()), snap);
    // routed is IPv4 (proxy ARP).
    fails(
        &nth(&h, &["readdr", &c.name, "--add", "fd00::3/128"]),
        2,
        &format!(
            "netlink-tool: readdr {}: --type routed takes IPv4 addresses only (proxy ARP)\nTry 'netlink-tool --help' for more information.\n",
            c.name
        ),
    );
    nth(&h, &["disconnect", &c.name]).ok();
    assert_eq!(h.snapshot(), before_h);
    // veth: an IPv6 address, usable at once (nodad as connect gives).
    nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "veth",
            "--host-name",
            "hv2",
            "--host-addr",
            "fd05::1/64",
            "--addr",
            "fd05::2/64",
        ],
    )
    .ok();
    nth(&h, &["readdr", &c.name, "--add", "fd05::3/64"]).ok();
    assert!(h.ping("fd05::3"));
    fails(
        &nth(
            &h,
            &["readdr", &c.name, "--name", "eth7", "--add", "fd05::4/64"],
        ),
        1,
        &format!(
            "netlink-tool: readdr {}: 'eth7' is not connected (no record on the host)\n",
            c.name
        ),
    );
    nth(&h, &["disconnect", &c.name]).ok();
    assert_eq!(h.snapshot(), before_h);
    assert!(record_of(&c, "eth0").is_none());
}
