//! The system calls that two or more tools make, one small function each, traced through
//! [`trace`] (`-v`), returning `nix::Result`. With each tool's own `sys.rs`, the only home
//! of `unsafe` in the workspace.
//!
//! The tools are single-threaded (none starts a thread); [`fork`] checks it, because a
//! forked child that runs ordinary Rust code is sound only then.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use crate::trace;

/// A path as the trace shows it: `"/srv/lab"`.
pub fn q(p: &(impl AsRef<OsStr> + ?Sized)) -> String {
    format!("{:?}", p.as_ref())
}

/// Open flags as strace prints them: `O_PATH|O_DIRECTORY|O_CLOEXEC`.
pub fn oflags(flags: OFlag) -> String {
    let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
    if names.is_empty() {
        "O_RDONLY".to_owned()
    } else {
        names.join("|")
    }
}

// ---------------------------------------------------------------- processes

/// The number of threads of this process (`Threads:` of /proc/self/status).
fn threads() -> Option<u32> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

fn fork_result(r: &nix::Result<ForkResult>) -> nix::Result<i32> {
    r.map(|f| match f {
        ForkResult::Parent { child } => child.as_raw(),
        ForkResult::Child => 0,
    })
}

/// fork(2), refused (EDEADLK) when this process has more than one thread, so that the
/// child may go on running ordinary Rust code: no lock can be held by a thread that does
/// not exist in it. (Where no /proc is mounted, after a pivot into a bare root, the count
/// cannot be read; the tools never start a thread, and fork goes ahead.)
pub fn fork() -> nix::Result<ForkResult> {
    if threads().is_some_and(|n| n > 1) {
        let r = Err(Errno::EDEADLK);
        trace::syscall(
            format_args!("fork() [refused: more than one thread]"),
            &fork_result(&r),
        );
        return r;
    }
    // SAFETY: the process has a single thread (checked just above where /proc can tell;
    // the tools never start one), so the child inherits no lock held by another thread.
    let r = unsafe { nix::unistd::fork() };
    trace::syscall(format_args!("fork()"), &fork_result(&r));
    r
}

/// The `CLONE_NEW*` flags by name, as traces show them.
pub const CLONE_NAMES: &[(u64, &str)] = &[
    (libc::CLONE_NEWTIME as u64, "CLONE_NEWTIME"),
    (libc::CLONE_NEWNS as u64, "CLONE_NEWNS"),
    (libc::CLONE_NEWCGROUP as u64, "CLONE_NEWCGROUP"),
    (libc::CLONE_NEWUTS as u64, "CLONE_NEWUTS"),
    (libc::CLONE_NEWIPC as u64, "CLONE_NEWIPC"),
    (libc::CLONE_NEWUSER as u64, "CLONE_NEWUSER"),
    (libc::CLONE_NEWPID as u64, "CLONE_NEWPID"),
    (libc::CLONE_NEWNET as u64, "CLONE_NEWNET"),
];

/// `struct clone_args` of linux/sched.h up to `cgroup` (88 bytes); its first version is
/// the first 64 bytes, which [`clone_into`] passes (an older kernel refuses a larger size).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3(2) of `args`' first `size` bytes, as a fork: the child runs on a copy of our
/// memory.
fn clone3(args: &CloneArgs, size: usize) -> nix::Result<ForkResult> {
    // SAFETY: `args` is a properly laid out clone_args that lives across the call, and
    // `size` is at most its size. Without CLONE_VM and without a stack the child gets a
    // copy of our memory, as with fork(2); the callers check the process has a single
    // thread, so no lock is held by another thread, and glibc reads the thread ID from
    // the kernel where it matters (raise).
    let rc = unsafe { libc::syscall(libc::SYS_clone3, args as *const CloneArgs, size) };
    Errno::result(rc).map(pid_to_fork)
}

fn pid_to_fork(pid: i64) -> ForkResult {
    if pid == 0 {
        ForkResult::Child
    } else {
        ForkResult::Parent {
            child: Pid::from_raw(pid as i32),
        }
    }
}

/// A fork into new namespaces (`flags`: `CLONE_NEW*`): clone3(2), or clone(2) where
/// clone3 is refused with ENOSYS (an old kernel, or the default seccomp profiles of
/// Docker and Podman, which answer ENOSYS so that programs fall back: CI runners,
/// student VMs). The child starts as PID 1 of a new PID namespace when `flags` has
/// CLONE_NEWPID; the caller stays where it was. Refused (EDEADLK) like [`fork`] when this
/// process has more than one thread.
pub fn clone_into(flags: u64) -> nix::Result<ForkResult> {
    let names = trace::flags(flags, CLONE_NAMES);
    if threads().is_some_and(|n| n > 1) {
        let r = Err(Errno::EDEADLK);
        trace::syscall(
            format_args!("clone3({{flags={names}}}) [refused: more than one thread]"),
            &fork_result(&r),
        );
        return r;
    }
    let args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    let r = clone3(&args, 64);
    trace::syscall(
        format_args!("clone3({{flags={names}, exit_signal=SIGCHLD}}, 64)"),
        &fork_result(&r),
    );
    if !matches!(r, Err(Errno::ENOSYS)) {
        return r;
    }
    // SAFETY: as in clone3: without CLONE_VM and with a null stack the child runs on a copy
    // of our memory. The pointer arguments (parent and child TID, TLS) are null and
    // unused without the flags that read them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as u64,
            std::ptr::null::<libc::c_void>(),
            std::ptr::null::<libc::c_int>(),
            std::ptr::null::<libc::c_int>(),
            0usize,
        )
    };
    let r = Errno::result(rc).map(pid_to_fork);
    trace::syscall(
        format_args!("clone({names}|SIGCHLD, NULL)"),
        &fork_result(&r),
    );
    r
}

/// CLONE_INTO_CGROUP (linux/sched.h, Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// A fork whose child starts in the cgroup2 group open as `dir` (clone3 with
/// CLONE_INTO_CGROUP). No process moves between groups, so the kernel's global
/// migration lock, whose taking waits for an RCU grace period (a write to
/// `cgroup.procs`: 15 to 20 ms measured here), is never taken. Refused (EDEADLK) when
/// this process has more than one thread; ENOSYS or EINVAL before Linux 5.7.
pub fn clone_into_cgroup(dir: BorrowedFd<'_>) -> nix::Result<ForkResult> {
    let fd = dir.as_raw_fd();
    if threads().is_some_and(|n| n > 1) {
        let r = Err(Errno::EDEADLK);
        trace::syscall(
            format_args!(
                "clone3({{flags=CLONE_INTO_CGROUP, cgroup={fd}}}) [refused: more than one thread]"
            ),
            &fork_result(&r),
        );
        return r;
    }
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: u64::try_from(fd).map_err(|_| Errno::EBADF)?,
        ..CloneArgs::default()
    };
    let r = clone3(&args, std::mem::size_of::<CloneArgs>());
    trace::syscall(
        format_args!("clone3({{flags=CLONE_INTO_CGROUP, exit_signal=SIGCHLD, cgroup={fd}}}, 88)"),
        &fork_result(&r),
    );
    r
}

/// `_exit(2)`: end a forked child without running exit handlers or flushing buffers it
/// copied from its parent.
pub fn exit_child(code: i32) -> ! {
    // SAFETY: _exit takes a plain integer and never returns.
    unsafe { libc::_exit(code) }
}

/// waitpid(2), retried on EINTR.
pub fn waitpid(pid: Option<Pid>, flags: Option<WaitPidFlag>) -> nix::Result<WaitStatus> {
    loop {
        match nix::sys::wait::waitpid(pid, flags) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// kill(2).
pub fn kill(pid: Pid, sig: Signal) -> nix::Result<()> {
    let r = nix::sys::signal::kill(pid, sig);
    trace::syscall(format_args!("kill({pid}, {sig})"), &r);
    r
}

/// getpid(2).
pub fn getpid() -> Pid {
    nix::unistd::getpid()
}

/// prctl(PR_SET_PDEATHSIG, sig): `sig` arrives when the parent (thread) dies.
pub fn set_pdeathsig(sig: Signal) -> nix::Result<()> {
    let r = nix::sys::prctl::set_pdeathsig(sig);
    trace::syscall(format_args!("prctl(PR_SET_PDEATHSIG, {sig})"), &r);
    r
}

// ---------------------------------------------------------------- signals

/// sigprocmask(2); returns the previous mask.
pub fn sigprocmask(how: SigmaskHow, set: &SigSet) -> nix::Result<SigSet> {
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(how, Some(set), Some(&mut old))?;
    Ok(old)
}

/// sigwaitinfo(2), retried on EINTR: the next pending signal of `set` (blocked), with
/// its `si_code` (SI_KERNEL for a terminal's signal, SI_USER for kill(2)).
pub fn sigwaitinfo(set: &SigSet) -> nix::Result<(Signal, i32)> {
    loop {
        // SAFETY: all-zero bytes are a valid siginfo_t (a plain C struct).
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid sigset_t and `info` a writable siginfo_t.
        let rc = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(n) => return Ok((Signal::try_from(n)?, info.si_code)),
        }
    }
}

/// A tool's entry point without Rust's runtime start-up: these tools are exec'd in
/// chains, and the runtime's own set-up before `main` (the main thread's stack guard,
/// read from /proc/self/maps; a signal stack; SIGSEGV and SIGBUS handlers) is a tenth of
/// a static binary's start. The C `main` calls [`start`], then the tool's `main`. In the
/// tool's `main.rs`:
///
/// ```ignore
/// #![cfg_attr(all(not(test), target_env = "gnu"), no_main)]
/// common::entry!(main);
/// fn main() { common::cli::main(TOOL, …) }
/// ```
///
/// Test builds keep the test harness's `main`. So do musl builds (`target_env = "musl"`):
/// musl passes no arguments to `.init_array` functions, which is how std learns `argv`
/// without its runtime, and its runtime's start-up reads no /proc/self/maps anyway.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[cfg(all(not(test), target_env = "gnu"))]
        // SAFETY: the one C `main` of the program (the crate is `no_main`); it is what
        // the C start-up code calls, with the usual signature.
        #[unsafe(export_name = "main")]
        extern "C" fn __toolkit_c_main(
            _argc: ::core::ffi::c_int,
            _argv: *const *const ::core::ffi::c_char,
        ) -> ::core::ffi::c_int {
            $crate::sys::start();
            $main();
            0
        }
    };
}

/// What Rust's runtime does before `main` that a tool needs, for the tools whose entry
/// point is [`entry!`](crate::entry) (no read of /proc/self/maps for the main thread's
/// stack guard, no signal stack, no SIGSEGV handler: a tool that overflows its stack
/// dies of SIGSEGV without the runtime's message). Two things are kept, as std does them:
/// descriptors 0, 1 and 2 are open (on /dev/null when they were closed, so that no file
/// the tool opens becomes its stdout), and SIGPIPE is ignored (a write to a closed pipe
/// is then an EPIPE error, which `cli::main` handles; `exec` restores the default).
pub fn start() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of three pollfd for the duration of the call, and a
    // zero time-out makes it return at once.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    if polled == -1 {
        // poll(2) fails only on a resource limit: check each descriptor instead.
        for p in &mut fds {
            // SAFETY: F_GETFD takes no argument and changes nothing.
            if unsafe { libc::fcntl(p.fd, libc::F_GETFD) } == -1 {
                p.revents = libc::POLLNVAL;
            }
        }
    }
    for p in fds {
        if p.revents & libc::POLLNVAL != 0 {
            // SAFETY: a NUL-terminated path; the descriptor opened takes the lowest free
            // number, which is `p.fd` (every lower one is open by now). It is left open
            // on purpose, as the closed one it stands for.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if fd != p.fd {
                // Nothing sane can follow: std aborts here too.
                std::process::abort();
            }
        }
    }
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_IGN runs no handler code; nothing in this process relies on the
    // default action it replaces.
    let _ = unsafe { nix::sys::signal::sigaction(Signal::SIGPIPE, &ignore) };
}

/// sigaction(2) to the default action (SIG_DFL).
pub fn default_action(sig: Signal) -> nix::Result<()> {
    let act = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: installing SIG_DFL runs no handler code, so nothing has to be
    // async-signal-safe; the action it replaces is not relied on by this process.
    unsafe { nix::sys::signal::sigaction(sig, &act) }.map(drop)
}

/// sigaction(2) installing `handler` with no SA_RESTART (blocking calls then return
/// EINTR, so a loop can notice what the handler recorded).
pub fn set_handler(sig: Signal, handler: extern "C" fn(libc::c_int)) -> nix::Result<()> {
    let act = SigAction::new(
        SigHandler::Handler(handler),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the caller's handler is a plain `extern "C" fn` that stays valid for the
    // life of the process; the callers' handlers only store to atomics, which is
    // async-signal-safe.
    let r = unsafe { nix::sys::signal::sigaction(sig, &act) }.map(drop);
    trace::syscall_at(2, format_args!("rt_sigaction({sig}, handler)"), &r);
    r
}

/// Die of `sig` as a command did: default action, unblocked, raised on ourselves.
/// Returns only when the signal's default action does not end the process (or this
/// process is the init of a PID namespace, which a signal from inside cannot end).
pub fn die_of(sig: Signal) {
    let _ = default_action(sig);
    let mut set = SigSet::empty();
    set.add(sig);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    trace::line(1, format_args!("kill({}, {sig})", getpid()));
    let _ = nix::sys::signal::raise(sig);
}

// ---------------------------------------------------------------- pipes

/// pipe2(O_CLOEXEC[|O_NONBLOCK]): (read end, write end).
pub fn pipe(nonblock: bool) -> nix::Result<(OwnedFd, OwnedFd)> {
    let mut flags = OFlag::O_CLOEXEC;
    if nonblock {
        flags |= OFlag::O_NONBLOCK;
    }
    let r = nix::unistd::pipe2(flags);
    trace::syscall_at(
        2,
        format_args!("pipe2({})", oflags(flags)),
        &r.as_ref()
            .map(|(a, b)| format!("[{}, {}]", a.as_raw_fd(), b.as_raw_fd()))
            .map_err(|e| *e),
    );
    r
}

/// read(2) of up to `buf.len()` bytes, retried on EINTR; 0 means end of file.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<usize> {
    loop {
        match nix::unistd::read(fd, buf) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Read until `buf` is full or end of file; returns the count read.
pub fn read_full(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match read(fd, &mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// write(2) of all of `buf`, retried on EINTR.
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> nix::Result<()> {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => buf = &buf[n..],
        }
    }
    Ok(())
}

/// poll(2) without waiting: true when every write end of the pipe `read_end` is closed
/// (the process that held it is gone).
pub fn writers_gone(read_end: BorrowedFd<'_>) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(read_end, PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(0) | Err(_) => false,
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLHUP)),
    }
}

// ---------------------------------------------------------------- files

/// open(2) of a directory with O_PATH|O_DIRECTORY|O_CLOEXEC: a handle to resolve paths
/// in, or to fchdir to later.
pub fn open_dir(path: &Path) -> nix::Result<OwnedFd> {
    let r = nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    );
    trace::syscall(
        format_args!("open({}, O_PATH|O_DIRECTORY|O_CLOEXEC)", q(path)),
        &r,
    );
    r
}

/// openat2(2) with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS: `path` resolves as if `root`
/// were `/`, so neither `..` nor a symlink, absolute or relative, leads outside it.
/// Traced at `level` (debootstrap-rs opens thousands of files: level 2 there).
pub fn open_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlag,
    mode: u32,
    level: u8,
) -> nix::Result<OwnedFd> {
    let flags = flags | OFlag::O_CLOEXEC;
    let how = OpenHow::new()
        .flags(flags)
        .mode(Mode::from_bits_truncate(mode))
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let r = nix::fcntl::openat2(root, path, how);
    trace::syscall_at(
        level,
        format_args!(
            "openat2({}, {}, {{flags={}, resolve=RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS}})",
            root.as_raw_fd(),
            q(path),
            oflags(flags)
        ),
        &r,
    );
    r
}

/// The path through which the kernel reaches what `fd` refers to.
pub fn fd_path(fd: BorrowedFd<'_>) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

// ---------------------------------------------------------------- namespace files

/// The filesystem magic of nsfs (namespace files, in /proc/PID/ns or bind-mounted).
pub const NSFS_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::NSFS_MAGIC;

/// statfs(2): the filesystem magic of what `path` refers to (its type is the C
/// library's: signed with glibc, unsigned with musl).
pub fn fs_magic(path: &Path) -> nix::Result<nix::sys::statfs::FsType> {
    let r = nix::sys::statfs::statfs(path).map(|s| s.filesystem_type());
    trace::syscall_at(
        2,
        format_args!("statfs({})", q(path)),
        &r.map(|m| format!("{{f_type={:#x}}}", m.0)),
    );
    r
}

/// ioctl(NS_GET_NSTYPE): the `CLONE_NEW*` type of the namespace `fd` refers to; ENOTTY
/// when `fd` is not a namespace file.
pub fn ns_get_type(fd: BorrowedFd<'_>, shown: &str) -> nix::Result<i32> {
    // SAFETY: NS_GET_NSTYPE takes no argument and returns an integer; fd is open.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::NS_GET_NSTYPE) };
    let r = Errno::result(rc);
    trace::syscall_at(
        2,
        format_args!("ioctl({}, NS_GET_NSTYPE)", trace::Fd(fd.as_raw_fd(), shown)),
        &r,
    );
    r
}

/// setns(2) of the namespace(s) `fd` refers to (a namespace file or a pidfd); `shown`
/// names the descriptor in the trace, `flags_shown` the flag word.
pub fn setns(fd: BorrowedFd<'_>, flags: i32, shown: &str, flags_shown: &str) -> nix::Result<()> {
    // SAFETY: setns takes a valid descriptor and an integer mask.
    let rc = unsafe { libc::setns(fd.as_raw_fd(), flags) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(
        format_args!("setns({}, {flags_shown})", trace::Fd(fd.as_raw_fd(), shown)),
        &r,
    );
    r
}

/// pidfd_open(2): a handle on process `pid` that stays bound to it (never to a later
/// process that reuses the number).
pub fn pidfd_open(pid: Pid) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    let r = Errno::result(rc).map(|fd| {
        // SAFETY: on success the kernel returned a fresh descriptor that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
    });
    trace::syscall(format_args!("pidfd_open({pid}, 0)"), &r);
    r
}

// ---------------------------------------------------------------- privileges and descriptors before exec

/// prctl(PR_SET_NO_NEW_PRIVS, 1).
pub fn set_no_new_privs() -> nix::Result<()> {
    let r = nix::sys::prctl::set_no_new_privs();
    trace::syscall(format_args!("prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)"), &r);
    r
}

/// prctl(PR_CAPBSET_DROP, cap).
pub fn drop_bounding(cap: caps::Capability) -> Result<(), caps::errors::CapsError> {
    let r = caps::drop(None, caps::CapSet::Bounding, cap);
    trace::syscall(
        format_args!("prctl(PR_CAPBSET_DROP, {cap})"),
        &r.as_ref().copied().map_err(ToString::to_string),
    );
    r
}

/// close_range(3, ~0, CLOSE_RANGE_CLOEXEC): no descriptor above 2 survives the exec.
pub fn cloexec_from_3() -> nix::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range takes plain integers; marking descriptors close-on-exec does not
    // invalidate any descriptor this process still uses before exec.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(format_args!("close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)"), &r);
    r
}

// ---------------------------------------------------------------- passing descriptors

/// Take ownership of descriptor `fd`, handed over by number on the command line: EBADF
/// unless it is open.
pub fn adopt_fd(fd: RawFd) -> nix::Result<OwnedFd> {
    // SAFETY: F_GETFD only reads the descriptor's flags; an unused number gives EBADF.
    let rc = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    let r = Errno::result(rc).map(drop);
    trace::syscall_at(2, format_args!("fcntl({fd}, F_GETFD)"), &r);
    r?;
    // SAFETY: open (checked above), and given to us by the command line: no other object
    // of this process owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// sendmsg(2) of one byte `tag` with `fd` attached (SCM_RIGHTS).
pub fn send_fd(sock: BorrowedFd<'_>, tag: u8, fd: BorrowedFd<'_>) -> nix::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let fds = [fd.as_raw_fd()];
    let iov = [std::io::IoSlice::new(std::slice::from_ref(&tag))];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let r = sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).map(drop);
    crate::trace::syscall_at(
        2,
        format_args!(
            "sendmsg({}, {:?}, SCM_RIGHTS [{}])",
            sock.as_raw_fd(),
            char::from(tag),
            fd.as_raw_fd()
        ),
        &r,
    );
    r
}

/// recvmsg(2) of one byte and the descriptor attached to it (SCM_RIGHTS), retried on
/// EINTR: `(tag, fd)`; EPROTO when the byte came without a descriptor, or none came.
pub fn recv_fd(sock: BorrowedFd<'_>) -> nix::Result<(u8, OwnedFd)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut tag = [0u8; 1];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [std::io::IoSliceMut::new(&mut tag)];
        let r = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        );
        let msg = match r {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(m) => m,
        };
        if msg.bytes != 1 {
            return Err(Errno::EPROTO);
        }
        let mut got = None;
        for c in msg.cmsgs().map_err(|_| Errno::EPROTO)? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for fd in fds {
                    // SAFETY: the kernel installed these descriptors in our table for us.
                    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                    got.get_or_insert(owned);
                }
            }
        }
        let fd = got.ok_or(Errno::EPROTO)?;
        crate::trace::syscall_at(
            2,
            format_args!("recvmsg({}, SCM_RIGHTS)", sock.as_raw_fd()),
            &Ok::<_, Errno>(fd.as_raw_fd()),
        );
        return Ok((tag[0], fd));
    }
}

// ---------------------------------------------------------------- seccomp

/// prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog): install a classic BPF filter on
/// this thread. Untraced here: `seccomp::Filter::install` traces it with its contents.
pub fn seccomp_install(prog: &[crate::seccomp::Insn]) -> nix::Result<()> {
    #[repr(C)]
    struct SockFprog {
        len: libc::c_ushort,
        filter: *const crate::seccomp::Insn,
    }
    let len = libc::c_ushort::try_from(prog.len()).map_err(|_| Errno::E2BIG)?;
    let fprog = SockFprog {
        len,
        filter: prog.as_ptr(),
    };
    // SAFETY: `fprog` points to `len` instructions laid out as struct sock_filter
    // (`Insn` is repr(C) with the same fields), all of which outlive the call; the
    // kernel copies the program before returning.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &raw const fprog,
            0,
            0,
        )
    };
    Errno::result(rc).map(drop)
}

// ---------------------------------------------------------------- exec

/// execvp(3) of `argv`, showing `argv0` to the program instead of `argv[0]` when given
/// (a login shell's `-sh`); execvpe(3) with `env` when given (the search still uses our
/// `PATH`). Returns only on failure, with the errno.
pub fn execvp(argv: &[OsString], argv0: Option<&OsStr>, env: Option<&[OsString]>) -> Errno {
    let Some(first) = argv.first() else {
        return Errno::EINVAL;
    };
    let Ok(file) = CString::new(first.as_bytes()) else {
        return Errno::EINVAL;
    };
    let args: Result<Vec<CString>, _> = argv
        .iter()
        .enumerate()
        .map(|(i, a)| match (i, argv0) {
            (0, Some(a0)) => CString::new(a0.as_bytes()),
            _ => CString::new(a.as_bytes()),
        })
        .collect();
    let Ok(args) = args else {
        return Errno::EINVAL;
    };
    let envp: Option<Vec<CString>> = match env {
        None => None,
        Some(v) => match v.iter().map(|e| CString::new(e.as_bytes())).collect() {
            Ok(v) => Some(v),
            Err(_) => return Errno::EINVAL,
        },
    };
    if trace::enabled(1) {
        let shown: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
        match &envp {
            None => trace::line(1, format_args!("execvp({first:?}, [{}])", shown.join(", "))),
            Some(e) => {
                let env: Vec<String> = e.iter().map(|a| format!("{a:?}")).collect();
                trace::line(
                    1,
                    format_args!(
                        "execvpe({first:?}, [{}], [{}])",
                        shown.join(", "),
                        env.join(", ")
                    ),
                );
            }
        }
    }
    let r = match &envp {
        None => nix::unistd::execvp(&file, &args),
        Some(e) => nix::unistd::execvpe(&file, &args, e),
    };
    let err = match r {
        Err(e) => e,
        Ok(never) => match never {},
    };
    trace::line(1, format_args!("execvp = -1 {err:?} ({})", err.desc()));
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_named_as_strace_does() {
        assert_eq!(oflags(OFlag::empty()), "O_RDONLY");
        assert_eq!(oflags(OFlag::O_PATH | OFlag::O_CLOEXEC), "O_CLOEXEC|O_PATH");
    }

    #[test]
    fn this_test_process_has_threads_so_fork_is_refused() {
        // The test harness runs tests on threads: a fork here must be refused, which is
        // exactly the precondition the tools rely on.
        if threads().is_some_and(|n| n > 1) {
            assert_eq!(fork().err(), Some(Errno::EDEADLK));
        }
    }

    #[test]
    fn pipe_ends_report_their_writers() {
        let (r, w) = pipe(true).unwrap();
        assert!(!writers_gone(r.as_fd()));
        write_all(w.as_fd(), b"ab").unwrap();
        drop(w);
        let mut buf = [0u8; 4];
        assert_eq!(read_full(r.as_fd(), &mut buf), Ok(2));
        assert!(writers_gone(r.as_fd()));
    }

    use std::os::fd::AsFd;
}
