//! The escape suite: a container is a boundary. `escape-probe suite` runs inside as the
//! container's root and tries every known way out (see its module doc); each way gets a
//! target planted outside by the test (a marker file, its file handle, a loop device
//! holding a marker, the host's namespace inodes, this process's PID, an environment
//! variable, an open descriptor). Results:
//!
//! - unprivileged (the default): nothing gets out;
//! - privileged: exactly what only a user namespace stops gets out (the README's table):
//!   a new proc mount, or the sysfs remounted read-write, with the host's knobs writable.
//!   (A new cgroup v1 hierarchy, whose release agent the kernel would run as host root,
//!   is refused by the cgroup namespace: the kernel makes hierarchies only in the
//!   initial one.)
//! - a plain chroot: the classic escapes work (the contrast).
//!
//! Nothing here harms the host: knobs are only opened for writing, escapes are proven by
//! reading the marker.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use integration::container::{self, Cgroup, Mode};
use integration::{Guard, Rootfs, bin, cmd, require_root, run};

const SECRET: &str = "TOOLKIT_ESCAPE_SECRET";
const MEM_LIMIT: u64 = 64 * 1024 * 1024;

/// What the probe aims at, planted outside the container.
struct Targets {
    _dir: tempfile::TempDir,
    marker: PathBuf,
    handle: String,
    disk: String,
    disk_text: String,
    _loop: Guard<Box<dyn FnOnce()>>,
    host_ns: String,
    /// An open descriptor of the marker's directory, inherited by the container's start.
    dir_fd: OwnedFd,
}

impl Targets {
    fn plant() -> Targets {
        let dir = integration::tempdir();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let marker = dir.path().join("marker");
        fs::write(&marker, format!("toolkit-marker-{}\n", std::process::id())).unwrap();
        fs::set_permissions(&marker, fs::Permissions::from_mode(0o644)).unwrap();
        let handle = file_handle(&marker);
        // A "host disk": a loop device over a file holding a marker text.
        let disk_text = format!("toolkit-disk-marker-{}", std::process::id());
        let image = dir.path().join("disk.img");
        let mut data = vec![0u8; 1 << 20];
        data[4096..4096 + disk_text.len()].copy_from_slice(disk_text.as_bytes());
        fs::write(&image, data).unwrap();
        let out = run(cmd("losetup")
            .args(["--find", "--show", "--read-only"])
            .arg(&image));
        out.ok();
        let dev = out.stdout.trim().to_owned();
        let rdev = fs::metadata(&dev).unwrap().rdev();
        let disk = format!("{}:{}", libc::major(rdev), libc::minor(rdev));
        let detach_dev = dev.clone();
        let loop_guard: Guard<Box<dyn FnOnce()>> = Guard::new(Box::new(move || {
            let _ = Command::new("losetup").args(["-d", &detach_dev]).output();
        }));
        let host_ns = ["net", "mnt", "pid", "user", "uts", "ipc", "cgroup"]
            .iter()
            .map(|t| {
                let ino = fs::metadata(format!("/proc/self/ns/{t}")).unwrap().ino();
                format!("{t}:{ino}")
            })
            .collect::<Vec<_>>()
            .join(",");
        // Not close-on-exec: inherited by whatever the test starts next.
        let dir_fd = nix::fcntl::open(
            dir.path(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        Targets {
            _dir: dir,
            marker,
            handle,
            disk,
            disk_text,
            _loop: loop_guard,
            host_ns,
            dir_fd,
        }
    }

    fn args(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec!["/escape-probe".into(), "suite".into()];
        let pairs = [
            ("--marker", self.marker.to_string_lossy().into_owned()),
            ("--handle", self.handle.clone()),
            ("--disk", self.disk.clone()),
            ("--disk-marker", self.disk_text.clone()),
            ("--mem-limit", MEM_LIMIT.to_string()),
            ("--host-ns", self.host_ns.clone()),
            ("--host-pid", std::process::id().to_string()),
            ("--secret", SECRET.to_owned()),
            ("--keyring", user_keyring().to_string()),
        ];
        for (k, val) in pairs {
            v.push(k.into());
            v.push(val.into());
        }
        v
    }
}

/// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING): this (host root) user's keyring.
fn user_keyring() -> i64 {
    // SAFETY: integers only; create=0 makes nothing.
    unsafe { libc::syscall(libc::SYS_keyctl, 0, -4_i64, 0) }
}

/// name_to_handle_at(2): `TYPE:HEX` of the file's handle.
fn file_handle(path: &Path) -> String {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut buf = [0u8; 8 + 128];
    buf[0..4].copy_from_slice(&128u32.to_ne_bytes());
    let mut mount_id: libc::c_int = 0;
    // SAFETY: `buf` is a struct file_handle with room for 128 handle bytes, `c` a
    // NUL-terminated path; both outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            c.as_ptr(),
            buf.as_mut_ptr(),
            &raw mut mount_id,
            0,
        )
    };
    assert_eq!(
        rc,
        0,
        "name_to_handle_at: {}",
        std::io::Error::last_os_error()
    );
    let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize;
    let ty = i32::from_ne_bytes(buf[4..8].try_into().unwrap());
    let hex: String = buf[8..8 + len].iter().map(|b| format!("{b:02x}")).collect();
    format!("{ty:08x}:{hex}")
}

/// Run the suite in a container of `mode`; the attempts and their outcome lines.
fn escapes(mode: Mode) -> BTreeMap<String, String> {
    let rootfs = Rootfs::new();
    rootfs.add_binary(&bin("escape-probe"));
    fs::rename(
        rootfs
            .path()
            .join(bin("escape-probe").strip_prefix("/").unwrap()),
        rootfs.path().join("escape-probe"),
    )
    .unwrap();
    let targets = Targets::plant();
    let base = container::id_base();
    let cgroup = (mode != Mode::Chroot).then(|| {
        Cgroup::create(
            &[
                "--memory",
                &MEM_LIMIT.to_string(),
                "--swap",
                "0",
                "--pids",
                "256",
            ],
            (mode == Mode::Unprivileged).then_some(base),
            mode == Mode::Privileged,
        )
    });
    let mut c = container::command(
        mode,
        rootfs.path(),
        cgroup.as_ref(),
        base,
        &[],
        &targets.args(),
    );
    c.env(SECRET, "1");
    let o = integration::run_with_timeout(&mut c, std::time::Duration::from_secs(120));
    let _ = targets.dir_fd.as_raw_fd();
    results(&format!("{mode:?}"), &o)
}

/// The outcome of each attempt in the probe's output, printed (the figures the README
/// states come from here).
fn results(what: &str, o: &integration::Output) -> BTreeMap<String, String> {
    assert_eq!(o.code, 0, "{what}: {o}");
    let mut results = BTreeMap::new();
    for line in o.stdout.lines() {
        let (state, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (name, why) = rest.split_once(": ").unwrap_or((rest, ""));
        results.insert(name.to_owned(), format!("{state}: {why}"));
    }
    eprintln!("escape suite, {what}:");
    for (name, result) in &results {
        eprintln!("  {name:22} {result}");
    }
    assert_eq!(results.len(), 18, "{what}: every attempt reports: {o}");
    results
}

fn escaped(results: &BTreeMap<String, String>) -> Vec<&str> {
    results
        .iter()
        .filter(|(_, r)| r.starts_with("ESCAPED"))
        .map(|(n, _)| n.as_str())
        .collect()
}

#[test]
fn unprivileged_containers_hold() {
    if !require_root("user namespaces, idmapped mounts, cgroups") {
        return;
    }
    let r = escapes(Mode::Unprivileged);
    assert_eq!(escaped(&r), Vec::<&str>::new(), "{r:#?}");
    // Every attempt had its target: none skipped.
    assert!(r.values().all(|v| !v.starts_with("skipped")), "{r:#?}");
}

/// The same suite in a container the manager makes (`ctn create`, its config's limits,
/// `ctn start`) and run by `ctn attach`: what the tools hold, ctn's composition of them
/// must not lose (it once started unprivileged containers without their user namespace).
#[test]
fn a_container_ctn_starts_holds_too() {
    if !require_root("containers") {
        return;
    }
    let lab = integration::ctn::Lab::new();
    let t = lab.busybox_template();
    let o = lab.run("ctn", &["create", "esc", "--from", t.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{o}");
    let root = lab.root().join("esc/rootfs");
    let probe = integration::rootfs::add_binary(&root, &bin("escape-probe"));
    fs::rename(
        root.join(probe.strip_prefix("/").unwrap()),
        root.join("escape-probe"),
    )
    .unwrap();
    let mut config = fs::OpenOptions::new()
        .append(true)
        .open(lab.root().join("esc/config"))
        .unwrap();
    std::io::Write::write_all(
        &mut config,
        format!(
            "lxc.cgroup2.memory.max = {MEM_LIMIT}\nlxc.cgroup2.memory.swap.max = 0\n\
             lxc.cgroup2.pids.max = 256\n"
        )
        .as_bytes(),
    )
    .unwrap();
    // Planted first: the start inherits the open descriptor and the variable too.
    let targets = Targets::plant();
    let o = lab
        .command("ctn")
        .args(["start", "esc"])
        .env(SECRET, "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let mut c = lab.command("ctn");
    c.args(["attach", "esc", "--"])
        .args(targets.args())
        .env(SECRET, "1");
    let o = integration::run_with_timeout(&mut c, std::time::Duration::from_secs(120));
    let _ = targets.dir_fd.as_raw_fd();
    let r = results("ctn", &o);
    assert_eq!(escaped(&r), Vec::<&str>::new(), "{r:#?}");
    assert!(r.values().all(|v| !v.starts_with("skipped")), "{r:#?}");
    let o = lab.run("ctn", &["destroy", "-f", "esc"]);
    assert_eq!(o.code, 0, "{o}");
}

#[test]
fn privileged_containers_stop_all_but_what_only_a_user_namespace_stops() {
    if !require_root("privileged containers") {
        return;
    }
    let r = escapes(Mode::Privileged);
    assert_eq!(escaped(&r), ["new-proc-sysctl", "sysfs-rw"], "{r:#?}");
}

#[test]
fn a_plain_chroot_is_no_boundary() {
    if !require_root("chroot(2)") {
        return;
    }
    let r = escapes(Mode::Chroot);
    let out = escaped(&r);
    // (A plain chroot has no /proc: what needs one is not tried there.)
    for way in [
        "chroot-dotdot",
        "open-by-handle",
        "mknod-disk",
        "new-proc-sysctl",
        "cap-sys-time",
        "keyring",
        "no-seccomp",
        "inherited-fds",
        "ptrace-host",
    ] {
        assert!(
            out.contains(&way),
            "{way} should get out of a plain chroot: {r:#?}"
        );
    }
}

/// A running unprivileged container (busybox `sleep`), its init's PID, and its groups.
struct Running {
    _rootfs: Rootfs,
    _cgroup: Cgroup,
    child: std::process::Child,
    pid: i32,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sleeping(mode: Mode) -> Running {
    let rootfs = Rootfs::new();
    rootfs.add_binary(&bin("escape-probe"));
    fs::rename(
        rootfs
            .path()
            .join(bin("escape-probe").strip_prefix("/").unwrap()),
        rootfs.path().join("escape-probe"),
    )
    .unwrap();
    let base = container::id_base();
    let cgroup = Cgroup::create(
        &[
            "--memory",
            &MEM_LIMIT.to_string(),
            "--swap",
            "0",
            "--pids",
            "256",
        ],
        (mode == Mode::Unprivileged).then_some(base),
        mode == Mode::Privileged,
    );
    let pidfile = rootfs.scratch().join("init.pid");
    let mut c = container::command_with_pidfile(
        mode,
        rootfs.path(),
        Some(&cgroup),
        base,
        &["--setenv", "container=ctn"],
        &["/bin/sleep".into(), "1000".into()],
        Some(&pidfile),
    );
    c.env(SECRET, "1");
    let child = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let pid = loop {
        if let Some(p) = fs::read_to_string(&pidfile)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            break p;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the container did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // The PID is written before chroot-rs sets the container up: wait for the command
    // itself (its environment is what an attach reads).
    while fs::read_to_string(format!("/proc/{pid}/comm")).map_or(true, |c| c.trim() != "sleep") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the container's command did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Running {
        _rootfs: rootfs,
        _cgroup: cgroup,
        child,
        pid,
    }
}

fn nsenter_container(pid: i32) -> Command {
    let mut c = cmd(bin("nsenter-rs"));
    c.args(["--container", "-t", &pid.to_string(), "--"]);
    c.env(SECRET, "1");
    c
}

#[test]
fn attach_takes_the_inits_confinement_not_the_callers() {
    if !require_root("user namespaces, cgroups") {
        return;
    }
    for mode in [Mode::Unprivileged, Mode::Privileged] {
        let r = start_sleeping(mode);
        // Same groups as the init, seen from inside; a clean environment.
        let o = run(nsenter_container(r.pid).args([
            "/bin/sh",
            "-c",
            "cat /proc/1/cgroup; echo --; cat /proc/self/cgroup; echo --; env | sort",
        ]));
        o.ok();
        let parts: Vec<&str> = o.stdout.split("--\n").collect();
        assert_eq!(parts.len(), 3, "{o}");
        assert_eq!(
            parts[0], parts[1],
            "{mode:?}: the attached command is in the init's groups: {o}"
        );
        let env: Vec<&str> = parts[2].lines().collect();
        assert!(env.contains(&"container=ctn"), "{o}");
        assert!(
            !parts[2].contains(SECRET),
            "{mode:?}: the caller's environment: {o}"
        );
        // Limited, filtered and confined as the init: the probe's attempts fail.
        let o = run(nsenter_container(r.pid).args([
            "/escape-probe",
            "suite",
            "--mem-limit",
            &MEM_LIMIT.to_string(),
            "--secret",
            SECRET,
            "--host-pid",
            &std::process::id().to_string(),
        ]));
        o.ok();
        for way in [
            "memory-limit",
            "no-seccomp",
            "caller-environment",
            "ptrace-host",
            "cap-sys-time",
        ] {
            let line = o
                .stdout
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(&format!("{way}:")))
                .unwrap_or_else(|| panic!("no {way} line: {o}"));
            assert!(line.starts_with("contained "), "{mode:?}: {line}");
        }
    }
}

#[test]
fn attach_gives_the_command_its_own_terminal() {
    if !require_root("user namespaces") {
        return;
    }
    use std::os::unix::process::CommandExt;
    let r = start_sleeping(Mode::Unprivileged);
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = pty.slave;
    let (s0, s1, s2) = (
        slave.try_clone().unwrap(),
        slave.try_clone().unwrap(),
        slave.try_clone().unwrap(),
    );
    let mut c = nsenter_container(r.pid);
    c.args([
        "/bin/sh",
        "-c",
        "tty; /escape-probe tiocsti 'echo INJECTED'",
    ])
    .stdin(s0)
    .stdout(s1)
    .stderr(s2);
    // SAFETY: setsid and TIOCSCTTY in the child before exec: the pty becomes the
    // controlling terminal of the caller, as a login shell's terminal is.
    unsafe {
        c.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = c.status().unwrap();
    assert!(status.success(), "{status}");
    // What the command printed came through the relay.
    let mut out = Vec::new();
    nix::fcntl::fcntl(
        &pty.master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(n) = nix::unistd::read(&pty.master, &mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("/dev/pts/"),
        "its own terminal, named inside: {text}"
    );
    assert!(text.contains("TIOCSTI: pushed"), "{text}");
    // Nothing was pushed into the caller's terminal: its input queue is empty.
    nix::fcntl::fcntl(
        &slave,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let queued = nix::unistd::read(&slave, &mut buf);
    assert!(
        matches!(queued, Err(nix::errno::Errno::EAGAIN)),
        "the caller's terminal received input: {queued:?} {:?}",
        queued.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    );
}

#[test]
fn attach_refuses_a_process_that_shares_the_hosts_root() {
    if !require_root("nsenter-rs --container") {
        return;
    }
    // A process in new namespaces but still on the host's root: a container whose
    // chroot-rs has not pivoted yet looks like this. Entering it with --container would
    // give the command this system's files.
    let mut child = cmd(bin("unshare-rs"))
        .args([
            "--fork",
            "--kill-child",
            "--pid",
            "--mount",
            "--uts",
            "--",
            "sleep",
            "100",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let pid = loop {
        // The forked child of unshare-rs, once it runs sleep.
        let children = fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
            .unwrap_or_default();
        if let Some(p) = children.split_whitespace().next()
            && fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        {
            break p.to_owned();
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let o = run(cmd(bin("nsenter-rs")).args(["--container", "-t", &pid, "--", "true"]));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(o.code, 1, "{o}");
    assert_eq!(
        o.stderr,
        format!(
            "nsenter-rs: pid {pid} shares this system's root directory: not a container (or not set up yet); --container refuses it\n"
        )
    );
}
