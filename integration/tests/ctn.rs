//! The manager, `ctn` and its LXC and OpenVZ front-ends, on busybox containers (no
//! mirror needed): life cycle, console login, limits, network, snapshots and copies,
//! autostart, bad input, and what an interrupted start leaves. The Debian course
//! transcript is in `course.rs`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use integration::ctn::{Console, Lab};
use integration::{Output, require_root};

#[track_caller]
fn ok(o: &Output) -> &Output {
    assert_eq!(o.code, 0, "{o}");
    o
}

/// What a stopped container must leave of itself outside its directory: no cgroup, no
/// run state, no namespace file, no link on the host side.
fn assert_gone(lab: &Lab, name: &str) {
    let cg = lab.cgroup(name);
    assert!(
        integration::cgroups::existing(&cg).is_empty(),
        "cgroup {cg} left: {:?}",
        integration::cgroups::existing(&cg)
    );
    assert!(!lab.run_dir().join(name).exists(), "run state left");
    let procs: Vec<String> = lab
        .processes()
        .into_iter()
        .filter(|p| {
            p.contains(&format!("/run/{name}/")) || p.ends_with(&format!("__monitor {name}"))
        })
        .collect();
    assert!(procs.is_empty(), "processes left: {procs:#?}");
}

#[test]
fn a_busybox_container_from_create_to_destroy() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    let t = t.to_str().unwrap();
    ok(&lab.run("ctn", &["create", "c1", "--from", t]));
    let config = std::fs::read_to_string(lab.root().join("c1/config")).unwrap();
    assert!(
        config.contains("lxc.idmap = u 0 "),
        "unprivileged by default: {config}"
    );
    assert_eq!(ok(&lab.run("lxc-ls", &[])).stdout.trim(), "c1");
    // LXC's form: several capabilities on one line.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(lab.root().join("c1/config"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"lxc.cap.drop = net_raw sys_nice\n").unwrap();
    ok(&lab.run("lxc-start", &["-n", "c1", "-d"]));
    // Its root is its range's first ID, and the dropped capabilities are gone.
    let range = config
        .lines()
        .find_map(|l| l.strip_prefix("lxc.idmap = u 0 "))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let o = ok(&lab.run(
        "ctn",
        &[
            "attach",
            "c1",
            "--",
            "sh",
            "-c",
            "cat /proc/self/uid_map; grep CapBnd /proc/self/status",
        ],
    ))
    .stdout
    .clone();
    let mut lines = o.lines();
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(format!("{} {}", map[1], map[2]), range, "{o}");
    assert_eq!(map[0], "0", "{o}");
    let bnd =
        u64::from_str_radix(lines.next().unwrap().split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(
        bnd & (1 << 13 | 1 << 23),
        0,
        "net_raw and sys_nice dropped: {o}"
    );
    assert_ne!(bnd & (1 << 0), 0, "chown kept: {o}");
    let info = ok(&lab.run("lxc-info", &["-n", "c1"])).stdout.clone();
    assert!(info.contains("State:          RUNNING"), "{info}");
    assert!(info.lines().any(|l| l.starts_with("PID:")), "{info}");
    let fancy = ok(&lab.run("lxc-ls", &["--fancy"])).stdout.clone();
    let row: Vec<&str> = fancy.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[0..3], ["c1", "RUNNING", "NO"], "{fancy}");
    assert_eq!(row.last(), Some(&"true"), "{fancy}");
    // Inside: its own hostname, its init as PID 1, root mapped.
    let o = ok(&lab.run(
        "lxc-attach",
        &[
            "-n",
            "c1",
            "--",
            "sh",
            "-c",
            "hostname; ps -o pid,args | sed -n 2p; id -u",
        ],
    ))
    .stdout
    .clone();
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(lines[0], "c1", "{o}");
    assert!(lines[1].trim().starts_with("1 init"), "{o}");
    assert_eq!(lines[2], "0", "{o}");
    // Limits live (the course's three), read back.
    ok(&lab.run(
        "lxc-cgroup",
        &["-n", "c1", "memory.limit_in_bytes", "53687091"],
    ));
    let v: u64 = ok(&lab.run("lxc-cgroup", &["-n", "c1", "memory.limit_in_bytes"]))
        .stdout
        .trim()
        .parse()
        .unwrap();
    assert!((53_600_000..=53_687_091).contains(&v), "{v}");
    ok(&lab.run("lxc-freeze", &["-n", "c1"]));
    assert!(
        ok(&lab.run("lxc-info", &["-n", "c1", "-s"]))
            .stdout
            .contains("FROZEN")
    );
    ok(&lab.run("lxc-unfreeze", &["-n", "c1"]));
    let start = Instant::now();
    ok(&lab.run("lxc-stop", &["-n", "c1"]));
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "busybox init halts on SIGUSR2"
    );
    assert!(
        ok(&lab.run("lxc-info", &["-n", "c1"]))
            .stdout
            .contains("STOPPED")
    );
    assert_gone(&lab, "c1");
    ok(&lab.run("lxc-destroy", &["-n", "c1"]));
    assert!(!lab.root().join("c1").exists());
    assert!(lab.containers().is_empty());
}

#[test]
fn console_login_as_lxc_console_shows_it() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    ok(&lab.run("ctn", &["create", "c2", "--from", t.to_str().unwrap()]));
    ok(&lab.run("ctn", &["start", "c2"]));
    let mut c = Console::spawn({
        let mut cmd = lab.command("lxc-console");
        cmd.args(["-n", "c2"]);
        cmd
    });
    let limit = Duration::from_secs(30);
    // getty prints its prompt again at each newline.
    c.wake("login:", limit);
    c.send(b"root\n");
    c.expect("Password:", limit);
    c.send(b"root\n");
    // The shell's prompt first: login drops what was typed before it.
    c.expect("# ", limit);
    c.send(b"echo CONSOLE-$((6*7)); tty\n");
    c.expect("CONSOLE-42", limit);
    // Ctrl+a q: detach; the container keeps running.
    c.send(b"\x01q");
    let (status, err) = c.finish(limit);
    assert!(status.success(), "{status}: {err}");
    assert!(
        err.contains("Connected to tty 1")
            && err.contains(
                "Type <Ctrl+a q> to exit the console, <Ctrl+a Ctrl+a> to enter Ctrl+a itself"
            ),
        "{err}"
    );
    assert!(
        ok(&lab.run("ctn", &["info", "c2"]))
            .stdout
            .contains("RUNNING")
    );
    ok(&lab.run("ctn", &["stop", "c2", "-k"]));
    ok(&lab.run("ctn", &["destroy", "c2"]));
}

#[test]
fn networks_come_from_the_config_and_addresses_are_not_shared() {
    if !require_root("containers and network namespaces") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    for (name, addr) in [
        ("n1", "10.0.3.11/24"),
        ("n2", "10.0.3.12/24"),
        ("n3", "10.0.3.11/24"),
    ] {
        ok(&lab.run("ctn", &["create", name, "--from", t.to_str().unwrap()]));
        let cfg = lab.root().join(name).join("config");
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text = text.replace("lxc.net.0.type = empty\n", "");
        text.push_str(&format!(
            "lxc.net.0.type = veth\nlxc.net.0.link = lxcbr0\nlxc.net.0.ipv4.address = {addr}\n"
        ));
        std::fs::write(&cfg, text).unwrap();
    }
    ok(&lab.run("ctn", &["start", "n1"]));
    ok(&lab.run("ctn", &["start", "n2"]));
    // The bridge was made as LXC's lxc-net makes lxcbr0; the containers reach each other
    // and the host side.
    let o = ok(&lab.run(
        "ctn",
        &[
            "attach",
            "n1",
            "--",
            "ping",
            "-c",
            "1",
            "-W",
            "5",
            "10.0.3.12",
        ],
    ))
    .stdout
    .clone();
    assert!(o.contains("1 packets received"), "{o}");
    let o = ok(&lab.run(
        "ctn",
        &[
            "attach", "n2", "--", "ping", "-c", "1", "-W", "5", "10.0.3.1",
        ],
    ))
    .stdout
    .clone();
    assert!(o.contains("1 packets received"), "{o}");
    let info = ok(&lab.run("ctn", &["info", "n1"])).stdout.clone();
    assert!(info.contains("IP:             10.0.3.11"), "{info}");
    // n3 has n1's address: refused before anything is made.
    let o = lab.run("ctn", &["start", "n3"]);
    assert_eq!(o.code, 1, "{o}");
    assert_eq!(
        o.stderr,
        "ctn: container 'n3': address 10.0.3.11 is used by running container 'n1'\n"
    );
    assert_gone(&lab, "n3");
    for n in ["n1", "n2"] {
        ok(&lab.run("ctn", &["stop", n, "-k"]));
        assert_gone(&lab, n);
    }
}

#[test]
fn snapshots_restore_a_deleted_file_and_copies_are_new_machines() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    ok(&lab.run("ctn", &["create", "s1", "--from", t.to_str().unwrap()]));
    ok(&lab.run("ctn", &["start", "s1"]));
    ok(&lab.run(
        "ctn",
        &[
            "attach",
            "s1",
            "--",
            "sh",
            "-c",
            "echo precious > /root/file",
        ],
    ));
    // Taken while running: the container is frozen for the copy.
    ok(&lab.run("lxc-snapshot", &["-n", "s1"]));
    let list = ok(&lab.run("lxc-snapshot", &["-n", "s1", "-L"]))
        .stdout
        .clone();
    assert!(list.starts_with("snap0 "), "{list}");
    ok(&lab.run("ctn", &["attach", "s1", "--", "rm", "/root/file"]));
    ok(&lab.run("ctn", &["stop", "s1", "-k"]));
    ok(&lab.run("lxc-snapshot", &["-n", "s1", "-r", "snap0"]));
    ok(&lab.run("ctn", &["start", "s1"]));
    let o = ok(&lab.run("ctn", &["attach", "s1", "--", "cat", "/root/file"]))
        .stdout
        .clone();
    assert_eq!(o, "precious\n");
    ok(&lab.run("ctn", &["stop", "s1", "-k"]));
    // A copy: its own hostname, machine-id (empty: made at boot) and ID range.
    ok(&lab.run("lxc-copy", &["-n", "s1", "-N", "s2"]));
    let c1 = std::fs::read_to_string(lab.root().join("s1/config")).unwrap();
    let c2 = std::fs::read_to_string(lab.root().join("s2/config")).unwrap();
    let idmap = |c: &str| {
        c.lines()
            .find(|l| l.starts_with("lxc.idmap = u"))
            .map(str::to_owned)
    };
    assert_ne!(idmap(&c1), idmap(&c2));
    assert_eq!(
        std::fs::read_to_string(lab.root().join("s2/rootfs/etc/hostname")).unwrap(),
        "s2\n"
    );
    ok(&lab.run("ctn", &["start", "s2"]));
    assert_eq!(
        ok(&lab.run("ctn", &["attach", "s2", "--", "hostname"])).stdout,
        "s2\n"
    );
    ok(&lab.run("ctn", &["stop", "s2", "-k"]));
    ok(&lab.run("lxc-snapshot", &["-n", "s1", "-d", "snap0"]));
    for n in ["s1", "s2"] {
        ok(&lab.run("ctn", &["destroy", n]));
    }
}

#[test]
fn autostart_starts_in_order_and_stops_in_reverse() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    for (name, order) in [("a3", 3), ("a1", 1), ("a2", 2)] {
        ok(&lab.run("ctn", &["create", name, "--from", t.to_str().unwrap()]));
        let cfg = lab.root().join(name).join("config");
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str(&format!("lxc.start.auto = 1\nlxc.start.order = {order}\n"));
        std::fs::write(&cfg, text).unwrap();
    }
    ok(&lab.run("ctn", &["create", "manual", "--from", t.to_str().unwrap()]));
    assert_eq!(
        ok(&lab.run("lxc-autostart", &["-L"])).stdout,
        "a1\na2\na3\n"
    );
    ok(&lab.run("lxc-autostart", &[]));
    let fancy = ok(&lab.run("lxc-ls", &["-f"])).stdout.clone();
    for n in ["a1", "a2", "a3"] {
        assert!(
            fancy
                .lines()
                .any(|l| l.starts_with(n) && l.contains("RUNNING") && l.contains("YES")),
            "{fancy}"
        );
    }
    assert!(
        fancy
            .lines()
            .any(|l| l.starts_with("manual") && l.contains("STOPPED")),
        "{fancy}"
    );
    ok(&lab.run("lxc-autostart", &["-k"]));
    for n in ["a1", "a2", "a3"] {
        assert_gone(&lab, n);
    }
}

#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    let t = t.to_str().unwrap();
    let cases: &[(&str, &[&str], i32, &str)] = &[
        (
            "ctn",
            &["create", "../x", "--from", t],
            1,
            "ctn: invalid container name '../x': use letters, digits, '.', '_' and '-', not first '.'\n",
        ),
        (
            "ctn",
            &["create", "", "--from", t],
            2,
            "ctn: a container name is needed\nTry 'ctn help' for more information.\n",
        ),
        (
            "ctn",
            &["create", "a b", "--from", t],
            1,
            "ctn: invalid container name 'a b': use letters, digits, '.', '_' and '-', not first '.'\n",
        ),
        ("ctn", &["create", &"x".repeat(65), "--from", t], 1, ""),
        (
            "ctn",
            &["create", "m1", "--template", "no-such-template"],
            1,
            "ctn: no template 'no-such-template' (ctn template list; debian; debian-12-minimal)\n",
        ),
        (
            "ctn",
            &["frobnicate"],
            2,
            "ctn: unknown command 'frobnicate'\nTry 'ctn help' for more information.\n",
        ),
        (
            "ctn",
            &["start", "nosuch"],
            1,
            "ctn: container 'nosuch' does not exist\n",
        ),
        (
            "lxc-start",
            &["-n", "nosuch", "--bogus"],
            2,
            "lxc-start: option '--bogus' is not supported\nTry 'lxc-start --help' for more information.\n",
        ),
        (
            "lxc-stop",
            &[],
            2,
            "lxc-stop: missing container name, use --name option\nTry 'lxc-stop --help' for more information.\n",
        ),
        (
            "vzctl",
            &["set", "105", "--iptables", "x"],
            1,
            "ctn: container '105' does not exist\n",
        ),
    ];
    for (prog, args, code, stderr) in cases {
        let o = lab.run(prog, args);
        assert_eq!(o.code, *code, "{prog} {args:?}: {o}");
        if stderr.is_empty() {
            assert_eq!(o.stderr.lines().count(), 1, "{prog} {args:?}: {o}");
        } else {
            assert_eq!(o.stderr, *stderr, "{prog} {args:?}");
        }
        assert!(
            lab.containers().is_empty(),
            "{prog} {args:?} left {:?}",
            lab.containers()
        );
    }
    // A malformed config line: the start refuses it, naming the line, and makes nothing.
    ok(&lab.run("ctn", &["create", "bad", "--from", t]));
    let cfg = lab.root().join("bad/config");
    let good = std::fs::read_to_string(&cfg).unwrap();
    let lines = good.lines().count();
    for (line, why) in [
        ("lxc.bogus = 1", "unknown key 'lxc.bogus'"),
        (
            "lxc.net.0.type = ethernet",
            "network type 'ethernet' (empty, veth, macvlan, vlan, phys, routed)",
        ),
        (
            "lxc.tty.max = many",
            "lxc.tty.max: a number of ttys, not 'many'",
        ),
        (
            "no equals sign",
            "expected KEY = VALUE, not 'no equals sign'",
        ),
        (
            "lxc.kmsg = 1",
            "lxc.kmsg = 1 is not supported: the host's kernel log stays the host's",
        ),
    ] {
        std::fs::write(&cfg, format!("{good}{line}\n")).unwrap();
        let o = lab.run("ctn", &["start", "bad"]);
        assert_eq!(o.code, 1, "{line}: {o}");
        assert_eq!(
            o.stderr,
            format!("ctn: {}:{}: {why}\n", cfg.display(), lines + 1),
            "{line}"
        );
        assert_gone(&lab, "bad");
    }
    std::fs::write(&cfg, &good).unwrap();
    // vzctl's options ctn does not have: refused, not ignored.
    let o = lab.run("vzctl", &["set", "bad", "--iptables", "x"]);
    assert_eq!(o.code, 2, "{o}");
    assert_eq!(
        o.stderr.lines().next(),
        Some("ctn: set: option '--iptables' is not supported")
    );
    ok(&lab.run("ctn", &["destroy", "bad"]));
}

#[test]
fn a_start_killed_midway_is_cleared_by_destroy() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    ok(&lab.run("ctn", &["create", "k1", "--from", t.to_str().unwrap()]));
    for delay_ms in [5u64, 40, 150, 400] {
        let mut child = lab
            .command("ctn")
            .args(["start", "k1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // The monitor may have gone on: stop what runs, then destroy clears the rest.
        let _ = lab.run("ctn", &["stop", "k1", "-k"]);
        ok(&lab.run("ctn", &["destroy", "-f", "k1"]));
        assert_gone(&lab, "k1");
        assert!(!lab.root().join("k1").exists());
        ok(&lab.run("ctn", &["create", "k1", "--from", t.to_str().unwrap()]));
    }
    ok(&lab.run("ctn", &["destroy", "k1"]));
}

#[test]
fn stop_clears_the_state_a_start_killed_before_its_monitor_left() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    ok(&lab.run("ctn", &["create", "k2", "--from", t.to_str().unwrap()]));
    let o = lab.run("ctn", &["stop", "k2", "-k"]);
    assert_eq!(o.code, 1, "{o}");
    assert_eq!(o.stderr.trim(), "ctn: container 'k2' is not running");
    // What a SIGKILL between `mkdir` of its run directory and the start of its monitor
    // leaves: the directory, empty.
    let rd = lab.run_dir().join("k2");
    std::fs::create_dir_all(&rd).unwrap();
    let o = lab.run("ctn", &["stop", "k2", "-k"]);
    assert_eq!(o.code, 0, "{o}");
    assert!(o.stderr.contains("was not running: cleared"), "{o}");
    assert!(!rd.exists());
    ok(&lab.run("ctn", &["start", "k2"]));
    ok(&lab.run("ctn", &["stop", "k2", "-k"]));
    assert!(!rd.exists());
    ok(&lab.run("ctn", &["destroy", "k2"]));
    assert_gone(&lab, "k2");
}

/// The loop devices backing `image` (none once its container stopped).
fn loops_of(image: &std::path::Path) -> String {
    let o = integration::run(integration::cmd("losetup").arg("-j").arg(image));
    o.ok();
    o.stdout
}

/// 48 MiB written to /big in container d1.
const WRITE_48M: &[&str] = &[
    "attach",
    "d1",
    "--",
    "dd",
    "if=/dev/zero",
    "of=/big",
    "bs=1M",
    "count=48",
];

/// Whether this process holds CAP_SYS_RESOURCE (the kernel's online resize of ext4 needs
/// it).
fn has_cap_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    const CAP_SYS_RESOURCE: u32 = 24;
    eff & (1 << CAP_SYS_RESOURCE) != 0
}

/// `df` of the container's root inside it: (size, used) in KiB.
fn df_inside(lab: &Lab, name: &str) -> (u64, u64) {
    let o = ok(&lab.run("ctn", &["attach", name, "--", "df", "-k", "/"]))
        .stdout
        .clone();
    let f: Vec<u64> = o
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("{o}"))
        .split_whitespace()
        .skip(1)
        .take(2)
        .map(|n| n.parse().unwrap())
        .collect();
    (f[0], f[1])
}

#[test]
fn a_disk_of_its_own_stops_writes_at_its_size_grows_live_and_shrinks_stopped() {
    if !require_root("containers, loop devices") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    let t = t.to_str().unwrap();
    ok(&lab.run("ctn", &["create", "d1", "--from", t]));
    let dir = lab.root().join("d1");
    let image = dir.join("disk.img");
    let config = || std::fs::read_to_string(dir.join("config")).unwrap();
    // (busybox has no chpasswd: one that keeps what it is given, to see where it ran.)
    let sbin = dir.join("rootfs/usr/sbin");
    std::fs::create_dir_all(&sbin).unwrap();
    std::fs::write(sbin.join("chpasswd"), "#!/bin/sh\ncat >/chpasswd.in\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        sbin.join("chpasswd"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let mounted = || -> Vec<String> {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| std::path::Path::new(m).starts_with(&dir))
            .map(str::to_owned)
            .collect()
    };

    // Too small for its files: refused, nothing changed.
    let before = config();
    let o = lab.run("vzctl", &["set", "d1", "--diskspace", "1M", "--save"]);
    assert_eq!(o.code, 1, "{o}");
    assert_eq!(o.stderr.lines().count(), 1, "{o}");
    assert!(o.stderr.contains("do not fit in 1M"), "{o}");
    assert_eq!(config(), before);
    assert!(!image.exists());
    assert!(dir.join("rootfs/bin/busybox").exists());

    // vzctl's SOFT:HARD; the files move into the image (the password written first), the
    // directory becomes its mount point, mounted only while the container runs.
    ok(&lab.run(
        "vzctl",
        &[
            "set",
            "d1",
            "--diskspace",
            "24M:32M",
            "--userpasswd",
            "root:first",
            "--save",
        ],
    ));
    assert!(config().contains("ctn.disk.size = 32M"), "{}", config());
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 32 << 20);
    assert_eq!(std::fs::read_dir(dir.join("rootfs")).unwrap().count(), 0);
    let info = ok(&lab.run("ctn", &["info", "d1", "-H"])).stdout.clone();
    let disk: Vec<u64> = info
        .lines()
        .find_map(|l| l.strip_prefix("Disk use:"))
        .unwrap_or_else(|| panic!("{info}"))
        .split(" of ")
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert!(
        disk[0] > 0 && disk[1] > 24 << 20 && disk[1] <= 32 << 20,
        "{info}"
    );

    assert_eq!(mounted(), Vec::<String>::new());
    // Mounted on its root filesystem while it runs (as vzctl mounts a ploop image).
    ok(&lab.run("ctn", &["start", "d1"]));
    assert_eq!(mounted(), [dir.join("rootfs").to_string_lossy()]);
    let (size, _) = df_inside(&lab, "d1");
    assert!((24 * 1024..=32 * 1024).contains(&size), "{size} KiB");
    ok(&lab.run(
        "ctn",
        &["attach", "d1", "--", "sh", "-c", "echo kept >/marker"],
    ));
    // Writes stop at the size.
    let o = lab.run("ctn", WRITE_48M);
    assert_ne!(o.code, 0, "48M written on a 32M disk: {o}");
    assert!(o.stderr.contains("No space left"), "{o}");
    let json = ok(&lab.run("ctn", &["info", "d1", "--json"]))
        .stdout
        .clone();
    assert!(json.contains("\"disk_size_bytes\":"), "{json}");

    // Grown live: the running container sees it at once, and the write fits. The kernel
    // grows a mounted ext4 only for CAP_SYS_RESOURCE: without it (root here lacks it),
    // refused with the reason, nothing changed, and grown once stopped.
    ok(&lab.run("ctn", &["attach", "d1", "--", "rm", "/big"]));
    let o = lab.run("vzctl", &["set", "d1", "--diskspace", "96M", "--save"]);
    if has_cap_sys_resource() {
        ok(&o);
    } else {
        assert_eq!(o.code, 1, "{o}");
        assert!(o.stderr.contains("needs CAP_SYS_RESOURCE"), "{o}");
        assert!(config().contains("ctn.disk.size = 32M"), "{}", config());
        assert_eq!(std::fs::metadata(&image).unwrap().len(), 32 << 20);
        assert_eq!(df_inside(&lab, "d1").0, size);
        ok(&lab.run("ctn", &["stop", "d1", "-k"]));
        ok(&lab.run("vzctl", &["set", "d1", "--diskspace", "96M", "--save"]));
        ok(&lab.run("ctn", &["start", "d1"]));
    }
    let (size, _) = df_inside(&lab, "d1");
    assert!((80 * 1024..=96 * 1024).contains(&size), "{size} KiB");
    ok(&lab.run("ctn", WRITE_48M));
    // Shrunk only when stopped, and never below its files.
    let o = lab.run("vzctl", &["set", "d1", "--diskspace", "64M", "--save"]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("stop it first"), "{o}");
    assert!(config().contains("ctn.disk.size = 96M"), "{}", config());
    ok(&lab.run("ctn", &["stop", "d1", "-k"]));
    assert_eq!(loops_of(&image), "", "a loop device left");
    assert_eq!(mounted(), Vec::<String>::new());
    let o = lab.run("vzctl", &["set", "d1", "--diskspace", "32M", "--save"]);
    assert_eq!(o.code, 1, "48M of files in 32M: {o}");
    assert!(config().contains("ctn.disk.size = 96M"), "{}", config());
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 96 << 20);
    ok(&lab.run("ctn", &["set", "d1", "--diskspace", "64M", "--save"]));
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 64 << 20);

    // The files are the container's, started again; a copy gets a disk of its own.
    ok(&lab.run("ctn", &["copy", "d1", "d2"]));
    for c in ["d1", "d2"] {
        ok(&lab.run("ctn", &["start", c]));
        let o = ok(&lab.run(
            "ctn",
            &[
                "attach",
                c,
                "--",
                "sh",
                "-c",
                "cat /marker; hostname; wc -c </big",
            ],
        ))
        .stdout
        .clone();
        assert_eq!(o, format!("kept\n{c}\n{}\n", 48 << 20));
        // (The copy's image holds the zeros as a hole: mkfs.ext4 -d keeps files sparse.)
        let (size, _) = df_inside(&lab, c);
        assert!((52 * 1024..=64 * 1024).contains(&size), "{c}: {size} KiB");
        ok(&lab.run("ctn", &["stop", c, "-k"]));
        assert_gone(&lab, c);
    }
    assert!(lab.root().join("d2/disk.img").exists());

    // What reads a stopped container's files reads them on its disk, mounted only for
    // that command, in a namespace of its own: a snapshot, a password, an export.
    ok(&lab.run("ctn", &["snapshot", "d1"]));
    let snap = dir.join("snaps/snap0/rootfs");
    assert_eq!(
        std::fs::read_to_string(snap.join("marker")).unwrap(),
        "kept\n"
    );
    assert!(!snap.join("lost+found").exists());
    assert_eq!(
        std::fs::read_to_string(snap.join("chpasswd.in")).unwrap(),
        "root:first\n"
    );
    ok(&lab.run("ctn", &["set", "d1", "--userpasswd", "root:other"]));
    let oci = lab.root().join("d1.oci");
    ok(&lab.run("ctn", &["export", "d1", "--oci", oci.to_str().unwrap()]));
    assert!(oci.join("index.json").exists());
    assert_eq!(mounted(), Vec::<String>::new());
    assert_eq!(loops_of(&image), "");
    // Without ctn.disk.size, the files go back to the directory at the next start.
    let c = config().replace("ctn.disk.size = 64M\n", "");
    std::fs::write(dir.join("config"), c).unwrap();
    ok(&lab.run("ctn", &["start", "d1"]));
    assert!(!image.exists());
    assert_eq!(mounted(), Vec::<String>::new());
    assert_eq!(
        std::fs::read_to_string(dir.join("rootfs/marker")).unwrap(),
        "kept\n"
    );
    assert!(!dir.join("rootfs/lost+found").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("rootfs/chpasswd.in")).unwrap(),
        "root:other\n"
    );
    ok(&lab.run("ctn", &["stop", "d1", "-k"]));
    // A snapshot of the disk restored: files in the directory, the disk made again at
    // the next start.
    ok(&lab.run("ctn", &["snapshot", "d1", "-r", "snap0"]));
    ok(&lab.run("ctn", &["start", "d1"]));
    assert!(image.exists());
    ok(&lab.run("ctn", &["stop", "d1", "-k"]));
    ok(&lab.run("ctn", &["snapshot", "d1", "-d", "snap0"]));
    std::fs::remove_dir_all(&oci).unwrap();

    for c in ["d1", "d2"] {
        let image = lab.root().join(c).join("disk.img");
        ok(&lab.run("ctn", &["destroy", c]));
        assert!(!image.exists());
    }
    assert!(lab.containers().is_empty());
}

/// `sha256sum FILE`: the digest as OCI writes it.
fn sha256(path: &std::path::Path) -> String {
    let o = integration::run(integration::cmd("sha256sum").arg(path));
    format!("sha256:{}", o.stdout.split_whitespace().next().unwrap())
}

#[test]
fn export_writes_an_oci_image_of_the_container() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    ok(&lab.run("ctn", &["create", "o1", "--from", t.to_str().unwrap()]));
    let dir = integration::tempdir();
    let out = dir.path().join("o1.oci");
    let o = ok(&lab.run("ctn", &["export", "o1", "--oci", out.to_str().unwrap()]))
        .stderr
        .clone();
    assert!(o.contains("exported"), "{o}");
    // The layout: oci-layout, index.json → manifest → config and one layer, each blob
    // named by its digest.
    let json = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    assert_eq!(json(&out.join("oci-layout"))["imageLayoutVersion"], "1.0.0");
    let index = json(&out.join("index.json"));
    let m = &index["manifests"][0];
    assert_eq!(m["annotations"]["org.opencontainers.image.ref.name"], "o1");
    let blob = |d: &serde_json::Value| out.join("blobs/sha256").join(&d.as_str().unwrap()[7..]);
    let manifest_path = blob(&m["digest"]);
    assert_eq!(sha256(&manifest_path), m["digest"]);
    let manifest = json(&manifest_path);
    let config_path = blob(&manifest["config"]["digest"]);
    assert_eq!(sha256(&config_path), manifest["config"]["digest"]);
    let config = json(&config_path);
    assert_eq!(config["config"]["Entrypoint"][0], "/sbin/init");
    assert_eq!(
        config["config"]["StopSignal"], "SIGUSR2",
        "busybox init halts on USR2"
    );
    assert_eq!(config["os"], "linux");
    let layer = blob(&manifest["layers"][0]["digest"]);
    assert_eq!(sha256(&layer), manifest["layers"][0]["digest"]);
    assert_eq!(
        std::fs::metadata(&layer).unwrap().len(),
        manifest["layers"][0]["size"].as_u64().unwrap()
    );
    // The layer's uncompressed digest is the config's diff_id; its files are owned by the
    // container's root (0), as the container sees them.
    let plain = dir.path().join("layer.tar");
    let o = integration::run(integration::cmd("sh").arg("-c").arg(format!(
        "gzip -dc < {} > {}",
        layer.display(),
        plain.display()
    )));
    o.ok();
    assert_eq!(sha256(&plain), config["rootfs"]["diff_ids"][0]);
    let listing = integration::run(
        integration::cmd("tar")
            .args(["-tv", "--numeric-owner", "-f"])
            .arg(&plain),
    );
    let busybox = listing
        .stdout
        .lines()
        .find(|l| l.ends_with("./bin/busybox"))
        .unwrap_or_else(|| panic!("no busybox in the layer: {}", listing.stdout));
    assert!(busybox.contains(" 0/0 "), "{busybox}");
    // skopeo reads it (and the archive form) as an image.
    if integration::run(integration::cmd("skopeo").arg("--version")).code == 0 {
        let o = integration::run(
            integration::cmd("skopeo")
                .arg("inspect")
                .arg(format!("oci:{}", out.display())),
        );
        o.ok();
        assert!(o.stdout.contains("\"Architecture\""), "{o}");
        let tar = dir.path().join("o1.tar");
        ok(&lab.run("ctn", &["export", "o1", "--oci", tar.to_str().unwrap()]));
        let o = integration::run(
            integration::cmd("skopeo")
                .arg("inspect")
                .arg(format!("oci-archive:{}", tar.display())),
        );
        o.ok();
    }
    // A second export to the same place is refused; a running container is refused.
    let o = lab.run("ctn", &["export", "o1", "--oci", out.to_str().unwrap()]);
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("exists"), "{o}");
    ok(&lab.run("ctn", &["start", "o1"]));
    let o = lab.run(
        "ctn",
        &[
            "export",
            "o1",
            "--oci",
            dir.path().join("x").to_str().unwrap(),
        ],
    );
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.contains("is running"), "{o}");
    ok(&lab.run("ctn", &["stop", "o1", "-k"]));
    // Nothing but the two images was left beside them.
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["layer.tar", "o1.oci", "o1.tar"]);
    ok(&lab.run("ctn", &["destroy", "o1"]));
}

#[test]
fn overlapping_id_ranges_and_an_exhausted_pool_are_refused() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    let t = t.to_str().unwrap();
    ok(&lab.run("ctn", &["create", "r1", "--from", t]));
    ok(&lab.run("ctn", &["create", "r2", "--from", t]));
    // r2's config made to take r1's host IDs (as a hand edit would): its start is refused,
    // in one line, and leaves nothing.
    let base = |name: &str| -> String {
        let c = std::fs::read_to_string(lab.root().join(name).join("config")).unwrap();
        c.lines()
            .find_map(|l| l.strip_prefix("lxc.idmap = u 0 "))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    let (b1, b2) = (base("r1"), base("r2"));
    assert_ne!(b1, b2, "two containers, two ranges");
    let cfg = lab.root().join("r2/config");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace(&format!(" {b2} "), &format!(" {b1} "))).unwrap();
    let o = lab.run("ctn", &["start", "r2"]);
    assert_eq!(o.code, 1, "{o}");
    assert_eq!(
        o.stderr,
        format!(
            "ctn: container 'r2': its host IDs {b1}-{} overlap those of container 'r1'\n",
            b1.parse::<u64>().unwrap() + 65535
        )
    );
    assert_gone(&lab, "r2");
    // A pool of one range: the second container finds none, and nothing is left of it.
    // (Root's own /etc/subuid entries, when it has some, are the pool instead.)
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    if subuid
        .lines()
        .any(|l| l.starts_with("root:") || l.starts_with("0:"))
    {
        integration::skip(
            "the default pool",
            "root has /etc/subuid entries: they are the pool",
        );
        return;
    }
    let lab2 = Lab::new();
    let create = |name: &str| {
        integration::run_with_timeout(
            lab2.command("ctn")
                .env("CTN_POOL_SLOTS", "1")
                .args(["create", name, "--from", t]),
            Duration::from_secs(120),
        )
    };
    ok(&create("p1"));
    let o = create("p2");
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr
            .starts_with("ctn: no free range of 65536 subordinate IDs left")
            && o.stderr.lines().count() == 1,
        "{o}"
    );
    let left: Vec<_> = std::fs::read_dir(lab2.root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["p1"], "p2 left something");
}

#[test]
fn start_in_the_foreground_shows_the_console_on_this_terminal_until_the_container_stops() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    ok(&lab.run("ctn", &["create", "f1", "--from", t.to_str().unwrap()]));
    // script(1) gives `ctn start -F` a terminal, as a user's shell would: what it shows
    // is the console's.
    let ctn = lab.command("ctn");
    let mut s = std::process::Command::new("script");
    s.args([
        "-qec",
        &format!("{} start -F f1", ctn.get_program().to_string_lossy()),
        "/dev/null",
    ]);
    for (k, v) in ctn.get_envs() {
        if let Some(v) = v {
            s.env(k, v);
        }
    }
    let mut child = s
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let until = Instant::now() + Duration::from_secs(60);
    while !lab.run("ctn", &["info", "f1"]).stdout.contains("RUNNING") {
        assert!(Instant::now() < until, "not running after 60 s");
        assert!(child.try_wait().unwrap().is_none(), "ctn start -F ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    ok(&lab.run("ctn", &["attach", "f1", "--", "true"]));
    // Stopped from elsewhere: the foreground start returns, having cleaned up.
    ok(&lab.run("ctn", &["stop", "f1"]));
    let until = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < until,
            "ctn start -F still runs after the stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(status.success(), "{status}: {shown}");
    // The terminal was the console's (not /dev/null, whose end ptyhold reads as a detach).
    assert!(shown.contains("Connected to tty 0"), "{shown}");
    assert!(!shown.contains("end of input"), "{shown}");
    assert!(!lab.run_dir().join("f1").exists());
    assert!(lab.run("ctn", &["info", "f1"]).stdout.contains("STOPPED"));
}

/// ctn reads the rest of its file only for the commands that do not run containers (a
/// shell reads a script as it runs it): whatever start, stop, attach, console and the
/// monitor may call must be defined above that cut, or they would fail there.
#[test]
fn what_the_commands_that_run_containers_call_is_above_the_cut() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ctn/ctn");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines
        .iter()
        .position(|l| l.starts_with("if fast_command"))
        .expect("the cut");
    // name → (line of its definition, its body)
    let mut defs: std::collections::BTreeMap<String, (usize, String)> = Default::default();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if let Some(name) = l.strip_suffix("() {").filter(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }) {
            let start = i;
            while i < lines.len() && lines[i] != "}" {
                i += 1;
            }
            defs.insert(name.to_owned(), (start, lines[start..i].join("\n")));
        } else if let Some((name, body)) = l.split_once("() { ")
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            defs.insert(name.to_owned(), (i, body.to_owned()));
        }
        i += 1;
    }
    let calls = |body: &str| -> Vec<String> {
        body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| defs.contains_key(*w))
            .map(str::to_owned)
            .collect()
    };
    let roots = [
        "cmd_start",
        "cmd_stop",
        "cmd_attach",
        "cmd_console",
        "cmd_monitor",
        "fast_command",
        "quote_word",
    ];
    let mut seen: std::collections::BTreeSet<String> = Default::default();
    let mut todo: Vec<String> = roots.iter().map(|r| (*r).to_owned()).collect();
    while let Some(f) = todo.pop() {
        if !seen.insert(f.clone()) {
            continue;
        }
        todo.extend(calls(&defs[&f].1));
    }
    let below: Vec<&String> = seen.iter().filter(|f| defs[*f].0 > cut).collect();
    assert!(
        below.is_empty(),
        "called by the commands that run containers, defined below the cut: {below:?}"
    );
    assert!(seen.len() > 40, "{seen:?}");
    // Nor a variable that a line below the cut sets.
    let vars: Vec<&str> = lines[cut..]
        .iter()
        .filter_map(|l| l.split_once('=').map(|(v, _)| v))
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        .collect();
    assert!(vars.contains(&"DEBIAN_INCLUDE"), "{vars:?}");
    for f in &seen {
        for v in &vars {
            assert!(
                !defs[f].1.contains(&format!("${v}")) && !defs[f].1.contains(&format!("${{{v}")),
                "{f} reads {v}, set below the cut"
            );
        }
    }
}
