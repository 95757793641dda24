//! Processes for `--pivot` when chroot-rs is not PID 1 of its PID namespace.
//!
//! A PID namespace shared with the host lets a root command see the host's processes
//! (mounting proc itself if need be), and `/proc/PID/root` of any of them leads back to
//! the host's root: an escape. So `--pivot` adds a PID namespace, as `unshare --fork
//! --pid` with an init does (bwrap does the same):
//!
//! ```text
//! chroot-rs (outside: waits, forwards signals, ends as the command ended)
//!  └─ chroot-rs, PID 1 inside (mounts, pivots, closes what it inherited, reaps, forwards)
//!      └─ COMMAND
//! ```
//!
//! PID 1 ignores signals it has no handler for, so the command is not PID 1: the init
//! forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it. The signals
//! stay blocked in the init from the first fork on, so one that arrives during set-up
//! is delivered to the command, not lost; only the command gets the caller's mask back.
//! When the command dies of signal N, the init (which cannot die of a signal it sends
//! itself) passes N to the outer process through a pipe, and the outer process dies of
//! N too, so its caller sees a signal death as with a plain chroot. The init dies with
//! the outer process (PDEATHSIG, checked after the prctl so an early death is not
//! missed); when the init ends, the kernel ends every process of the namespace.
//!
//! chroot-rs never starts threads, so after fork both processes run ordinary code.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

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

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// exit(N).
    Exited(i32),
    /// Killed by a signal.
    Signaled(Signal),
}

/// Which side of a fork this process is on.
#[derive(Debug)]
pub enum Role {
    /// The waiting side: the child has ended so.
    Parent(Ended),
    /// The child: carry on.
    Child,
}

fn process_err(what: &'static str) -> impl FnOnce(Errno) -> Error {
    move |source| Error::Process { what, source }
}

/// The signal set-up shared by the outer process, the init and the command.
#[derive(Debug)]
pub struct Supervisor {
    set: SigSet,
    old: SigSet,
    /// In the init only: the write end of the pipe that tells the outer process the
    /// signal the command died of.
    status: Option<OwnedFd>,
}

impl Supervisor {
    /// Block the forwarded signals and SIGCHLD (before any fork, so that none arrives
    /// between a fork and the wait).
    pub fn block() -> Result<Self, Error> {
        let mut set = SigSet::empty();
        for s in FORWARDED {
            set.add(s);
        }
        set.add(Signal::SIGCHLD);
        let old = sys::sigprocmask(SigmaskHow::SIG_BLOCK, &set)
            .map_err(process_err("cannot block signals"))?;
        Ok(Self {
            set,
            old,
            status: None,
        })
    }

    /// The outer fork: the child becomes the init of the new PID namespace (signals
    /// still blocked) and dies with the parent; the parent waits for it.
    pub fn fork_init(&mut self) -> Result<Role, Error> {
        let (alive_r, alive_w) = sys::pipe(true).map_err(process_err("cannot create a pipe"))?;
        let (status_r, status_w) = sys::pipe(false).map_err(process_err("cannot create a pipe"))?;
        match sys::fork().map_err(process_err("cannot fork"))? {
            ForkResult::Parent { child } => {
                drop((alive_r, status_w));
                let mut ended = wait_forwarding(child, &self.set);
                // The init exits 128+N after the command died of N, and says N here.
                let mut byte = [0u8; 1];
                if let Ok(1) = std::fs::File::from(status_r).read(&mut byte)
                    && let Ok(sig) = Signal::try_from(i32::from(byte[0]))
                {
                    ended = Ended::Signaled(sig);
                }
                // Our end of `alive` stays open until here: the init watches it.
                drop(alive_w);
                Ok(Role::Parent(ended))
            }
            ForkResult::Child => {
                drop((alive_w, status_r));
                self.status = Some(status_w);
                sys::die_with_parent()
                    .map_err(process_err("cannot set the parent-death signal"))?;
                // If the parent died before the prctl, the pipe is already at EOF.
                if sys::parent_gone(&alive_r) {
                    return Err(Error::Process {
                        what: "the waiting chroot-rs ended before the command started",
                        source: Errno::ESRCH,
                    });
                }
                Ok(Role::Child)
            }
        }
    }

    /// In the init, once pivoted: close every descriptor it inherited from the caller
    /// (above 2), so that `/proc/1/fd` leads nowhere outside the new root.
    pub fn close_inherited(&self) -> Result<(), Error> {
        sys::close_all_from_3_except(self.status.as_ref().map(AsRawFd::as_raw_fd))
            .map_err(process_err("cannot close inherited file descriptors"))
    }

    /// The init's fork of the command: the child gets the caller's signal mask back;
    /// the init waits, forwarding signals and reaping orphans, and reports a signal
    /// death to the outer process.
    pub fn fork_command(&mut self) -> Result<Role, Error> {
        match sys::fork().map_err(process_err("cannot fork"))? {
            ForkResult::Parent { child } => {
                let ended = wait_forwarding(child, &self.set);
                if let (Ended::Signaled(sig), Some(status)) = (ended, self.status.take()) {
                    let _ = std::fs::File::from(status).write_all(&[sig as u8]);
                }
                Ok(Role::Parent(ended))
            }
            ForkResult::Child => {
                self.status = None;
                self.restore()?;
                Ok(Role::Child)
            }
        }
    }

    fn restore(&self) -> Result<(), Error> {
        sys::sigprocmask(SigmaskHow::SIG_SETMASK, &self.old)
            .map(drop)
            .map_err(process_err("cannot restore the signal mask"))
    }
}

/// Wait until `child` ends, passing forwarded signals to it and reaping any other child
/// (an init inherits orphans).
fn wait_forwarding(child: Pid, set: &SigSet) -> Ended {
    loop {
        let Ok(sig) = set.wait() else { continue };
        if sig != Signal::SIGCHLD {
            let _ = sys::kill(child, sig);
            continue;
        }
        loop {
            match sys::waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(WaitStatus::Exited(pid, code)) if pid == child => return Ended::Exited(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                    return Ended::Signaled(sig);
                }
                Ok(_) => {}
                // No child left: it cannot report any more.
                Err(Errno::ECHILD) => return Ended::Exited(common::exit::CANCELED),
                Err(_) => break,
            }
        }
    }
}
