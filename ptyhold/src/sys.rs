//! Every system call ptyhold makes (beyond `common::pty`'s), one small function each,
//! traced through `common::trace`: set-up and lifecycle calls at level 1 (`-v`), the
//! relay's polls, reads, writes, sends and receives at level 2 (`-vv`). The only module
//! of the crate with `unsafe`.

use std::ffi::{CString, OsStr};
use std::fs;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::trace;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag};
use nix::poll::{PollFd, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    self, AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr, sockopt,
};
use nix::sys::stat::{FileStat, Mode};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Gid, Pid, Uid};

fn q(p: &Path) -> String {
    format!("{:?}", p.as_os_str())
}

/// A signal set as strace prints it: `[CHLD TERM]`.
pub fn sigset_names(set: &SigSet) -> String {
    let names: Vec<&str> = Signal::iterator()
        .filter(|s| set.contains(*s))
        .map(|s| s.as_str().trim_start_matches("SIG"))
        .collect();
    format!("[{}]", names.join(" "))
}

fn io_trace<T>(r: &io::Result<T>) -> Result<(), Errno> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))),
    }
}

// ---- files ----

/// open(2) of the log: write-only, appending, created with mode 0600.
pub fn open_append(path: &Path) -> nix::Result<OwnedFd> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let r = nix::fcntl::open(path, flags, Mode::from_bits_truncate(0o600));
    trace::syscall(
        format_args!(
            "open({}, O_WRONLY|O_APPEND|O_CREAT|O_NOCTTY|O_CLOEXEC, 0600)",
            q(path)
        ),
        &r,
    );
    r
}

/// open(2) with O_CREAT|O_EXCL: a new file (a pidfile's temporary).
pub fn create_excl(path: &Path, mode: u32) -> nix::Result<OwnedFd> {
    let r = nix::fcntl::open(
        path,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    );
    trace::syscall(
        format_args!(
            "open({}, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0{mode:o})",
            q(path)
        ),
        &r,
    );
    r
}

/// open("/dev/null", O_RDWR).
pub fn open_devnull() -> nix::Result<OwnedFd> {
    let r = nix::fcntl::open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty());
    trace::syscall(format_args!("open(\"/dev/null\", O_RDWR|O_CLOEXEC)"), &r);
    r
}

/// fstat(2): the file's size.
pub fn file_size(fd: BorrowedFd<'_>) -> nix::Result<u64> {
    let r = nix::sys::stat::fstat(fd).map(|st| u64::try_from(st.st_size).unwrap_or(0));
    trace::syscall_at(
        2,
        format_args!("fstat({}, {{st_size=…}})", fd.as_raw_fd()),
        &r,
    );
    r
}

/// lstat(2).
pub fn lstat(path: &Path) -> nix::Result<FileStat> {
    let r = nix::sys::stat::lstat(path);
    trace::syscall(
        format_args!("lstat({}, …)", q(path)),
        &r.as_ref().map(drop).map_err(|e| *e),
    );
    r
}

/// rename(2).
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    let r = fs::rename(from, to);
    trace::syscall(
        format_args!("rename({}, {})", q(from), q(to)),
        &io_trace(&r),
    );
    r
}

/// unlink(2).
pub fn unlink(path: &Path) -> io::Result<()> {
    let r = fs::remove_file(path);
    trace::syscall(format_args!("unlink({})", q(path)), &io_trace(&r));
    r
}

/// write(2) until all of `data` is written.
pub fn write_all(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<()> {
    common::pty::write_all(fd, data)
}

/// One write(2) (a non-blocking master may take part of it); level 2.
pub fn write(fd: BorrowedFd<'_>, data: &[u8]) -> nix::Result<usize> {
    let r = nix::unistd::write(fd, data);
    trace::syscall_at(
        2,
        format_args!("write({}, …, {})", fd.as_raw_fd(), data.len()),
        &r,
    );
    r
}

/// One read(2); level 2.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<usize> {
    let r = nix::unistd::read(fd, buf);
    trace::syscall_at(
        2,
        format_args!("read({}, …, {})", fd.as_raw_fd(), buf.len()),
        &r,
    );
    r
}

/// fchown(2) and fchmod(2) of a slave (`--owner`).
pub fn give_tty(fd: BorrowedFd<'_>, uid: u32, gid: u32, mode: u32) -> nix::Result<()> {
    let r = nix::unistd::fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
    trace::syscall(format_args!("fchown({}, {uid}, {gid})", fd.as_raw_fd()), &r);
    r?;
    let r = nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode));
    trace::syscall(format_args!("fchmod({}, 0{mode:o})", fd.as_raw_fd()), &r);
    r
}

/// fcntl(F_SETFL, O_NONBLOCK).
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> nix::Result<()> {
    let r = nix::fcntl::fcntl(fd, FcntlArg::F_GETFL).and_then(|flags| {
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(fd, FcntlArg::F_SETFL(flags)).map(drop)
    });
    trace::syscall(
        format_args!("fcntl({}, F_SETFL, O_NONBLOCK)", fd.as_raw_fd()),
        &r,
    );
    r
}

/// umask(2); returns the previous mask.
pub fn umask(mask: u32) -> u32 {
    let old = nix::sys::stat::umask(Mode::from_bits_truncate(mask));
    trace::line(1, format_args!("umask({mask:03o}) = {:03o}", old.bits()));
    old.bits()
}

/// chdir(2).
pub fn chdir(path: &Path) -> nix::Result<()> {
    let r = nix::unistd::chdir(path);
    trace::syscall(format_args!("chdir({})", q(path)), &r);
    r
}

// ---- sockets ----

fn unix_addr(path: &Path) -> nix::Result<UnixAddr> {
    UnixAddr::new(path)
}

/// socket(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0).
pub fn socket() -> nix::Result<OwnedFd> {
    let r = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    );
    trace::syscall(
        format_args!("socket(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0)"),
        &r,
    );
    r
}

/// bind(2) to a path.
pub fn bind(fd: BorrowedFd<'_>, path: &Path) -> nix::Result<()> {
    let r = unix_addr(path).and_then(|a| socket::bind(fd.as_raw_fd(), &a));
    trace::syscall(
        format_args!("bind({}, {{sun_path={}}})", fd.as_raw_fd(), q(path)),
        &r,
    );
    r
}

/// listen(2).
pub fn listen(fd: BorrowedFd<'_>, backlog: i32) -> nix::Result<()> {
    let r = Backlog::new(backlog).and_then(|b| socket::listen(&fd, b));
    trace::syscall(format_args!("listen({}, {backlog})", fd.as_raw_fd()), &r);
    r
}

/// connect(2) to a path.
pub fn connect(fd: BorrowedFd<'_>, path: &Path) -> nix::Result<()> {
    let r = unix_addr(path).and_then(|a| socket::connect(fd.as_raw_fd(), &a));
    trace::syscall(
        format_args!("connect({}, {{sun_path={}}})", fd.as_raw_fd(), q(path)),
        &r,
    );
    r
}

/// accept4(2) with SOCK_CLOEXEC|SOCK_NONBLOCK.
pub fn accept(fd: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    let r = socket::accept4(
        fd.as_raw_fd(),
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )
    .map(|raw| {
        // SAFETY: accept4 returned a new descriptor that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(raw) }
    });
    trace::syscall(
        format_args!(
            "accept4({}, NULL, NULL, SOCK_CLOEXEC|SOCK_NONBLOCK)",
            fd.as_raw_fd()
        ),
        &r,
    );
    r
}

/// getsockopt(SO_PEERCRED): the client's PID.
pub fn peer_pid(fd: BorrowedFd<'_>) -> Option<i32> {
    let r = socket::getsockopt(&fd, sockopt::PeerCredentials).map(|c| c.pid());
    trace::syscall(
        format_args!("getsockopt({}, SOL_SOCKET, SO_PEERCRED)", fd.as_raw_fd()),
        &r,
    );
    r.ok()
}

/// sendmsg(2) of one message: the type byte and the body, in two pieces (no copy).
/// MSG_NOSIGNAL always; MSG_DONTWAIT when `wait` is false.
pub fn send(fd: BorrowedFd<'_>, kind: u8, body: &[u8], wait: bool) -> nix::Result<()> {
    let mut flags = MsgFlags::MSG_NOSIGNAL;
    if !wait {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    let head = [kind];
    let iov = [IoSlice::new(&head), IoSlice::new(body)];
    let r = socket::sendmsg::<()>(fd.as_raw_fd(), &iov, &[], flags, None);
    trace::syscall_at(
        2,
        format_args!(
            "sendmsg({}, {{{:?} + {} bytes}}, {})",
            fd.as_raw_fd(),
            char::from(kind),
            body.len(),
            if wait {
                "MSG_NOSIGNAL"
            } else {
                "MSG_NOSIGNAL|MSG_DONTWAIT"
            }
        ),
        &r,
    );
    r.map(drop)
}

/// sendmsg(2) of a whole encoded message.
pub fn send_message(fd: BorrowedFd<'_>, message: &[u8], wait: bool) -> nix::Result<()> {
    match message.split_first() {
        Some((&kind, body)) => send(fd, kind, body, wait),
        None => Ok(()),
    }
}

/// recv(2) of one message (MSG_DONTWAIT when `wait` is false); 0 at the end.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], wait: bool) -> nix::Result<usize> {
    let flags = if wait {
        MsgFlags::empty()
    } else {
        MsgFlags::MSG_DONTWAIT
    };
    let r = socket::recv(fd.as_raw_fd(), buf, flags);
    trace::syscall_at(
        2,
        format_args!("recv({}, …, {}, {flags:?})", fd.as_raw_fd(), buf.len()),
        &r,
    );
    r
}

// ---- polling and signals ----

/// poll(2), retried on EINTR by the caller.
pub fn poll(fds: &mut [PollFd<'_>], timeout: PollTimeout) -> nix::Result<i32> {
    let r = nix::poll::poll(fds, timeout);
    trace::syscall_at(
        2,
        format_args!(
            "poll([{} fds], {}, {})",
            fds.len(),
            fds.len(),
            i32::from(timeout)
        ),
        &r,
    );
    r
}

/// sigprocmask(2); returns the previous mask.
pub fn sigprocmask(how: SigmaskHow, set: &SigSet) -> nix::Result<SigSet> {
    let mut old = SigSet::empty();
    let r = nix::sys::signal::sigprocmask(how, Some(set), Some(&mut old));
    let name = match how {
        SigmaskHow::SIG_BLOCK => "SIG_BLOCK",
        SigmaskHow::SIG_UNBLOCK => "SIG_UNBLOCK",
        _ => "SIG_SETMASK",
    };
    trace::syscall(
        format_args!("rt_sigprocmask({name}, {})", sigset_names(set)),
        &r,
    );
    r.map(|()| old)
}

/// signalfd4(-1, set, SFD_CLOEXEC|SFD_NONBLOCK).
pub fn signalfd(set: &SigSet) -> nix::Result<SignalFd> {
    let r = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK);
    trace::syscall(
        format_args!(
            "signalfd4(-1, {}, SFD_CLOEXEC|SFD_NONBLOCK)",
            sigset_names(set)
        ),
        &r.as_ref().map(|fd| fd.as_fd().as_raw_fd()).map_err(|e| *e),
    );
    r
}

/// signal(sig, SIG_DFL).
pub fn default_action(sig: Signal) -> nix::Result<()> {
    // SAFETY: installing SIG_DFL runs no handler code, and this single-threaded process
    // has nothing that depends on the action it replaces.
    let r =
        unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) }.map(drop);
    trace::syscall(format_args!("rt_sigaction({sig}, SIG_DFL)"), &r);
    r
}

/// signal(sig, SIG_IGN).
pub fn ignore(sig: Signal) -> nix::Result<()> {
    // SAFETY: installing SIG_IGN runs no handler code, and this single-threaded process
    // has nothing that depends on the action it replaces.
    let r =
        unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigIgn) }.map(drop);
    trace::syscall(format_args!("rt_sigaction({sig}, SIG_IGN)"), &r);
    r
}

/// kill(2).
pub fn kill(pid: Pid, sig: Signal) -> nix::Result<()> {
    let r = nix::sys::signal::kill(pid, sig);
    trace::syscall(format_args!("kill({pid}, {sig})"), &r);
    r
}

/// waitpid(2), retried on EINTR.
pub fn waitpid(pid: Pid, flags: Option<WaitPidFlag>) -> nix::Result<WaitStatus> {
    loop {
        let r = nix::sys::wait::waitpid(pid, flags);
        if r == Err(Errno::EINTR) {
            continue;
        }
        if !matches!(r, Ok(WaitStatus::StillAlive)) {
            trace::syscall(
                format_args!(
                    "wait4({pid}, …, {})",
                    if flags.is_some() { "WNOHANG" } else { "0" }
                ),
                &r.map(|s| format!("{pid} ({s:?})")),
            );
        }
        return r;
    }
}

// ---- processes ----

/// fork(2).
pub fn fork() -> nix::Result<ForkResult> {
    // SAFETY: ptyhold is single-threaded (it never spawns threads), so the child may keep
    // running ordinary Rust code after fork: no lock can be held by another thread.
    let r = unsafe { nix::unistd::fork() };
    trace::syscall(
        format_args!("fork()"),
        &r.map(|f| match f {
            ForkResult::Parent { child } => child.as_raw(),
            ForkResult::Child => 0,
        }),
    );
    r
}

/// setsid(2).
pub fn setsid() -> nix::Result<Pid> {
    let r = nix::unistd::setsid();
    trace::syscall(format_args!("setsid()"), &r);
    r
}

/// _exit(2): end a forked child without running atexit handlers or flushing buffers it
/// copied from its parent.
pub fn exit_child(code: i32) -> ! {
    // SAFETY: _exit takes a plain integer and never returns.
    unsafe { libc::_exit(code) }
}

/// pipe2(O_CLOEXEC): (read end, write end).
pub fn pipe() -> nix::Result<(OwnedFd, OwnedFd)> {
    let r = nix::unistd::pipe2(OFlag::O_CLOEXEC);
    trace::syscall(
        format_args!("pipe2(O_CLOEXEC)"),
        &r.as_ref()
            .map(|(a, b)| format!("[{}, {}]", a.as_raw_fd(), b.as_raw_fd()))
            .map_err(|e| *e),
    );
    r
}

/// fcntl(F_DUPFD_CLOEXEC, min): a copy of `fd` numbered `min` or above.
pub fn dup_above(fd: BorrowedFd<'_>, min: RawFd) -> nix::Result<OwnedFd> {
    let r = nix::fcntl::fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(min)).map(|raw| {
        // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(raw) }
    });
    trace::syscall(
        format_args!("fcntl({}, F_DUPFD_CLOEXEC, {min})", fd.as_raw_fd()),
        &r,
    );
    r
}

/// dup2(2) onto a given number, for the forked child just before it execs: `new` may be
/// the number of a descriptor some Rust object of the holder's (copied) memory owns; the
/// child never drops those objects (it execs or `_exit`s), so nothing closes `new` again.
pub fn dup2(old: BorrowedFd<'_>, new: RawFd, traced: bool) -> nix::Result<()> {
    // SAFETY: dup2 takes plain integers; `old` is open. Replacing `new` behind an owner's
    // back is harmless here (see above): its owner is never dropped in this process.
    let rc = unsafe { libc::dup2(old.as_raw_fd(), new) };
    let r = Errno::result(rc).map(drop);
    if traced {
        trace::syscall(format_args!("dup2({}, {new})", old.as_raw_fd()), &r);
    }
    r
}

/// close_range(from, ~0, CLOSE_RANGE_CLOEXEC): no descriptor from `from` up survives the
/// exec of the command.
pub fn cloexec_from(from: u32) -> nix::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range takes plain integers; marking descriptors close-on-exec does not
    // invalidate any descriptor this process still uses (they stay open until exec).
    let rc = unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(
        format_args!("close_range({from}, ~0U, CLOSE_RANGE_CLOEXEC)"),
        &r,
    );
    r
}

/// The argv and environment of an exec, made before the fork (so that the child does
/// not allocate).
#[derive(Debug)]
pub struct ExecArgs {
    argv: Vec<CString>,
    env: Vec<CString>,
}

impl ExecArgs {
    /// Build the C strings; `None` when one holds a NUL byte.
    pub fn new<'a>(
        argv: impl IntoIterator<Item = &'a OsStr>,
        env: impl IntoIterator<Item = Vec<u8>>,
    ) -> Option<Self> {
        let argv = argv
            .into_iter()
            .map(|a| CString::new(a.as_bytes()).ok())
            .collect::<Option<Vec<_>>>()?;
        let env = env
            .into_iter()
            .map(|e| CString::new(e).ok())
            .collect::<Option<Vec<_>>>()?;
        (!argv.is_empty()).then_some(Self { argv, env })
    }

    /// The command as the trace shows it: `"sh", ["sh", "-c", "…"]`.
    pub fn shown(&self) -> String {
        let args: Vec<String> = self.argv.iter().map(|a| format!("{a:?}")).collect();
        format!("{:?}, [{}]", self.argv[0], args.join(", "))
    }
}

/// execvpe(3), untraced (stderr may be the console by now; the parent traces the
/// outcome). Returns only on failure.
pub fn execvpe(args: &ExecArgs) -> Errno {
    match nix::unistd::execvpe(&args.argv[0], &args.argv, &args.env) {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

/// getpid(2).
pub fn getpid() -> Pid {
    nix::unistd::getpid()
}

/// True when `fd` is a terminal whose foreground process group is ours (a shell's
/// foreground job, not `… &`).
pub fn in_foreground(fd: BorrowedFd<'_>) -> bool {
    let pgrp = nix::unistd::getpgrp();
    let r = nix::unistd::tcgetpgrp(fd);
    trace::syscall_at(
        2,
        format_args!("ioctl({}, TIOCGPGRP, …)", fd.as_raw_fd()),
        &r,
    );
    r.is_ok_and(|fg| fg == pgrp)
}

/// Standard input, borrowed for the life of the process.
pub fn stdin() -> BorrowedFd<'static> {
    // SAFETY: ptyhold never closes descriptor 0 (the daemon dup2s /dev/null onto it, which
    // keeps the number open); a caller that started us with it closed gets EBADF.
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// Standard output, borrowed for the life of the process.
pub fn stdout() -> BorrowedFd<'static> {
    // SAFETY: as for `stdin`: descriptor 1 is never closed by ptyhold.
    unsafe { BorrowedFd::borrow_raw(1) }
}

/// fcntl(fd, F_SETFD, 0): `fd` survives the exec (a `--pass-fd`). In the child after
/// fork: async-signal-safe.
pub fn keep_on_exec(fd: RawFd) -> nix::Result<()> {
    // SAFETY: F_SETFD takes an integer; a descriptor that is not open gives EBADF.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    Errno::result(rc).map(drop)
}

/// fcntl(fd, F_GETFD): EBADF unless `fd` is open (a `--pass-fd`, checked before the fork).
pub fn check_fd(fd: RawFd) -> nix::Result<()> {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    let rc = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    let r = Errno::result(rc).map(drop);
    trace::syscall_at(2, format_args!("fcntl({fd}, F_GETFD)"), &r);
    r
}

/// socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC): (ours, the command's).
pub fn seqpacket_pair() -> nix::Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    let r = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    );
    trace::syscall(
        format_args!("socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0)"),
        &r.as_ref()
            .map(|(a, b)| format!("[{}, {}]", a.as_raw_fd(), b.as_raw_fd()))
            .map_err(|e| *e),
    );
    r
}

/// fcntl(fd, F_SETFD, FD_CLOEXEC), then `fd` owned: a `--status-fd`, which the holder
/// keeps and the command does not get.
pub fn adopt_cloexec(fd: RawFd) -> nix::Result<OwnedFd> {
    // SAFETY: F_SETFD takes an integer; a descriptor that is not open gives EBADF.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(format_args!("fcntl({fd}, F_SETFD, FD_CLOEXEC)"), &r);
    r?;
    // SAFETY: open (checked above) and named on our command line: nothing else of this
    // process owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
