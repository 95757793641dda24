//! nsenter-rs and unshare-rs end to end, as root: every namespace type created and
//! entered (the values inside really differ), persisted namespace files used by
//! `ip netns exec` and by nsenter-rs and released again, user namespace maps, exit
//! statuses and signal forwarding, `--kill-child`, `--init`, failures that leave nothing
//! behind, and the composition with chroot-rs.
//!
//! Targets are started with `unshare-rs --kill-child --pidfile` and ended by a guard:
//! killing the waiting unshare-rs takes its child with it, and the guard also kills the
//! command itself (checked by its start time, never a reused PID).

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration::{Guard, Output, Rootfs, bin, cmd, require_root, run};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

const TYPES: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

fn nsenter() -> Command {
    cmd(bin("nsenter-rs"))
}

fn unshare() -> Command {
    cmd(bin("unshare-rs"))
}

/// `readlink /proc/<who>/ns/<t>`: `net:[4026531840]`.
fn ns_link(who: &str, t: &str) -> String {
    fs::read_link(format!("/proc/{who}/ns/{t}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{who}/ns/{t}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The start time of a process (field 22 of /proc/PID/stat), to recognise it later.
fn start_time(pid: i32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19).map(str::to_owned)
}

/// True once the process has ended (gone, or a zombie waiting for its reaper).
fn is_dead(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|s| s == "Z" || s == "X"),
    }
}

/// Wait (up to 20 s, a bound for a failing test, not a timing assertion) for `cond`.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A process in new namespaces, started by unshare-rs in the background: `pid` is the
/// command's PID (from `--pidfile`). Dropping it ends both.
struct Target {
    child: Child,
    pid: i32,
    started: Option<String>,
    dir: tempfile::TempDir,
}

impl Target {
    /// `unshare-rs --kill-child --pidfile F ARGS…` (ARGS end with `-- COMMAND`).
    fn start(args: &[&str]) -> Target {
        let dir = integration::tempdir();
        let pidfile = dir.path().join("target.pid");
        let mut child = unshare()
            .arg("--kill-child")
            .arg(format!("--pidfile={}", pidfile.display()))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start unshare-rs");
        let start = Instant::now();
        let pid = loop {
            if let Some(pid) = fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                break pid;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
                panic!("unshare-rs {args:?} ended ({status}) before its pidfile: {err}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no pidfile from {args:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        let started = start_time(pid);
        Target {
            child,
            pid,
            started,
            dir,
        }
    }

    fn pid(&self) -> String {
        self.pid.to_string()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if self.started.is_some() && start_time(self.pid) == self.started {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The mounts of our mount namespace at or under `dir`.
fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|m| m.starts_with(&prefix))
        .collect()
}

/// Exit code and exact stderr, nothing on stdout.
#[track_caller]
fn fails(o: &Output, code: i32, stderr: &str) {
    assert_eq!(o.code, code, "{o}");
    assert_eq!(o.stderr, stderr, "{o}");
    assert_eq!(o.stdout, "", "{o}");
}

// ---------------------------------------------------------------- usage (no root)

#[test]
fn usage_errors_exit_1_with_one_line_as_util_linux() {
    let o = run(nsenter().arg("--bogus"));
    fails(
        &o,
        1,
        "nsenter-rs: unrecognized option '--bogus'\nTry 'nsenter-rs --help' for more information.\n",
    );
    let o = run(unshare().arg("--kill-child=NOSUCH"));
    fails(
        &o,
        1,
        "unshare-rs: unknown signal: NOSUCH\nTry 'unshare-rs --help' for more information.\n",
    );
    let o = run(unshare().args(["--map-users=1,2", "true"]));
    fails(
        &o,
        1,
        "unshare-rs: invalid mapping '1,2' (use OUTER,INNER,COUNT or INNER:OUTER:COUNT)\n\
         Try 'unshare-rs --help' for more information.\n",
    );
    let o = run(nsenter().args(["-a", "true"]));
    fails(
        &o,
        1,
        "nsenter-rs: no target PID given for --all\nTry 'nsenter-rs --help' for more information.\n",
    );
    let o = run(nsenter().args(["--help"]));
    o.ok();
    assert!(o.stdout.contains("--container"), "{o}");
    let o = run(unshare().args(["--version"]));
    o.ok();
    assert!(o.stdout.starts_with("unshare-rs "), "{o}");
}

// ---------------------------------------------------------------- unshare-rs

#[test]
fn unshare_creates_each_namespace_type() {
    if !require_root("unshare(2)") {
        return;
    }
    for (t, flag) in [
        ("cgroup", "--cgroup"),
        ("ipc", "--ipc"),
        ("mnt", "--mount"),
        ("net", "--net"),
        ("pid", "--pid"),
        ("time", "--time"),
        ("user", "--user"),
        ("uts", "--uts"),
    ] {
        let ours = ns_link("self", t);
        // With --fork, the command is in the new namespace itself.
        let o = run(unshare()
            .args(["--fork", flag, "readlink"])
            .arg(format!("/proc/self/ns/{t}")));
        o.ok();
        let inside = o.stdout.trim();
        assert!(inside.starts_with(&format!("{t}:[")), "{t}: {o}");
        assert_ne!(inside, ours, "--fork {flag} made no new {t} namespace");
        // Without it, as util-linux: pid and time namespaces are for the children (a
        // PID namespace's file exists once its first process does: the background one).
        let file = match t {
            "pid" => "pid_for_children",
            "time" => "time_for_children",
            other => other,
        };
        let o = run(unshare().args([
            flag,
            "sh",
            "-c",
            &format!("readlink /proc/$$/ns/{file} & wait"),
        ]));
        o.ok();
        assert_ne!(o.stdout.trim(), ours, "{flag} made no new {t} namespace");
        assert!(o.stdout.starts_with(&format!("{t}:[")), "{t}: {o}");
    }
}

#[test]
fn unshare_values_really_differ_inside() {
    if !require_root("unshare(2)") {
        return;
    }
    // PID 1 of a new PID namespace, and a /proc that shows only it.
    let o = run(unshare().args([
        "--fork",
        "--pid",
        "--mount-proc",
        "sh",
        "-c",
        "echo $$; ls /proc | grep -c '^[0-9]'",
    ]));
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "1", "{o}");
    // sh, ls and grep at most.
    assert!(lines[1].parse::<u32>().unwrap() <= 3, "{o}");
    // The host's /proc is untouched (the mount was private).
    assert!(Path::new(&format!("/proc/{}", std::process::id())).exists());

    // Its own hostname.
    let host = run(&mut cmd("hostname")).stdout;
    let o = run(unshare().args(["--hostname", "nsrs-box", "hostname"]));
    o.ok();
    assert_eq!(o.stdout, "nsrs-box\n");
    assert_eq!(run(&mut cmd("hostname")).stdout, host, "host name changed");

    // An empty network namespace: only lo, down.
    let o = run(unshare().args(["--net", "ip", "-j", "link", "show"]));
    o.ok();
    let links: Value = serde_json::from_str(&o.stdout).unwrap();
    let names: Vec<&str> = links
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["ifname"].as_str())
        .collect();
    assert_eq!(names, ["lo"], "{o}");

    // Its own IPC: a message queue made inside is not seen outside.
    let o = run(unshare().args([
        "--ipc",
        "sh",
        "-c",
        "ipcmk -Q >/dev/null && ipcs -q | grep -c 0x",
    ]));
    o.ok();
    assert_eq!(o.stdout.trim(), "1", "{o}");
}

#[test]
fn unshare_maps_users_and_groups() {
    if !require_root("user namespaces") {
        return;
    }
    // -r: root inside is us outside; setgroups denied, as util-linux does.
    for fork in [true, false] {
        let mut c = unshare();
        if fork {
            c.arg("--fork");
        }
        let o = run(c.args([
            "-r",
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups",
        ]));
        o.ok();
        let words: Vec<&str> = o.stdout.split_whitespace().collect();
        assert_eq!(
            words,
            ["0", "0", "0", "0", "1", "0", "0", "1", "deny"],
            "fork={fork}: {o}"
        );
    }
    // --map-user / --map-group: our IDs are 1234 inside.
    let o = run(unshare().args([
        "--map-user=1234",
        "--map-group=1234",
        "sh",
        "-c",
        "id -u; id -g",
    ]));
    o.ok();
    assert_eq!(o.stdout, "1234\n1234\n");
    // Ranges (root writes them directly), in both syntaxes, merged with -r as util-linux
    // does: 0 is us, the rest of the range shifts up by one.
    for fork in [true, false] {
        let mut c = unshare();
        if fork {
            c.arg("--fork");
        }
        let o = run(c.args([
            "--map-users=100000,0,65536",
            "--map-groups=0:100000:65536",
            "-r",
            "cat",
            "/proc/self/uid_map",
            "/proc/self/gid_map",
        ]));
        o.ok();
        let rows: Vec<Vec<&str>> = o
            .stdout
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let want = vec![vec!["0", "0", "1"], vec!["1", "100000", "65535"]];
        assert_eq!(rows, [want.clone(), want].concat(), "fork={fork}: {o}");
    }
    // A range alone, and -S/-G inside it.
    let o = run(unshare().args([
        "--fork",
        "--map-users=100000,0,65536",
        "--map-groups=100000,0,65536",
        "-S",
        "1000",
        "-G",
        "1000",
        "sh",
        "-c",
        "id -u; id -g; cat /proc/self/setgroups",
    ]));
    o.ok();
    assert_eq!(o.stdout, "1000\n1000\nallow\n");
}

/// True when a user other than root may run `path` (it and every directory above it
/// are open to others).
fn runnable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors().all(|p| {
        p.as_os_str().is_empty()
            || fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    })
}

#[test]
fn unshare_works_for_an_unprivileged_user() {
    if !require_root("setpriv to another user") {
        return;
    }
    let unshare_rs = bin("unshare-rs");
    if !runnable_by_others(&unshare_rs) {
        integration::skip(
            "setpriv to another user",
            &format!("{} is not reachable by other users", unshare_rs.display()),
        );
        return;
    }
    let as_nobody = || {
        let mut c = cmd("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&unshare_rs);
        c
    };
    // Single-ID maps need no privilege: written by the process itself, or (--fork) by
    // the parent outside, setgroups denied first.
    for fork in [false, true] {
        let mut c = as_nobody();
        if fork {
            c.arg("--fork");
        }
        let o = run(c.args([
            "--map-root-user",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map /proc/self/setgroups",
        ]));
        o.ok();
        let words: Vec<&str> = o.stdout.split_whitespace().collect();
        assert_eq!(words, ["0", "0", "65534", "1", "deny"], "fork={fork}: {o}");
    }
    // PID, mount and user namespaces together: the user namespace is made first and
    // owns the others, so its root may mount a proc for the new PID namespace.
    let o = run(as_nobody().args([
        "--fork",
        "--pid",
        "--mount",
        "--map-root-user",
        "--mount-proc",
        "sh",
        "-c",
        "echo $$; ls /proc | grep -c '^[0-9]'",
    ]));
    o.ok();
    assert_eq!(o.stdout.lines().next(), Some("1"), "{o}");
    // Ranges need root or newuidmap (with /etc/subuid lines for this user).
    let o = run(as_nobody().args(["--fork", "--map-users=100000,0,10", "true"]));
    assert_eq!(o.code, 1, "{o}");
    assert!(o.stderr.starts_with("unshare-rs: newuidmap "), "{o}");
    assert_eq!(o.stderr.lines().count(), 1, "{o}");
}

#[test]
fn unshare_passes_exit_statuses_through() {
    if !require_root("unshare(2)") {
        return;
    }
    for fork in [true, false] {
        let mut c = unshare();
        if fork {
            c.arg("--fork");
        }
        c.args(["--uts", "sh", "-c", "exit 3"]);
        run(&mut c).expect_code(3);
    }
    run(unshare().args(["--fork", "--uts", "sh", "-c", "kill -TERM $$"])).expect_code(143);
    run(unshare().args(["--fork", "--pid", "--init", "sh", "-c", "kill -KILL $$"]))
        .expect_code(137);
    let o = run(unshare().args(["--fork", "--uts", "no-such-command-x"]));
    fails(
        &o,
        127,
        "unshare-rs: failed to run command 'no-such-command-x': No such file or directory\n",
    );
    let o = run(unshare().args(["--uts", "/etc"]));
    fails(
        &o,
        126,
        "unshare-rs: failed to run command '/etc': Permission denied\n",
    );
}

/// Start `program` with a trap for `sig` that exits `code`, wait for its "ready", send
/// `sig` to the waiting tool (not the command), and return the tool's exit code.
fn signal_round_trip(tool: &mut Command, sig: Signal, code: i32) -> i32 {
    if inherited_ignore(sig) {
        // An ignored signal stays ignored across exec and a shell cannot trap it then
        // (a background job of a shell without job control ignores SIGINT and SIGQUIT).
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIP: {sig} is ignored in this environment"
        );
        return code;
    }
    let script = format!(
        "trap 'exit {code}' {}; echo ready; while :; do sleep 0.02; done",
        &sig.as_str()[3..]
    );
    let mut child = tool
        .args(["sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    kill(Pid::from_raw(child.id().cast_signed()), sig).unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{sig} was not forwarded");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// True when `sig` is ignored in this process (and so in the children it starts).
fn inherited_ignore(sig: Signal) -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (sig as i32 - 1)) != 0)
}

#[test]
fn unshare_forwards_signals_to_the_command() {
    if !require_root("unshare(2)") {
        return;
    }
    for (i, sig) in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ]
    .into_iter()
    .enumerate()
    {
        let code = 40 + i32::try_from(i).unwrap();
        let mut c = unshare();
        c.args(["--fork", "--uts", "--"]);
        assert_eq!(signal_round_trip(&mut c, sig, code), code, "{sig}");
    }
    // Through the --init reaper (PID 1) to the command (PID 2).
    let mut c = unshare();
    c.args(["--fork", "--pid", "--init", "--"]);
    assert_eq!(signal_round_trip(&mut c, Signal::SIGTERM, 9), 9);

    // A command killed by the forwarded signal: unshare-rs dies of it too, as
    // util-linux's does, so its own parent sees a signal death (a shell shows 143).
    let mut child = unshare()
        .args(["--fork", "--uts", "sh", "-c", "echo ready; exec sleep 1000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // sleep may not have replaced sh yet: both die of SIGTERM.
    kill(Pid::from_raw(child.id().cast_signed()), Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        (status.code(), status.signal()),
        (None, Some(Signal::SIGTERM as i32)),
        "{status}"
    );
}

#[test]
fn unshare_kill_child_ends_the_command_with_the_parent() {
    if !require_root("unshare(2)") {
        return;
    }
    for args in [
        &["--fork", "--pid", "--"][..],
        &["--fork", "--uts", "--kill-child=TERM", "--"],
        &["--fork", "--pid", "--init", "--kill-child=TERM", "--"],
    ] {
        let mut all = args.to_vec();
        all.extend(["sleep", "1000"]);
        let mut t = Target::start(&all);
        let pid = t.pid;
        assert!(!is_dead(pid));
        // The waiting unshare-rs dies without a chance to clean up.
        t.child.kill().unwrap();
        t.child.wait().unwrap();
        wait_for(&format!("the command of {args:?} to die"), || is_dead(pid));
    }
    // Without --kill-child the command outlives it (the contrast; the guard ends it).
    let dir = integration::tempdir();
    let pidfile = dir.path().join("p");
    let mut child = unshare()
        .args(["--fork", "--uts", "--pidfile"])
        .arg(&pidfile)
        .args(["sleep", "1000"])
        .spawn()
        .unwrap();
    wait_for("the pidfile", || pidfile.exists());
    let pid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let started = start_time(pid);
    let _guard = Guard::new(move || {
        if start_time(pid) == started {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    });
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!is_dead(pid), "the command died without --kill-child");
}

#[test]
fn unshare_init_is_pid_1_and_reaps_orphans() {
    if !require_root("unshare(2)") {
        return;
    }
    // An orphan (the subshell's sleep) is handed to PID 1, which must reap it.
    let o = run(unshare().args([
        "--fork",
        "--pid",
        "--init",
        "--mount-proc",
        "sh",
        "-c",
        // Wait (bounded) until the orphan is gone, which only its reaping makes it (kill
        // -0 finds a zombie too); then list. By PID, not by name: a forked child that has
        // not exec'd sleep yet is still called sh.
        "p=$( (sleep 0.05 >/dev/null & echo $!) ); i=0; \
         while kill -0 \"$p\" 2>/dev/null && [ $i -lt 400 ]; do i=$((i+1)); sleep 0.05; done; \
         ps -o pid=,stat=,comm=",
    ]));
    o.ok();
    let rows: Vec<Vec<&str>> = o
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0][0], "1", "{o}");
    assert_eq!(rows[0][2], "unshare-rs", "{o}");
    assert_eq!(rows[1][0], "2", "{o}");
    assert_eq!(rows[1][2], "sh", "{o}");
    assert!(
        rows.iter().all(|r| !r[1].starts_with('Z')),
        "a zombie is left: {o}"
    );
    assert!(!rows.iter().any(|r| r[2] == "sleep"), "{o}");
}

#[test]
fn unshare_init_pidfile_names_the_command() {
    if !require_root("unshare(2)") {
        return;
    }
    // With --init, PID 1 is unshare-rs's reaper and the command is its child: the pidfile
    // names the command, as seen from here, not the reaper.
    let t = Target::start(&["--fork", "--pid", "--init", "--", "sleep", "1000"]);
    // PID 2 inside (the init is 1), from the moment the pidfile exists; its comm turns
    // to sleep only once it has exec'd, which may be a moment later.
    let status = fs::read_to_string(format!("/proc/{}/status", t.pid)).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    assert_eq!(nspid.split_whitespace().last(), Some("2"), "{nspid}");
    drop(t);

    // What that is for: the README's container, attached through its pidfile, is the
    // pivoted root (the reaper stays in the root unshare-rs started in).
    let r = Rootfs::new();
    let root = r.path().to_str().unwrap().to_owned();
    let chroot_rs = bin("chroot-rs");
    let t = Target::start(&[
        "--fork",
        "--pid",
        "--mount",
        "--init",
        "--",
        chroot_rs.to_str().unwrap(),
        "--pivot",
        "--api-fs",
        &root,
        "sleep",
        "1000",
    ]);
    let pid = t.pid();
    // Wait until chroot-rs has pivoted: its root is then the container's.
    wait_for("the pivot", || {
        fs::read_to_string(format!("/proc/{pid}/root/etc/hostname")).is_ok_and(|h| h == "rootfs\n")
    });
    for how in ["-a", "--container"] {
        let o = run(nsenter().args(["-t", &pid, how, "cat", "/etc/hostname"]));
        o.ok();
        assert_eq!(o.stdout, "rootfs\n", "{how}");
    }
}

#[test]
fn unshare_persists_namespaces_for_ip_netns_and_nsenter() {
    if !require_root("mount(2)") {
        return;
    }
    let name = integration::unique_name("nsrs");
    let netns = PathBuf::from("/run/netns").join(&name);
    let _netns_guard = Guard::new({
        let netns = netns.clone();
        move || {
            let _ = run(cmd("umount").arg("-l").arg(&netns));
            let _ = fs::remove_file(&netns);
        }
    });
    let (dir, _guard) = integration::private_dir();
    let uts = dir.path().join("uts");
    let ipc = dir.path().join("ipc");
    let o = run(unshare()
        .arg(format!("--net={}", netns.display()))
        .arg(format!("--uts={}", uts.display()))
        .arg(format!("--ipc={}", ipc.display()))
        .args(["--hostname", "persisted", "true"]));
    o.ok();

    // `ip netns` sees it by name, and it is empty.
    let o = run(cmd("ip").args(["netns", "exec", &name, "ip", "-j", "link", "show"]));
    o.ok();
    let links: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(links.as_array().unwrap().len(), 1, "{o}");
    let via_ip = run(cmd("ip").args(["netns", "exec", &name, "readlink", "/proc/self/ns/net"]));
    // nsenter-rs by path and by ip-netns name: the same namespace.
    let by_path = run(nsenter()
        .arg(format!("--net={}", netns.display()))
        .args(["readlink", "/proc/self/ns/net"]));
    let by_name = run(nsenter()
        .arg(format!("--net={name}"))
        .args(["readlink", "/proc/self/ns/net"]));
    by_path.ok();
    assert_eq!(by_path.stdout, via_ip.stdout);
    assert_eq!(by_name.stdout, via_ip.stdout);
    assert_ne!(by_path.stdout.trim(), ns_link("self", "net"));
    // The UTS namespace kept its hostname with no process in it.
    let o = run(nsenter()
        .arg(format!("--uts={}", uts.display()))
        .arg("hostname"));
    o.ok();
    assert_eq!(o.stdout, "persisted\n");

    // --release (either tool) unmounts and removes the files.
    run(unshare().arg("--release").arg(&netns)).ok();
    run(nsenter()
        .arg("--release")
        .arg(&uts)
        .arg(format!("--release={}", ipc.display())))
    .ok();
    assert!(!netns.exists());
    assert!(!uts.exists() && !ipc.exists());
    assert_eq!(mounts_under(dir.path()), [dir.path().to_string_lossy()]);
    let o = run(cmd("ip").args(["netns", "list"]));
    assert!(!o.stdout.contains(&name), "{o}");
    // Releasing twice is an error that names the file.
    let o = run(nsenter().arg("--release").arg(&uts));
    fails(
        &o,
        1,
        &format!(
            "nsenter-rs: cannot release '{}': No such file or directory\n",
            uts.display()
        ),
    );
}

#[test]
fn unshare_persists_mount_user_and_pid_namespaces() {
    if !require_root("mount(2)") {
        return;
    }
    let (dir, _guard) = integration::private_dir();
    let f = |n: &str| dir.path().join(n);
    // Without --fork, mount and user namespaces are bound by the helper outside.
    let o = run(unshare()
        .arg(format!("--mount={}", f("mnt").display()))
        .arg(format!("--user={}", f("user").display()))
        .args([
            "--map-root-user",
            "sh",
            "-c",
            "readlink /proc/self/ns/mnt /proc/self/ns/user",
        ]));
    o.ok();
    let created: Vec<&str> = o.stdout.lines().collect();
    let o = run(nsenter()
        .arg(format!("--user={}", f("user").display()))
        .arg(format!("--mount={}", f("mnt").display()))
        .args([
            "sh",
            "-c",
            "readlink /proc/self/ns/mnt /proc/self/ns/user; id -u",
        ]));
    o.ok();
    let entered: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(entered[..2], created[..], "{o}");
    assert_eq!(entered[2], "0");

    // With --fork: a PID namespace (bound once its PID 1 exists) and the pidfile, which is
    // the command's PID as seen from here, and is removed when the command has ended.
    let pidfile = f("cmd.pid");
    let o = run(unshare()
        .arg("--fork")
        .arg(format!("--pid={}", f("pid").display()))
        .arg(format!("--pidfile={}", pidfile.display()))
        .arg("sh")
        .arg("-c")
        .arg(format!(
            "cat {}; readlink /proc/$(cat {})/ns/pid",
            pidfile.display(),
            pidfile.display()
        )));
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines[0].parse::<u32>().unwrap() > 1, "{o}");
    let bound = fs::metadata(f("pid")).unwrap();
    assert_eq!(
        format!("pid:[{}]", std::os::unix::fs::MetadataExt::ino(&bound)),
        lines[1]
    );
    assert!(!pidfile.exists(), "the pidfile outlived its command");

    for n in ["mnt", "user", "pid"] {
        run(nsenter().arg("--release").arg(f(n))).ok();
        assert!(!f(n).exists(), "{n}");
    }
    assert_eq!(mounts_under(dir.path()), [dir.path().to_string_lossy()]);
}

#[test]
fn unshare_failing_halfway_leaves_nothing() {
    if !require_root("mount(2)") {
        return;
    }
    let (dir, _guard) = integration::private_dir();
    let f = |n: &str| dir.path().join(n);
    let empty = |what: &str| {
        assert_eq!(
            mounts_under(dir.path()),
            [dir.path().to_string_lossy()],
            "{what}: a mount is left"
        );
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{what}: files left: {left:?}");
    };
    let files = |c: &mut Command| {
        c.arg(format!("--net={}", f("net").display()))
            .arg(format!("--uts={}", f("uts").display()))
            .arg(format!("--pidfile={}", f("pid").display()));
    };
    // A step after the namespaces were bound fails (the root does not exist): in the
    // --fork child, in the process itself, and with the outside helper (mount ns).
    for (label, extra) in [
        ("fork", &["--fork"][..]),
        ("direct", &[][..]),
        ("helper", &[][..]),
    ] {
        let mut c = unshare();
        files(&mut c);
        c.args(extra);
        if label == "helper" {
            c.arg(format!("--mount={}", f("mnt").display()));
        }
        let o = run(c.args(["--root=/nonexistent-nsrs", "true"]));
        fails(
            &o,
            1,
            "unshare-rs: cannot change root directory to '/nonexistent-nsrs': No such file or directory\n",
        );
        empty(label);
    }
    // The command cannot be run.
    for fork in [true, false] {
        let mut c = unshare();
        files(&mut c);
        if fork {
            c.arg("--fork");
        }
        let o = run(c.arg("no-such-command-x"));
        fails(
            &o,
            127,
            "unshare-rs: failed to run command 'no-such-command-x': No such file or directory\n",
        );
        empty("exec");
    }
    // A namespace file that cannot be made: nothing happens at all.
    let o = run(unshare()
        .arg(format!("--uts={}", f("uts").display()))
        .arg(format!("--net={}", f("no/dir").display()))
        .arg("true"));
    fails(
        &o,
        1,
        &format!(
            "unshare-rs: cannot create namespace file '{}': No such file or directory\n",
            f("no/dir").display()
        ),
    );
    empty("prepare");
}

#[test]
fn bad_input_fails_clearly_with_nothing_done() {
    if !require_root("setns(2)") {
        return;
    }
    // A PID that does not exist (one of ours, reaped).
    let mut gone = cmd("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    if !Path::new(&format!("/proc/{gone_pid}")).exists() {
        let o = run(nsenter().args(["-t", &gone_pid.to_string(), "-a", "true"]));
        fails(
            &o,
            1,
            &format!("nsenter-rs: cannot open namespace of pid {gone_pid}: No such process\n"),
        );
        let o = run(nsenter().args(["--list", &gone_pid.to_string()]));
        fails(
            &o,
            1,
            &format!("nsenter-rs: cannot open namespace of pid {gone_pid}: No such process\n"),
        );
    }
    // A file that is not a namespace, one of the wrong type, one that is missing.
    let o = run(nsenter().args(["--net=/etc/hostname", "true"]));
    fails(
        &o,
        1,
        "nsenter-rs: '/etc/hostname' is not a namespace file\n",
    );
    let uts = format!("/proc/{}/ns/uts", std::process::id());
    let o = run(nsenter().arg(format!("--net={uts}")).arg("true"));
    fails(
        &o,
        1,
        &format!("nsenter-rs: '{uts}' is a uts namespace, not a net namespace\n"),
    );
    let o = run(nsenter().args(["--net=/nonexistent-nsrs", "true"]));
    fails(
        &o,
        1,
        "nsenter-rs: cannot open net namespace '/nonexistent-nsrs': No such file or directory\n",
    );
    let o = run(nsenter().args(["-n", "true"]));
    fails(
        &o,
        1,
        "nsenter-rs: neither a file nor a target PID given for the net namespace\n",
    );
    // A pidfile without a PID.
    let dir = integration::tempdir();
    let pf = dir.path().join("bad.pid");
    fs::write(&pf, "none\n").unwrap();
    let o = run(nsenter()
        .arg(format!("--pidfile={}", pf.display()))
        .args(["-a", "true"]));
    fails(
        &o,
        1,
        &format!(
            "nsenter-rs: invalid pidfile '{}': no PID in it\n",
            pf.display()
        ),
    );
    // --release of something that holds no namespace.
    let o = run(unshare().arg("--release").arg(&pf));
    fails(
        &o,
        1,
        &format!(
            "unshare-rs: cannot release '{}': not a namespace file\n",
            pf.display()
        ),
    );

    // Missing privileges: root without capabilities.
    let t = Target::start(&["--fork", "--net", "--", "sleep", "1000"]);
    let o = run(cmd("setpriv")
        .args(["--bounding-set=-all", "--inh-caps=-all"])
        .arg(bin("nsenter-rs"))
        .args(["-t", &t.pid(), "-n", "true"]));
    fails(
        &o,
        1,
        &format!(
            "nsenter-rs: cannot enter namespaces of pid {}: Operation not permitted\n",
            t.pid
        ),
    );
    let (pdir, _guard) = integration::private_dir();
    let o = run(cmd("setpriv")
        .args(["--bounding-set=-all", "--inh-caps=-all"])
        .arg(bin("unshare-rs"))
        .args(["--fork"])
        .arg(format!("--net={}", pdir.path().join("n").display()))
        .arg("true"));
    fails(
        &o,
        1,
        "unshare-rs: cannot create new namespaces (net): Operation not permitted\n",
    );
    assert!(
        !pdir.path().join("n").exists(),
        "the namespace file was left"
    );
}

#[test]
fn unshare_propagation_private_by_default_shared_on_request() {
    if !require_root("mount(2)") {
        return;
    }
    let (dir, _guard) = integration::private_dir();
    run(cmd("mount").arg("--make-shared").arg(dir.path())).ok();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let mount_inside = format!("mount -t tmpfs nsrs {}", sub.display());
    // Default: private, recursive: the tmpfs stays inside.
    run(unshare().args(["--mount", "sh", "-c", &mount_inside])).ok();
    assert!(
        mounts_under(&sub).is_empty(),
        "a mount made inside showed on the host"
    );
    // --propagation shared (and unchanged) keep the peer group: it shows outside.
    for mode in ["shared", "unchanged"] {
        run(unshare().args(["--mount", "--propagation", mode, "sh", "-c", &mount_inside])).ok();
        assert_eq!(mounts_under(&sub), [sub.to_string_lossy()], "{mode}");
        run(cmd("umount").arg(&sub)).ok();
    }
}

#[test]
fn unshare_root_wd_keep_caps_and_clock_offsets() {
    if !require_root("unshare(2)") {
        return;
    }
    let r = Rootfs::new();
    let o = run(unshare()
        .arg("--uts")
        .arg(format!("--root={}", r.path().display()))
        .args(["--wd=/home/student", "sh", "-c", "pwd; cat /etc/hostname"]));
    o.ok();
    assert_eq!(o.stdout, "/home/student\nrootfs\n");
    let o = run(unshare().args(["--uts", "-w", "/tmp", "pwd"]));
    o.ok();
    assert_eq!(o.stdout, "/tmp\n");

    // In a user namespace without maps the command is not root (overflow uid), so its
    // capabilities end at exec, unless --keep-caps makes them ambient.
    let amb = |extra: &[&str]| {
        let o = run(unshare().args(["--fork", "--user"]).args(extra).args([
            "grep",
            "^CapAmb:",
            "/proc/self/status",
        ]));
        o.ok();
        u64::from_str_radix(o.stdout.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(amb(&[]), 0);
    assert_ne!(amb(&["--keep-caps"]), 0);

    // A time namespace with the clocks moved.
    let uptime = || -> f64 {
        let t = fs::read_to_string("/proc/uptime").unwrap();
        t.split_whitespace().next().unwrap().parse().unwrap()
    };
    let before = uptime();
    let o = run(unshare().args([
        "--fork",
        "--time",
        "--boottime=1000000",
        "cat",
        "/proc/uptime",
    ]));
    o.ok();
    let inside: f64 = o.stdout.split_whitespace().next().unwrap().parse().unwrap();
    assert!(inside >= before + 1_000_000.0, "{o}");
    assert!(uptime() < before + 1_000_000.0, "the host clock moved");
}

// ---------------------------------------------------------------- nsenter-rs

/// A target in a new namespace of every type (user: root mapped to root).
fn all_namespaces_target() -> Target {
    Target::start(&[
        "--fork",
        "--pid",
        "--mount",
        "--uts",
        "--ipc",
        "--net",
        "--cgroup",
        "--time",
        "--user",
        "--map-root-user",
        "--mount-proc",
        "--hostname",
        "nsrs-target",
        "--",
        "sleep",
        "1000",
    ])
}

#[test]
fn nsenter_enters_each_namespace_type() {
    if !require_root("setns(2)") {
        return;
    }
    let t = all_namespaces_target();
    let pid = t.pid();
    for (tt, flag) in [
        ("cgroup", "-C"),
        ("ipc", "-i"),
        ("mnt", "-m"),
        ("net", "-n"),
        ("pid", "-p"),
        ("time", "-T"),
        ("user", "-U"),
        ("uts", "-u"),
    ] {
        let theirs = ns_link(&pid, tt);
        assert_ne!(
            theirs,
            ns_link("self", tt),
            "the target shares our {tt} namespace"
        );
        // With -m, /proc is the target's: enter its PID namespace too to find ourselves.
        let mut c = nsenter();
        c.args(["-t", &pid, flag]);
        if tt == "mnt" {
            c.arg("-p");
        }
        let o = run(c.arg("readlink").arg(format!("/proc/self/ns/{tt}")));
        o.ok();
        assert_eq!(o.stdout.trim(), theirs, "{flag}");
        // The same through the namespace file instead of the target.
        let o = run(nsenter()
            .arg(format!("{flag}=/proc/{pid}/ns/{tt}"))
            .args(if tt == "mnt" {
                vec![format!("-p=/proc/{pid}/ns/pid")]
            } else {
                vec![]
            })
            .arg("readlink")
            .arg(format!("/proc/self/ns/{tt}")));
        o.ok();
        assert_eq!(o.stdout.trim(), theirs, "{flag}=FILE");
    }
    // -a: every one at once (one setns on the pidfd), and the one-by-one path (a file
    // mixed in) gives the same.
    let script = TYPES
        .iter()
        .map(|t| format!("readlink /proc/self/ns/{t}"))
        .collect::<Vec<_>>()
        .join("; ");
    let want: Vec<String> = TYPES.iter().map(|tt| ns_link(&pid, tt)).collect();
    for extra in [None, Some(format!("--net=/proc/{pid}/ns/net"))] {
        let o = run(nsenter()
            .args(["-t", &pid, "-a"])
            .args(extra.iter())
            .args(["sh", "-c", &script]));
        o.ok();
        assert_eq!(o.stdout.lines().collect::<Vec<_>>(), want, "-a {extra:?}");
    }
}

#[test]
fn nsenter_sees_the_targets_values() {
    if !require_root("setns(2)") {
        return;
    }
    let t = all_namespaces_target();
    let pid = t.pid();
    let o = run(nsenter().args(["-t", &pid, "-u", "hostname"]));
    o.ok();
    assert_eq!(o.stdout, "nsrs-target\n");
    // PID 1 there is the target; we are another PID of its namespace.
    let o = run(nsenter().args([
        "-t",
        &pid,
        "-p",
        "-m",
        "sh",
        "-c",
        "cat /proc/1/comm; echo $$",
    ]));
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "sleep");
    assert!(lines[1].parse::<u32>().unwrap() > 1, "{o}");
    // Its network has lo only.
    let o = run(nsenter().args(["-t", &pid, "-n", "ip", "-j", "link", "show"]));
    o.ok();
    let links: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(links[0]["ifname"], "lo");
    assert_eq!(links.as_array().unwrap().len(), 1);
    // The target named by a pidfile.
    let pf = t.dir.path().join("target.pid");
    let o = run(nsenter().arg("--pidfile").arg(&pf).args(["-u", "hostname"]));
    o.ok();
    assert_eq!(o.stdout, "nsrs-target\n");
    // In its user namespace we are root by default, or as asked; --preserve-credentials
    // keeps our IDs, which are mapped there (root to root).
    let o = run(nsenter().args([
        "-t",
        &pid,
        "-U",
        "sh",
        "-c",
        "id -u; readlink /proc/self/ns/user",
    ]));
    o.ok();
    assert_eq!(o.stdout, format!("0\n{}\n", ns_link(&pid, "user")));
    let o = run(nsenter().args(["-t", &pid, "-U", "--preserve-credentials", "id", "-u"]));
    o.ok();
    assert_eq!(o.stdout, "0\n");
}

#[test]
fn nsenter_lists_namespaces() {
    if !require_root("/proc/PID/ns of another process") {
        return;
    }
    let t = all_namespaces_target();
    let pid = t.pid();
    let o = run(nsenter().args(["--list", &pid, "--json"]));
    o.ok();
    let rows: Vec<Value> = o
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = rows.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(types, TYPES);
    for r in &rows {
        let tt = r["type"].as_str().unwrap();
        assert_eq!(r["path"], format!("/proc/{pid}/ns/{tt}"));
        assert_eq!(
            format!("{tt}:[{}]", r["inode"].as_u64().unwrap()),
            ns_link(&pid, tt)
        );
    }
    let o = run(nsenter().args(["--list", &pid]));
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "TYPE   INODE      PATH");
    assert_eq!(lines.len(), 9);
    assert!(lines[3].starts_with("mnt "), "{o}");
}

#[test]
fn nsenter_passes_statuses_and_forwards_signals() {
    if !require_root("setns(2)") {
        return;
    }
    let t = Target::start(&["--fork", "--pid", "--", "sleep", "1000"]);
    let pid = t.pid();
    // Entering a PID namespace forks: the waiting nsenter-rs passes statuses on.
    run(nsenter().args(["-t", &pid, "-p", "sh", "-c", "exit 3"])).expect_code(3);
    run(nsenter().args(["-t", &pid, "-p", "sh", "-c", "kill -TERM $$"])).expect_code(143);
    let o = run(nsenter().args(["-t", &pid, "-p", "no-such-command-x"]));
    fails(
        &o,
        127,
        "nsenter-rs: failed to run command 'no-such-command-x': No such file or directory\n",
    );
    // -F: no fork, the command is not in the PID namespace (only its children would be).
    let o = run(nsenter().args(["-t", &pid, "-p", "-F", "readlink", "/proc/self/ns/pid"]));
    o.ok();
    assert_eq!(o.stdout.trim(), ns_link("self", "pid"));
    for (sig, code) in [
        (Signal::SIGTERM, 21),
        (Signal::SIGUSR1, 22),
        (Signal::SIGHUP, 23),
    ] {
        let mut c = nsenter();
        c.args(["-t", &pid, "-p", "--"]);
        assert_eq!(signal_round_trip(&mut c, sig, code), code, "{sig}");
    }
}

#[test]
fn nsenter_container_lands_in_the_targets_root() {
    if !require_root("chroot(2)") {
        return;
    }
    let r = Rootfs::new();
    let root = r.path().to_str().unwrap().to_owned();
    let host_hostname_file = fs::read_to_string("/etc/hostname").unwrap_or_default();
    // A container that only chroot()ed (util-linux's --root): its mount namespace's /
    // is still the host's.
    let t = Target::start(&[
        "--fork",
        "--pid",
        "--mount",
        "--mount-proc",
        "--root",
        &root,
        "--",
        "/bin/sleep",
        "1000",
    ]);
    let pid = t.pid();
    // -a alone: the host's files and binaries (the surprise util-linux users meet).
    let o = run(nsenter().args(["-t", &pid, "-a", "cat", "/etc/hostname"]));
    o.ok();
    assert_eq!(o.stdout, host_hostname_file);
    // --container (= -a -r -w): the container's files and busybox.
    let o = run(nsenter().args([
        "-t",
        &pid,
        "--container",
        "sh",
        "-c",
        "cat /etc/hostname; readlink /bin/sh; pwd; cat /proc/1/comm",
    ]));
    o.ok();
    assert_eq!(o.stdout, "rootfs\n/bin/busybox\n/\nsleep\n");
    let o = run(nsenter().args(["-t", &pid, "-a", "-r", "-w", "cat", "/etc/hostname"]));
    o.ok();
    assert_eq!(o.stdout, "rootfs\n");
    // Root and working directory given as directories, no target at all.
    let o = run(nsenter()
        .arg(format!("--root={root}"))
        .arg(format!("--wd={root}/home/student"))
        .args(["sh", "-c", "pwd; cat /etc/hostname"]));
    o.ok();
    assert_eq!(o.stdout, "/home/student\nrootfs\n");
    // -W: a working directory as seen inside.
    let o = run(nsenter().args(["-t", &pid, "-a", "-r", "-W", "/home/student", "pwd"]));
    o.ok();
    assert_eq!(o.stdout, "/home/student\n");
}

// ---------------------------------------------------------------- with chroot-rs

#[test]
fn composition_with_chroot_rs_pivot_shows_only_the_container() {
    if !require_root("pivot_root(2)") {
        return;
    }
    let r = Rootfs::new();
    let root = r.path().to_str().unwrap().to_owned();
    let chroot_rs = bin("chroot-rs");
    let chroot_rs = chroot_rs.to_str().unwrap();
    // ps inside sees one process: itself, PID 1.
    let o = run(unshare().args([
        "--fork",
        "--pid",
        "--mount",
        "--uts",
        "--ipc",
        "--hostname",
        "ctn01",
        "--",
        chroot_rs,
        "--pivot",
        "--api-fs",
        &root,
        "sh",
        "-c",
        "hostname; cat /etc/hostname; exec ps",
    ]));
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[..2], ["ctn01", "rootfs"], "{o}");
    let procs: Vec<Vec<&str>> = lines[3..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(procs.len(), 1, "{o}");
    assert_eq!(procs[0][0], "1");
    assert_eq!(procs[0].last(), Some(&"ps"));

    // A running one: nsenter-rs -a lands inside the pivoted root (its mount namespace's
    // / is the container), and sees its processes only.
    let t = Target::start(&[
        "--fork",
        "--pid",
        "--mount",
        "--uts",
        "--ipc",
        "--hostname",
        "ctn02",
        "--",
        chroot_rs,
        "--pivot",
        "--api-fs",
        &root,
        "sleep",
        "1000",
    ]);
    let pid = t.pid();
    // chroot-rs execs sleep once it has pivoted: wait until it has.
    wait_for("the container's sleep", || {
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n")
    });
    let o = run(nsenter().args([
        "-t",
        &pid,
        "-a",
        "sh",
        "-c",
        "hostname; cat /etc/hostname; ps",
    ]));
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[..2], ["ctn02", "rootfs"], "{o}");
    let pids: Vec<&str> = lines[3..]
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(pids[0], "1", "{o}");
    assert!(lines[3].ends_with("sleep 1000"), "{o}");
    // sh and ps and nothing else of the host.
    assert!(pids.len() <= 3, "{o}");
}

#[test]
fn unshare_falls_back_to_clone_where_clone3_is_refused() {
    if !require_root("unshare(2)") {
        return;
    }
    // Docker's and Podman's default seccomp profiles answer clone3 with ENOSYS.
    let o = run(cmd(bin("seccomp-refuse"))
        .args(["clone3", "--"])
        .arg(bin("unshare-rs"))
        .args(["-v", "--fork", "--pid", "--uts", "--hostname", "fallback"])
        .args(["--", "sh", "-c", "hostname; echo $$"]));
    o.ok();
    assert_eq!(o.stdout, "fallback\n1\n", "{o}");
    assert!(
        o.stderr.contains("clone3(") && o.stderr.contains("= -1 ENOSYS"),
        "{o}"
    );
    assert!(o.stderr.contains("unshare-rs: clone(CLONE_NEW"), "{o}");
}

/// util-linux 2.39's `tests/ts/unshare/clear-env` and `env` (whitelist-env), and
/// `tests/ts/unshare/forward-signals`, as our binaries must pass them.
#[test]
fn util_linux_environment_and_forwarding_options() {
    if !require_root("unshare(2)") {
        return;
    }
    let o = run(unshare()
        .env("UL_TEST_ENV", "foo")
        .args(["--clear-env", "/bin/sh", "-c"])
        .arg("echo \"${UL_TEST_ENV:-CLEARED}\"; env | wc -l"));
    o.ok();
    // sh itself may export PWD and SHLVL, nothing of ours reaches it.
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "CLEARED", "{o}");
    assert!(lines[1].trim().parse::<u32>().unwrap() <= 3, "{o}");
    let o = run(unshare()
        .env("UL_TEST_ENV1", "foo")
        .env("UL_TEST_ENV2", "bar")
        .args(["--whitelist-env", "UL_TEST_ENV1", "/bin/sh", "-c"])
        .arg("echo \"${UL_TEST_ENV1}${UL_TEST_ENV2}\""));
    o.ok();
    assert_eq!(o.stdout, "foo\n", "{o}");
    // --forward-signals implies --fork; the child's trap answers SIGTERM with 15.
    let mut c = unshare();
    c.args(["--user", "--map-root-user", "--pid", "--mount-proc"])
        .args(["--forward-signals", "--"]);
    assert_eq!(signal_round_trip(&mut c, Signal::SIGTERM, 15), 15);
}

#[test]
fn nsenter_env_takes_the_targets_environment() {
    if !require_root("setns(2)") {
        return;
    }
    let t = Target::start(&[
        "--fork",
        "--uts",
        "--",
        "env",
        "-i",
        "TARGET_ONLY=yes",
        "sleep",
        "1000",
    ]);
    let o = run(nsenter()
        .env("CALLER_ONLY", "x")
        .args(["-t", &t.pid(), "-u", "--env", "/bin/sh", "-c"])
        .arg("echo ${TARGET_ONLY:-none} ${CALLER_ONLY:-none}"));
    o.ok();
    assert_eq!(o.stdout, "yes none\n", "{o}");
    let o = run(nsenter().args(["--env", "true"]));
    assert_eq!(o.code, 1, "{o}");
}

#[test]
fn unshare_idmap_mount_shows_the_root_as_the_containers_root() {
    if !require_root("user namespaces and idmapped mounts") {
        return;
    }
    let r = Rootfs::new();
    let base = integration::container::id_base();
    let map = format!("{base},0,65536");
    let show = |idmap: bool| {
        let mut c = unshare();
        c.args(["--fork", "--user", "--mount", "-S", "0", "-G", "0"])
            .arg(format!("--map-users={map}"))
            .arg(format!("--map-groups={map}"));
        if idmap {
            c.arg("--idmap-mount").arg(r.path());
        }
        c.args(["--", "sh", "-c"]).arg(format!(
            "stat -c %u:%g {root}/bin; touch {root}/made-inside && stat -c %u {root}/made-inside",
            root = r.path().display()
        ));
        run(&mut c)
    };
    // Without the idmapped mount the container's root sees the host's root as nobody,
    // and cannot write there.
    let o = show(false);
    assert!(o.stdout.starts_with("65534:65534\n"), "{o}");
    assert_ne!(o.code, 0, "{o}");
    // Through it, the tree is the container root's; what it makes is owned by 0 on disk.
    let o = show(true);
    o.ok();
    assert_eq!(o.stdout, "0:0\n0\n", "{o}");
    let made = fs::metadata(r.path().join("made-inside")).unwrap();
    assert_eq!((made.uid(), made.gid()), (0, 0));
    // A filesystem that cannot be idmapped: one line, nothing left.
    let o = run(unshare()
        .args(["--fork", "--user", "--mount", "-S", "0", "-G", "0"])
        .arg(format!("--map-users={map}"))
        .arg(format!("--map-groups={map}"))
        .args(["--idmap-mount", "/proc", "true"]));
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr
            .starts_with("unshare-rs: cannot idmap '/proc': its filesystem cannot be idmapped"),
        "{o}"
    );
    assert_eq!(o.stderr.lines().count(), 1, "{o}");
}

#[test]
fn unshare_block_fd_holds_the_command_until_told() {
    if !require_root("unshare(2)") {
        return;
    }
    use std::io::Write as _;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (r, w) = nix::unistd::pipe().unwrap();
    let raw = r.as_raw_fd();
    let mut c = unshare();
    c.args(["--fork", "--uts", "--block-fd", "3", "--", "echo", "ran"])
        .stdout(Stdio::piped());
    // SAFETY: dup2 in the child before exec, onto descriptor 3.
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = c.spawn().unwrap();
    drop(r);
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "ran before the go");
    std::fs::File::from(w).write_all(b"g").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
}

#[test]
fn bad_input_is_refused_in_one_line_and_leaves_nothing() {
    if !require_root("namespaces") {
        return;
    }
    let dir = integration::tempdir();
    let d = dir.path().display().to_string();
    // A file given as --pidfile that is not a pidfile: left as it is.
    let precious = dir.path().join("p");
    let long = "x".repeat(65);
    let two_uts = [format!("--uts={d}/a"), format!("--uts={d}/b")];
    let pidfile = format!("--pidfile={d}/p");
    let missing_dir = format!("--net={d}/nodir/x");
    let unshare_cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--hostname="], "invalid hostname '': 1 to 64 bytes"),
        (vec!["--hostname", &long], "1 to 64 bytes"),
        (
            vec![&two_uts[0], &two_uts[1]],
            "two files for one uts namespace",
        ),
        (vec!["--fork", &pidfile], "holds no PID (left as it is)"),
        (vec!["--map-users=1,2"], "invalid mapping '1,2'"),
        (vec!["--map-users=x,0,1"], "invalid mapping 'x,0,1'"),
        (vec!["--map-users=0,0,99999999999"], "invalid mapping"),
        (vec!["--map-user=nosuchuser"], "unknown user 'nosuchuser'"),
        (vec!["--kill-child=NOSIG"], "unknown signal: NOSIG"),
        (vec!["--setgroups=maybe"], "invalid value 'maybe'"),
        (vec!["--propagation=bogus"], "invalid value 'bogus'"),
        (vec!["--monotonic=x"], "invalid value 'x' for '--monotonic"),
        (vec!["-G", "99999999999"], "not in 0..=4294967295"),
        (vec!["--init"], "needs a new PID namespace (--pid)"),
        (vec![&missing_dir], "cannot create namespace file"),
        (
            vec!["--wd=/nonexistent"],
            "cannot change directory to '/nonexistent'",
        ),
        (
            vec!["--root=/nonexistent"],
            "cannot change root directory to '/nonexistent'",
        ),
        (vec!["--bogus"], "unrecognized option '--bogus'"),
        // A filesystem that cannot be idmapped (proc): said, with the way out.
        (
            vec![
                "--fork",
                "--user",
                "--mount",
                "--map-users=1610612736,0,65536",
                "--map-groups=1610612736,0,65536",
                "--idmap-mount",
                "/proc/sys",
            ],
            "its filesystem cannot be idmapped",
        ),
    ];
    let nsenter_cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["-t", "0", "-a"],
            "invalid value '0' for '--target <PID>'",
        ),
        (vec!["-t", "x", "-a"], "invalid value 'x'"),
        (
            vec!["-t", "4194305", "-a"],
            "cannot open namespace of pid 4194305",
        ),
        (
            vec!["--net=/nonexistent"],
            "cannot open net namespace '/nonexistent'",
        ),
        (vec!["-a"], "no target PID given for --all"),
        (
            vec!["--release=/nonexistent"],
            "cannot release '/nonexistent'",
        ),
        (vec!["--bogus"], "unrecognized option '--bogus'"),
    ];
    let mounts = integration::mount_points(dir.path());
    let ns = ns_link("self", "net");
    for (tool, cases) in [
        ("unshare-rs", &unshare_cases),
        ("nsenter-rs", &nsenter_cases),
    ] {
        for (opts, says) in cases {
            fs::write(&precious, "precious\n").unwrap();
            let o = run(cmd(bin(tool)).args(opts).arg("true"));
            o.one_line(tool, 1, says, &format!("{tool} {opts:?}"));
            let left: Vec<_> = fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert_eq!(left, ["p"], "{tool} {opts:?} left files");
            assert_eq!(fs::read_to_string(&precious).unwrap(), "precious\n");
            assert_eq!(
                integration::mount_points(dir.path()),
                mounts,
                "{tool} {opts:?} left a mount"
            );
        }
    }
    assert_eq!(ns_link("self", "net"), ns);
    eprintln!(
        "{} bad inputs refused, each in one line, nothing left",
        unshare_cases.len() + nsenter_cases.len()
    );
}

#[test]
fn a_pidfile_is_taken_only_when_free_or_stale() {
    if !require_root("unshare(2)") {
        return;
    }
    let dir = integration::tempdir();
    let p = dir.path().join("x.pid");
    // Empty (as mktemp makes it) or naming an ended process: taken, then removed.
    for before in ["", "4194305\n"] {
        fs::write(&p, before).unwrap();
        run(unshare()
            .args(["--fork", "--pid"])
            .arg(format!("--pidfile={}", p.display()))
            .arg("true"))
        .ok();
        assert!(!p.exists(), "removed at exit");
    }
    // Naming a running process: refused, left as it was.
    fs::write(&p, format!("{}\n", std::process::id())).unwrap();
    let o = run(unshare()
        .args(["--fork", "--pid"])
        .arg(format!("--pidfile={}", p.display()))
        .arg("true"));
    o.one_line(
        "unshare-rs",
        1,
        "which is running (left as it is)",
        "live pidfile",
    );
    assert_eq!(
        fs::read_to_string(&p).unwrap(),
        format!("{}\n", std::process::id())
    );
}
