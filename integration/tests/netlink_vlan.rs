//! netlink-tool's 802.1Q vlan links, end to end: a ping across a vlan between two
//! network namespaces, made with `link add … type vlan` and with `connect --type vlan`.
//!
//! This host's kernel lacks 802.1Q: here each test checks the clear error instead. The
//! VM lane (`cargo xtask vm-test`) runs this file on a kernel with the 8021q module and
//! sets TOOLKIT_VM_LANE=1, which makes the real path required: a kernel there without
//! vlan support fails the test instead of passing on the error branch.

use std::path::Path;

use integration::netns::Netns;
use integration::{Output, bin, cmd, require_root, run};

fn nt(ns: &Netns, args: &[&str]) -> Output {
    // Connection records go to the build tree, not the machine's /run. In the VM lane the
    // build tree's path does not exist (the guest's root is an initramfs): made here.
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(tmp).expect("create CARGO_TARGET_TMPDIR");
    let state = tmp.join("netlink-tool-state");
    run(cmd(bin("netlink-tool"))
        .env("NETLINK_TOOL_STATE_DIR", state)
        .args(["-n", &ns.name])
        .args(args))
}

/// Whether this kernel has vlan support; in the VM lane it must.
fn vlan_available() -> bool {
    // The 8021q module creates /proc/net/vlan when it loads.
    let here = Path::new("/proc/net/vlan").exists();
    let required = std::env::var("TOOLKIT_VM_LANE").is_ok_and(|v| v == "1");
    assert!(
        here || !required,
        "TOOLKIT_VM_LANE=1 but this kernel has no 802.1Q support (is the 8021q module loaded?)"
    );
    here
}

/// What a vlan connect may change on the host: links and routes (without the IPv6
/// link-local route the kernel adds by itself once the uplink has carrier). Not the
/// nftables ruleset: a vlan connect makes no rules, and the VM lane's kernel runs without
/// nf_tables, where reading a ruleset fails.
fn host_state(ns: &Netns) -> serde_json::Value {
    let mut routes = ns.routes();
    if let Some(routes) = routes.as_array_mut() {
        routes.retain(|r| !r["dst"].as_str().is_some_and(|d| d.starts_with("fe80::")));
    }
    serde_json::json!({ "links": ns.links(), "routes": routes })
}

const NO_VLAN: &str = "Unknown device type (kernel lacks vlan support: CONFIG_VLAN_8021Q)";

#[test]
fn link_add_vlan_pings_across() {
    if !require_root("netlink-tool link add type vlan") {
        return;
    }
    let a = Netns::new("nva");
    let b = Netns::new("nvb");
    nt(
        &a,
        &[
            "link",
            "add",
            "p0",
            "type",
            "veth",
            "peer",
            "p1",
            "peer-netns",
            &b.name,
        ],
    )
    .ok();
    let out = nt(
        &a,
        &[
            "link", "add", "p0.10", "type", "vlan", "link", "p0", "id", "10",
        ],
    );
    if !vlan_available() {
        assert_eq!(out.code, 1, "{out}");
        assert_eq!(
            out.stderr,
            format!("netlink-tool: link add p0.10: {NO_VLAN}\n")
        );
        return;
    }
    out.ok();
    nt(
        &b,
        &[
            "link", "add", "p1.10", "type", "vlan", "link", "p1", "id", "10",
        ],
    )
    .ok();
    for (ns, parent, vlan, addr) in [
        (&a, "p0", "p0.10", "10.10.0.1/24"),
        (&b, "p1", "p1.10", "10.10.0.2/24"),
    ] {
        nt(ns, &["addr", "add", addr, "dev", vlan]).ok();
        nt(ns, &["link", "set", parent, "up"]).ok();
        nt(ns, &["link", "set", vlan, "up"]).ok();
    }
    let shown = nt(&a, &["--json", "link", "show", "p0.10"]);
    shown.ok();
    let v: serde_json::Value = serde_json::from_str(shown.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["kind"], "vlan", "{v}");
    assert!(a.ping("10.10.0.2"), "no ping across vlan 10");
    // The tag matters: untagged traffic on the parents does not reach the vlan.
    nt(&a, &["addr", "add", "10.20.0.1/24", "dev", "p0"]).ok();
    assert!(
        !a.ping("10.20.0.2"),
        "untagged traffic should not be answered"
    );
}

#[test]
fn connect_vlan_pings_across_and_disconnect_leaves_nothing() {
    if !require_root("netlink-tool connect vlan") {
        return;
    }
    let host = Netns::new("nvh");
    let ctn = Netns::new("nvc");
    let outside = Netns::new("nvo");
    // The host's uplink: a veth whose other end is the "outside" switch port.
    nt(
        &host,
        &[
            "link",
            "add",
            "up0",
            "up",
            "type",
            "veth",
            "peer",
            "up1",
            "peer-netns",
            &outside.name,
        ],
    )
    .ok();
    let before = host_state(&host);
    let out = nt(
        &host,
        &[
            "connect",
            &ctn.name,
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
    if !vlan_available() {
        assert_eq!(out.code, 1, "{out}");
        assert_eq!(
            out.stderr,
            format!(
                "netlink-tool: connect {}: create vlan 'eth0' on 'up0': {NO_VLAN}\n",
                ctn.name
            )
        );
        assert_eq!(host_state(&host), before);
        return;
    }
    out.ok();
    nt(&outside, &["link", "set", "up1", "up"]).ok();
    nt(
        &outside,
        &[
            "link", "add", "up1.10", "type", "vlan", "link", "up1", "id", "10",
        ],
    )
    .ok();
    nt(&outside, &["addr", "add", "10.0.10.1/24", "dev", "up1.10"]).ok();
    nt(&outside, &["link", "set", "up1.10", "up"]).ok();
    assert!(
        ctn.ping("10.0.10.1"),
        "no ping from the container across vlan 10"
    );
    nt(&host, &["disconnect", &ctn.name]).ok();
    assert_eq!(host_state(&host), before);
    assert!(ctn.link("eth0").is_none());
}
