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
//! Waiting, forwarding and the report of a signal death follow `common::supervise`, the
//! same rules as nsenter-rs and unshare-rs. The signals stay blocked in the init from the
//! first fork on, so one that arrives during set-up is delivered to the command, not
//! lost; only the command gets the caller's mask back. The init dies with the outer
//! process (PDEATHSIG, checked after the prctl so an early death is not missed); when
//! the init ends, the kernel ends every process of the namespace.

use std::os::fd::{AsFd, AsRawFd, RawFd};

use common::supervise::{Blocked, Ended, InitReport};
use common::sys;
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::ForkResult;

use crate::error::Error;

/// Which side of a fork this process is on.
#[derive(Debug)]
pub enum Role {
    /// The waiting side: the child (for the init: the command) has ended so.
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
    blocked: Blocked,
    report: InitReport,
}

impl Supervisor {
    /// Block the forwarded signals and SIGCHLD (before any fork, so that none arrives
    /// between a fork and the wait).
    pub fn block() -> Result<Self, Error> {
        let blocked = Blocked::block().map_err(process_err("cannot block signals"))?;
        let report = InitReport::new().map_err(process_err("cannot create a pipe"))?;
        Ok(Self { blocked, report })
    }

    /// The outer fork: the child becomes the init of the new PID namespace (signals
    /// still blocked) and dies with the parent; the parent waits for it and learns how
    /// the command ended.
    pub fn fork_init(&mut self) -> Result<Role, Error> {
        let (alive_r, alive_w) = sys::pipe(true).map_err(process_err("cannot create a pipe"))?;
        match sys::fork().map_err(process_err("cannot fork"))? {
            ForkResult::Parent { child } => {
                drop(alive_r);
                self.report.outside();
                let ended = self.blocked.wait_forwarding(child);
                let ended = self.report.receive(ended);
                // Our end of `alive` stays open until here: the init watches it.
                drop(alive_w);
                Ok(Role::Parent(ended))
            }
            ForkResult::Child => {
                drop(alive_w);
                self.report.inside();
                sys::set_pdeathsig(Signal::SIGKILL)
                    .map_err(process_err("cannot set the parent-death signal"))?;
                // If the parent died before the prctl, the pipe is already at EOF.
                if sys::writers_gone(alive_r.as_fd()) {
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
    /// (above 2) but `also_keep` (the `--ready-fd`, for the command's side), so that
    /// `/proc/1/fd` leads nowhere outside the new root.
    pub fn close_inherited(&self, also_keep: Option<RawFd>) -> Result<(), Error> {
        let keep: Vec<RawFd> = self
            .report
            .write_fd()
            .map(|fd| fd.as_raw_fd())
            .into_iter()
            .chain(also_keep)
            .collect();
        crate::sys::close_all_from_3_except(&keep)
            .map_err(process_err("cannot close inherited file descriptors"))
    }

    /// The init's fork of the command: the child gets the caller's signal mask back;
    /// the init reaps, forwarding signals, until the command ends, and reports a signal
    /// death to the outer process. The init's `Parent` carries the code it exits with.
    pub fn fork_command(&mut self) -> Result<Role, Error> {
        match sys::fork().map_err(process_err("cannot fork"))? {
            ForkResult::Parent { child } => {
                let ended = self.blocked.reap_as_init(child);
                Ok(Role::Parent(Ended::Exited(self.report.send(ended))))
            }
            ForkResult::Child => {
                self.report.close();
                self.blocked
                    .restore()
                    .map_err(process_err("cannot restore the signal mask"))?;
                Ok(Role::Child)
            }
        }
    }
}
