//! unshare-rs: run a command in new namespaces.
//!
//! With `--fork` (also implied by `--kill-child` and `--init`) the namespaces are made by
//! one clone3(2) (clone(2) where clone3 is refused with ENOSYS, as container runtimes'
//! seccomp profiles do): the child starts in all of them (PID 1 of a new PID namespace) and the
//! parent stays outside, where it can do what only the outside can, with no helper
//! process and no race:
//!
//! ```text
//! parent (outside)                          child (inside)
//! clone3(CLONE_NEW…) ─────────────────────▶ time ns + offsets, mount propagation
//!        ◀──────────────── "R" (ready) ───  (waits)
//! uid_map/gid_map, bind --TYPE=FILE,
//! pidfile                   ── "G" (go) ──▶ hostname, root, wd, /proc, [init fork],
//!                                           uid/gid, PDEATHSIG + parent check, exec
//!        ◀──── EOF at exec, or "E"+code ───
//! wait: forward signals, pass the status
//! ```
//!
//! With `--init` and `--pidfile`, the pidfile names the command, not the init: after the
//! init's fork the command sends "P" and waits for a second "G". The ready channel is a
//! socket on which the parent receives each sender's credentials (SO_PASSCRED), so the
//! kernel hands it the command's PID already translated into the parent's PID namespace.
//!
//! When the child fails before its exec, it reports the error itself and sends its exit
//! code; the parent then unmounts what it bound and removes the pidfile and the files it
//! created, so a failed run leaves nothing. When the parent has nothing to do for the
//! child (no maps, files or pidfile), the handshake is skipped.
//!
//! Without `--fork`, unshare-rs unshares itself and execs the command, as util-linux does
//! (`--pid` then only moves the command's children). Binding a new mount or user
//! namespace, and writing ID ranges, must happen outside; then a helper forked before
//! unshare(2) (and detached, so that it never becomes the command's zombie) does it and
//! stays until the exec, to undo it if a later step fails.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::cli::{Failure, Outcome};
use common::exit;
use common::supervise::{Blocked, InitReport};
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, Pid};

use crate::cli::{IdSpec, Propagation, SetGroups, UnshareConfig};
use crate::error::{Error, quote};
use crate::exec::{self, Ids};
use crate::idmap::{self, Range};
use crate::ns::{NsSet, NsType};
use crate::persist::{self, Persisted};
use crate::pidfile::{self, Pidfile};
use crate::sys;

const TOOL: &str = "unshare-rs";

/// Run `cfg`. On success this process becomes the command, so `Ok` carries the status
/// of a process that waited for it instead (the `--fork` parent, the `--init` reaper).
pub fn run(cfg: &UnshareConfig) -> Result<Outcome, Error> {
    if !cfg.release.is_empty() {
        for f in &cfg.release {
            persist::release(f)?;
        }
        return Ok(Outcome::Exit(exit::SUCCESS));
    }
    if let Some(path) = &cfg.pidfile {
        common::pidfile::check_free(path).map_err(|source| Error::WritePidfile {
            path: path.clone(),
            source,
        })?;
    }
    let maps = IdMaps::resolve(cfg)?;
    if cfg.fork {
        run_forked(cfg, &maps)
    } else {
        run_direct(cfg, &maps)
    }
}

// ---------------------------------------------------------------- ID maps

/// The uid_map and gid_map to write, and /proc/PID/setgroups before them.
#[derive(Debug, Default)]
struct IdMaps {
    uid: Vec<Range>,
    gid: Vec<Range>,
    /// The maps hold ranges (more than the caller's own ID): root or newuidmap only.
    uid_ranges: bool,
    gid_ranges: bool,
    setgroups: Option<SetGroups>,
}

impl IdMaps {
    fn resolve(cfg: &UnshareConfig) -> Result<IdMaps, Error> {
        if !cfg.namespaces.contains(NsType::User) {
            return Ok(IdMaps::default());
        }
        let euid = sys::geteuid().as_raw();
        let egid = sys::getegid().as_raw();
        let inner_uid = match &cfg.map_user {
            None => None,
            Some(IdSpec::Current) => Some(euid),
            Some(IdSpec::Named(s)) => Some(idmap::lookup_user(s)?),
        };
        let inner_gid = match &cfg.map_group {
            None => None,
            Some(IdSpec::Current) => Some(egid),
            Some(IdSpec::Named(s)) => Some(idmap::lookup_group(s)?),
        };
        let mut uid_ranges = cfg.map_users.clone();
        let mut gid_ranges = cfg.map_groups.clone();
        if cfg.map_auto {
            uid_ranges.push(idmap::auto_range("/etc/subuid", euid)?);
            gid_ranges.push(idmap::auto_range("/etc/subgid", euid)?);
        }
        let single = |id: Option<u32>, outer: u32| {
            id.map(|inner| Range {
                inner,
                outer,
                count: 1,
            })
            .into_iter()
            .collect::<Vec<_>>()
        };
        let maps = IdMaps {
            uid_ranges: !uid_ranges.is_empty(),
            gid_ranges: !gid_ranges.is_empty(),
            uid: if uid_ranges.is_empty() {
                single(inner_uid, euid)
            } else {
                idmap::add_single(&uid_ranges, euid, inner_uid)
            },
            gid: if gid_ranges.is_empty() {
                single(inner_gid, egid)
            } else {
                idmap::add_single(&gid_ranges, egid, inner_gid)
            },
            // A single-GID map written without privilege needs setgroups denied first;
            // util-linux denies it for every single-GID map, so do we.
            setgroups: cfg.setgroups.or_else(|| {
                (cfg.map_group.is_some() && gid_ranges.is_empty()).then_some(SetGroups::Deny)
            }),
        };
        Ok(maps)
    }

    /// Anything to write at all.
    fn any(&self) -> bool {
        !self.uid.is_empty() || !self.gid.is_empty() || self.setgroups.is_some()
    }

    /// Write setgroups, then the maps whose `ranges` flag equals `ranges` (both when
    /// `None`), for process `pid` (`self` when None).
    fn write(&self, pid: Option<Pid>, which: Which) -> Result<(), Error> {
        let dir = pid.map_or_else(|| "/proc/self".to_owned(), |p| format!("/proc/{p}"));
        if which.setgroups
            && let Some(sg) = self.setgroups
        {
            let path = PathBuf::from(format!("{dir}/setgroups"));
            let text = match sg {
                SetGroups::Allow => "allow",
                SetGroups::Deny => "deny",
            };
            match sys::write_file(&path, text) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => {
                    return Err(Error::setup(format!("cannot write {}", quote(&path)))(e));
                }
            }
        }
        for (map, ranges, file, helper) in [
            (&self.uid, self.uid_ranges, "uid_map", "newuidmap"),
            (&self.gid, self.gid_ranges, "gid_map", "newgidmap"),
        ] {
            if map.is_empty() || !which.wants(ranges) {
                continue;
            }
            if ranges && !sys::geteuid().is_root() {
                let pid = pid.unwrap_or_else(sys::getpid);
                run_id_helper(helper, pid, map)?;
                continue;
            }
            let path = PathBuf::from(format!("{dir}/{file}"));
            sys::write_file(&path, &idmap::render(map))
                .map_err(Error::setup(format!("cannot write {}", quote(&path))))?;
        }
        Ok(())
    }
}

/// Which parts of [`IdMaps`] a writer writes.
#[derive(Debug, Clone, Copy)]
struct Which {
    setgroups: bool,
    singles: bool,
    ranges: bool,
}

impl Which {
    const ALL: Which = Which {
        setgroups: true,
        singles: true,
        ranges: true,
    };

    fn wants(self, ranges: bool) -> bool {
        if ranges { self.ranges } else { self.singles }
    }
}

/// newuidmap/newgidmap PID INNER OUTER COUNT…, for an unprivileged caller's ranges.
fn run_id_helper(program: &'static str, pid: Pid, map: &[Range]) -> Result<(), Error> {
    let Some(path) = find_program(program) else {
        return Err(Error::IdMapper {
            program,
            why: "not found: mapping ID ranges needs root, or newuidmap and newgidmap \
                  (Debian package uidmap)"
                .to_owned(),
        });
    };
    let mut cmd = Command::new(&path);
    cmd.arg(pid.to_string()).args(idmap::helper_args(map));
    common::trace::line(1, format_args!("run {cmd:?}"));
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Error::IdMapper {
            program,
            why: format!("failed ({s})"),
        }),
        Err(e) => Err(Error::IdMapper {
            program,
            why: format!(
                "cannot run: {}",
                e.raw_os_error()
                    .map_or_else(|| e.to_string(), |n| Errno::from_raw(n).desc().to_owned())
            ),
        }),
    }
}

/// `program` in $PATH (or the usual sbin directories), as an executable file.
fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

// ---------------------------------------------------------------- steps inside

/// Write `--monotonic`/`--boottime` to /proc/self/timens_offsets (before any process
/// is in the new time namespace).
fn time_offsets(cfg: &UnshareConfig) -> Result<(), Error> {
    for (clock, off) in [("monotonic", cfg.monotonic), ("boottime", cfg.boottime)] {
        if let Some(secs) = off {
            sys::write_file(
                Path::new("/proc/self/timens_offsets"),
                &format!("{clock} {secs} 0"),
            )
            .map_err(Error::setup(format!("cannot set the {clock} clock offset")))?;
        }
    }
    Ok(())
}

/// Mount propagation in the new mount namespace (default: private, recursive, so that
/// nothing mounted inside shows outside).
fn propagation(cfg: &UnshareConfig) -> Result<(), Error> {
    if !cfg.namespaces.contains(NsType::Mnt) {
        return Ok(());
    }
    let flag = match cfg.propagation {
        Propagation::Private => MsFlags::MS_PRIVATE,
        Propagation::Shared => MsFlags::MS_SHARED,
        Propagation::Slave => MsFlags::MS_SLAVE,
        Propagation::Unchanged => return Ok(()),
    };
    sys::mount_propagation(Path::new("/"), flag | MsFlags::MS_REC)
        .map_err(Error::setup("cannot change root filesystem propagation"))
}

/// The steps after the namespaces exist and before credentials: hostname, root,
/// working directory, /proc.
fn setup_inside(cfg: &UnshareConfig) -> Result<(), Error> {
    if let Some(name) = &cfg.hostname {
        sys::sethostname(name)
            .map_err(Error::setup(format!("cannot set hostname {}", quote(name))))?;
    }
    let mut wd = cfg.wd.as_deref();
    if let Some(root) = &cfg.root {
        sys::chroot(root).map_err(Error::setup(format!(
            "cannot change root directory to {}",
            quote(root)
        )))?;
        wd = Some(wd.unwrap_or(Path::new("/")));
    }
    if let Some(dir) = wd {
        sys::chdir(dir).map_err(Error::setup(format!(
            "cannot change directory to {}",
            quote(dir)
        )))?;
    }
    if let Some(dir) = &cfg.mount_proc {
        // With another propagation than the default, / was not made private recursively,
        // and the proc below would propagate out: make its mount point private first
        // (EINVAL: not a mount point, nothing to do).
        if cfg.root.is_none() && cfg.propagation != Propagation::Private {
            match sys::mount_propagation(dir, MsFlags::MS_PRIVATE | MsFlags::MS_REC) {
                Ok(()) | Err(Errno::EINVAL) => {}
                Err(e) => {
                    return Err(Error::setup(format!(
                        "cannot change {} filesystem propagation",
                        quote(dir)
                    ))(e));
                }
            }
        }
        sys::mount_proc(dir)
            .map_err(Error::setup(format!("cannot mount proc on {}", quote(dir))))?;
    }
    Ok(())
}

/// Credentials, then `--keep-caps`.
fn credentials(cfg: &UnshareConfig) -> Result<(), Error> {
    Ids {
        uid: cfg.uid,
        gid: cfg.gid,
        groups_must_clear: true,
    }
    .apply()?;
    if cfg.keep_caps && cfg.namespaces.contains(NsType::User) {
        sys::permitted_to_ambient().map_err(|e| Error::Caps(e.to_string()))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- --fork

fn run_forked(cfg: &UnshareConfig, maps: &IdMaps) -> Result<Outcome, Error> {
    // Signals are blocked before anything is made: a Ctrl-C from here on reaches the
    // command once it runs (or the rollback), never a half-made setup. With --init, the
    // init tells us which signal killed the command (it cannot die of it itself).
    let signals = Blocked::block().and_then(|b| {
        let report = if cfg.init {
            Some(InitReport::new()?)
        } else {
            None
        };
        Ok((b, report))
    });
    let (blocked, mut report) = match signals {
        Ok(s) => s,
        Err(e) => return Err(Error::process("cannot block signals")(e)),
    };
    let mut persisted = Persisted::prepare(&cfg.persist)?;
    // The parent has work between clone and the child's go: maps, files, pidfile.
    let handshake = maps.any() || !cfg.persist.is_empty() || cfg.pidfile.is_some();
    // ready: child → parent, "R", then EOF at exec or "E" + exit code ("P" from the
    // command first with --init and --pidfile: a socket, so the kernel gives its PID).
    // go: parent → child, "G" (twice with --init and --pidfile); the parent keeps its
    // end open while it lives, which the child's --kill-child check relies on.
    let pipes = (|| {
        let ready = if handshake {
            let (r, w) = sys::socketpair()?;
            sys::pass_credentials(r.as_fd())?;
            Some((r, w))
        } else {
            None
        };
        let go = if handshake || cfg.kill_child.is_some() {
            Some(sys::pipe()?)
        } else {
            None
        };
        Ok((ready, go))
    })();
    let (ready, go) = match pipes {
        Ok(p) => p,
        Err(e) => {
            persisted.undo();
            return Err(Error::process("cannot create the channels to the child")(e));
        }
    };
    // The time namespace is made by the child, inside its user namespace, so that the
    // offsets can be written before anyone is in it.
    let mut flags = cfg.namespaces;
    flags.remove(NsType::Time);
    let child = match sys::clone_into(flags) {
        Ok(ForkResult::Child) => {
            // Keep the child's ends only: the parent's must close when the parent does.
            let ready_w = ready.map(|(r, w)| {
                drop(r);
                w
            });
            let go_r = go.map(|(r, w)| {
                drop(w);
                r
            });
            if let Some(r) = report.as_mut() {
                r.inside();
            }
            return child_main(cfg, ready_w, go_r, &blocked, report);
        }
        Ok(ForkResult::Parent { child }) => {
            if let Some(r) = report.as_mut() {
                r.outside();
            }
            child
        }
        Err(source) => {
            persisted.undo();
            return Err(create_error(cfg.namespaces, source));
        }
    };
    let ready_r = ready.map(|(r, w)| {
        drop(w);
        r
    });
    let go_w = go.map(|(r, w)| {
        drop(r);
        w
    });

    let mut pidfile: Option<Pidfile> = None;
    if let (Some(ready_r), Some(go_w)) = (&ready_r, &go_w) {
        if let Err(code) = child_report(ready_r.as_fd(), child, true) {
            persisted.undo();
            return Err(Error::Reported(code));
        }
        let outside = (|| {
            maps.write(Some(child), Which::ALL)?;
            send_idmapped_trees(cfg, child, ready_r.as_fd())?;
            persisted.bind_all(&cfg.persist, child, false)?;
            if let Some(path) = cfg.pidfile.as_ref().filter(|_| !cfg.init) {
                pidfile = Some(pidfile::write(path, child)?);
            }
            sys::write_all(go_w.as_fd(), b"G").map_err(Error::process("cannot start the child"))
        })();
        if let Err(e) = outside {
            let _ = sys::kill(child, Signal::SIGKILL);
            let _ = sys::waitpid(Some(child), None);
            undo(&mut persisted, pidfile.as_ref());
            return Err(e);
        }
        if let Some(path) = cfg.pidfile.as_ref().filter(|_| cfg.init) {
            // The init forked the command, which says "P": its PID is in the credentials.
            let command = match command_pid(ready_r.as_fd(), child) {
                Ok(pid) => pid,
                Err(e) => {
                    undo(&mut persisted, None);
                    return Err(e);
                }
            };
            let named = pidfile::write(path, command).and_then(|p| {
                pidfile = Some(p);
                sys::write_all(go_w.as_fd(), b"G")
                    .map_err(Error::process("cannot start the command"))
            });
            if let Err(e) = named {
                let _ = sys::kill(child, Signal::SIGKILL);
                let _ = sys::waitpid(Some(child), None);
                undo(&mut persisted, pidfile.as_ref());
                return Err(e);
            }
        }
        if let Err(code) = child_report(ready_r.as_fd(), child, false) {
            undo(&mut persisted, pidfile.as_ref());
            return Err(Error::Reported(code));
        }
    }
    drop(ready_r);
    let mut ended = blocked.wait_forwarding(child);
    if let Some(r) = report.as_mut() {
        ended = r.receive(ended);
    }
    if let Some(p) = &pidfile {
        p.remove();
    }
    drop(go_w);
    Ok(ended.into())
}

/// `--idmap-mount`: for each DIR, a detached copy of its mount tree idmapped with the
/// child's user namespace (only a process privileged over the filesystem may make one:
/// us, outside), sent to the child, which attaches it in its mount namespace.
fn send_idmapped_trees(cfg: &UnshareConfig, child: Pid, sock: BorrowedFd<'_>) -> Result<(), Error> {
    if cfg.idmap_mounts.is_empty() {
        return Ok(());
    }
    let userns_path = PathBuf::from(format!("/proc/{child}/ns/user"));
    let userns =
        sys::open_read(&userns_path).map_err(Error::setup("cannot open the new user namespace"))?;
    for dir in &cfg.idmap_mounts {
        let what = || format!("cannot idmap {}", quote(dir));
        let tree = sys::open_tree_clone(dir).map_err(Error::setup(what()))?;
        sys::idmap_tree(tree.as_fd(), userns.as_fd(), dir).map_err(|e| match e {
            Errno::EINVAL => Error::Setup {
                what: format!(
                    "{}: its filesystem cannot be idmapped (kernel 5.12 or later: ext4, xfs, \
                     btrfs; tmpfs from 6.3); shift the tree's ownership to the container's \
                     range once instead",
                    what()
                ),
                source: e,
            },
            e => Error::setup(what())(e),
        })?;
        sys::send_fd(sock, b'I', tree.as_fd())
            .map_err(Error::process("cannot pass an idmapped tree to the child"))?;
    }
    Ok(())
}

/// In the child: attach the idmapped trees the parent sent, in `--idmap-mount` order.
fn attach_idmapped_trees(cfg: &UnshareConfig, sock: Option<&OwnedFd>) -> Result<(), Error> {
    if cfg.idmap_mounts.is_empty() {
        return Ok(());
    }
    let Some(sock) = sock else {
        return Err(Error::process("no channel to the parent for --idmap-mount")(Errno::EPROTO));
    };
    for dir in &cfg.idmap_mounts {
        let (tag, tree) = sys::recv_fd(sock.as_fd())
            .map_err(Error::process("cannot receive an idmapped tree"))?;
        if tag != b'I' {
            return Err(Error::process("cannot receive an idmapped tree")(
                Errno::EPROTO,
            ));
        }
        sys::move_mount(tree.as_fd(), dir).map_err(Error::setup(format!(
            "cannot mount the idmapped {}",
            quote(dir)
        )))?;
    }
    Ok(())
}

/// `--block-fd FD`: wait until FD gives a byte or end of file, then close it.
fn block_on(cfg: &UnshareConfig) -> Result<(), Error> {
    let Some(fd) = cfg.block_fd else {
        return Ok(());
    };
    let owned = sys::adopt_fd(fd).map_err(Error::setup(format!("cannot use --block-fd {fd}")))?;
    let mut b = [0u8; 1];
    sys::read(owned.as_fd(), &mut b)
        .map_err(Error::setup(format!("cannot read --block-fd {fd}")))?;
    Ok(())
}

/// Read the child's next report. `Ok` for "R" (when `ready` is expected) or EOF at its
/// exec; `Err(code)` when it failed (it reported the error itself) or died; the child
/// has then been reaped.
fn child_report(ready_r: BorrowedFd<'_>, child: Pid, ready: bool) -> Result<(), i32> {
    let mut b = [0u8; 1];
    let n = sys::read_full(ready_r, &mut b).unwrap_or(0);
    match (n, b[0]) {
        (1, b'R') if ready => Ok(()),
        (0, _) if !ready => Ok(()),
        _ => Err(failure(ready_r, child, n, b[0])),
    }
}

/// With `--init` and `--pidfile`: wait for the command's "P" and return its PID as seen
/// here. `Error::Reported` as [`child_report`] when it failed or died first. The init,
/// `child`, has been reaped on every error.
fn command_pid(ready_r: BorrowedFd<'_>, child: Pid) -> Result<Pid, Error> {
    let mut b = [0u8; 1];
    match sys::recv_with_pid(ready_r, &mut b) {
        Ok((1, Some(pid))) if b[0] == b'P' => Ok(pid),
        Ok((n, _)) if n == 0 || b[0] == b'E' => {
            Err(Error::Reported(failure(ready_r, child, n, b[0])))
        }
        other => {
            // A "P" without its sender's credentials, or a failed read: the command
            // waits for a go that will not come. Killing the init ends the namespace.
            let _ = sys::kill(child, Signal::SIGKILL);
            let _ = sys::waitpid(Some(child), None);
            Err(Error::process("cannot learn the command's PID")(
                other.err().unwrap_or(Errno::EPROTO),
            ))
        }
    }
}

/// After an unexpected report (`n` bytes read, the first `first`): the exit code of the
/// child's "E" + code, or its own status when it died without a word, or FAILED. The
/// child is reaped.
fn failure(ready_r: BorrowedFd<'_>, child: Pid, n: usize, first: u8) -> i32 {
    let mut c = [0u8; 4];
    let code = if n == 1 && first == b'E' && sys::read_full(ready_r, &mut c) == Ok(4) {
        i32::from_ne_bytes(c)
    } else {
        crate::error::FAILED
    };
    let status = sys::waitpid(Some(child), None)
        .ok()
        .and_then(exit::from_wait)
        .unwrap_or(code);
    if n == 0 { status } else { code }
}

fn undo(persisted: &mut Persisted, pidfile: Option<&Pidfile>) {
    persisted.undo();
    if let Some(p) = pidfile {
        p.remove();
    }
}

fn create_error(set: NsSet, source: Errno) -> Error {
    // EINVAL for a type the kernel was built without: say so.
    if source == Errno::EINVAL
        && let Some(t) = set.iter().find(|t| crate::target::kernel_lacks(*t))
    {
        return Error::KernelLacks(t);
    }
    Error::Create { set, source }
}

/// The child of clone3: finish the namespaces, wait for the parent's go, set up, exec.
/// A failure is also sent to the parent ("E" + exit code), which then undoes its part.
fn child_main(
    cfg: &UnshareConfig,
    ready_w: Option<OwnedFd>,
    go_r: Option<OwnedFd>,
    blocked: &Blocked,
    report: Option<InitReport>,
) -> Result<Outcome, Error> {
    let mut ready_w = ready_w;
    let r = child_steps(cfg, &mut ready_w, go_r, blocked, report);
    if let (Err(e), Some(w)) = (&r, &ready_w) {
        let mut msg = vec![b'E'];
        msg.extend_from_slice(&e.exit_code().to_ne_bytes());
        let _ = sys::write_all(w.as_fd(), &msg);
    }
    r
}

fn child_steps(
    cfg: &UnshareConfig,
    ready_w: &mut Option<OwnedFd>,
    go_r: Option<OwnedFd>,
    blocked: &Blocked,
    mut report: Option<InitReport>,
) -> Result<Outcome, Error> {
    if cfg.namespaces.contains(NsType::Time) {
        let time: NsSet = std::iter::once(NsType::Time).collect();
        sys::unshare(time).map_err(|e| create_error(time, e))?;
        time_offsets(cfg)?;
        let fd = sys::open_read(Path::new("/proc/self/ns/time_for_children"))
            .map_err(Error::setup("cannot open the new time namespace"))?;
        sys::setns(fd.as_fd(), time, "/proc/self/ns/time_for_children").map_err(|source| {
            Error::Enter {
                what: "the new time namespace".to_owned(),
                source,
            }
        })?;
    }
    propagation(cfg)?;
    if let (Some(w), Some(r)) = (ready_w.as_ref(), go_r.as_ref()) {
        sys::write_all(w.as_fd(), b"R").map_err(Error::process("cannot signal the parent"))?;
        let mut b = [0u8; 1];
        if sys::read_full(r.as_fd(), &mut b) != Ok(1) || b[0] != b'G' {
            // The parent failed (and said so) or died.
            return Err(Error::Reported(crate::error::FAILED));
        }
    }
    attach_idmapped_trees(cfg, ready_w.as_ref())?;
    setup_inside(cfg)?;
    if cfg.init {
        // The parent-death signal goes to the init: when it dies, the kernel ends the
        // whole PID namespace.
        die_with_parent(cfg, go_r.as_ref())?;
        match sys::fork().map_err(Error::process("cannot fork the command"))? {
            ForkResult::Parent { child } => {
                // Only the command reports on the pipe (its copy closes at its exec).
                drop(ready_w.take());
                drop(go_r);
                let ended = blocked.reap_as_init(child);
                let code = report.as_mut().map_or(ended.code(), |r| r.send(ended));
                return Ok(Outcome::Exit(code));
            }
            ForkResult::Child => {
                if let Some(r) = report.as_mut() {
                    r.close();
                }
            }
        }
        if cfg.pidfile.is_some()
            && let (Some(w), Some(r)) = (ready_w.as_ref(), go_r.as_ref())
        {
            // The parent names this process in the pidfile, then says go again.
            sys::write_all(w.as_fd(), b"P").map_err(Error::process("cannot signal the parent"))?;
            let mut b = [0u8; 1];
            if sys::read_full(r.as_fd(), &mut b) != Ok(1) || b[0] != b'G' {
                return Err(Error::Reported(crate::error::FAILED));
            }
        }
        credentials(cfg)?;
    } else {
        credentials(cfg)?;
        // After the credentials: changing them clears the parent-death signal.
        die_with_parent(cfg, go_r.as_ref())?;
    }
    block_on(cfg)?;
    blocked
        .restore()
        .map_err(Error::process("cannot restore the signal mask"))?;
    Err(exec::exec(&cfg.command, &cfg.env))
}

/// `--kill-child`: PR_SET_PDEATHSIG, then the check that the parent did not die before
/// it (its end of the go pipe would be closed already, and no signal would ever come).
fn die_with_parent(cfg: &UnshareConfig, go_r: Option<&OwnedFd>) -> Result<(), Error> {
    let Some(sig) = cfg.kill_child else {
        return Ok(());
    };
    sys::set_pdeathsig(sig).map_err(Error::process("cannot set the parent-death signal"))?;
    if go_r.is_some_and(|r| sys::writers_gone(r.as_fd())) {
        return Err(Error::Reported(crate::error::FAILED));
    }
    Ok(())
}

// ---------------------------------------------------------------- without --fork

fn run_direct(cfg: &UnshareConfig, maps: &IdMaps) -> Result<Outcome, Error> {
    let mut persisted = Persisted::prepare(&cfg.persist)?;
    let binds_outside = !cfg.persist.is_empty()
        && (cfg.namespaces.contains(NsType::Mnt) || cfg.namespaces.contains(NsType::User));
    let ranges = maps.uid_ranges || maps.gid_ranges;
    let mut helper = if binds_outside || ranges {
        let plan = HelperPlan {
            persist: if binds_outside {
                cfg.persist.clone()
            } else {
                Vec::new()
            },
            ranges,
        };
        let p = std::mem::take(&mut persisted);
        Some(Helper::spawn(&plan, p, maps)?)
    } else {
        None
    };
    let mut pidfile: Option<Pidfile> = None;
    let result = direct_steps(cfg, maps, &mut persisted, helper.as_mut(), &mut pidfile);
    let err = match result {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if let Some(h) = helper.as_mut() {
        h.fail();
    }
    undo(&mut persisted, pidfile.as_ref());
    Err(err)
}

/// Everything after the helper is forked; returns only on failure.
fn direct_steps(
    cfg: &UnshareConfig,
    maps: &IdMaps,
    persisted: &mut Persisted,
    helper: Option<&mut Helper>,
    pidfile: &mut Option<Pidfile>,
) -> Result<std::convert::Infallible, Error> {
    sys::unshare(cfg.namespaces).map_err(|e| create_error(cfg.namespaces, e))?;
    if cfg.namespaces.contains(NsType::Time) {
        time_offsets(cfg)?;
    }
    propagation(cfg)?;
    maps.write(
        None,
        Which {
            setgroups: true,
            singles: false,
            ranges: false,
        },
    )?;
    if let Some(h) = helper {
        h.go()?;
        maps.write(
            None,
            Which {
                setgroups: false,
                singles: true,
                ranges: false,
            },
        )?;
    } else {
        maps.write(
            None,
            Which {
                setgroups: false,
                singles: true,
                ranges: false,
            },
        )?;
        persisted.bind_all(&cfg.persist, sys::getpid(), true)?;
    }
    if let Some(path) = &cfg.pidfile {
        *pidfile = Some(pidfile::write(path, sys::getpid())?);
    }
    setup_inside(cfg)?;
    credentials(cfg)?;
    block_on(cfg)?;
    Err(exec::exec(&cfg.command, &cfg.env))
}

/// What the outside helper does for the process that unshared.
#[derive(Debug, Clone)]
struct HelperPlan {
    persist: Vec<persist::Request>,
    ranges: bool,
}

/// The helper outside the new namespaces (without `--fork`), seen from the process that
/// made them.
#[derive(Debug)]
struct Helper {
    /// To the helper: "G" (namespaces exist, do your work), "F" (we failed, undo), EOF
    /// at our exec (done, keep everything).
    go_w: OwnedFd,
    /// From the helper: "O" (done) or "E" (failed and reported), then "A" after an undo.
    res_r: OwnedFd,
}

impl Helper {
    /// Fork the helper (detached: its intermediate parent exits at once and is reaped,
    /// so the helper is not our child and never the command's zombie).
    fn spawn(plan: &HelperPlan, mut persisted: Persisted, maps: &IdMaps) -> Result<Helper, Error> {
        let ppid = sys::getpid();
        let pipes = (|| Ok((sys::pipe()?, sys::pipe()?)))();
        let ((go_r, go_w), (res_r, res_w)) = match pipes {
            Ok(p) => p,
            Err(e) => {
                persisted.undo();
                return Err(Error::process("cannot create a pipe")(e));
            }
        };
        match sys::fork() {
            Err(e) => {
                persisted.undo();
                Err(Error::process("cannot fork a helper")(e))
            }
            Ok(ForkResult::Child) => {
                drop((go_w, res_r));
                match sys::fork() {
                    Ok(ForkResult::Child) => {
                        helper_main(plan, persisted, maps, ppid, &go_r, &res_w)
                    }
                    Ok(ForkResult::Parent { .. }) => sys::exit_now(exit::SUCCESS),
                    Err(e) => {
                        // The unsharing process sees EOF and stops; nothing was bound yet.
                        crate::error::report(TOOL, &Error::process("cannot fork a helper")(e));
                        persisted.undo();
                        sys::exit_now(crate::error::FAILED)
                    }
                }
            }
            Ok(ForkResult::Parent { child }) => {
                drop((go_r, res_w));
                let _ = sys::waitpid(Some(child), None);
                Ok(Helper { go_w, res_r })
            }
        }
    }

    /// The namespaces exist: let the helper write the maps and bind the files.
    fn go(&mut self) -> Result<(), Error> {
        sys::write_all(self.go_w.as_fd(), b"G")
            .map_err(Error::process("cannot reach the helper"))?;
        let mut b = [0u8; 1];
        match sys::read_full(self.res_r.as_fd(), &mut b) {
            Ok(1) if b[0] == b'O' => Ok(()),
            _ => Err(Error::Reported(crate::error::FAILED)),
        }
    }

    /// We failed: have the helper undo what it did, and wait until it has.
    fn fail(&mut self) {
        if sys::write_all(self.go_w.as_fd(), b"F").is_ok() {
            let mut b = [0u8; 1];
            while let Ok(1) = sys::read_full(self.res_r.as_fd(), &mut b) {
                if b[0] == b'A' {
                    break;
                }
            }
        }
    }
}

/// The helper's life: wait for "G", do the outside work for `ppid`, report, then wait
/// for the exec (EOF: keep) or a failure ("F": undo).
fn helper_main(
    plan: &HelperPlan,
    mut persisted: Persisted,
    maps: &IdMaps,
    ppid: Pid,
    go_r: &OwnedFd,
    res_w: &OwnedFd,
) -> ! {
    let mut b = [0u8; 1];
    let first = sys::read_full(go_r.as_fd(), &mut b);
    if first == Ok(1) && b[0] == b'G' {
        let work = (|| {
            if plan.ranges {
                maps.write(
                    Some(ppid),
                    Which {
                        setgroups: false,
                        singles: false,
                        ranges: true,
                    },
                )?;
            }
            persisted.bind_all(&plan.persist, ppid, true)
        })();
        if let Err(e) = work {
            crate::error::report(TOOL, &e);
            persisted.undo();
            let _ = sys::write_all(res_w.as_fd(), b"E");
            sys::exit_now(crate::error::FAILED);
        }
        let _ = sys::write_all(res_w.as_fd(), b"O");
        // EOF when the command starts (the pipe closes at its exec): keep everything.
        match sys::read_full(go_r.as_fd(), &mut b) {
            Ok(1) if b[0] == b'F' => {}
            _ => sys::exit_now(exit::SUCCESS),
        }
    }
    persisted.undo();
    let _ = sys::write_all(res_w.as_fd(), b"A");
    sys::exit_now(exit::SUCCESS)
}
