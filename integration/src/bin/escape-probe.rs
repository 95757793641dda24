//! Ways out of a container, tried from inside as the container's root: the escape suite
//! of the boundary tests. Each attempt prints one line, `ESCAPED NAME: how` when it got
//! through, `contained NAME: why` when it did not, `skipped NAME: …` when the test gave
//! it nothing to aim at. The probe proves an escape by reading a marker the test planted
//! outside, and never harms the host: a global knob is only opened for writing, never
//! written (the one write is to a cgroup hierarchy the probe itself made, and undone).
//!
//! usage:
//!   escape-probe MARKER                      the classic double-chroot `..` walk only
//!   escape-probe suite [--marker PATH] [--handle HEX] [--disk MAJ:MIN --disk-marker TEXT]
//!                      [--mem-limit BYTES] [--host-ns TYPE:INODE,…] [--host-pid PID]
//!                      [--secret NAME] [--keyring ID]

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;

use nix::errno::Errno;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("tiocsti") => {
            // Push TEXT into the input of the terminal on standard input, as a process
            // inside a container could try against the terminal it was attached from.
            let text = args.get(1).cloned().unwrap_or_default();
            for b in text.bytes().chain(std::iter::once(b'\n')) {
                // SAFETY: TIOCSTI reads one byte through the pointer, which outlives it.
                let rc = unsafe { libc::ioctl(0, libc::TIOCSTI, &raw const b) };
                if rc < 0 {
                    println!("TIOCSTI: {:?}", Errno::last());
                    return ExitCode::from(1);
                }
            }
            println!("TIOCSTI: pushed");
            ExitCode::SUCCESS
        }
        Some("suite") => {
            let opts = parse_opts(&args[1..]);
            suite(&opts);
            ExitCode::SUCCESS
        }
        Some(marker) => classic(marker),
        None => {
            eprintln!("usage: escape-probe MARKER | escape-probe suite [OPTIONS]");
            ExitCode::from(2)
        }
    }
}

/// The double-chroot walk alone (the first tests of chroot-rs use it as it was).
fn classic(marker: &str) -> ExitCode {
    match dotdot_walk(marker) {
        Outcome::Escaped(_) => {
            println!("ESCAPED");
            ExitCode::SUCCESS
        }
        Outcome::Contained(why) => {
            println!("contained: {why}");
            ExitCode::from(1)
        }
        Outcome::Skipped(_) => ExitCode::from(1),
    }
}

fn parse_opts(args: &[String]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        if let (Some(name), Some(v)) = (k.strip_prefix("--"), it.next()) {
            m.insert(name.to_owned(), v.clone());
        }
    }
    m
}

enum Outcome {
    Escaped(String),
    Contained(String),
    Skipped(String),
}

use Outcome::{Contained, Escaped, Skipped};

fn errno_of(e: &std::io::Error) -> String {
    e.raw_os_error()
        .map_or_else(|| e.to_string(), |n| format!("{:?}", Errno::from_raw(n)))
}

fn suite(o: &HashMap<String, String>) {
    let marker = o.get("marker").map(String::as_str);
    let attempts: Vec<(&str, Outcome)> = vec![
        ("chroot-dotdot", marker.map_or(skip(), dotdot_walk)),
        ("proc-root", marker.map_or(skip(), proc_root)),
        ("open-by-handle", handle(o.get("handle"))),
        (
            "mknod-disk",
            mknod_disk(o.get("disk"), o.get("disk-marker")),
        ),
        ("cgroup-release-agent", release_agent()),
        ("memory-limit", memory_limit(o.get("mem-limit"))),
        ("sysctl-write", sysctl_write("/proc")),
        ("new-proc-sysctl", new_proc()),
        ("sysfs-rw", sysfs_rw()),
        ("kernel-log", kernel_log()),
        ("keyring", keyring(o.get("keyring"))),
        ("cap-sys-module", cap_sys_module()),
        ("cap-sys-time", cap_sys_time()),
        ("no-seccomp", seccomp_mode()),
        ("setns-host", setns_host(o.get("host-ns"))),
        ("ptrace-host", ptrace_host(o.get("host-pid"))),
        ("inherited-fds", inherited_fds(marker)),
        ("caller-environment", environment(o.get("secret"))),
    ];
    for (name, outcome) in attempts {
        match outcome {
            Escaped(how) => println!("ESCAPED {name}: {how}"),
            Contained(why) => println!("contained {name}: {why}"),
            Skipped(why) => println!("skipped {name}: {why}"),
        }
    }
}

fn skip() -> Outcome {
    Skipped("no target given".to_owned())
}

/// The reader of the marker: its content proves where we got.
fn read_marker(path: &str) -> Option<String> {
    fs::read_to_string(path).ok()
}

fn dotdot_walk(marker: &str) -> Outcome {
    let attempt = || -> nix::Result<()> {
        let dir = "/.escape-probe";
        match nix::unistd::mkdir(dir, nix::sys::stat::Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        nix::unistd::chroot(dir)?;
        for _ in 0..256 {
            nix::unistd::chdir("..")?;
        }
        nix::unistd::chroot(".")
    };
    // In a child: a successful walk changes this process's root for good.
    match fork_and(|| match attempt() {
        Err(e) => Contained(format!("{e:?}")),
        Ok(()) => match read_marker(marker) {
            Some(_) => Escaped(format!("read {marker} after the walk")),
            None => Contained("the walk stayed inside".to_owned()),
        },
    }) {
        Some(o) => o,
        None => Contained("could not fork".to_owned()),
    }
}

/// Run `f` in a forked child and bring its outcome back (a pipe of one line).
fn fork_and(f: impl FnOnce() -> Outcome) -> Option<Outcome> {
    let (r, w) = nix::unistd::pipe().ok()?;
    // SAFETY: the probe is single-threaded; the child only runs `f` and exits.
    match unsafe { nix::unistd::fork() }.ok()? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let line = match f() {
                Escaped(s) => format!("E{s}"),
                Contained(s) => format!("C{s}"),
                Skipped(s) => format!("S{s}"),
            };
            let _ = nix::unistd::write(&w, line.as_bytes());
            // SAFETY: _exit ends the child without running the parent's handlers.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut s = String::new();
            let _ = fs::File::from(r).read_to_string(&mut s);
            let _ = nix::sys::wait::waitpid(child, None);
            let (tag, rest) = s.split_at(s.len().min(1));
            Some(match tag {
                "E" => Escaped(rest.to_owned()),
                "S" => Skipped(rest.to_owned()),
                _ => Contained(rest.to_owned()),
            })
        }
    }
}

fn proc_root(marker: &str) -> Outcome {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Contained("no /proc".to_owned());
    };
    for e in dir.flatten() {
        let name = e.file_name();
        if !name.as_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        let p = format!("/proc/{}/root{marker}", name.to_string_lossy());
        if read_marker(&p).is_some() {
            return Escaped(format!("read {p}"));
        }
    }
    Contained("no /proc/PID/root leads to the marker".to_owned())
}

fn handle(hex: Option<&String>) -> Outcome {
    let Some(hex) = hex else { return skip() };
    // HEX: handle_type (8 hex digits) then the handle bytes.
    let Some((ty, bytes)) = hex.split_once(':') else {
        return Skipped("bad handle".to_owned());
    };
    let Ok(ty) = i32::from_str_radix(ty, 16) else {
        return Skipped("bad handle type".to_owned());
    };
    let raw: Vec<u8> = (0..bytes.len() / 2)
        .filter_map(|i| u8::from_str_radix(&bytes[2 * i..2 * i + 2], 16).ok())
        .collect();
    let mut buf = vec![0u8; 8 + raw.len()];
    buf[0..4].copy_from_slice(&u32::try_from(raw.len()).unwrap_or(0).to_ne_bytes());
    buf[4..8].copy_from_slice(&ty.to_ne_bytes());
    buf[8..].copy_from_slice(&raw);
    let Ok(root) = fs::File::open("/") else {
        return Contained("cannot open /".to_owned());
    };
    // SAFETY: `buf` is a struct file_handle (bytes, type, then the handle) that outlives
    // the call; the mount fd is open.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            root.as_raw_fd(),
            buf.as_mut_ptr(),
            libc::O_RDONLY,
        )
    };
    if fd < 0 {
        return Contained(format!("open_by_handle_at: {:?}", Errno::last()));
    }
    // SAFETY: a fresh descriptor from the kernel.
    let mut f = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    let mut s = String::new();
    match f.read_to_string(&mut s) {
        Ok(_) => Escaped("read the host's marker by its handle".to_owned()),
        Err(e) => Contained(format!("read: {}", errno_of(&e))),
    }
}

fn mknod_disk(dev: Option<&String>, text: Option<&String>) -> Outcome {
    let (Some(dev), Some(text)) = (dev, text) else {
        return skip();
    };
    let Some((maj, min)) = dev
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
    else {
        return Skipped("bad MAJ:MIN".to_owned());
    };
    let node = "/tmp/.escape-probe-disk";
    let _ = fs::remove_file(node);
    if let Err(e) = nix::sys::stat::mknod(
        node,
        nix::sys::stat::SFlag::S_IFBLK,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
        nix::sys::stat::makedev(maj, min),
    ) {
        return Contained(format!("mknod: {e:?}"));
    }
    let r = fs::File::open(node).and_then(|mut f| {
        let mut data = Vec::new();
        f.read_to_end(&mut data)?;
        Ok(data)
    });
    let _ = fs::remove_file(node);
    match r {
        Ok(data) if data.windows(text.len()).any(|w| w == text.as_bytes()) => {
            Escaped("read the host disk's marker through a device node".to_owned())
        }
        Ok(_) => Contained("the device holds no marker".to_owned()),
        Err(e) => Contained(format!("open: {}", errno_of(&e))),
    }
}

fn mount(
    src: &str,
    target: &str,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> Result<(), Errno> {
    let c = |s: &str| CString::new(s).unwrap_or_default();
    let (s, t, f, d) = (c(src), c(target), c(fstype), c(data));
    // SAFETY: four NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::mount(
            s.as_ptr(),
            t.as_ptr(),
            if fstype.is_empty() {
                std::ptr::null()
            } else {
                f.as_ptr()
            },
            flags,
            if data.is_empty() {
                std::ptr::null()
            } else {
                d.as_ptr().cast()
            },
        )
    };
    Errno::result(rc).map(drop)
}

fn umount(target: &str) {
    let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
}

fn scratch_dir(name: &str) -> Option<String> {
    let d = format!("/tmp/.escape-probe-{name}");
    match fs::create_dir(&d) {
        Ok(()) => Some(d),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Some(d),
        Err(_) => None,
    }
}

fn release_agent() -> Outcome {
    let Some(d) = scratch_dir("cgroup") else {
        return Contained("no writable /tmp".to_owned());
    };
    let name = format!("none,name=escape-probe-{}", std::process::id());
    if let Err(e) = mount("cgroup", &d, "cgroup", 0, &name) {
        let _ = fs::remove_dir(&d);
        return Contained(format!("mount of a new cgroup v1 hierarchy: {e:?}"));
    }
    // The hierarchy is the probe's own (no task in it): writing its release agent with
    // the empty value changes nothing, and shows whether the kernel would take one.
    let path = format!("{d}/release_agent");
    let r = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"\n"));
    umount(&d);
    let _ = fs::remove_dir(&d);
    match r {
        Ok(()) => Escaped(
            "a new hierarchy's release_agent takes a program to run as host root".to_owned(),
        ),
        Err(e) => Contained(format!("release_agent: {}", errno_of(&e))),
    }
}

fn memory_limit(limit: Option<&String>) -> Outcome {
    let Some(limit) = limit.and_then(|l| l.parse::<usize>().ok()) else {
        return skip();
    };
    // Raise every memory limit this container can write, then try to use more than the
    // limit the host set.
    let mut raised = Vec::new();
    for f in [
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
        "/sys/fs/cgroup/memory.max",
    ] {
        if fs::write(f, "-1").is_ok() || fs::write(f, "max").is_ok() {
            raised.push(f);
        }
    }
    let want = limit + 32 * 1024 * 1024;
    let survived = fork_and(move || {
        let mut v = vec![0u8; want];
        for i in (0..v.len()).step_by(4096) {
            v[i] = 1;
        }
        std::hint::black_box(&v);
        Escaped(format!("held {want} bytes"))
    });
    match survived {
        Some(Escaped(how)) => Escaped(format!("{how} (raised: {raised:?})")),
        _ => Contained(format!("killed past the limit (raised here: {raised:?})")),
    }
}

/// Global kernel knobs opened for writing (opened only, never written).
fn sysctl_write(proc_dir: &str) -> Outcome {
    let mut open = Vec::new();
    let mut why = String::new();
    for knob in [
        "sys/kernel/core_pattern",
        "sys/fs/file-max",
        "sys/vm/drop_caches",
        "sys/kernel/panic",
        "sysrq-trigger",
    ] {
        let p = format!("{proc_dir}/{knob}");
        match fs::OpenOptions::new().write(true).open(&p) {
            Ok(_) => open.push(p),
            Err(e) => why = format!("{p}: {}", errno_of(&e)),
        }
    }
    if open.is_empty() {
        Contained(why)
    } else {
        Escaped(format!("opened for writing: {}", open.join(", ")))
    }
}

fn new_proc() -> Outcome {
    let Some(d) = scratch_dir("proc") else {
        return Contained("no writable /tmp".to_owned());
    };
    if let Err(e) = mount("proc", &d, "proc", 0, "") {
        let _ = fs::remove_dir(&d);
        return Contained(format!("mount proc: {e:?}"));
    }
    let r = sysctl_write(&d);
    umount(&d);
    let _ = fs::remove_dir(&d);
    r
}

fn sysfs_rw() -> Outcome {
    let knob = "kernel/mm/transparent_hugepage/enabled";
    let try_write = |root: &str| {
        fs::OpenOptions::new()
            .write(true)
            .open(format!("{root}/{knob}"))
            .is_ok()
    };
    // Read-write again: the superblock (what a plain remount changes, where the mounter
    // holds CAP_SYS_ADMIN over the superblock's owner), then this mount's own flag.
    let superblock = mount("", "/sys", "", libc::MS_REMOUNT, "").is_ok();
    let remounted = mount("", "/sys", "", libc::MS_REMOUNT | libc::MS_BIND, "").is_ok();
    if try_write("/sys") {
        return Escaped(format!(
            "/sys/{knob} opened for writing (superblock rw: {superblock}, mount rw: {remounted})"
        ));
    }
    let Some(d) = scratch_dir("sys") else {
        return Contained("no writable /tmp".to_owned());
    };
    let fresh = mount("sysfs", &d, "sysfs", 0, "");
    let w = fresh.is_ok() && try_write(&d);
    if fresh.is_ok() {
        umount(&d);
    }
    let _ = fs::remove_dir(&d);
    if w {
        Escaped(format!("a new sysfs: {knob} opened for writing"))
    } else {
        Contained(format!(
            "superblock rw: {superblock}; mount rw: {remounted}; new sysfs: {fresh:?}; no knob writable"
        ))
    }
}

fn kernel_log() -> Outcome {
    let mut buf = vec![0u8; 4096];
    // SAFETY: SYSLOG_ACTION_READ_ALL (3) copies at most `len` bytes into the buffer.
    let n = unsafe { libc::klogctl(3, buf.as_mut_ptr().cast(), 4096) };
    if n >= 0 {
        return Escaped(format!("syslog(2) read {n} bytes of the kernel log"));
    }
    let e1 = Errno::last();
    for dev in ["/dev/kmsg", "/proc/kmsg"] {
        if fs::File::open(dev).is_ok() {
            return Escaped(format!("opened {dev}"));
        }
    }
    Contained(format!("syslog: {e1:?}; no /dev/kmsg, /proc/kmsg"))
}

fn keyring(host: Option<&String>) -> Outcome {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEY_SPEC_USER_KEYRING: libc::c_long = -4;
    // SAFETY: keyctl(KEYCTL_GET_KEYRING_ID, id, create=0) takes integers only.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_USER_KEYRING,
            0,
        )
    };
    if id < 0 {
        return Contained(format!("keyctl: {:?}", Errno::last()));
    }
    match host.and_then(|h| h.parse::<i64>().ok()) {
        Some(h) if h == id => Escaped(format!("the host root's user keyring {id}")),
        Some(_) => Contained(format!("a keyring of our own ({id})")),
        None => Contained(format!(
            "keyctl works (keyring {id}); no host keyring to compare"
        )),
    }
}

/// True when this process holds capability `bit` effectively in the initial user
/// namespace (a namespaced capability does not reach the host).
fn host_capability(bit: u32) -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let uid_map = fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let initial = uid_map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"];
    eff & (1 << bit) != 0 && initial
}

fn cap_sys_module() -> Outcome {
    // With CAP_SYS_MODULE the kernel goes on to the descriptor: EBADF; without, EPERM.
    // SAFETY: finit_module with fd -1 loads nothing.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, -1, c"".as_ptr(), 0) };
    match (rc, Errno::last()) {
        (_, Errno::EBADF) => Escaped("finit_module got past the capability check".to_owned()),
        // A kernel without modules: say whether the capability is there all the same.
        (_, Errno::ENOSYS) if host_capability(16) => Escaped(
            "CAP_SYS_MODULE held in the host's user namespace (kernel without modules)".to_owned(),
        ),
        (_, e) => Contained(format!("finit_module: {e:?}")),
    }
}

fn cap_sys_time() -> Outcome {
    // adjtimex checks CAP_SYS_TIME before the value: tick 0 is refused as EINVAL by a
    // capable caller (nothing changes), as EPERM otherwise.
    // SAFETY: all-zero bytes are a valid timex.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    tx.modes = libc::ADJ_TICK;
    tx.tick = 0;
    // SAFETY: `tx` is a valid timex that outlives the call.
    let rc = unsafe { libc::adjtimex(&raw mut tx) };
    match (rc, Errno::last()) {
        (r, _) if r >= 0 => Escaped("adjtimex accepted a change".to_owned()),
        (_, Errno::EINVAL) => Escaped("adjtimex got past the capability check".to_owned()),
        (_, e) => Contained(format!("adjtimex: {e:?}")),
    }
}

fn seccomp_mode() -> Outcome {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mode = status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .map(str::trim)
        .unwrap_or("?")
        .to_owned();
    if mode == "2" {
        Contained("a seccomp filter is on".to_owned())
    } else {
        Escaped(format!("no seccomp filter (mode {mode})"))
    }
}

fn setns_host(spec: Option<&String>) -> Outcome {
    let Some(spec) = spec else { return skip() };
    let host: HashMap<u64, String> = spec
        .split(',')
        .filter_map(|e| {
            let (t, i) = e.split_once(':')?;
            Some((i.parse().ok()?, t.to_owned()))
        })
        .collect();
    let mut candidates = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Ok(ns) = fs::read_dir(e.path().join("ns")) {
                candidates.extend(ns.flatten().map(|n| n.path()));
            }
        }
    }
    if let Ok(dir) = fs::read_dir("/run/netns") {
        candidates.extend(dir.flatten().map(|n| n.path()));
    }
    for p in candidates {
        let Ok(meta) = fs::metadata(&p) else { continue };
        if let Some(t) = host.get(&meta.ino())
            && let Ok(f) = fs::File::open(&p)
        {
            // SAFETY: setns with an open namespace descriptor and any type.
            let rc = unsafe { libc::setns(f.as_raw_fd(), 0) };
            if rc == 0 {
                return Escaped(format!(
                    "entered the host's {t} namespace through {}",
                    p.display()
                ));
            }
        }
    }
    Contained("no host namespace file reachable".to_owned())
}

fn ptrace_host(pid: Option<&String>) -> Outcome {
    let Some(pid) = pid.and_then(|p| p.parse::<i32>().ok()) else {
        return skip();
    };
    let p = nix::unistd::Pid::from_raw(pid);
    match nix::sys::ptrace::attach(p) {
        Ok(()) => {
            let _ = nix::sys::wait::waitpid(p, None);
            let _ = nix::sys::ptrace::detach(p, None);
            Escaped(format!("ptrace-attached host process {pid}"))
        }
        Err(e) => Contained(format!("ptrace({pid}): {e:?}")),
    }
}

fn inherited_fds(marker: Option<&str>) -> Outcome {
    // Without /proc: ask each number (the probe itself opens nothing before this).
    let open: Vec<i32> = (3..1024)
        // SAFETY: F_GETFD only reads a descriptor's flags; unused numbers give EBADF.
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
        .collect();
    if let Some(marker) = marker {
        let name = std::path::Path::new(marker)
            .file_name()
            .map(std::ffi::OsStr::to_os_string)
            .unwrap_or_default();
        for &fd in &open {
            let Ok(c) = CString::new(name.as_bytes()) else {
                continue;
            };
            // SAFETY: openat with a descriptor number we were handed and a NUL-terminated
            // name; a bad descriptor just fails.
            let f = unsafe { libc::openat(fd, c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            if f >= 0 {
                // SAFETY: a fresh descriptor from the kernel.
                drop(unsafe { OwnedFd::from_raw_fd(f) });
                return Escaped(format!(
                    "opened the marker through inherited descriptor {fd}"
                ));
            }
        }
    }
    Contained(format!("descriptors above 2: {}", open.len()))
}

fn environment(secret: Option<&String>) -> Outcome {
    let Some(secret) = secret else { return skip() };
    let env = fs::read("/proc/1/environ").unwrap_or_default();
    let me = fs::read("/proc/self/environ").unwrap_or_default();
    let has = |e: &[u8]| {
        e.split(|&b| b == 0)
            .any(|v| v.starts_with(secret.as_bytes()) && v.get(secret.len()) == Some(&b'='))
    };
    if has(&env) || has(&me) {
        Escaped(format!("the caller's {secret} reached the container"))
    } else {
        Contained("nothing of the caller's environment".to_owned())
    }
}
