//! System containers beyond the course's systemd one: a sysvinit Debian (its inittab as
//! Debian ships it, unedited: gettys on the ttys, halted through its own FIFO since the
//! power-fail script it names is gone) and a privileged systemd container (host root
//! inside, hardened). Each boots, serves a console login or runs its services, reboots
//! and powers off from inside, and stops cleanly leaving nothing. (systemd unprivileged
//! is the course's, in `course.rs`; busybox init is in `ctn.rs`.)

use std::time::{Duration, Instant};

use integration::ctn::{Console, Lab};
use integration::{Output, require_root};

#[track_caller]
fn ok(o: &Output) -> &Output {
    assert_eq!(o.code, 0, "{o}");
    o
}

#[track_caller]
fn assert_gone(lab: &Lab, name: &str) {
    let cg = lab.cgroup(name);
    assert!(
        integration::cgroups::existing(&cg).is_empty(),
        "cgroup {cg} left: {:?}",
        integration::cgroups::existing(&cg)
    );
    assert!(!lab.run_dir().join(name).exists(), "run state left");
}

/// Ask `args` inside until its output contains `want` (a bound of 120 s).
fn wait_for(lab: &Lab, name: &str, args: &[&str], want: &str) -> String {
    let start = Instant::now();
    loop {
        let mut a = vec!["attach", name, "--"];
        a.extend(args);
        let o = lab.run("ctn", &a);
        if o.stdout.contains(want) {
            return o.stdout;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{args:?}: no {want:?}: {o}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn init_pid(lab: &Lab, name: &str) -> String {
    std::fs::read_to_string(lab.run_dir().join(name).join("init.pid"))
        .map(|p| p.trim().to_owned())
        .unwrap_or_default()
}

/// `reboot` inside brings a new init; `poweroff` inside stops the container.
fn reboot_then_poweroff(lab: &Lab, name: &str, ready: &[&str], ready_text: &str) {
    let first = init_pid(lab, name);
    let _ = lab.run("ctn", &["attach", name, "--", "reboot"]);
    let start = Instant::now();
    while init_pid(lab, name) == first || init_pid(lab, name).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60), "no reboot");
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for(lab, name, ready, ready_text);
    let _ = lab.run("ctn", &["attach", name, "--", "poweroff"]);
    let start = Instant::now();
    while lab.run_dir().join(name).exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "no poweroff");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        ok(&lab.run("ctn", &["info", name, "-s"]))
            .stdout
            .contains("STOPPED")
    );
    assert_gone(lab, name);
}

#[test]
fn sysvinit_boots_logs_in_and_halts() {
    if !require_root("system containers") {
        return;
    }
    let lab = Lab::new();
    ok(&lab.run(
        "ctn",
        &["create", "sv", "-t", "debian", "--include", "sysvinit-core"],
    ));
    let log = lab.root().join("sv.console.log");
    let cfg = lab.root().join("sv/config");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("lxc.console.logfile = {}\n", log.display()));
    std::fs::write(&cfg, text).unwrap();
    ok(&lab.run("ctn", &["set", "sv", "--userpasswd", "root:secret"]));
    ok(&lab.run("ctn", &["start", "sv"]));
    wait_for(&lab, "sv", &["runlevel"], "N 2");
    // (init starts the gettys once the runlevel's rc scripts have run: a loaded machine
    // shows runlevel 2 while they still run.)
    let ps = wait_for(
        &lab,
        "sv",
        &["ps", "-eo", "pid,tty,args"],
        "/sbin/getty --noclear 38400 tty1",
    );
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().next() == Some("1") && l.contains("init [2]")),
        "{ps}"
    );
    assert!(ps.contains("/sbin/getty --noclear 38400 tty1"), "{ps}");
    assert!(ps.contains("sshd"), "{ps}");
    // A console login on tty 1 (the getty of Debian's inittab, unedited).
    let mut c = Console::spawn({
        let mut cmd = lab.command("lxc-console");
        cmd.args(["-n", "sv", "-t", "1"]);
        cmd
    });
    let limit = Duration::from_secs(60);
    // getty prints its prompt again at each newline.
    c.wake("sv login:", limit);
    c.send(b"root\n");
    c.expect("Password:", limit);
    c.send(b"secret\n");
    // The shell's prompt first: login drops what was typed before it.
    c.expect("root@sv", limit);
    c.send(b"echo SYSV-$((6*7)) $(hostname)\n");
    c.expect("SYSV-42 sv", limit);
    c.send(b"exit\n\x01q");
    let (status, err) = c.finish(limit);
    assert!(status.success(), "{status}: {err}");
    // A clean stop: the runlevel 0 scripts ran to the halt.
    ok(&lab.run("ctn", &["stop", "sv"]));
    let console = std::fs::read_to_string(&log).unwrap();
    assert!(console.contains("Will now halt."), "{console}");
    assert_gone(&lab, "sv");
    ok(&lab.run("ctn", &["start", "sv"]));
    wait_for(&lab, "sv", &["runlevel"], "N 2");
    reboot_then_poweroff(&lab, "sv", &["runlevel"], "N 2");
    ok(&lab.run("ctn", &["destroy", "sv"]));
}

#[test]
fn a_privileged_systemd_container_boots_and_halts() {
    if !require_root("system containers") {
        return;
    }
    let lab = Lab::new();
    ok(&lab.run("ctn", &["create", "pv", "-t", "debian", "--privileged"]));
    let config = std::fs::read_to_string(lab.root().join("pv/config")).unwrap();
    assert!(!config.contains("lxc.idmap"), "{config}");
    ok(&lab.run("ctn", &["start", "pv"]));
    let state = wait_for(
        &lab,
        "pv",
        &["systemctl", "is-system-running", "--wait"],
        "running",
    );
    assert_eq!(state, "running\n");
    let failed = ok(&lab.run(
        "ctn",
        &["attach", "pv", "--", "systemctl", "--failed", "--no-legend"],
    ))
    .stdout
    .clone();
    assert_eq!(failed, "");
    // Host root inside, without the capabilities a privileged container loses.
    let map = ok(&lab.run("ctn", &["attach", "pv", "--", "cat", "/proc/self/uid_map"]))
        .stdout
        .clone();
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"]
    );
    let caps = ok(&lab.run(
        "ctn",
        &["attach", "pv", "--", "grep", "CapBnd", "/proc/1/status"],
    ))
    .stdout
    .clone();
    let bnd = u64::from_str_radix(caps.split_whitespace().nth(1).unwrap(), 16).unwrap();
    for (cap, name) in [
        (16, "sys_module"),
        (17, "sys_rawio"),
        (25, "sys_time"),
        (34, "syslog"),
    ] {
        assert_eq!(bnd & (1 << cap), 0, "{name} in {caps}");
    }
    reboot_then_poweroff(
        &lab,
        "pv",
        &["systemctl", "is-system-running", "--wait"],
        "running",
    );
    ok(&lab.run("ctn", &["destroy", "pv"]));
}
