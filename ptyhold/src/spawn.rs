//! Starting the command on the ptys.
//!
//! The convention the container manager and chroot-rs rely on:
//!
//! - fds 0, 1 and 2: the console's slave; the command leads a new session (setsid) with
//!   the console as its controlling terminal (TIOCSCTTY), or none with `--no-ctty` (a
//!   container's init: a terminal is the controlling one of one session at most, and
//!   the getty inside must be able to take the console);
//! - fd 2+N: tty N's slave (fd 3 is tty 1), not close-on-exec; with `--receive-ttys`,
//!   fd 3 is instead the socket the command sends its ttys' masters over;
//! - `PTYHOLD_TTYS=N` in its environment, nothing else added;
//! - no other descriptor of ptyhold's (every other one is close-on-exec), but those
//!   `--pass-fd` names, unchanged;
//! - the signal mask ptyhold was started with; SIGPIPE at its default (Rust ignores it),
//!   and with `-d` the stop and quit signals the holder ignores.
//!
//! The child moves every descriptor it needs above fd 2+N first, so that placing the
//! slaves cannot close one of them, then reports a failed step (and its errno) through a
//! close-on-exec pipe; the parent sees the end of the pipe when the exec succeeded. With
//! `-d`, the caller's pipe gets the same report and the same end, so the caller learns
//! the outcome from the command itself, without waiting for the holder to wake up.
//! After the fork the child runs no allocation: its argv and environment are built
//! before (ptyhold has one thread, so the child could; it need not).

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use common::trace;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::{ForkResult, Pid};

use crate::error::Error;
use crate::sys;

/// The environment variable that tells the command how many ttys it has.
pub const TTYS_VAR: &str = "PTYHOLD_TTYS";

/// The steps of the child, as reported through the pipe.
const STEPS: [&str; 6] = [
    "cannot move its descriptors",
    "cannot restore the signal mask",
    "cannot start a new session with the console",
    "cannot place the ttys on fds 3 and up",
    "cannot close the other descriptors",
    "cannot place the console on fds 0 to 2",
];
const EXEC: u8 = u8::MAX;

/// The environment of the command: ours, with `PTYHOLD_TTYS=N` (replacing one inherited).
fn environment(ttys: usize) -> Vec<Vec<u8>> {
    let mut env: Vec<Vec<u8>> = std::env::vars_os()
        .filter(|(k, _)| k != TTYS_VAR)
        .map(|(k, v)| {
            let mut e = k.as_bytes().to_vec();
            e.push(b'=');
            e.extend(v.as_bytes());
            e
        })
        .collect();
    env.push(format!("{TTYS_VAR}={ttys}").into_bytes());
    env
}

/// The descriptors the command gets.
#[derive(Debug, Clone, Copy)]
pub struct Fds<'a> {
    /// The console's slave: fds 0, 1, 2.
    pub console: BorrowedFd<'a>,
    /// Placed on fds 3, 4, …
    pub ttys: &'a [BorrowedFd<'a>],
    /// The N of `PTYHOLD_TTYS`.
    pub announced: usize,
    /// Inherited descriptors passed on as they are (above the ttys').
    pub pass: &'a [RawFd],
    /// Make the console the controlling terminal of the command's session.
    pub controlling: bool,
}

/// A command forked and on its way to exec.
#[derive(Debug)]
pub struct Forked {
    pid: Pid,
    status: OwnedFd,
    args: sys::ExecArgs,
    command: OsString,
}

/// Fork `command` on `console` and `ttys` (slaves); `mask` is the signal mask to give
/// it, `defaults` the signals to put back to their default action (SIGPIPE always).
/// `also_tell`, when given, is a pipe that gets the child's failure report too and
/// closes when the exec succeeds (`-d`'s waiting caller). [`Forked::wait_exec`] learns
/// the outcome.
pub fn fork(
    command: &[OsString],
    fds: Fds<'_>,
    mask: &SigSet,
    defaults: &[Signal],
    also_tell: Option<BorrowedFd<'_>>,
) -> Result<Forked, Error> {
    let Some(args) = sys::ExecArgs::new(
        command.iter().map(OsString::as_os_str),
        environment(fds.announced),
    ) else {
        return Err(Error::Exec {
            command: command.first().cloned().unwrap_or_default(),
            source: Errno::EINVAL,
        });
    };
    let process = |what| {
        move |e: Errno| Error::Process {
            what,
            source: e.into(),
        }
    };
    let (status_r, status_w) = sys::pipe().map_err(process("cannot create a pipe"))?;
    match sys::fork().map_err(process("cannot fork"))? {
        ForkResult::Child => {
            drop(status_r);
            // Returns only after a failed step, reported on the pipes.
            child(&args, fds, status_w.as_fd(), also_tell, mask, defaults);
            sys::exit_child(common::exit::CANNOT_INVOKE)
        }
        ForkResult::Parent { child } => Ok(Forked {
            pid: child,
            status: status_r,
            args,
            command: command[0].clone(),
        }),
    }
}

impl Forked {
    /// The command's PID.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Wait for the exec: the PID once it succeeded; the error (the child reaped) when a
    /// step failed.
    pub fn wait_exec(self) -> Result<Pid, Error> {
        let Forked {
            pid: child,
            status,
            args,
            command,
        } = self;
        let mut report = [0u8; 5];
        let mut got = 0;
        while got < report.len() {
            match sys::read(status.as_fd(), &mut report[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        if got < report.len() {
            trace::line(
                1,
                format_args!("[pid {child}] execvpe({}) = 0", args.shown()),
            );
            return Ok(child);
        }
        // The child failed and exits: reap it now.
        let _ = sys::waitpid(child, None);
        let errno = Errno::from_raw(i32::from_le_bytes([
            report[1], report[2], report[3], report[4],
        ]));
        if report[0] == EXEC {
            trace::line(
                1,
                format_args!(
                    "[pid {child}] execvpe({}) = -1 {errno:?} ({})",
                    args.shown(),
                    errno.desc()
                ),
            );
            return Err(Error::Exec {
                command,
                source: errno,
            });
        }
        Err(Error::Start {
            what: STEPS
                .get(usize::from(report[0]))
                .copied()
                .unwrap_or("unknown step"),
            source: errno,
        })
    }
}

/// In the child: place the descriptors and exec. Returns only on failure, after writing
/// the step and errno to the status pipe.
fn child(
    args: &sys::ExecArgs,
    fds: Fds<'_>,
    status: BorrowedFd<'_>,
    also_tell: Option<BorrowedFd<'_>>,
    mask: &SigSet,
    defaults: &[Signal],
) {
    let Fds {
        console,
        ttys,
        pass,
        controlling,
        ..
    } = fds;
    let first_free = RawFd::try_from(3 + ttys.len()).unwrap_or(RawFd::MAX);
    // 0: every descriptor we need goes above the numbers the command gets.
    let also_tell = also_tell.and_then(|fd| sys::dup_above(fd, first_free).ok());
    let fail = |status: BorrowedFd<'_>, step: u8, errno: Errno| {
        let mut report = [step, 0, 0, 0, 0];
        report[1..].copy_from_slice(&(errno as i32).to_le_bytes());
        let _ = sys::write_all(status, &report);
        if let Some(fd) = also_tell.as_ref() {
            let _ = sys::write_all(fd.as_fd(), &report);
        }
    };
    let status = match sys::dup_above(status, first_free) {
        Ok(s) => s,
        Err(e) => return fail(status, 0, e),
    };
    let console = match sys::dup_above(console, first_free) {
        Ok(c) => c,
        Err(e) => return fail(status.as_fd(), 0, e),
    };
    let mut moved = Vec::with_capacity(ttys.len());
    for tty in ttys {
        match sys::dup_above(*tty, first_free) {
            Ok(t) => moved.push(t),
            Err(e) => return fail(status.as_fd(), 0, e),
        }
    }
    // 1: the caller's signal mask, SIGPIPE and `defaults` at their default actions (an
    // ignored signal stays ignored across exec).
    if let Err(e) = sys::sigprocmask(SigmaskHow::SIG_SETMASK, mask).and_then(|_| {
        std::iter::once(&Signal::SIGPIPE)
            .chain(defaults)
            .try_for_each(|&sig| sys::default_action(sig))
    }) {
        return fail(status.as_fd(), 1, e);
    }
    // 2: a new session, with the console as its controlling terminal unless not asked.
    let session = if controlling {
        common::pty::make_controlling(console.as_fd()).map_err(|e| errno_of(&e))
    } else {
        sys::setsid().map(drop)
    };
    if let Err(e) = session {
        return fail(status.as_fd(), 2, e);
    }
    // 3: tty N on fd 2+N (dup2 clears close-on-exec on the copy).
    for (i, tty) in moved.iter().enumerate() {
        let target = RawFd::try_from(3 + i).unwrap_or(RawFd::MAX);
        if let Err(e) = sys::dup2(tty.as_fd(), target, true) {
            return fail(status.as_fd(), 3, e);
        }
    }
    // 4: everything from first_free up is close-on-exec (the moved copies already are).
    if let Err(e) = sys::cloexec_from(u32::try_from(first_free).unwrap_or(u32::MAX)) {
        return fail(status.as_fd(), 4, e);
    }
    // ...but those passed on (checked open, and above the ttys', before the fork).
    for &fd in pass {
        if let Err(e) = sys::keep_on_exec(fd) {
            return fail(status.as_fd(), 4, e);
        }
    }
    // 5: the console on 0, 1 and 2. From the dup2 onto 2 on, stderr is the console: the
    // parent traces the exec's outcome.
    for fd in 0..3 {
        if let Err(e) = sys::dup2(console.as_fd(), fd, fd < 2) {
            return fail(status.as_fd(), 5, e);
        }
    }
    let e = sys::execvpe(args);
    fail(status.as_fd(), EXEC, e);
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_gets_ptyhold_ttys_once() {
        let env = environment(3);
        let ours: Vec<&Vec<u8>> = env
            .iter()
            .filter(|e| e.starts_with(b"PTYHOLD_TTYS="))
            .collect();
        assert_eq!(ours, [&b"PTYHOLD_TTYS=3".to_vec()]);
    }
}
