//! Every system call chroot-rs makes, one small function each, traced through
//! `common::trace` (`-v`), returning `nix::Result`. The only module with `unsafe`.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::trace;

pub use common::sys::{
    exit_child, fd_path, fork, getpid, open_dir, open_in_root, pipe, waitpid, writers_gone,
};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{Gid, Uid};

const MS_NAMES: &[(u64, &str)] = &[
    (libc::MS_RDONLY, "MS_RDONLY"),
    (libc::MS_NOSUID, "MS_NOSUID"),
    (libc::MS_NODEV, "MS_NODEV"),
    (libc::MS_NOEXEC, "MS_NOEXEC"),
    (libc::MS_REMOUNT, "MS_REMOUNT"),
    (libc::MS_BIND, "MS_BIND"),
    (libc::MS_REC, "MS_REC"),
    (libc::MS_PRIVATE, "MS_PRIVATE"),
    (libc::MS_SLAVE, "MS_SLAVE"),
];

const CLONE_NAMES: &[(u64, &str)] = &[
    (libc::CLONE_NEWNS as u64, "CLONE_NEWNS"),
    (libc::CLONE_NEWPID as u64, "CLONE_NEWPID"),
];

fn q(p: &Path) -> String {
    format!("{:?}", p.as_os_str())
}

fn opt_str(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_owned(), |s| format!("{s:?}"))
}

/// unshare(2).
pub fn unshare(flags: CloneFlags) -> nix::Result<()> {
    let r = nix::sched::unshare(flags);
    trace::syscall(
        format_args!(
            "unshare({})",
            trace::flags(flags.bits() as u64, CLONE_NAMES)
        ),
        &r,
    );
    r
}

/// mount(2). `shown` is the target as the trace prints it (the real target may be a
/// `/proc/self/fd/N` link to a directory opened safely inside the new root).
pub fn mount(
    source: Option<&str>,
    target: &Path,
    shown: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    let r = nix::mount::mount(source, target, fstype, flags, data);
    trace::syscall(
        format_args!(
            "mount({}, {}, {}, {}, {})",
            opt_str(source),
            q(shown),
            opt_str(fstype),
            trace::flags(flags.bits(), MS_NAMES),
            opt_str(data)
        ),
        &r,
    );
    r
}

/// mount(2) of a bind: `source` is a host path.
pub fn bind_mount(source: &Path, target: &Path, shown: &Path, flags: MsFlags) -> nix::Result<()> {
    let r = nix::mount::mount(Some(source), target, None::<&str>, flags, None::<&str>);
    trace::syscall(
        format_args!(
            "mount({}, {}, NULL, {}, NULL)",
            q(source),
            q(shown),
            trace::flags(flags.bits(), MS_NAMES)
        ),
        &r,
    );
    r
}

/// umount2(2).
pub fn umount_detach(target: &Path) -> nix::Result<()> {
    let r = nix::mount::umount2(target, MntFlags::MNT_DETACH);
    trace::syscall(format_args!("umount2({}, MNT_DETACH)", q(target)), &r);
    r
}

/// pivot_root(2).
pub fn pivot_root(new_root: &Path, put_old: &Path) -> nix::Result<()> {
    let r = nix::unistd::pivot_root(new_root, put_old);
    trace::syscall(
        format_args!("pivot_root({}, {})", q(new_root), q(put_old)),
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

/// chdir(2).
pub fn chdir(path: &Path) -> nix::Result<()> {
    let r = nix::unistd::chdir(path);
    trace::syscall(format_args!("chdir({})", q(path)), &r);
    r
}

/// stat(2) of a path, for the device and inode (is NEWROOT the old `/`?).
pub fn stat(path: &Path) -> nix::Result<nix::sys::stat::FileStat> {
    let r = nix::sys::stat::stat(path);
    trace::syscall_at(2, format_args!("stat({})", q(path)), &r.map(|_| ()));
    r
}

/// mkdirat(2).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &Path, mode: Mode) -> nix::Result<()> {
    let r = nix::sys::stat::mkdirat(dir, name, mode);
    trace::syscall(
        format_args!(
            "mkdirat({}, {}, 0{:o})",
            dir.as_raw_fd(),
            q(name),
            mode.bits()
        ),
        &r,
    );
    r
}

/// mknodat(2) of a character device.
pub fn mknod_char(
    dir: BorrowedFd<'_>,
    name: &str,
    mode: u32,
    major: u64,
    minor: u64,
) -> nix::Result<()> {
    let dev = nix::sys::stat::makedev(major, minor);
    let r = nix::sys::stat::mknodat(
        dir,
        name,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(mode),
        dev,
    );
    trace::syscall(
        format_args!(
            "mknodat({}, {name:?}, S_IFCHR|0{mode:o}, makedev({major}, {minor}))",
            dir.as_raw_fd()
        ),
        &r,
    );
    r
}

/// openat(2) with O_CREAT|O_EXCL|O_NOFOLLOW: an empty file as a mount point.
pub fn create_file_at(dir: BorrowedFd<'_>, name: &Path) -> nix::Result<()> {
    let r = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    );
    trace::syscall(
        format_args!(
            "openat({}, {}, O_CREAT|O_EXCL|O_NOFOLLOW|O_WRONLY|O_CLOEXEC, 0644)",
            dir.as_raw_fd(),
            q(name)
        ),
        &r,
    );
    r.map(drop)
}

/// umask(2); returns the previous mask.
pub fn umask(mask: u32) -> u32 {
    let old = nix::sys::stat::umask(Mode::from_bits_truncate(mask));
    trace::line(1, format_args!("umask({mask:03o}) = {:03o}", old.bits()));
    old.bits()
}

/// symlinkat(2).
pub fn symlinkat(target: &str, dir: BorrowedFd<'_>, name: &str) -> nix::Result<()> {
    let r = nix::unistd::symlinkat(target, dir, name);
    trace::syscall(
        format_args!("symlinkat({target:?}, {}, {name:?})", dir.as_raw_fd()),
        &r,
    );
    r
}

/// readlinkat(2).
pub fn readlinkat(dir: BorrowedFd<'_>, name: &Path) -> nix::Result<OsString> {
    let r = nix::fcntl::readlinkat(dir, name);
    trace::syscall_at(
        2,
        format_args!("readlinkat({}, {})", dir.as_raw_fd(), q(name)),
        &r.as_ref().map(|_| ()).map_err(|e| *e),
    );
    r
}

/// setgroups(2).
pub fn setgroups(groups: &[Gid]) -> nix::Result<()> {
    let r = nix::unistd::setgroups(groups);
    let list: Vec<String> = groups.iter().map(ToString::to_string).collect();
    trace::syscall(
        format_args!("setgroups({}, [{}])", groups.len(), list.join(", ")),
        &r,
    );
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

/// getgrouplist(3): the groups `user` is a member of, plus `gid`.
pub fn getgrouplist(user: &str, gid: Gid) -> nix::Result<Vec<Gid>> {
    let name = CString::new(user).map_err(|_| Errno::EINVAL)?;
    let r = nix::unistd::getgrouplist(&name, gid);
    trace::syscall_at(
        2,
        format_args!("getgrouplist({user:?}, {gid})"),
        &r.as_ref().map(Vec::len).map_err(|e| *e),
    );
    r
}

/// close_range over every gap between the descriptors in `keep`: close every descriptor
/// above 2 but those (all of them when `keep` is empty).
pub fn close_all_from_3_except(keep: &[RawFd]) -> nix::Result<()> {
    let mut kept: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd >= 3)
        .collect();
    kept.sort_unstable();
    kept.dedup();
    let mut ranges = Vec::new();
    let mut first = 3u32;
    for fd in kept {
        if fd > first {
            ranges.push((first, fd - 1));
        }
        first = fd + 1;
    }
    ranges.push((first, u32::MAX));
    for (first, last) in ranges {
        // SAFETY: close_range takes plain integers. The caller (the init, after the
        // pivot) holds no Rust object owning a descriptor in these ranges.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
        let r = Errno::result(rc).map(drop);
        trace::syscall(format_args!("close_range({first}, {last:#x}, 0)"), &r);
        r?;
    }
    Ok(())
}

/// mount_setattr(fd, "", AT_EMPTY_PATH|AT_RECURSIVE, {MOUNT_ATTR_RDONLY}): make the
/// mount `fd` is on, and every mount below it, read-only (other flags unchanged).
pub fn make_read_only_recursive(fd: &OwnedFd, shown: &Path) -> nix::Result<()> {
    /// `struct mount_attr` from linux/mount.h.
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the path is a NUL-terminated empty string, `attr` is a properly laid out
    // struct mount_attr that outlives the call and its size is passed; `fd` is open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    let r = Errno::result(rc).map(drop);
    trace::syscall(
        format_args!(
            "mount_setattr({}, \"\", AT_EMPTY_PATH|AT_RECURSIVE, {{attr_set=MOUNT_ATTR_RDONLY}})",
            trace::Fd(fd.as_raw_fd(), &shown.to_string_lossy())
        ),
        &r,
    );
    r
}

/// capset(2) of one set, through the caps crate.
pub fn caps_set(
    set: caps::CapSet,
    value: &caps::CapsHashSet,
) -> Result<(), caps::errors::CapsError> {
    let r = caps::set(None, set, value);
    let mut names: Vec<String> = value.iter().map(ToString::to_string).collect();
    names.sort();
    trace::syscall(
        format_args!("capset({set:?}, [{}])", names.join(", ")),
        &r.as_ref().copied().map_err(ToString::to_string),
    );
    r
}

/// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL).
pub fn caps_clear_ambient() -> Result<(), caps::errors::CapsError> {
    let r = caps::clear(None, caps::CapSet::Ambient);
    trace::syscall(
        format_args!("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)"),
        &r.as_ref().copied().map_err(ToString::to_string),
    );
    r
}

// ---- loop devices (--image) ----

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
/// Read-only loop device.
pub const LO_FLAGS_READ_ONLY: u32 = 1;
/// Detach the loop device when its last user (the mount) goes away.
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;

/// `struct loop_info64` from linux/loop.h.
#[repr(C)]
#[derive(Clone, Copy)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

/// `struct loop_config` from linux/loop.h (LOOP_CONFIGURE, Linux 5.8).
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// ioctl(/dev/loop-control, LOOP_CTL_GET_FREE): the number of a free loop device.
pub fn loop_get_free(control: &File) -> nix::Result<u32> {
    // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a device number; the fd is
    // an open /dev/loop-control.
    let rc = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
    let r = Errno::result(rc).map(|n| n as u32);
    trace::syscall(
        format_args!(
            "ioctl({}, LOOP_CTL_GET_FREE)",
            trace::Fd(control.as_raw_fd(), "/dev/loop-control")
        ),
        &r,
    );
    r
}

/// ioctl(loop, LOOP_CONFIGURE): attach `backing` to the loop device with `flags`.
pub fn loop_configure(dev: &File, dev_path: &Path, backing: &File, flags: u32) -> nix::Result<()> {
    let mut name = [0u8; 64];
    // SAFETY: all-zero bytes are a valid LoopInfo64 (plain integers and byte arrays).
    let mut info: LoopInfo64 = unsafe { std::mem::zeroed() };
    info.lo_flags = flags;
    info.lo_file_name = {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", backing.as_raw_fd()))
            .map(std::path::PathBuf::into_os_string)
            .unwrap_or_default();
        let bytes = link.as_bytes();
        let n = bytes.len().min(63);
        name[..n].copy_from_slice(&bytes[..n]);
        name
    };
    let config = LoopConfig {
        fd: backing.as_raw_fd() as u32,
        block_size: 0,
        info,
        reserved: [0; 8],
    };
    // SAFETY: `config` is a properly laid out struct loop_config that lives across the
    // call; both fds are open.
    let rc = unsafe {
        libc::ioctl(
            dev.as_raw_fd(),
            LOOP_CONFIGURE,
            &config as *const LoopConfig,
        )
    };
    let r = Errno::result(rc).map(drop);
    trace::syscall(
        format_args!(
            "ioctl({}, LOOP_CONFIGURE, {{fd={}, flags={}}})",
            trace::Fd(dev.as_raw_fd(), &dev_path.to_string_lossy()),
            backing.as_raw_fd(),
            trace::flags(
                u64::from(flags),
                &[(1, "LO_FLAGS_READ_ONLY"), (4, "LO_FLAGS_AUTOCLEAR")]
            )
        ),
        &r,
    );
    r
}

/// flock(2) with LOCK_NB: LOCK_EX for a writer, LOCK_SH for readers. The lock belongs
/// to the open file description, which the loop device keeps: it lasts as long as the
/// device, not as long as this descriptor.
pub fn flock(file: &File, exclusive: bool) -> nix::Result<()> {
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    } | libc::LOCK_NB;
    // SAFETY: flock takes an open descriptor and an integer operation.
    let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(
        format_args!(
            "flock({}, {}|LOCK_NB)",
            file.as_raw_fd(),
            if exclusive { "LOCK_EX" } else { "LOCK_SH" }
        ),
        &r,
    );
    r
}

/// open(2) of a file, traced (images, loop devices).
pub fn open_file(path: &Path, write: bool) -> nix::Result<File> {
    let flags = if write {
        OFlag::O_RDWR
    } else {
        OFlag::O_RDONLY
    } | OFlag::O_CLOEXEC;
    let r = nix::fcntl::open(path, flags, Mode::empty());
    trace::syscall(
        format_args!(
            "open({}, {}|O_CLOEXEC)",
            q(path),
            if write { "O_RDWR" } else { "O_RDONLY" }
        ),
        &r,
    );
    r.map(File::from)
}

// ---- terminals (--console, --ttys) ----

/// isatty(3) on `fd`.
pub fn isatty(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

/// ioctl(TIOCSPTLCK, 0) then ioctl(TIOCGPTN): unlock a new pty master and learn its
/// number in its devpts instance.
pub fn pty_unlock(master: BorrowedFd<'_>) -> nix::Result<u32> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int through the pointer, which outlives the call;
    // `master` is an open pty master.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &raw const unlock) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(
        format_args!("ioctl({}, TIOCSPTLCK, [0])", master.as_raw_fd()),
        &r,
    );
    r?;
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the pointer, which outlives the
    // call.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &raw mut n) };
    let r = Errno::result(rc).map(|_| n);
    trace::syscall(format_args!("ioctl({}, TIOCGPTN)", master.as_raw_fd()), &r);
    r
}

/// ioctl(TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC): the slave end of a pty master, opened
/// without a path lookup.
pub fn pty_peer(master: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags as its argument and returns a new
    // descriptor; `master` is an open pty master.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    let r = Errno::result(rc).map(|fd| {
        // SAFETY: a fresh descriptor from the kernel, owned by nothing else.
        unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
    });
    trace::syscall(
        format_args!(
            "ioctl({}, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC)",
            master.as_raw_fd()
        ),
        &r,
    );
    r
}

pub use common::sys::{adopt_fd, cloexec_from_3, drop_bounding, send_fd, set_no_new_privs};

/// `--ready-fd`: write(fd, "ready\n"), then close it. Errors name the descriptor.
pub fn tell_ready(fd: OwnedFd) -> Result<(), (RawFd, Errno)> {
    let raw = fd.as_raw_fd();
    let r = common::sys::write_all(fd.as_fd(), b"ready\n");
    trace::syscall(format_args!("write({raw}, \"ready\\n\", 6)"), &r);
    drop(fd);
    r.map_err(|e| (raw, e))
}
