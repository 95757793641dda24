//! chroot-rs: run a command with another root directory. Linux only.
//!
//! Plain mode is GNU coreutils chroot, behaviour for behaviour (see [`creds`] for the
//! credential rules, [`cli`] for the parsing). Everything beyond GNU happens in a private
//! mount namespace made first ([`mounts`]): `--pivot` (pivot_root and a detached old
//! root), API filesystems, binds, a read-only root, the resolver config, loop-mounted
//! images ([`image`]), then capabilities ([`capabilities`]) and no_new_privs. With
//! `--pivot`, a PID namespace is added unless chroot-rs is already PID 1 ([`supervise`]).
//!
//! The order of the steps is the point of the tool, so it is written out in [`run`].

pub mod capabilities;
pub mod cgroupfs;
pub mod cli;
pub mod creds;
pub mod error;
pub mod image;
pub mod mounts;
pub mod supervise;
pub mod sys;

use std::ffi::OsString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sched::CloneFlags;

pub use cli::Config;
pub use error::Error;

use crate::creds::{Creds, Outside, SystemDb};
use crate::image::Image;
use crate::mounts::NewRoot;
use crate::supervise::{Role, Supervisor};

pub use common::cli::Outcome;

/// True when `path` is the current root, decided as GNU's `is_oldroot` does: the
/// canonical path is `/` (`/.`, `/../` and a symlink to `/` are; a bind mount of `/`
/// elsewhere is not).
fn is_old_root(path: &Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|p| p == Path::new("/"))
}

/// The command to run: the given one, or `"$SHELL" -i` (`/bin/sh -i`).
fn command_line(cfg: &Config) -> Vec<OsString> {
    if cfg.command.is_empty() {
        let shell = std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into());
        vec![shell, "-i".into()]
    } else {
        cfg.command.clone()
    }
}

/// COMMAND's environment: ours (GNU's), or with `--clear-env` a clean one (TERM kept,
/// a standard PATH, HOME); then `--setenv`s, and `container_ttys` naming the terminals
/// made by `--ttys` (systemd starts a getty on each).
fn environment(cfg: &Config, creds: &Creds, ttys: &[String]) -> common::exec::Env {
    use common::exec::Env;
    let mut env = if cfg.clear_env {
        let home = if creds.uid.unwrap_or(0) == 0 {
            "/root"
        } else {
            "/"
        };
        Env::container(std::ffi::OsStr::new(home), &[])
    } else {
        Env::Inherit
    };
    if !ttys.is_empty() {
        env.set(format!("container_ttys={}", ttys.join(" ")).into());
    }
    for pair in &cfg.setenv {
        env.set(pair.clone());
    }
    env
}

/// What is checked before anything changes, so that bad input fails with nothing done.
struct Checked {
    image: Option<Image>,
    resolv_conf: Option<PathBuf>,
    /// `--cgroup-fs`: the host's layout, read before the pivot hides it.
    cgroup_layout: Option<cgroupfs::Layout>,
    /// `--ttys`: the socket their masters go to.
    tty_socket: Option<(u32, std::os::fd::OwnedFd)>,
}

/// NEWROOT a directory, the image a filesystem (and not in use), bind sources and the
/// host's resolver config present.
fn preflight(cfg: &Config) -> Result<Checked, Error> {
    let change_root = |source| Error::ChangeRoot {
        path: cfg.newroot.clone(),
        source,
    };
    let st = sys::stat(&cfg.newroot).map_err(change_root)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(change_root(Errno::ENOTDIR));
    }
    for b in &cfg.binds {
        std::fs::metadata(&b.src).map_err(|source| Error::Access {
            path: b.src.clone(),
            source,
        })?;
    }
    let resolv_conf = cfg.resolv_conf.then(mounts::host_resolv_conf).transpose()?;
    let image = cfg
        .image
        .as_deref()
        .map(|path| Image::open(path, cfg.read_only))
        .transpose()?;
    let cgroup_layout = cfg.cgroup_fs.then(cgroupfs::host_layout).transpose()?;
    let tty_socket = match cfg.ttys {
        None => None,
        Some((n, fd)) => Some((
            n,
            sys::adopt_fd(fd).map_err(|source| Error::Terminal {
                what: format!("--ttys: cannot use descriptor {fd}"),
                source,
            })?,
        )),
    };
    Ok(Checked {
        image,
        resolv_conf,
        cgroup_layout,
        tty_socket,
    })
}

/// Where `enter_isolated` left this process.
enum Entered {
    /// A process whose job ends here (the waiting parent or the init).
    Done(Outcome),
    /// The process that goes on to become the command, with the credentials looked up
    /// inside the new root and the names of the terminals made for it (`pts/0`…).
    Continue(Creds, Vec<String>),
}

/// Set up the private mount namespace and enter the new root through it.
fn enter_isolated(
    cfg: &Config,
    checked: Checked,
    outside: &Outside,
    ready: Option<RawFd>,
) -> Result<Entered, Error> {
    let new_pid = cfg.pivot && sys::getpid().as_raw() != 1;
    let mut flags = CloneFlags::CLONE_NEWNS;
    if new_pid {
        flags |= CloneFlags::CLONE_NEWPID;
    }
    sys::unshare(flags).map_err(|source| Error::Unshare {
        what: if new_pid { "mount and PID" } else { "mount" },
        source,
    })?;
    mounts::make_private()?;
    let mut supervisor = None;
    if new_pid {
        let mut s = Supervisor::block()?;
        if let Role::Parent(ended) = s.fork_init()? {
            return Ok(Entered::Done(ended.into()));
        }
        supervisor = Some(s);
    }

    // Device nodes, mount points and tmpfs modes exactly as asked; restored before exec.
    let umask = sys::umask(0);
    match &checked.image {
        Some(img) => img.mount_on(&cfg.newroot)?,
        None if cfg.pivot || cfg.read_only => mounts::bind_onto_itself(&cfg.newroot)?,
        None => {}
    }
    drop(checked.image);
    let root = NewRoot::open(&cfg.newroot)?;
    // Names are looked up inside before anything is created in the new root.
    // (None asked for: nothing to look up, no child to fork.)
    let creds = if cfg.userspec.is_some() || cfg.groups.is_some() {
        creds::lookup_inside(
            &cfg.newroot,
            cfg.userspec.as_deref(),
            cfg.groups.as_deref(),
            outside,
        )?
    } else {
        Creds::default()
    };
    if cfg.read_only {
        root.prepare_mount_points(cfg.api, &cfg.binds, cfg.resolv_conf)?;
        root.make_read_only()?;
    }
    if cfg.api.proc {
        root.mount_proc()?;
    }
    if cfg.api.sys {
        root.mount_sys()?;
    }
    if cfg.api.dev {
        root.mount_dev()?;
    }
    if cfg.protect_kernel {
        root.protect_kernel()?;
    }
    if let Some(layout) = &checked.cgroup_layout {
        root.mount_cgroup_fs(layout)?;
    }
    if cfg.console {
        root.bind_console()?;
    }
    let ttys = match &checked.tty_socket {
        Some((n, sock)) => root.make_ttys(*n, sock)?,
        None => Vec::new(),
    };
    drop(checked.tty_socket);
    for dir in &cfg.tmpfs {
        root.mount_tmpfs(dir)?;
    }
    root.bind_all(&cfg.binds)?;
    if let Some(real) = &checked.resolv_conf {
        root.bind_resolv_conf(real)?;
    }
    sys::umask(umask);

    if cfg.pivot {
        root.pivot()?;
    } else {
        enter_plain(cfg)?;
    }
    drop(root);
    if let Some(mut s) = supervisor {
        // Nothing the caller passed in stays open in the init (/proc/1/fd) but the
        // --ready-fd, which the init closes as it returns, and the command's side writes.
        s.close_inherited(ready)?;
        if let Role::Parent(ended) = s.fork_command()? {
            // The init cannot die of a signal it sends itself: it exits 128+N, and the
            // outer process, told N, dies of it.
            return Ok(Entered::Done(ended.into()));
        }
    }
    Ok(Entered::Continue(creds, ttys))
}

/// GNU's root change: chroot(NEWROOT), then chdir("/") unless --skip-chdir.
fn enter_plain(cfg: &Config) -> Result<(), Error> {
    sys::chroot(&cfg.newroot).map_err(|source| Error::ChangeRoot {
        path: cfg.newroot.clone(),
        source,
    })?;
    if !cfg.skip_chdir {
        sys::chdir(Path::new("/")).map_err(Error::ChdirRoot)?;
    }
    Ok(())
}

/// Run `cfg`: on success this process becomes the command (execvp does not return), so
/// `Ok` carries how a process that waited for the command is to end instead. `warn`
/// receives warnings (GNU's "'.' should be ':'") to print before the exec.
pub fn run(cfg: &Config, warn: &dyn Fn(&str)) -> Result<Outcome, Error> {
    // (Checked first: a wrong descriptor fails before anything is made.)
    let ready = cfg
        .ready_fd
        .map(|fd| {
            sys::adopt_fd(fd).map_err(|source| Error::ReadyFd {
                fd,
                what: "not an open descriptor",
                source,
            })
        })
        .transpose()?;
    let old_root = is_old_root(&cfg.newroot);
    if cfg.skip_chdir && !old_root {
        return Err(Error::SkipChdir);
    }
    let db = SystemDb;
    // GNU looks names up outside first (loading NSS plugins; a fallback for groups)…
    let outside = if old_root {
        creds::Outside::default()
    } else {
        creds::resolve_outside(cfg.userspec.as_deref(), cfg.groups.as_deref(), &db)
    };

    let mut ttys = Vec::new();
    let creds = if cfg.needs_mount_ns() {
        let checked = preflight(cfg)?;
        match enter_isolated(
            cfg,
            checked,
            &outside,
            ready.as_ref().map(AsRawFd::as_raw_fd),
        )? {
            Entered::Done(status) => return Ok(status),
            Entered::Continue(creds, names) => {
                ttys = names;
                creds
            }
        }
    } else {
        enter_plain(cfg)?;
        // …then inside, where the answer counts.
        creds::resolve_inside(
            cfg.userspec.as_deref(),
            cfg.groups.as_deref(),
            &outside,
            &db,
        )?
    };
    if creds.warn_dot {
        warn("warning: '.' should be ':'");
    }
    if cfg.seccomp {
        // Installed while we still hold CAP_SYS_ADMIN (before any capability or user
        // change), which seccomp needs without no_new_privs; it refuses nothing the
        // steps below make.
        common::seccomp::Filter::container()
            .install()
            .map_err(Error::Seccomp)?;
    }
    creds.apply_groups()?;
    if let Some(caps) = &cfg.caps {
        caps.apply_before_setuid()?;
    }
    creds.apply_user()?;
    if let Some(caps) = &cfg.caps {
        caps.apply_after_setuid()?;
    }
    if cfg.no_new_privs {
        sys::set_no_new_privs().map_err(|source| Error::Process {
            what: "cannot set no_new_privs",
            source,
        })?;
    }
    if cfg.pivot {
        // A descriptor inherited from the caller could reach the host's tree.
        sys::cloexec_from_3().map_err(|source| Error::Process {
            what: "cannot close inherited file descriptors",
            source,
        })?;
    }
    let argv = command_line(cfg);
    let env = environment(cfg, &creds, &ttys);
    if let Some(fd) = ready {
        // The last step before the exec: whoever waits on FD may act on the container now.
        sys::tell_ready(fd).map_err(|(fd, source)| Error::ReadyFd {
            fd,
            what: "cannot write to it",
            source,
        })?;
    }
    let source = common::exec::exec(&argv, None, &env);
    Err(Error::Exec {
        command: argv[0].clone(),
        source,
    })
}
