//! The second stage: the target's own dpkg configures the unpacked system, inside the
//! target, in a private mount namespace of a forked child. proc, sys and dev are mounted
//! in that namespace only, so nothing is ever mounted on the host, and the mounts vanish
//! with the namespace however the run ends (success, error, Ctrl-C, SIGKILL).
//!
//! As debootstrap does: a `policy-rc.d` that forbids starting services and a dummy
//! `start-stop-daemon` are in place while dpkg runs and removed afterwards; `ldconfig`
//! runs first; each package's `preinst install` runs (core packages first), then
//! `dpkg --configure --pending --force-configure-any --force-depends`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, Pid};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, quote};
use crate::root::Root;
use crate::signals;
use crate::sys;

/// What the second stage needs to know (also saved by `--foreign`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Plan {
    /// The target's architecture.
    pub arch: String,
    /// Packages in install order.
    pub packages: Vec<PlanPackage>,
    /// The version of the target's dpkg (DPKG_RUNNING_VERSION for maintainer scripts).
    pub dpkg_version: String,
    /// SOURCE_DATE_EPOCH, passed to the maintainer scripts (shadow honours it).
    pub source_date_epoch: Option<i64>,
}

/// One package of the plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanPackage {
    /// Its name in `info/` (`libc6:amd64` for Multi-Arch: same).
    pub info: String,
    /// `Package:`.
    pub name: String,
    /// `Architecture:`.
    pub arch: String,
    /// Its control file, when it has a preinst (dpkg runs a new package's preinst from
    /// `tmp.ci/` with the control file beside it; debconf reads the owner from there).
    pub preinst_control: Option<String>,
}

const POLICY_RC_D: &str = "usr/sbin/policy-rc.d";
const SSD: &str = "usr/sbin/start-stop-daemon";
const LOG: &str = "var/log/bootstrap.log";

fn ioerr(root: &Root, what: &str, rel: &str, e: std::io::Error) -> Error {
    Error::io(
        format!("cannot {what} {}", quote(root.host(Path::new(rel)))),
        e,
    )
}

/// Put the service guards in place (policy-rc.d, dummy start-stop-daemon, a temporary
/// awk, /etc/localtime).
fn prepare(root: &Root) -> Result<()> {
    root.write(Path::new(POLICY_RC_D), b"#!/bin/sh\nexit 101\n", 0o755)
        .map_err(|e| ioerr(root, "write", POLICY_RC_D, e))?;
    let ssd_real = format!("{SSD}.REAL");
    if root.exists(Path::new(SSD)) && !root.exists(Path::new(&ssd_real)) {
        root.rename(Path::new(SSD), Path::new(&ssd_real))
            .map_err(|e| ioerr(root, "rename", SSD, e))?;
        root.write(
            Path::new(SSD),
            b"#!/bin/sh\necho\necho \"Warning: Fake start-stop-daemon called, doing nothing\"\n",
            0o755,
        )
        .map_err(|e| ioerr(root, "write", SSD, e))?;
    }
    if !root.exists(Path::new("usr/bin/awk")) && root.exists(Path::new("usr/bin/mawk")) {
        root.symlink(Path::new("mawk"), Path::new("usr/bin/awk"))
            .map_err(|e| ioerr(root, "create", "usr/bin/awk", e))?;
    }
    if !root.exists(Path::new("etc/localtime")) {
        root.symlink(
            Path::new("/usr/share/zoneinfo/UTC"),
            Path::new("etc/localtime"),
        )
        .map_err(|e| ioerr(root, "create", "etc/localtime", e))?;
    }
    Ok(())
}

/// Remove the guards again.
fn restore(root: &Root) -> Result<()> {
    let ssd_real = format!("{SSD}.REAL");
    if root.exists(Path::new(&ssd_real)) {
        root.rename(Path::new(&ssd_real), Path::new(SSD))
            .map_err(|e| ioerr(root, "restore", SSD, e))?;
    }
    root.remove(Path::new(POLICY_RC_D))
        .map_err(|e| ioerr(root, "remove", POLICY_RC_D, e))?;
    // The temporary awk link, unless mawk's postinst replaced it by its alternative.
    if let Ok(t) = std::fs::read_link(root.host(Path::new("usr/bin/awk")))
        && t == Path::new("mawk")
    {
        root.remove(Path::new("usr/bin/awk"))
            .map_err(|e| ioerr(root, "remove", "usr/bin/awk", e))?;
    }
    Ok(())
}

/// Run the second stage in `root`. `inside` is true when TARGET is `/` (run from within
/// the target itself): no chroot then.
pub fn run(root: &Root, plan: &Plan, verbose: bool, inside: bool) -> Result<()> {
    prepare(root)?;
    let result = configure(root, plan, verbose, inside);
    let restored = restore(root);
    result.and(restored)
}

fn configure(root: &Root, plan: &Plan, verbose: bool, inside: bool) -> Result<()> {
    // Create the mount points now (confined); the child opens them again in its own
    // namespace (a descriptor from the old one cannot be mounted on).
    for d in ["proc", "sys", "dev"] {
        root.dir(Path::new(d))
            .map_err(|e| ioerr(root, "create", d, e))?;
    }
    let log_fd = if verbose {
        None
    } else {
        let fd = root
            .open_at(
                Path::new(LOG),
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND | OFlag::O_NOFOLLOW,
                0o644,
            )
            .or_else(|_| {
                root.dir(Path::new("var/log"))?;
                root.open_at(
                    Path::new(LOG),
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND | OFlag::O_NOFOLLOW,
                    0o644,
                )
            })
            .map_err(|e| ioerr(root, "create", LOG, e))?;
        Some(fd)
    };
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("cannot create a pipe", e.into()))?;
    // Held open by this process only: the child sees it close when we die.
    let (alive_r, alive_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("cannot create a pipe", e.into()))?;
    // The child is PID 1 of a PID namespace of its own: every process of the second stage
    // (dpkg, maintainer scripts, whatever they leave in the background) lives in it and
    // dies with it. It dies with us (PR_SET_PDEATHSIG, checked against the pipe for a
    // death before it was set), so even SIGKILL of debootstrap-rs leaves no process
    // running in TARGET, and a rerun never meets a dpkg still holding its lock. Every
    // worker thread has been joined (downloads and unpacking run in a thread scope that
    // has ended); the clone checks that the process is single-threaded.
    let forked = sys::fork_pid_namespace().map_err(|e| {
        Error::io(
            "cannot fork into a new PID namespace for the second stage",
            e.into(),
        )
    })?;
    match forked {
        ForkResult::Child => {
            drop(err_r);
            drop(alive_w);
            let mut report = File::from(err_w);
            let code = match child(root, plan, log_fd.as_ref(), inside, &alive_r) {
                Ok(()) => 0,
                Err(msg) => {
                    let _ = report.write_all(msg.as_bytes());
                    1
                }
            };
            sys::exit_child(code);
        }
        ForkResult::Parent { child } => {
            drop(err_w);
            drop(alive_r);
            let status = wait(child);
            drop(alive_w);
            let mut msg = String::new();
            let _ = File::from(err_r).read_to_string(&mut msg);
            if signals::interrupted() {
                return Err(Error::Interrupted);
            }
            match status {
                Some(0) => Ok(()),
                code => {
                    let what = if msg.is_empty() {
                        format!("the second stage ended with status {}", code.unwrap_or(-1))
                    } else {
                        msg
                    };
                    Err(Error::SecondStage {
                        what,
                        log: (!verbose).then(|| root.host(Path::new(LOG))),
                    })
                }
            }
        }
    }
}

/// Wait for the child. On SIGINT, SIGTERM or SIGHUP, kill it with SIGKILL: it is the init
/// of the second stage's PID namespace, so the kernel kills every process in that
/// namespace with it, and this wait returns only once they are all gone.
fn wait(child: Pid) -> Option<i32> {
    let mut killed = false;
    loop {
        if signals::interrupted() && !killed {
            let _ = sys::kill(child, Signal::SIGKILL);
            killed = true;
        }
        match nix::sys::wait::waitpid(child, None) {
            Err(nix::errno::Errno::EINTR) => {}
            Ok(WaitStatus::Exited(_, code)) => return Some(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Some(128 + sig as i32),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// The forked child, PID 1 of its own PID namespace, in its own mount namespace and
/// process group: the API filesystems, chroot, then the steps. Returns a one-line
/// description of what failed.
fn child(
    root: &Root,
    plan: &Plan,
    log: Option<&OwnedFd>,
    inside: bool,
    alive: &OwnedFd,
) -> Result<(), String> {
    sys::default_signal_handlers();
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    let os = |what: &str, e: nix::errno::Errno| format!("{what}: {}", e.desc());
    sys::die_with_parent().map_err(|e| os("cannot set the parent-death signal", e))?;
    if sys::writers_gone(alive.as_fd()) {
        // debootstrap-rs died before the parent-death signal was armed.
        return Err("debootstrap-rs is gone".into());
    }
    match sys::mount(
        None,
        Path::new("/"),
        "/",
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    ) {
        Ok(()) => mount_api_filesystems(root)?,
        // Inside a chroot "/" is no mount point, so nothing mounted here could be kept
        // from propagating to the host: use the API filesystems the caller mounted
        // (chroot-rs --api-fs TARGET ...), or ask for them.
        Err(nix::errno::Errno::EINVAL) if inside => {
            if !Path::new("/proc/self/exe").exists() {
                return Err("cannot mount /proc privately inside a chroot: run \
                    'debootstrap-rs --second-stage TARGET' from outside, or enter TARGET \
                    with its API filesystems mounted (chroot-rs --api-fs)"
                    .into());
            }
        }
        Err(e) => return Err(os("cannot make the mounts private", e)),
    }
    if !inside {
        sys::chroot(root.path()).map_err(|e| os("cannot chroot into the target", e))?;
        std::env::set_current_dir("/").map_err(|e| format!("cannot chdir to /: {e}"))?;
    }
    let run = |what: String, cmd: &mut Command, extra: &[(&str, &str)]| -> Result<(), String> {
        cmd.env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", "/root")
            .env("LC_ALL", "C")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("DEBCONF_NONINTERACTIVE_SEEN", "true")
            .envs(extra.iter().copied())
            .stdin(Stdio::null());
        if let Some(t) = plan.source_date_epoch {
            cmd.env("SOURCE_DATE_EPOCH", t.to_string());
        }
        let out = |fd: Option<&OwnedFd>| -> Stdio {
            match fd {
                Some(fd) => fd.try_clone().map_or_else(|_| Stdio::null(), Stdio::from),
                None => {
                    // stdout of debootstrap-rs is data only: the steps write to stderr.
                    let e = std::io::stderr().as_fd().try_clone_to_owned();
                    e.map_or_else(|_| Stdio::null(), Stdio::from)
                }
            }
        };
        cmd.stdout(out(log)).stderr(out(log));
        common::trace::line(1, format_args!("running {what}"));
        let status = cmd
            .status()
            .map_err(|e| format!("cannot run {what}: {e}"))?;
        if signals::interrupted() {
            return Err("interrupted".into());
        }
        match status.code() {
            Some(0) => Ok(()),
            Some(c) => Err(format!("{what} in the target exited with status {c}")),
            None => Err(format!("{what} in the target was killed")),
        }
    };
    run("ldconfig".into(), &mut Command::new("ldconfig"), &[])?;
    // Paths are the target's own from here on (chrooted, or running inside it).
    let info_dir = Path::new("/var/lib/dpkg/info");
    let ci = Path::new("/var/lib/dpkg/tmp.ci");
    let info_names: Vec<String> = std::fs::read_dir(info_dir)
        .map_err(|e| format!("cannot read /var/lib/dpkg/info: {e}"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for p in &plan.packages {
        let Some(control) = &p.preinst_control else {
            continue;
        };
        // As dpkg runs a new package's preinst: from tmp.ci/ with its control members.
        let prepare_ci = || -> std::io::Result<()> {
            let _ = std::fs::remove_dir_all(ci);
            std::fs::create_dir(ci)?;
            std::fs::write(ci.join("control"), control)?;
            let prefix = format!("{}.", p.info);
            for n in &info_names {
                if let Some(member) = n.strip_prefix(&prefix)
                    && !member.contains('.')
                    && member != "list"
                {
                    std::fs::copy(info_dir.join(n), ci.join(member))?;
                }
            }
            Ok(())
        };
        prepare_ci()
            .map_err(|e| format!("cannot prepare /var/lib/dpkg/tmp.ci for {}: {e}", p.name))?;
        let result = run(
            format!("the preinst of {}", p.name),
            Command::new(ci.join("preinst")).arg("install"),
            &[
                ("DPKG_MAINTSCRIPT_PACKAGE", &p.name),
                ("DPKG_MAINTSCRIPT_ARCH", &p.arch),
                ("DPKG_MAINTSCRIPT_NAME", "preinst"),
                ("DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT", "1"),
                ("DPKG_RUNNING_VERSION", &plan.dpkg_version),
                ("DPKG_ADMINDIR", "/var/lib/dpkg"),
                ("DPKG_ROOT", ""),
                ("PERL_DL_NONLAZY", "1"),
            ],
        );
        let _ = std::fs::remove_dir_all(ci);
        result?;
    }
    run(
        "dpkg --configure --pending".into(),
        Command::new("dpkg").args([
            "--configure",
            "--pending",
            "--force-configure-any",
            "--force-depends",
        ]),
        &[],
    )?;
    Ok(())
}

/// proc, sysfs (read-only) and /dev (bound from the host) on the target's mount points,
/// opened again (confined) in the child's own namespace.
fn mount_api_filesystems(root: &Root) -> Result<(), String> {
    let os = |what: &str, e: nix::errno::Errno| format!("{what}: {}", e.desc());
    // The target and its mount points, opened again (confined) in this namespace.
    let root = Root::open(root.path()).map_err(|e| format!("cannot open the target: {e}"))?;
    let mut points = Vec::new();
    for d in ["proc", "sys", "dev"] {
        points.push(
            root.dir(Path::new(d))
                .map_err(|e| format!("cannot open /{d} in the target: {e}"))?,
        );
    }
    let at = |fd: &OwnedFd| PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    sys::mount(
        Some("proc"),
        &at(&points[0]),
        "/proc",
        Some("proc"),
        nosuid,
        None,
    )
    .map_err(|e| os("cannot mount proc in the target", e))?;
    sys::mount(
        Some("sysfs"),
        &at(&points[1]),
        "/sys",
        Some("sysfs"),
        nosuid | MsFlags::MS_RDONLY,
        None,
    )
    .map_err(|e| os("cannot mount sysfs in the target", e))?;
    sys::mount(
        Some("/dev"),
        &at(&points[2]),
        "/dev",
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| os("cannot bind /dev into the target", e))?;
    Ok(())
}

/// Remove what the bootstrap must not leave behind: apt's lists and caches, the
/// bootstrap's own state; with SOURCE_DATE_EPOCH also the logs and caches that differ
/// between two runs.
pub fn clean(root: &Root, reproducible: bool) -> Result<()> {
    let rm_tree = |rel: &str, itself: bool| {
        root.remove_tree(Path::new(rel), itself)
            .map_err(|e| ioerr(root, "remove", rel, e))
    };
    rm_tree("var/cache/apt/archives/partial", false)?;
    for f in [
        "var/cache/apt/pkgcache.bin",
        "var/cache/apt/srcpkgcache.bin",
    ] {
        root.remove(Path::new(f))
            .map_err(|e| ioerr(root, "remove", f, e))?;
    }
    if root.exists(Path::new("var/lib/apt/lists")) {
        // Everything but the partial/ directory and the lock apt keeps there.
        let host = root.host(Path::new("var/lib/apt/lists"));
        let names: Vec<OsString> = std::fs::read_dir(&host)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        for n in names {
            if n == "partial" || n == "lock" {
                continue;
            }
            let rel = Path::new("var/lib/apt/lists").join(&n);
            root.remove_tree(&rel, true)
                .map_err(|e| ioerr(root, "remove", &rel.to_string_lossy(), e))?;
        }
    }
    rm_tree("debootstrap", true)?;
    forget_identity(root)?;
    if reproducible {
        for f in [
            "var/log/dpkg.log",
            "var/log/alternatives.log",
            LOG,
            "var/cache/ldconfig/aux-cache",
            "var/log/apt/history.log",
            "var/log/apt/term.log",
            "var/log/apt/eipp.log.xz",
        ] {
            root.remove(Path::new(f))
                .map_err(|e| ioerr(root, "remove", f, e))?;
        }
    }
    Ok(())
}

/// A template carries no identity of its own: every container made from it gets its
/// own at first start. `/etc/machine-id` is empty (systemd makes one at first boot and
/// treats the boot as the first), a D-Bus machine ID that is not a link to it is
/// removed, and so are the SSH host keys openssh-server's postinst generated (a
/// container manager generates them per container, as `ssh-keygen -A` or the
/// `ssh.service` ExecStartPre does): otherwise every container would share one host key
/// and one machine ID.
pub fn forget_identity(root: &Root) -> Result<()> {
    root.write(Path::new("etc/machine-id"), b"", 0o444)
        .map_err(|e| ioerr(root, "empty", "etc/machine-id", e))?;
    let dbus = Path::new("var/lib/dbus/machine-id");
    if root
        .lstat(dbus)
        .is_ok_and(|st| st.st_mode & libc::S_IFMT != libc::S_IFLNK)
    {
        root.remove(dbus)
            .map_err(|e| ioerr(root, "remove", "var/lib/dbus/machine-id", e))?;
    }
    if let Ok(rd) = std::fs::read_dir(root.host(Path::new("etc/ssh"))) {
        let mut keys: Vec<OsString> = rd
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().starts_with("ssh_host_"))
            .collect();
        keys.sort();
        for k in keys {
            let rel = Path::new("etc/ssh").join(&k);
            common::trace::line(1, format_args!("removing /{} (a host key)", rel.display()));
            root.remove(&rel)
                .map_err(|e| ioerr(root, "remove", &rel.to_string_lossy(), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn a_template_forgets_every_identity() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path();
        for dir in ["etc/ssh", "var/lib/dbus"] {
            fs::create_dir_all(t.join(dir)).unwrap();
        }
        fs::write(
            t.join("etc/machine-id"),
            "0123456789abcdef0123456789abcdef\n",
        )
        .unwrap();
        fs::write(t.join("var/lib/dbus/machine-id"), "0123456789abcdef\n").unwrap();
        for k in [
            "ssh_host_ed25519_key",
            "ssh_host_ed25519_key.pub",
            "ssh_host_rsa_key",
        ] {
            fs::write(t.join("etc/ssh").join(k), "key").unwrap();
        }
        fs::write(t.join("etc/ssh/sshd_config"), "Port 22\n").unwrap();
        let root = Root::open(t).unwrap();
        forget_identity(&root).unwrap();
        assert_eq!(fs::read(t.join("etc/machine-id")).unwrap(), b"");
        assert!(!t.join("var/lib/dbus/machine-id").exists());
        let left: Vec<_> = fs::read_dir(t.join("etc/ssh"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["sshd_config"], "only the host keys go");
        // A D-Bus ID that is a link to /etc/machine-id is that one: kept. A tree without
        // any gets an empty /etc/machine-id.
        std::os::unix::fs::symlink("/etc/machine-id", t.join("var/lib/dbus/machine-id")).unwrap();
        fs::remove_file(t.join("etc/machine-id")).unwrap();
        forget_identity(&root).unwrap();
        assert!(fs::symlink_metadata(t.join("var/lib/dbus/machine-id")).is_ok());
        assert_eq!(fs::read(t.join("etc/machine-id")).unwrap(), b"");
    }
}
