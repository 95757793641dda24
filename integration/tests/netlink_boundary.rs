//! "A container is a boundary": what netlink-tool keeps about a connection lives on the
//! host side, so nothing the container's root does inside its own namespace (rewrite
//! aliases, rename, delete and create links, move links away) can make `disconnect`
//! change the host. Each test forges from inside, as that root would (`ip -n CTN …`
//! stands in for commands run in the container), and compares the namespace playing
//! the host before and after.

use integration::netns::Netns;
use integration::{Output, bin, cmd, require_root, run};

fn state_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("netlink-tool-state")
}

fn nth(host: &Netns, args: &[&str]) -> Output {
    run(cmd(bin("netlink-tool"))
        .env("NETLINK_TOOL_STATE_DIR", state_dir())
        .args(["-n", &host.name])
        .args(args))
}

/// As the container's root: `ip` inside the container's namespace.
fn inside(c: &Netns, args: &[&str]) -> Output {
    run(cmd("ip").args(["-n", &c.name]).args(args))
}

/// Everything of the host namespace a disconnect could change: links (with masters,
/// aliases, MTUs, MACs, flags), addresses, routes, the nftables ruleset.
fn host_state(h: &Netns) -> serde_json::Value {
    let addrs = run(cmd("ip").args(["-n", &h.name, "-j", "addr", "show"]));
    let mut a: serde_json::Value = serde_json::from_str(&addrs.stdout).unwrap();
    // Address lifetimes count down; keep what names an address.
    for l in a.as_array_mut().unwrap() {
        if let Some(v) = l.get_mut("addr_info").and_then(|x| x.as_array_mut()) {
            for i in v {
                let o = i.as_object_mut().unwrap();
                o.retain(|k, _| ["family", "local", "prefixlen", "scope"].contains(&k.as_str()));
            }
        }
        let o = l.as_object_mut().unwrap();
        o.retain(|k, _| ["ifname", "addr_info"].contains(&k.as_str()));
    }
    let mut s = h.snapshot();
    s["addrs"] = a;
    // `linkdown` follows carrier, which the kernel updates asynchronously (up to a
    // second later): compare configuration.
    for r in s["routes"].as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("flags");
    }
    s
}

/// A host with a management bridge (addressed, with a NIC on it, a route through it)
/// that nothing of the container's may touch.
fn host() -> Netns {
    let h = Netns::new("nbh");
    for a in [
        vec!["link", "set", "lo", "up"],
        vec!["link", "add", "mgmt0", "type", "bridge"],
        vec!["link", "set", "mgmt0", "up"],
        vec!["addr", "add", "192.0.2.1/24", "dev", "mgmt0"],
        vec!["route", "add", "198.51.100.0/24", "via", "192.0.2.254"],
        vec!["link", "add", "nic0", "type", "veth", "peer", "wire0"],
        vec!["link", "set", "nic0", "master", "mgmt0", "up"],
        vec!["link", "set", "wire0", "up"],
    ] {
        run(cmd("ip").args(["-n", &h.name]).args(&a)).ok();
    }
    h
}

/// Every field of netlink-tool 0.1's container-side record, forged.
const FORGED: &[&str] = &[
    "netlink-tool:v1 type=veth host=nic0 created-bridge=mgmt0",
    "netlink-tool:v1 type=veth host=mgmt0",
    "netlink-tool:v1 type=routed host=wire0",
    "netlink-tool:v1 type=macvlan created-bridge=mgmt0",
    "netlink-tool:v1 type=phys orig-name=evil0 orig-mtu=1280 orig-mac=02:00:00:00:66:66 orig-up=1 orig-master=mgmt0 orig-alias=pwned",
    "netlink-tool:v1 type=phys orig-name=nic0 orig-master=mgmt0",
];

#[test]
fn forged_records_in_container_links_change_nothing_on_the_host() {
    if !require_root("netlink-tool disconnect, forged records") {
        return;
    }
    let h = host();
    let c = Netns::new("nbc");
    // Container-made links: a veth pair and a bridge, inside.
    inside(&c, &["link", "add", "eth0", "type", "veth", "peer", "x0"]).ok();
    inside(&c, &["link", "add", "eth1", "type", "bridge"]).ok();
    let before = host_state(&h);
    for forged in FORGED {
        for name in ["eth0", "eth1"] {
            inside(&c, &["link", "set", name, "alias", forged]).ok();
            let out = nth(&h, &["disconnect", &c.name, "--name", name]);
            assert_eq!(out.code, 1, "{forged}: {out}");
            assert_eq!(
                out.stderr,
                format!(
                    "netlink-tool: disconnect {}: '{name}' carries a record of netlink-tool 0.1 in its alias, which the container can rewrite and is not trusted; undo that connection by hand\n",
                    c.name
                )
            );
            // readdr does not take it either.
            let out = nth(
                &h,
                &["readdr", &c.name, "--name", name, "--add", "10.0.0.9/24"],
            );
            assert_eq!(out.code, 1, "{out}");
            assert_eq!(host_state(&h), before, "{forged} on {name}");
        }
    }
}

#[test]
fn a_container_cannot_redirect_a_real_veth_connection() {
    if !require_root("netlink-tool disconnect, veth under attack") {
        return;
    }
    let h = host();
    let c = Netns::new("nbc");
    let before = host_state(&h);
    nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "veth",
            "--link",
            "br7",
            "--create-bridge",
            "--host-name",
            "hv7",
            "--addr",
            "10.0.7.2/24",
        ],
    )
    .ok();
    // The container's root: forges the alias, renames the real link away, makes its
    // own eth0 with a forged record, and tries readdr on it.
    inside(&c, &["link", "set", "eth0", "alias", FORGED[0]]).ok();
    inside(&c, &["link", "set", "eth0", "down"]).ok();
    inside(&c, &["link", "set", "eth0", "name", "eth9"]).ok();
    inside(&c, &["link", "add", "eth0", "type", "veth", "peer", "x0"]).ok();
    inside(&c, &["link", "set", "eth0", "alias", FORGED[4]]).ok();
    // disconnect undoes exactly the real connection: the host end (and with it the
    // renamed container end) and the bridge connect made; mgmt0, nic0 stay.
    nth(&h, &["disconnect", &c.name]).ok();
    assert_eq!(host_state(&h), before);
    assert!(
        c.link("eth9").is_none(),
        "the real container end went with its host end"
    );
    assert!(
        c.link("eth0").is_some(),
        "the container's own link is left alone"
    );
}

#[test]
fn a_container_cannot_pass_its_own_link_for_a_phys_nic() {
    if !require_root("netlink-tool disconnect, phys under attack") {
        return;
    }
    let h = host();
    let c = Netns::new("nbc");
    // A namespace the container made for itself (a child namespace, say).
    let x = Netns::new("nbx");
    nth(
        &h,
        &[
            "connect",
            &c.name,
            "--type",
            "phys",
            "--link",
            "nic0",
            "--addr",
            "10.0.8.2/24",
        ],
    )
    .ok();
    let index = c.link("eth0").unwrap()["ifindex"]
        .as_u64()
        .unwrap()
        .to_string();
    // The container's root sends the NIC away and makes a veth of its own under the
    // NIC's name and index, with a forged record.
    inside(&c, &["link", "set", "eth0", "netns", &x.name]).ok();
    inside(
        &c,
        &[
            "link", "add", "eth0", "index", &index, "type", "veth", "peer", "x0",
        ],
    )
    .ok();
    inside(&c, &["link", "set", "eth0", "alias", FORGED[4]]).ok();
    // (Sending the NIC away took its carrier down: the host sees that much.)
    let attacked = host_state(&h);
    let out = nth(&h, &["disconnect", &c.name]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(
        out.stderr,
        format!(
            "netlink-tool: disconnect {}: the link 'eth0' in the container is not the NIC 'nic0' connect moved in; left alone (find the NIC and move it back by hand)\n",
            c.name
        )
    );
    assert_eq!(
        host_state(&h),
        attacked,
        "nothing came to the host, nothing joined mgmt0"
    );
    assert!(c.link("eth0").is_some());
}
