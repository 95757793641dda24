//! chroot-rs: run a command with another root directory. Linux only.
//!
//! Plain mode is GNU coreutils chroot, behaviour for behaviour (see [`creds`] for the
//! credential rules, [`cli`] for the parsing). Everything beyond GNU happens in a private
//! mount namespace made first ([`mounts`]): `--pivot` (pivot_root and a detached old
//! root), API filesystems, binds, a read-only root, the resolver config, loop-mounted
//! images ([`image`]), then capabilities ([`capabilities`]) and no_new_privs. With
//! `--pivot` and /proc, a PID namespace is added unless chroot-rs is already PID 1
//! ([`supervise`]).
//!
//! The order of the steps is the point of the tool, so it is written out in [`run`].

pub mod capabilities;
pub mod cli;
pub mod creds;
pub mod error;
pub mod image;
pub mod mounts;
pub mod supervise;
pub mod sys;

use std::ffi::OsString;
use std::path::Path;

use nix::errno::Errno;
use nix::sched::CloneFlags;

pub use cli::Config;
pub use error::Error;

use crate::creds::SystemDb;
use crate::image::Image;
use crate::mounts::NewRoot;
use crate::supervise::Role;

/// True when `path` is the current root (same device and inode as `/`), as GNU's
/// `is_oldroot` decides it: `/`, `/.`, `/../` and a symlink to `/` all are.
fn is_old_root(path: &Path) -> bool {
    match (sys::stat(path), sys::stat(Path::new("/"))) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
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

/// Check what can be checked before anything changes, so that bad input fails with
/// nothing done: NEWROOT a directory, the image a filesystem, bind sources present.
fn preflight(cfg: &Config) -> Result<Option<Image>, Error> {
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
    cfg.image
        .as_deref()
        .map(|path| Image::open(path, cfg.read_only))
        .transpose()
}

/// Set up the private mount namespace and enter the new root through it. Returns
/// `Some(status)` in a process whose job ends here (a waiting parent or the init).
fn enter_isolated(cfg: &Config, image: Option<&Image>) -> Result<Option<i32>, Error> {
    let new_pid = cfg.pivot && cfg.api.proc && sys::getpid().as_raw() != 1;
    let mut flags = CloneFlags::CLONE_NEWNS;
    if new_pid {
        flags |= CloneFlags::CLONE_NEWPID;
    }
    sys::unshare(flags).map_err(|source| Error::Unshare {
        what: if new_pid { "mount and PID" } else { "mount" },
        source,
    })?;
    mounts::make_private()?;
    if new_pid && let Role::Exit(code) = supervise::fork_supervised(true)? {
        return Ok(Some(code));
    }

    // Device nodes, mount points and tmpfs modes exactly as asked; restored before exec.
    let umask = sys::umask(0);
    match image {
        Some(img) => img.mount_on(&cfg.newroot)?,
        None if cfg.pivot || cfg.read_only => mounts::bind_onto_itself(&cfg.newroot)?,
        None => {}
    }
    let root = NewRoot::open(&cfg.newroot)?;
    if cfg.api.proc {
        root.mount_proc()?;
    }
    if cfg.api.sys {
        root.mount_sys()?;
    }
    if cfg.api.dev {
        root.mount_dev()?;
    }
    root.bind_all(&cfg.binds)?;
    if cfg.resolv_conf {
        root.bind_resolv_conf()?;
    }
    if cfg.read_only && image.is_none() {
        root.make_read_only()?;
    }
    sys::umask(umask);

    if cfg.pivot {
        root.pivot()?;
    } else {
        enter_plain(cfg)?;
    }
    if new_pid && let Role::Exit(code) = supervise::fork_supervised(false)? {
        return Ok(Some(code));
    }
    Ok(None)
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
/// `Ok` carries the status of a process that waited for the command instead. `warn`
/// receives warnings (GNU's "'.' should be ':'") to print before the exec.
pub fn run(cfg: &Config, warn: &dyn Fn(&str)) -> Result<i32, Error> {
    let old_root = is_old_root(&cfg.newroot);
    if cfg.skip_chdir && !old_root {
        return Err(Error::SkipChdir);
    }
    let image = if cfg.needs_mount_ns() {
        preflight(cfg)?
    } else {
        None
    };
    let db = SystemDb;
    // GNU looks names up outside first (loading NSS plugins; a fallback for groups)…
    let outside = if old_root {
        creds::Outside::default()
    } else {
        creds::resolve_outside(cfg.userspec.as_deref(), cfg.groups.as_deref(), &db)
    };

    if cfg.needs_mount_ns() {
        if let Some(code) = enter_isolated(cfg, image.as_ref())? {
            return Ok(code);
        }
    } else {
        enter_plain(cfg)?;
    }
    drop(image);

    // …then inside, where the answer counts.
    let creds = creds::resolve_inside(
        cfg.userspec.as_deref(),
        cfg.groups.as_deref(),
        &outside,
        &db,
    )?;
    if creds.warn_dot {
        warn("warning: '.' should be ':'");
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
    sys::default_sigpipe().map_err(|source| Error::Process {
        what: "cannot restore the default SIGPIPE action",
        source,
    })?;
    let argv = command_line(cfg);
    let source = sys::execvp(&argv);
    Err(Error::Exec {
        command: argv[0].clone(),
        source,
    })
}
