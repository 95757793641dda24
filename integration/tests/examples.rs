//! `examples/container`, run as a user copies it: an unprivileged container made by hand
//! from the five tools (what `ctn start` does underneath), on a busybox root.

use std::path::Path;

use integration::{Rootfs, bin, cmd, require_root, run};

#[test]
fn the_hand_made_container_is_unprivileged_confined_and_leaves_nothing() {
    if !require_root("containers") {
        return;
    }
    let rootfs = Rootfs::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/container");
    let tools = bin("chroot-rs").parent().unwrap().to_path_buf();
    let o = run(cmd(&script)
        .arg(rootfs.path())
        .args([
            "/bin/sh",
            "-c",
            "id -u; cat /proc/self/uid_map; hostname; echo container=$container; \
             grep -c . /proc/self/mountinfo; grep Seccomp: /proc/self/status; \
             cat /proc/self/cgroup",
        ])
        .env("EXAMPLE_HOSTNAME", "handmade")
        .env(
            "PATH",
            format!(
                "{}:{}",
                tools.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ));
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "0", "root inside: {o}");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map[0], "0");
    assert_ne!(map[1], "0", "not root outside: {o}");
    assert_eq!(map[2], "65536");
    assert_eq!(lines[2], "handmade");
    assert_eq!(lines[3], "container=example");
    assert!(lines[5].ends_with("\t2"), "a seccomp filter: {o}");
    // Its cgroup namespace: its own group is its root.
    assert!(lines[6..].iter().all(|l| l.ends_with(":/")), "{o}");
    // Nothing left: the groups are gone (example-PID, below this test's own).
    let left: Vec<String> = integration::cgroups::hierarchies()
        .iter()
        .filter_map(|h| std::fs::read_dir(&h.own).ok())
        .flat_map(|d| d.flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("example-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Exit statuses pass through.
    let o = run(cmd(&script)
        .arg(rootfs.path())
        .args(["/bin/sh", "-c", "exit 7"])
        .env(
            "PATH",
            format!(
                "{}:{}",
                tools.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ));
    assert_eq!(o.code, 7, "{o}");
}
