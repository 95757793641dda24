//! Processes for `--pivot` with `/proc` when chroot-rs is not PID 1 of its PID namespace.
//!
//! A proc mounted in the caller's PID namespace would show the host's PID 1, and
//! `/proc/1/root` leads back to the host's root: an escape. So chroot-rs then adds a PID
//! namespace, like `unshare --fork --pid` + an init (bwrap does the same):
//!
//! ```text
//! chroot-rs (outside: waits, forwards signals, exits with the command's status)
//!  └─ chroot-rs, PID 1 inside (mounts, pivots, reaps, forwards signals)
//!      └─ COMMAND, PID 2
//! ```
//!
//! PID 1 ignores signals it has no handler for, so the command is not PID 1: the init
//! forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it, and `kill -TERM`
//! on the outer process ends the command as it would end a plain one. When the command
//! exits, the init exits with its status (128+N for signal N) and the kernel ends every
//! other process of the namespace. The init dies with the outer process (PDEATHSIG,
//! checked after the prctl so that an early death is not missed).
//!
//! chroot-rs never starts threads, so after fork both processes run ordinary code.

use std::os::fd::OwnedFd;

use common::exit;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use crate::error::Error;
use crate::sys;

/// Signals the waiting process passes on to its child.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Which side of a fork this process is on.
#[derive(Debug)]
pub enum Role {
    /// The waiting side: the child has ended; exit with this status.
    Exit(i32),
    /// The child: carry on.
    Continue,
}

fn process_err(what: &'static str) -> impl FnOnce(Errno) -> Error {
    move |source| Error::Process { what, source }
}

/// Fork. The parent waits for the child, forwarding signals, and returns
/// [`Role::Exit`]; the child returns [`Role::Continue`]. With `die_with_parent` the child
/// is killed when the parent dies.
pub fn fork_supervised(die_with_parent: bool) -> Result<Role, Error> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    // Blocked before the fork, so that no signal arrives between fork and sigwait.
    let old = sys::sigprocmask(SigmaskHow::SIG_BLOCK, &set)
        .map_err(process_err("cannot block signals"))?;
    let alive: Option<(OwnedFd, OwnedFd)> = if die_with_parent {
        Some(sys::pipe().map_err(process_err("cannot create a pipe"))?)
    } else {
        None
    };
    match sys::fork().map_err(process_err("cannot fork"))? {
        ForkResult::Parent { child } => {
            // Our write end stays open as long as we live; the child watches for EOF.
            let code = wait_forwarding(child, &set);
            drop(alive);
            Ok(Role::Exit(code))
        }
        ForkResult::Child => {
            sys::sigprocmask(SigmaskHow::SIG_SETMASK, &old)
                .map_err(process_err("cannot restore the signal mask"))?;
            if let Some((read_end, write_end)) = alive {
                drop(write_end);
                sys::die_with_parent()
                    .map_err(process_err("cannot set the parent-death signal"))?;
                // If the parent died before the prctl, the pipe is already at EOF.
                if sys::parent_gone(&read_end) {
                    return Err(Error::Process {
                        what: "the waiting chroot-rs ended before the command started",
                        source: Errno::ESRCH,
                    });
                }
            }
            Ok(Role::Continue)
        }
    }
}

/// Wait until `child` ends, passing forwarded signals to it and reaping any other
/// child (an init inherits orphans). Returns the status to exit with.
fn wait_forwarding(child: Pid, set: &SigSet) -> i32 {
    loop {
        let Ok(sig) = set.wait() else { continue };
        if sig != Signal::SIGCHLD {
            let _ = sys::kill(child, sig);
            continue;
        }
        loop {
            match sys::waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(status) => {
                    if status.pid() == Some(child)
                        && let Some(code) = exit::from_wait(status)
                    {
                        return code;
                    }
                }
                // No child left: it cannot report any more.
                Err(Errno::ECHILD) => return exit::CANCELED,
                Err(_) => break,
            }
        }
    }
}
