//! Every system call debootstrap-rs makes on its own, one small function each, traced
//! through `common::trace` (`-v` for the calls that matter: mounts, namespaces, chroot,
//! fork; `-vv` for the thousands of per-file calls of unpacking). The only module with
//! `unsafe`.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use common::trace;

pub use common::sys::{exit_child, fork, kill, open_dir};

/// openat2(2) with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, traced at level 2 (unpacking
/// opens thousands of files).
pub fn open_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlag,
    mode: u32,
) -> nix::Result<OwnedFd> {
    common::sys::open_in_root(root, path, flags, mode, 2)
}

/// Install `handler` for SIGINT, SIGTERM and SIGHUP (no SA_RESTART: blocking calls
/// return EINTR so that loops notice the flag).
pub fn set_signal_handlers(handler: extern "C" fn(libc::c_int)) {
    use nix::sys::signal::Signal;
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let _ = common::sys::set_handler(sig, handler);
    }
}

/// Restore the default disposition of the terminating signals (in a forked child).
pub fn default_signal_handlers() {
    use nix::sys::signal::Signal;
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let _ = common::sys::default_action(sig);
    }
}

/// prctl(PR_SET_PDEATHSIG, SIGKILL): the child dies with its parent.
pub fn die_with_parent() -> nix::Result<()> {
    common::sys::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
}

pub use common::sys::writers_gone;

/// A fork into a new PID and mount namespace: a child that is PID 1 of its own PID
/// namespace, so that when it ends the kernel kills every process left in that namespace
/// (and its exit completes only once they are gone). clone3(2), or clone(2) where clone3
/// is refused with ENOSYS; refused (EDEADLK) when this process has more than one thread.
pub fn fork_pid_namespace() -> nix::Result<nix::unistd::ForkResult> {
    common::sys::clone_into((libc::CLONE_NEWNS | libc::CLONE_NEWPID) as u64)
}
use nix::fcntl::{AtFlags, OFlag};
use nix::mount::MsFlags;
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};

fn q(p: &(impl AsRef<OsStr> + ?Sized)) -> String {
    format!("{:?}", p.as_ref())
}

const MS_NAMES: &[(u64, &str)] = &[
    (libc::MS_RDONLY, "MS_RDONLY"),
    (libc::MS_NOSUID, "MS_NOSUID"),
    (libc::MS_NODEV, "MS_NODEV"),
    (libc::MS_NOEXEC, "MS_NOEXEC"),
    (libc::MS_BIND, "MS_BIND"),
    (libc::MS_REC, "MS_REC"),
    (libc::MS_PRIVATE, "MS_PRIVATE"),
];

/// openat(2) of a new regular file, O_CREAT|O_EXCL|O_NOFOLLOW: `name` has no slash.
pub fn create_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> nix::Result<OwnedFd> {
    let r = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    );
    trace::syscall_at(
        2,
        format_args!(
            "openat({}, {}, O_CREAT|O_EXCL|O_NOFOLLOW|O_WRONLY, 0{mode:o})",
            dir.as_raw_fd(),
            q(name)
        ),
        &r,
    );
    r
}

/// mkdirat(2).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> nix::Result<()> {
    let r = nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(mode));
    trace::syscall_at(
        2,
        format_args!("mkdirat({}, {}, 0{mode:o})", dir.as_raw_fd(), q(name)),
        &r,
    );
    r
}

/// symlinkat(2).
pub fn symlinkat(target: &OsStr, dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<()> {
    let r = nix::unistd::symlinkat(target, dir, name);
    trace::syscall_at(
        2,
        format_args!("symlinkat({}, {}, {})", q(target), dir.as_raw_fd(), q(name)),
        &r,
    );
    r
}

/// linkat(2), not following a symlink at the old path.
pub fn linkat(
    olddir: BorrowedFd<'_>,
    oldname: &OsStr,
    newdir: BorrowedFd<'_>,
    newname: &OsStr,
) -> nix::Result<()> {
    let r = nix::unistd::linkat(olddir, oldname, newdir, newname, AtFlags::empty());
    trace::syscall_at(
        2,
        format_args!(
            "linkat({}, {}, {}, {}, 0)",
            olddir.as_raw_fd(),
            q(oldname),
            newdir.as_raw_fd(),
            q(newname)
        ),
        &r,
    );
    r
}

/// unlinkat(2) of a non-directory (`dir: false`) or an empty directory.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &OsStr, is_dir: bool) -> nix::Result<()> {
    let flag = if is_dir {
        nix::unistd::UnlinkatFlags::RemoveDir
    } else {
        nix::unistd::UnlinkatFlags::NoRemoveDir
    };
    let r = nix::unistd::unlinkat(dir, name, flag);
    trace::syscall_at(
        2,
        format_args!(
            "unlinkat({}, {}, {})",
            dir.as_raw_fd(),
            q(name),
            if is_dir { "AT_REMOVEDIR" } else { "0" }
        ),
        &r,
    );
    r
}

/// renameat(2).
pub fn renameat(
    olddir: BorrowedFd<'_>,
    oldname: &OsStr,
    newdir: BorrowedFd<'_>,
    newname: &OsStr,
) -> nix::Result<()> {
    let r = nix::fcntl::renameat(olddir, oldname, newdir, newname);
    trace::syscall_at(
        2,
        format_args!(
            "renameat({}, {}, {}, {})",
            olddir.as_raw_fd(),
            q(oldname),
            newdir.as_raw_fd(),
            q(newname)
        ),
        &r,
    );
    r
}

/// mknodat(2) of a device or FIFO.
pub fn mknodat(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    kind: SFlag,
    mode: u32,
    major: u64,
    minor: u64,
) -> nix::Result<()> {
    let dev = nix::sys::stat::makedev(major, minor);
    let r = nix::sys::stat::mknodat(dir, name, kind, Mode::from_bits_truncate(mode), dev);
    trace::syscall_at(
        2,
        format_args!(
            "mknodat({}, {}, {kind:?}|0{mode:o}, makedev({major}, {minor}))",
            dir.as_raw_fd(),
            q(name)
        ),
        &r,
    );
    r
}

/// fchownat(2) with AT_SYMLINK_NOFOLLOW (an empty name: the fd itself).
pub fn lchownat(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> nix::Result<()> {
    let flags = if name.is_empty() {
        AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW
    } else {
        AtFlags::AT_SYMLINK_NOFOLLOW
    };
    let r = nix::unistd::fchownat(
        dir,
        name,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        flags,
    );
    trace::syscall_at(
        2,
        format_args!(
            "fchownat({}, {}, {uid}, {gid}, AT_SYMLINK_NOFOLLOW)",
            dir.as_raw_fd(),
            q(name)
        ),
        &r,
    );
    r
}

/// fchmodat(2) with AT_SYMLINK_NOFOLLOW: never through a symlink, whose target the kernel
/// would resolve from the host's root, not TARGET's (a symlink gives EOPNOTSUPP; glibc
/// emulates the flag with an O_PATH descriptor on kernels without fchmodat2).
pub fn fchmodat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> nix::Result<()> {
    let r = nix::sys::stat::fchmodat(
        dir,
        name,
        Mode::from_bits_truncate(mode),
        FchmodatFlags::NoFollowSymlink,
    );
    trace::syscall_at(
        2,
        format_args!(
            "fchmodat({}, {}, 0{mode:o}, AT_SYMLINK_NOFOLLOW)",
            dir.as_raw_fd(),
            q(name)
        ),
        &r,
    );
    r
}

/// fchown(2) then fchmod(2) on an open file: the order that keeps setuid bits.
pub fn fchown_fchmod(fd: BorrowedFd<'_>, uid: u32, gid: u32, mode: u32) -> nix::Result<()> {
    let r = nix::unistd::fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .and_then(|()| nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode)));
    trace::syscall_at(
        2,
        format_args!(
            "fchown({}, {uid}, {gid}); fchmod(0{mode:o})",
            fd.as_raw_fd()
        ),
        &r,
    );
    r
}

/// futimens(2): set the modification time of an open file.
pub fn futimens(fd: BorrowedFd<'_>, mtime: i64) -> nix::Result<()> {
    let t = TimeSpec::new(mtime, 0);
    let r = nix::sys::stat::futimens(fd, &t, &t);
    trace::syscall_at(2, format_args!("futimens({}, {mtime})", fd.as_raw_fd()), &r);
    r
}

/// utimensat(2) with AT_SYMLINK_NOFOLLOW.
pub fn lutimensat(dir: BorrowedFd<'_>, name: &OsStr, mtime: i64) -> nix::Result<()> {
    let t = TimeSpec::new(mtime, 0);
    let r = nix::sys::stat::utimensat(dir, name, &t, &t, UtimensatFlags::NoFollowSymlink);
    trace::syscall_at(
        2,
        format_args!(
            "utimensat({}, {}, {mtime}, AT_SYMLINK_NOFOLLOW)",
            dir.as_raw_fd(),
            q(name)
        ),
        &r,
    );
    r
}

/// fstatat(2) with AT_SYMLINK_NOFOLLOW.
pub fn lstatat(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<libc::stat> {
    let r = nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW);
    trace::syscall_at(
        2,
        format_args!(
            "fstatat({}, {}, AT_SYMLINK_NOFOLLOW)",
            dir.as_raw_fd(),
            q(name)
        ),
        &r.as_ref().map(|_| ()).map_err(|e| *e),
    );
    r
}

/// mount(2). `target` is usually `/proc/self/fd/N` for a directory opened in the root;
/// `shown` is what the trace prints.
pub fn mount(
    source: Option<&str>,
    target: &Path,
    shown: &str,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    let r = nix::mount::mount(source, target, fstype, flags, data);
    trace::syscall(
        format_args!(
            "mount({}, {shown:?}, {}, {}, {})",
            source.map_or_else(|| "NULL".to_owned(), |s| format!("{s:?}")),
            fstype.map_or_else(|| "NULL".to_owned(), |s| format!("{s:?}")),
            trace::flags(flags.bits(), MS_NAMES),
            data.map_or_else(|| "NULL".to_owned(), |s| format!("{s:?}")),
        ),
        &r,
    );
    r
}

/// chroot(2).
pub fn chroot(path: &Path) -> nix::Result<()> {
    let r = nix::unistd::chroot(path);
    trace::syscall(format_args!("chroot({})", q(path)), &r);
    r
}

/// lgetxattr(2) of `security.capability` through a `/proc/self/fd` path (the file
/// capability that `setcap` gives ping), if any.
pub fn capability_xattr(path: &Path) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let name = c"security.capability";
    let mut buf = vec![0u8; 256];
    // SAFETY: `c` and `name` are NUL-terminated strings that live across the call; `buf`
    // is a writable buffer of the length passed.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}
