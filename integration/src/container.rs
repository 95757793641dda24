//! A container composed of the tools, as the manager composes it, for the boundary and
//! system-container tests: its cgroup below the test's own (limits on the group, the
//! container in a `payload` group below, delegated to its root when unprivileged), then
//! `cgctl exec` → `unshare-rs` → `chroot-rs`.
//!
//! - [`Mode::Unprivileged`] (the default of the manager): a user namespace mapping the
//!   container's root to a subordinate range, the root filesystem seen through an
//!   idmapped mount, a cgroup namespace, the kernel's knobs read-only and masked, the
//!   seccomp profile, a clean environment.
//! - [`Mode::Privileged`]: the container's root is the host's root, confined by the
//!   other layers: capability bounding set, device allow-list, masks, seccomp.
//! - [`Mode::Chroot`]: a plain `chroot-rs NEWROOT`, no boundary (for contrast).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use crate::cgroups::{Group, cgctl};
use crate::{bin, cmd};

/// How the container is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// User namespace, idmapped root, delegated cgroup: the default.
    Unprivileged,
    /// Host root inside, hardened.
    Privileged,
    /// Plain chroot(2): no boundary.
    Chroot,
}

/// Capabilities every container's bounding set lacks (LXC's common.conf, and reboot(2)
/// kept: inside a PID namespace it only ends that namespace's init).
pub const CAP_DROP: &str = "sys_module,sys_rawio,sys_time,mac_admin,mac_override";
/// What a privileged container also loses.
pub const CAP_DROP_PRIVILEGED: &str = "sys_module,sys_rawio,sys_time,mac_admin,mac_override,syslog";

/// The first host ID of a test's 65,536-ID range: unique per test process and call.
pub fn id_base() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    // Above the IDs a test machine's users have, below 2^31.
    0x2000_0000 + ((std::process::id() % 128) * 16 + (n % 16)) * 65_536
}

/// A container's cgroup: limits on `group`, the container in `group/payload`.
#[derive(Debug)]
pub struct Cgroup {
    /// The guard of the outer group (removes the whole tree on drop).
    pub group: Group,
}

impl Cgroup {
    /// Create the groups: `limits` are cgctl create options for the outer group; the
    /// payload is given to `owner` (host uid and gid of the container's root) when set.
    pub fn create(limits: &[&str], owner: Option<u32>, devices: bool) -> Cgroup {
        let group = Group::new();
        let mut c = cgctl();
        c.args(["create", &group.name]).args(limits);
        if devices {
            c.args(["--devices", "container"]);
        }
        crate::run(&mut c).ok();
        let payload = format!("{}/payload", group.name);
        let mut c = cgctl();
        c.args(["create", &payload]);
        if let Some(id) = owner {
            c.arg("--owner").arg(format!("{id}:{id}"));
        }
        crate::run(&mut c).ok();
        Cgroup { group }
    }

    /// The group the container runs in.
    pub fn payload(&self) -> String {
        format!("{}/payload", self.group.name)
    }
}

/// The command line that starts `command` in a container of `mode` over `root`, inside
/// `cgroup` (not for [`Mode::Chroot`]), with the chroot-rs options `extra` (before NEWROOT).
pub fn command(
    mode: Mode,
    root: &Path,
    cgroup: Option<&Cgroup>,
    id_base: u32,
    extra: &[&str],
    command: &[OsString],
) -> Command {
    command_with_pidfile(mode, root, cgroup, id_base, extra, command, None)
}

/// [`command`], with unshare-rs writing the container's init PID to `pidfile`.
pub fn command_with_pidfile(
    mode: Mode,
    root: &Path,
    cgroup: Option<&Cgroup>,
    id_base: u32,
    extra: &[&str],
    command: &[OsString],
    pidfile: Option<&Path>,
) -> Command {
    let mut chroot: Vec<OsString> = vec![bin("chroot-rs").into()];
    if mode != Mode::Chroot {
        chroot.extend(
            [
                "--pivot",
                "--api-fs",
                "--protect-kernel",
                "--cgroup-fs",
                "--seccomp",
                "--clear-env",
                "--cap-drop",
                if mode == Mode::Privileged {
                    CAP_DROP_PRIVILEGED
                } else {
                    CAP_DROP
                },
            ]
            .map(OsString::from),
        );
    }
    chroot.extend(extra.iter().map(OsString::from));
    chroot.push(root.into());
    chroot.extend(command.iter().cloned());
    if mode == Mode::Chroot {
        let mut c = cmd(&chroot[0]);
        c.args(&chroot[1..]);
        return c;
    }
    let mut c = cgctl();
    c.arg("exec")
        .arg(cgroup.expect("a container needs its cgroup").payload())
        .arg("--")
        .arg(bin("unshare-rs"))
        .args([
            "--fork",
            "--kill-child",
            "--pid",
            "--mount",
            "--uts",
            "--ipc",
            "--cgroup",
            "--net",
        ]);
    if let Some(p) = pidfile {
        c.arg("--pidfile").arg(p);
    }
    if mode == Mode::Unprivileged {
        let map = format!("{id_base},0,65536");
        c.arg(format!("--map-users={map}"))
            .arg(format!("--map-groups={map}"))
            .args(["--user", "-S", "0", "-G", "0", "--idmap-mount"])
            .arg(root);
    }
    c.arg("--").args(&chroot);
    c
}
