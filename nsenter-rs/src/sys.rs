//! Every system call nsenter-rs and unshare-rs make, one small function each, traced
//! through `common::trace` (`-v`), returning `nix::Result`. The only module with `unsafe`.
//!
//! Both tools are single-threaded (they never start a thread), which is what makes
//! `fork` and `clone3` without a new stack sound: the child continues in ordinary code.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use common::trace;

pub use common::sys::{
    NSFS_MAGIC, adopt_fd, cloexec_from_3, default_action, drop_bounding, exit_child as exit_now,
    fork, fs_magic, getpid, kill, ns_get_type, open_dir, pidfd_open, read, read_full, recv_fd,
    send_fd, set_no_new_privs, set_pdeathsig, waitpid, write_all, writers_gone,
};

/// pipe2(O_CLOEXEC): (read end, write end).
pub fn pipe() -> nix::Result<(OwnedFd, OwnedFd)> {
    common::sys::pipe(false)
}
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{ForkResult, Gid, Pid, Uid};

use crate::ns::NsSet;

const MS_NAMES: &[(u64, &str)] = &[
    (libc::MS_RDONLY, "MS_RDONLY"),
    (libc::MS_NOSUID, "MS_NOSUID"),
    (libc::MS_NODEV, "MS_NODEV"),
    (libc::MS_NOEXEC, "MS_NOEXEC"),
    (libc::MS_BIND, "MS_BIND"),
    (libc::MS_REC, "MS_REC"),
    (libc::MS_PRIVATE, "MS_PRIVATE"),
    (libc::MS_SLAVE, "MS_SLAVE"),
    (libc::MS_SHARED, "MS_SHARED"),
];

fn q(p: &Path) -> String {
    format!("{:?}", p.as_os_str())
}

fn fd_text(fd: RawFd, what: &str) -> String {
    trace::Fd(fd, what).to_string()
}

// ---- processes and pidfds ----

/// pidfd_send_signal(2) with signal 0: Ok while the process lives, ESRCH once it is gone.
pub fn pidfd_alive(pidfd: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: a valid descriptor, signal 0, a NULL siginfo and no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    let r = Errno::result(rc).map(drop);
    trace::syscall_at(
        2,
        format_args!("pidfd_send_signal({}, 0, NULL, 0)", pidfd.as_raw_fd()),
        &r,
    );
    r
}

/// Fork into new namespaces: [`common::sys::clone_into`] (clone3, or clone where clone3
/// is refused with ENOSYS).
pub fn clone_into(flags: NsSet) -> nix::Result<ForkResult> {
    common::sys::clone_into(u64::from(flags.bits() as u32))
}

// ---- pipes ----

/// socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC): a pipe in both directions whose
/// messages can carry the sender's PID ([`pass_credentials`], [`recv_with_pid`]).
pub fn socketpair() -> nix::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [libc::c_int; 2] = [-1; 2];
    // SAFETY: `fds` is a writable array of two ints, which is what socketpair(2) fills.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    let r = Errno::result(rc).map(|_| {
        // SAFETY: on success both are fresh descriptors that nothing else owns.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    });
    trace::syscall_at(
        2,
        format_args!("socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0)"),
        &r.as_ref()
            .map(|(a, b)| format!("[{}, {}]", a.as_raw_fd(), b.as_raw_fd()))
            .map_err(|e| *e),
    );
    r
}

/// setsockopt(SO_PASSCRED): every message received on `fd` carries its sender's
/// credentials, the PID translated into our PID namespace by the kernel.
pub fn pass_credentials(fd: BorrowedFd<'_>) -> nix::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket, and a pointer to an int with its size, as SO_PASSCRED takes.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    let r = Errno::result(rc).map(drop);
    trace::syscall_at(
        2,
        format_args!(
            "setsockopt({}, SOL_SOCKET, SO_PASSCRED, [1])",
            fd.as_raw_fd()
        ),
        &r,
    );
    r
}

/// recvmsg(2) into `buf` on a socket with [`pass_credentials`], retried on EINTR: the
/// byte count (0 at end of file) and the sender's PID as seen from here.
pub fn recv_with_pid(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<(usize, Option<Pid>)> {
    // Room for one SCM_CREDENTIALS message (CMSG_SPACE(sizeof(struct ucred)) = 32 on
    // 64-bit), aligned for cmsghdr.
    let mut control = [0u64; 8];
    loop {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: all-zero bytes are a valid msghdr (null pointers, zero lengths).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `msg` points to one iovec over `buf` and to `control`, with their true
        // lengths; both outlive the call.
        let rc = unsafe { libc::recvmsg(fd.as_raw_fd(), &raw mut msg, libc::MSG_CMSG_CLOEXEC) };
        let n = match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(n) => n as usize,
        };
        let mut pid = None;
        // SAFETY: `msg` was filled by recvmsg; CMSG_FIRSTHDR/CMSG_NXTHDR stay within its
        // msg_controllen and return null at the end, and a SCM_CREDENTIALS header long
        // enough for a ucred is followed by one (read unaligned, as CMSG_DATA may be).
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET
                    && (*c).cmsg_type == libc::SCM_CREDENTIALS
                    && (*c).cmsg_len as usize
                        >= libc::CMSG_LEN(std::mem::size_of::<libc::ucred>() as u32) as usize
                {
                    let cred: libc::ucred = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    pid = Some(Pid::from_raw(cred.pid));
                }
                c = libc::CMSG_NXTHDR(&raw const msg, c);
            }
        }
        trace::syscall_at(
            2,
            format_args!("recvmsg({}, SCM_CREDENTIALS)", fd.as_raw_fd()),
            &Ok::<_, Errno>(format!(
                "{n} (pid={})",
                pid.map_or_else(|| "?".to_owned(), |p| p.to_string())
            )),
        );
        return Ok((n, pid));
    }
}

// ---- namespaces ----

/// setns(2). `shown` names the descriptor in the trace (`/proc/42/ns/net`, `pidfd 42`).
pub fn setns(fd: BorrowedFd<'_>, flags: NsSet, shown: &str) -> nix::Result<()> {
    common::sys::setns(fd, flags.bits(), shown, &flags.flag_words())
}

/// unshare(2).
pub fn unshare(flags: NsSet) -> nix::Result<()> {
    // SAFETY: unshare takes an integer mask.
    let rc = unsafe { libc::unshare(flags.bits()) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(format_args!("unshare({})", flags.flag_words()), &r);
    r
}

/// stat(2) for the inode number (a namespace's identity).
pub fn inode(path: &Path) -> nix::Result<u64> {
    let r = nix::sys::stat::stat(path).map(|st| st.st_ino);
    trace::syscall_at(2, format_args!("stat({})", q(path)), &r);
    r
}

// ---- files ----

/// open(2) read-only with O_CLOEXEC (a namespace file, a directory to return to).
pub fn open_read(path: &Path) -> nix::Result<OwnedFd> {
    let r = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty());
    trace::syscall(format_args!("open({}, O_RDONLY|O_CLOEXEC)", q(path)), &r);
    r
}

/// open(2) with O_CREAT|O_EXCL: a new empty file (a mount point for a namespace, or a
/// pidfile's temporary). Returns the descriptor.
pub fn create_excl(path: &Path, mode: u32) -> nix::Result<OwnedFd> {
    let r = nix::fcntl::open(
        path,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::from_bits_truncate(mode),
    );
    trace::syscall(
        format_args!(
            "open({}, O_CREAT|O_EXCL|O_WRONLY|O_CLOEXEC|O_NOFOLLOW, 0{mode:o})",
            q(path)
        ),
        &r,
    );
    r
}

/// mkdir(2).
pub fn mkdir(path: &Path, mode: u32) -> nix::Result<()> {
    let r = nix::unistd::mkdir(path, Mode::from_bits_truncate(mode));
    trace::syscall(format_args!("mkdir({}, 0{mode:o})", q(path)), &r);
    r
}

/// rename(2).
pub fn rename(from: &Path, to: &Path) -> nix::Result<()> {
    let r = std::fs::rename(from, to)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
    trace::syscall(format_args!("rename({}, {})", q(from), q(to)), &r);
    r
}

/// unlink(2).
pub fn unlink(path: &Path) -> nix::Result<()> {
    let r = nix::unistd::unlink(path);
    trace::syscall(format_args!("unlink({})", q(path)), &r);
    r
}

/// Write `data` to an existing file in one write(2) (a /proc control file such as
/// uid_map, setgroups, timens_offsets: the kernel wants it in one piece).
pub fn write_file(path: &Path, data: &str) -> nix::Result<()> {
    let r =
        nix::fcntl::open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty()).and_then(|fd| {
            match nix::unistd::write(&fd, data.as_bytes()) {
                Ok(n) if n == data.len() => Ok(()),
                Ok(_) => Err(Errno::EIO),
                Err(e) => Err(e),
            }
        });
    trace::syscall(format_args!("write({}, {data:?})", q(path)), &r);
    r
}

// ---- mounts and directories ----

/// mount(2) of a bind: the namespace file `source` on `target`.
pub fn bind(source: &Path, target: &Path) -> nix::Result<()> {
    let r = nix::mount::mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    );
    trace::syscall(
        format_args!("mount({}, {}, NULL, MS_BIND, NULL)", q(source), q(target)),
        &r,
    );
    r
}

/// mount(2) of a fresh proc on `target`.
pub fn mount_proc(target: &Path) -> nix::Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    let r = nix::mount::mount(Some("proc"), target, Some("proc"), flags, None::<&str>);
    trace::syscall(
        format_args!(
            "mount(\"proc\", {}, \"proc\", {}, NULL)",
            q(target),
            trace::flags(flags.bits(), MS_NAMES)
        ),
        &r,
    );
    r
}

/// mount(2) changing the propagation of `target` (and below, with MS_REC).
pub fn mount_propagation(target: &Path, flags: MsFlags) -> nix::Result<()> {
    let r = nix::mount::mount(Some("none"), target, None::<&str>, flags, None::<&str>);
    trace::syscall(
        format_args!(
            "mount(\"none\", {}, NULL, {}, NULL)",
            q(target),
            trace::flags(flags.bits(), MS_NAMES)
        ),
        &r,
    );
    r
}

/// umount2(2) with MNT_DETACH.
pub fn umount_detach(target: &Path) -> nix::Result<()> {
    let r = nix::mount::umount2(target, MntFlags::MNT_DETACH);
    trace::syscall(format_args!("umount2({}, MNT_DETACH)", q(target)), &r);
    r
}

/// chroot(2).
pub fn chroot(path: &Path) -> nix::Result<()> {
    let r = nix::unistd::chroot(path);
    trace::syscall(format_args!("chroot({})", q(path)), &r);
    r
}

/// chdir(2).
pub fn chdir(path: &Path) -> nix::Result<()> {
    let r = nix::unistd::chdir(path);
    trace::syscall(format_args!("chdir({})", q(path)), &r);
    r
}

/// fchdir(2).
pub fn fchdir(fd: BorrowedFd<'_>, shown: &str) -> nix::Result<()> {
    let r = nix::unistd::fchdir(fd);
    trace::syscall(
        format_args!("fchdir({})", fd_text(fd.as_raw_fd(), shown)),
        &r,
    );
    r
}

/// sethostname(2).
pub fn sethostname(name: &OsStr) -> nix::Result<()> {
    let r = nix::unistd::sethostname(name);
    trace::syscall(format_args!("sethostname({name:?})"), &r);
    r
}

// ---- credentials ----

/// geteuid(2).
pub fn geteuid() -> Uid {
    nix::unistd::geteuid()
}

/// getegid(2).
pub fn getegid() -> Gid {
    nix::unistd::getegid()
}

/// setgroups(2) with an empty list.
pub fn clear_groups() -> nix::Result<()> {
    let r = nix::unistd::setgroups(&[]);
    trace::syscall(format_args!("setgroups(0, [])"), &r);
    r
}

/// setgid(2).
pub fn setgid(gid: Gid) -> nix::Result<()> {
    let r = nix::unistd::setgid(gid);
    trace::syscall(format_args!("setgid({gid})"), &r);
    r
}

/// setuid(2).
pub fn setuid(uid: Uid) -> nix::Result<()> {
    let r = nix::unistd::setuid(uid);
    trace::syscall(format_args!("setuid({uid})"), &r);
    r
}

/// Raise every permitted capability into the inheritable and ambient sets, so that they
/// survive the exec of a non-root command (`--keep-caps`).
pub fn permitted_to_ambient() -> Result<(), caps::errors::CapsError> {
    let permitted = caps::read(None, caps::CapSet::Permitted)?;
    let r = caps::set(None, caps::CapSet::Inheritable, &permitted).and_then(|()| {
        permitted
            .iter()
            .try_for_each(|c| caps::raise(None, caps::CapSet::Ambient, *c))
    });
    trace::syscall(
        format_args!(
            "capset(Inheritable, Permitted) + prctl(PR_CAP_AMBIENT_RAISE) x{}",
            permitted.len()
        ),
        &r.as_ref().copied().map_err(ToString::to_string),
    );
    r
}

// ---- exec ----

// ---- idmapped mounts ----

/// `struct mount_attr` from linux/mount.h.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x0000_0004;

/// open_tree(2) with OPEN_TREE_CLONE|AT_RECURSIVE: a detached copy of the mount tree at
/// `path`, not yet visible anywhere.
pub fn open_tree_clone(path: &Path) -> nix::Result<OwnedFd> {
    let c =
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `c` is a NUL-terminated path that outlives the call; the flags are plain
    // integers; on success the kernel returns a new descriptor that nothing else owns.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_RECURSIVE as libc::c_uint,
        )
    };
    let r = Errno::result(rc).map(|fd| {
        // SAFETY: a fresh descriptor from the kernel, owned by nothing else.
        unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
    });
    trace::syscall(
        format_args!(
            "open_tree(AT_FDCWD, {}, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_RECURSIVE)",
            q(path)
        ),
        &r,
    );
    r
}

/// mount_setattr(tree, "", AT_EMPTY_PATH|AT_RECURSIVE, {MOUNT_ATTR_IDMAP, userns}): the
/// detached tree shows its files' owners through the user namespace's ID maps.
pub fn idmap_tree(tree: BorrowedFd<'_>, userns: BorrowedFd<'_>, shown: &Path) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: the path is a NUL-terminated empty string, `attr` is a properly laid out
    // struct mount_attr that outlives the call and its size is passed; both fds are open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            &raw const attr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    let r = Errno::result(rc).map(drop);
    trace::syscall(
        format_args!(
            "mount_setattr({}, \"\", AT_EMPTY_PATH|AT_RECURSIVE, {{attr_set=MOUNT_ATTR_IDMAP, userns_fd={}}})",
            fd_text(tree.as_raw_fd(), &shown.to_string_lossy()),
            userns.as_raw_fd()
        ),
        &r,
    );
    r
}

/// move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH): attach a detached
/// tree on `target` in this mount namespace.
pub fn move_mount(tree: BorrowedFd<'_>, target: &Path) -> nix::Result<()> {
    let c =
        std::ffi::CString::new(target.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: the empty path and `c` are NUL-terminated strings that outlive the call;
    // `tree` is an open descriptor of a detached mount tree.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    let r = Errno::result(rc).map(drop);
    trace::syscall(
        format_args!(
            "move_mount({}, \"\", AT_FDCWD, {}, MOVE_MOUNT_F_EMPTY_PATH)",
            tree.as_raw_fd(),
            q(target)
        ),
        &r,
    );
    r
}

// ---- attaching to a container ----

/// posix_openpt(O_RDWR|O_NOCTTY) + unlockpt + the slave by TIOCGPTPEER: a new pty pair.
pub fn open_pty() -> nix::Result<(OwnedFd, OwnedFd)> {
    use nix::pty::{grantpt, posix_openpt, unlockpt};
    let r = (|| {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: TIOCGPTPEER takes the open flags and returns a new descriptor; the
        // master is open.
        let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
        let slave = Errno::result(rc).map(|fd| {
            // SAFETY: a fresh descriptor from the kernel, owned by nothing else.
            unsafe { OwnedFd::from_raw_fd(fd) }
        })?;
        // SAFETY: the master's descriptor stays owned by `PtyMaster` until into_raw_fd
        // hands it over here, once.
        let master = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
        Ok((master, slave))
    })();
    trace::syscall(
        format_args!("posix_openpt(O_RDWR|O_NOCTTY|O_CLOEXEC) + TIOCGPTPEER"),
        &r.as_ref()
            .map(|(m, s)| format!("[{}, {}]", m.as_raw_fd(), s.as_raw_fd()))
            .map_err(|e| *e),
    );
    r
}

/// ioctl(TIOCGWINSZ).
pub fn window_size(fd: BorrowedFd<'_>) -> nix::Result<libc::winsize> {
    // SAFETY: all-zero bytes are a valid winsize.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize through the pointer, which outlives the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &raw mut ws) };
    Errno::result(rc).map(|_| ws)
}

/// ioctl(TIOCSWINSZ).
pub fn set_window_size(fd: BorrowedFd<'_>, ws: &libc::winsize) -> nix::Result<()> {
    // SAFETY: TIOCSWINSZ reads one winsize through the pointer, which outlives the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, std::ptr::from_ref(ws)) };
    Errno::result(rc).map(drop)
}

/// setsid(2).
pub fn setsid() -> nix::Result<()> {
    let r = nix::unistd::setsid().map(drop);
    trace::syscall(format_args!("setsid()"), &r);
    r
}

/// ioctl(TIOCSCTTY, 0): make `fd` the controlling terminal of this (new) session.
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument; `fd` is an open terminal.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(format_args!("ioctl({}, TIOCSCTTY, 0)", fd.as_raw_fd()), &r);
    r
}

/// dup2(fd, target) (target is 0, 1 or 2).
pub fn dup_onto(fd: BorrowedFd<'_>, target: RawFd) -> nix::Result<()> {
    // SAFETY: dup2 takes two descriptor numbers; the target (a standard stream) is
    // replaced atomically and owned by the process's std handles, not by a Rust object
    // that would close it again.
    let rc = unsafe { libc::dup2(fd.as_raw_fd(), target) };
    let r = Errno::result(rc).map(drop);
    trace::syscall_at(2, format_args!("dup2({}, {target})", fd.as_raw_fd()), &r);
    r
}
