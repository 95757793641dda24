//! Every system call netlink-tool makes, one small function each, traced through
//! `common::trace` (`-v` shows the calls that change state, `-vv` adds the reads).
//! The only module with `unsafe`.
//!
//! The netlink sockets themselves are `netlink_sys::Socket`s; their send and receive
//! calls are here too, and the requests they carry are traced one level up, in
//! [`crate::nl`], as `RTM_NEWLINK(…) = 0` lines a student can compare with `ip monitor`.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

pub use common::sys::set_handler;
use common::trace::{self, Fd};
use netlink_sys::Socket;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

/// `ioctl(fd, NS_GET_NSTYPE)` from linux/nsfs.h: `_IO(0xb7, 0x3)`.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// open(2) a namespace file read-only (close-on-exec). A read: traced at `-vv`.
pub fn open_ns(path: &Path) -> nix::Result<OwnedFd> {
    let r = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty());
    trace::syscall_at(
        2,
        format_args!("open({:?}, O_RDONLY|O_CLOEXEC)", path.as_os_str()),
        &r,
    );
    r
}

/// The namespace type of an nsfs file (`CLONE_NEWNET` for a network namespace);
/// ENOTTY when the file is not a namespace at all.
pub fn ns_type(fd: BorrowedFd<'_>) -> nix::Result<i32> {
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd, which is valid for
    // the duration of the call (borrowed).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
    let r = Errno::result(r);
    trace::syscall_at(
        2,
        format_args!("ioctl({}, NS_GET_NSTYPE)", fd.as_raw_fd()),
        &r,
    );
    r
}

/// The identity of a namespace file: (device, inode), equal for two files that name the
/// same namespace.
pub fn ns_id(fd: BorrowedFd<'_>) -> nix::Result<(u64, u64)> {
    let st = nix::sys::stat::fstat(fd)?;
    #[allow(clippy::useless_conversion)] // the field types differ between targets
    Ok((u64::from(st.st_dev), u64::from(st.st_ino)))
}

/// setns(2) into a network namespace: this thread's netlink sockets and /proc/sys/net
/// then belong to it. netlink-tool is single-threaded, so "this thread" is the process.
pub fn setns_net(fd: BorrowedFd<'_>, label: &str) -> nix::Result<()> {
    let r = nix::sched::setns(fd, CloneFlags::CLONE_NEWNET);
    trace::syscall(
        format_args!("setns({}, CLONE_NEWNET)", Fd(fd.as_raw_fd(), label)),
        &r,
    );
    r
}

/// unshare(CLONE_NEWNET): a new, empty network namespace for this thread.
pub fn unshare_net() -> nix::Result<()> {
    let r = nix::sched::unshare(CloneFlags::CLONE_NEWNET);
    trace::syscall(format_args!("unshare(CLONE_NEWNET)"), &r);
    r
}

/// mkdir(2) with mode 0755; an existing directory is fine.
pub fn mkdir_p(path: &Path) -> nix::Result<()> {
    let r = match nix::unistd::mkdir(path, Mode::from_bits_truncate(0o755)) {
        Err(Errno::EEXIST) => Ok(()),
        r => r,
    };
    trace::syscall(format_args!("mkdir({:?}, 0755)", path.as_os_str()), &r);
    r
}

/// Create an empty file exclusively (the mount point of a namespace), mode 0444.
pub fn create_excl(path: &Path) -> nix::Result<()> {
    let r = nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o444),
    )
    .map(drop);
    trace::syscall(
        format_args!(
            "open({:?}, O_RDONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0444)",
            path.as_os_str()
        ),
        &r,
    );
    r
}

/// unlink(2).
pub fn unlink(path: &Path) -> nix::Result<()> {
    let r = nix::unistd::unlink(path);
    trace::syscall(format_args!("unlink({:?})", path.as_os_str()), &r);
    r
}

/// mount(2) with no source, type or data: propagation changes (`MS_SHARED|MS_REC`)
/// and binds (`MS_BIND`).
pub fn mount(source: &Path, target: &Path, flags: MsFlags, shown: &str) -> nix::Result<()> {
    let r = nix::mount::mount(Some(source), target, Some("none"), flags, None::<&str>);
    trace::syscall(
        format_args!(
            "mount({:?}, {:?}, \"none\", {shown}, NULL)",
            source.as_os_str(),
            target.as_os_str()
        ),
        &r,
    );
    r
}

/// umount2(2) with MNT_DETACH.
pub fn umount_detach(target: &Path) -> nix::Result<()> {
    let r = nix::mount::umount2(target, MntFlags::MNT_DETACH);
    trace::syscall(
        format_args!("umount2({:?}, MNT_DETACH)", target.as_os_str()),
        &r,
    );
    r
}

/// Write a sysctl file under /proc/sys (for the current thread's network namespace).
pub fn write_sysctl(path: &Path, value: &str) -> io::Result<()> {
    let r = File::options()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    trace::syscall(format_args!("write({:?}, {value:?})", path.as_os_str()), &r);
    r
}

/// Read a small file (a sysctl) as text. A read: traced at `-vv`.
pub fn read_small(path: &Path) -> io::Result<String> {
    let r = std::fs::read_to_string(path);
    trace::syscall_at(
        2,
        format_args!("read({:?})", path.as_os_str()),
        &r.as_ref()
            .map(|s| s.trim().to_owned())
            .map_err(|e| io::Error::new(e.kind(), e.to_string())),
    );
    r
}

/// A netlink socket of `protocol` (NETLINK_ROUTE = 0, NETLINK_NETFILTER = 12) in the
/// current thread's network namespace, bound, with extended acks (the kernel's error
/// text) and capped acks (errors carry only the request's header).
pub fn netlink_socket(protocol: isize, name: &str, label: &str) -> io::Result<Socket> {
    let r = Socket::new(protocol).and_then(|mut s| {
        s.bind_auto()?;
        s.set_ext_ack(true)?;
        s.set_cap_ack(true)?;
        // Big dumps (hundreds of links) arrive faster than we read them.
        let _ = s.set_rx_buf_sz(1 << 20);
        Ok(s)
    });
    trace::syscall(
        format_args!("socket(AF_NETLINK, SOCK_DGRAM|SOCK_CLOEXEC, {name}) in net ns {label}"),
        &r.as_ref()
            .map(AsRawFd::as_raw_fd)
            .map_err(|e| io::Error::new(e.kind(), e.to_string())),
    );
    r
}

/// send(2) one datagram (one request, or one nftables batch) to the kernel (again
/// when a signal interrupted the call: nothing was sent then).
pub fn nl_send(sock: &Socket, buf: &[u8]) -> io::Result<()> {
    let addr = netlink_sys::SocketAddr::new(0, 0);
    let r = loop {
        match sock.send_to(buf, &addr, 0) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => break r.map(drop),
        }
    };
    if let Err(e) = &r {
        trace::syscall(
            format_args!("sendto({}, {} bytes)", sock.as_fd().as_raw_fd(), buf.len()),
            &Err::<(), _>(io::Error::new(e.kind(), e.to_string())),
        );
    }
    r
}

/// recv(2) one datagram into `buf` (cleared first). A datagram larger than the buffer
/// is an error (the buffer is sized for the largest the kernel sends: 32 KiB dumps).
/// A signal (EINTR) does not end the wait: the request was sent, and only its answer
/// says whether the kernel did it (the run checks for the signal afterwards).
pub fn nl_recv(sock: &Socket, buf: &mut Vec<u8>) -> io::Result<usize> {
    let n = loop {
        buf.clear();
        match sock.recv(buf, libc::MSG_TRUNC) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => break r?,
        }
    };
    if n > buf.len() {
        return Err(io::Error::other(format!(
            "netlink datagram of {n} bytes truncated to {}",
            buf.len()
        )));
    }
    Ok(n)
}

/// `SO_NETNS_COOKIE` (linux/socket.h; the same on every architecture but sparc, alpha,
/// parisc and mips, which the tool does not build for).
const SO_NETNS_COOKIE: libc::c_int = 71;

/// The cookie of the network namespace a socket belongs to (`SO_NETNS_COOKIE`): a number
/// the kernel never gives two namespaces while it runs (an nsfs inode it does reuse).
/// A read: traced at `-vv`.
pub fn netns_cookie(fd: BorrowedFd<'_>) -> nix::Result<u64> {
    let mut v: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: `v` is a writable u64 and `len` its size, as SO_NETNS_COOKIE expects; the
    // fd is borrowed, so open for the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&raw mut v).cast(),
            &raw mut len,
        )
    };
    let r = Errno::result(rc).map(|_| v);
    trace::syscall_at(
        2,
        format_args!(
            "getsockopt({}, SOL_SOCKET, SO_NETNS_COOKIE)",
            fd.as_raw_fd()
        ),
        &r,
    );
    r
}

// ---------------------------------------------------------------- the state directory

/// mkdir(2) with mode 0700 (an existing directory is fine).
pub fn mkdir_private(path: &Path) -> nix::Result<()> {
    let r = match nix::unistd::mkdir(path, Mode::from_bits_truncate(0o700)) {
        Err(Errno::EEXIST) => Ok(()),
        r => r,
    };
    trace::syscall_at(2, format_args!("mkdir({:?}, 0700)", path.as_os_str()), &r);
    r
}

/// Open (creating, mode 0600) a lock file and take its exclusive flock(2) without
/// waiting: EWOULDBLOCK when another process holds it.
pub fn lock_file(path: &Path) -> nix::Result<nix::fcntl::Flock<File>> {
    let r = nix::fcntl::open(
        path,
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .and_then(|fd| {
        nix::fcntl::Flock::lock(File::from(fd), nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| e)
    });
    trace::syscall_at(
        2,
        format_args!("flock(open({:?}), LOCK_EX|LOCK_NB)", path.as_os_str()),
        &r.as_ref().map(|_| ()).map_err(|e| *e),
    );
    r
}

/// True when `path` still names the file `f` is open on (a lock file unlinked and made
/// again by another process is another file).
pub fn same_file(f: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// rmdir(2) (the state directory, when empty; ENOTEMPTY is the usual answer).
pub fn rmdir(path: &Path) -> nix::Result<()> {
    let r = std::fs::remove_dir(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
    trace::syscall_at(2, format_args!("rmdir({:?})", path.as_os_str()), &r);
    r
}

/// Read a small text file; `None` when it does not exist. A read: traced at `-vv`.
pub fn read_optional(path: &Path) -> io::Result<Option<String>> {
    let r = match std::fs::read_to_string(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        r => r.map(Some),
    };
    trace::syscall_at(
        2,
        format_args!("read({:?})", path.as_os_str()),
        &r.as_ref()
            .map(|o| o.as_ref().map_or(0, String::len))
            .map_err(|e| io::Error::new(e.kind(), e.to_string())),
    );
    r
}

/// Replace `path` with `text` atomically: written to `tmp` (mode 0600), then renamed
/// over it, so a reader (or a run killed midway) sees the old text or the new, never a
/// part.
pub fn write_atomic(path: &Path, tmp: &Path, text: &str) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let r = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| std::fs::rename(tmp, path));
    trace::syscall(
        format_args!(
            "write({:?}, {} bytes) + rename(.., {:?})",
            tmp.as_os_str(),
            text.len(),
            path.as_os_str()
        ),
        &r.as_ref()
            .copied()
            .map_err(|e| io::Error::new(e.kind(), e.to_string())),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespace_is_a_network_namespace() {
        let fd = open_ns(Path::new("/proc/self/ns/net")).unwrap();
        assert_eq!(ns_type(fd.as_fd()).unwrap(), libc::CLONE_NEWNET);
        let uts = open_ns(Path::new("/proc/self/ns/uts")).unwrap();
        assert_eq!(ns_type(uts.as_fd()).unwrap(), libc::CLONE_NEWUTS);
        let file = open_ns(Path::new("/proc/self/status")).unwrap();
        assert!(ns_type(file.as_fd()).is_err());
        let again = open_ns(Path::new("/proc/thread-self/ns/net")).unwrap();
        assert_eq!(ns_id(fd.as_fd()).unwrap(), ns_id(again.as_fd()).unwrap());
    }
}
