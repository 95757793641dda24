//! The processes that wait for a command: chroot-rs's outer process and init with
//! `--pivot`, nsenter-rs after forking into a PID namespace, unshare-rs with `--fork`,
//! and the PID-1 reaper of `unshare-rs --init`. One set of rules for every tool:
//!
//! - A waiting process blocks the signals it handles *before* it forks (so none is lost
//!   between the fork and the wait) and takes them one by one with sigwaitinfo(2).
//! - SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to it (`kill`) are passed
//!   on to the child. The same signals from the terminal (`^C`, `si_code` SI_KERNEL)
//!   reach the child directly, as it is in the same foreground process group, so they
//!   are not sent twice.
//! - SIGCHLD: reap. A child stopped on its own (`kill -STOP`) stops the waiter too, which
//!   continues it when continued itself (util-linux's job control). An init also reaps
//!   every orphan the kernel hands it, so no zombie accumulates.
//! - When the child ends, the waiter ends the same way: with its exit code, or, when
//!   signal N killed it, by dying of N itself ([`Ended::finish`]), as GNU chroot and
//!   util-linux do, so that a parent calling waitpid(2) sees a signal death, not 128+N.
//!   A shell shows both as 128+N.
//! - The init of a PID namespace cannot die of a signal it sends itself: it exits 128+N
//!   and tells the process outside which signal it was through an [`InitReport`] pipe,
//!   and that process dies of it.

use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::{exit, sys};

/// Signals a waiting process passes on to its child.
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

impl Ended {
    /// The termination `status` describes; `None` for a stop or continue.
    pub fn from_wait(status: WaitStatus) -> Option<Ended> {
        match status {
            WaitStatus::Exited(_, code) => Some(Ended::Exited(code)),
            WaitStatus::Signaled(_, sig, _) => Some(Ended::Signaled(sig)),
            _ => None,
        }
    }

    /// The status a shell shows: the code, or 128+N.
    pub fn code(self) -> i32 {
        match self {
            Ended::Exited(code) => code,
            Ended::Signaled(sig) => exit::signal_status(sig),
        }
    }

    /// End this process as the child ended: die of its signal (returning 128+N only if
    /// that does not end us), or return its exit code for the caller to exit with.
    pub fn finish(self) -> i32 {
        if let Ended::Signaled(sig) = self {
            sys::die_of(sig);
        }
        self.code()
    }
}

/// The signal mask while waiting: [`FORWARDED`] and SIGCHLD blocked, and the mask before.
#[derive(Debug, Clone)]
pub struct Blocked {
    set: SigSet,
    old: SigSet,
}

impl Blocked {
    /// Block the forwarded signals and SIGCHLD (before forking). An inherited SIGCHLD
    /// disposition of SIG_IGN would make the kernel reap our child before we can read
    /// its status, so SIGCHLD goes back to its default first.
    pub fn block() -> nix::Result<Blocked> {
        let mut set = SigSet::empty();
        for s in FORWARDED {
            set.add(s);
        }
        set.add(Signal::SIGCHLD);
        sys::default_action(Signal::SIGCHLD)?;
        let old = sys::sigprocmask(SigmaskHow::SIG_BLOCK, &set)?;
        Ok(Blocked { set, old })
    }

    /// Restore the mask from before [`Blocked::block`] (in a child, before exec).
    pub fn restore(&self) -> nix::Result<()> {
        sys::sigprocmask(SigmaskHow::SIG_SETMASK, &self.old).map(drop)
    }

    /// Wait for `child`, forwarding signals to it, with job control; its end.
    pub fn wait_forwarding(&self, child: Pid) -> Ended {
        self.wait_loop(child, false)
    }

    /// PID 1 of a new PID namespace: forward signals to `command`, reap every process
    /// that ends, and return once the command has ended (the kernel then ends the rest
    /// when the init exits).
    pub fn reap_as_init(&self, command: Pid) -> Ended {
        self.wait_loop(command, true)
    }

    fn wait_loop(&self, child: Pid, init: bool) -> Ended {
        loop {
            let Ok((sig, code)) = sys::sigwaitinfo(&self.set) else {
                continue;
            };
            if sig != Signal::SIGCHLD {
                // A terminal's signal (SI_KERNEL) has reached the whole foreground
                // process group, the child included: sending it again would deliver it
                // twice.
                if code != libc::SI_KERNEL {
                    let _ = sys::kill(child, sig);
                }
                continue;
            }
            let flags = if init {
                WaitPidFlag::WNOHANG
            } else {
                WaitPidFlag::WNOHANG | WaitPidFlag::WUNTRACED
            };
            let target = if init { None } else { Some(child) };
            loop {
                match sys::waitpid(target, Some(flags)) {
                    Ok(WaitStatus::StillAlive) => break,
                    Ok(WaitStatus::Stopped(pid, _)) if pid == child => {
                        // Stop with it; carry it on when we are continued.
                        let _ = sys::kill(sys::getpid(), Signal::SIGSTOP);
                        let _ = sys::kill(child, Signal::SIGCONT);
                    }
                    Ok(status) => {
                        if status.pid() == Some(child)
                            && let Some(ended) = Ended::from_wait(status)
                        {
                            return ended;
                        }
                    }
                    // No child left: it cannot report any more.
                    Err(Errno::ECHILD) => return Ended::Exited(exit::CANCELED),
                    Err(_) => break,
                }
            }
        }
    }
}

/// The pipe on which the init of a PID namespace tells the process outside which signal
/// killed the command (it exits 128+N itself, being unable to die of N).
#[derive(Debug)]
pub struct InitReport {
    read: Option<OwnedFd>,
    write: Option<OwnedFd>,
}

impl InitReport {
    /// Make the pipe, before the fork of the init.
    pub fn new() -> nix::Result<InitReport> {
        let (r, w) = sys::pipe(false)?;
        Ok(InitReport {
            read: Some(r),
            write: Some(w),
        })
    }

    /// In the process outside, after the fork: keep the read end only.
    pub fn outside(&mut self) {
        self.write = None;
    }

    /// In the init, after the fork: keep the write end only.
    pub fn inside(&mut self) {
        self.read = None;
    }

    /// In the command (forked by the init): keep neither end.
    pub fn close(&mut self) {
        self.read = None;
        self.write = None;
    }

    /// The write end, for a caller that must keep it across a close of every inherited
    /// descriptor.
    pub fn write_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.write.as_ref().map(AsFd::as_fd)
    }

    /// In the init, once the command ended: say which signal killed it. Returns the
    /// code the init exits with.
    pub fn send(&mut self, ended: Ended) -> i32 {
        if let (Ended::Signaled(sig), Some(w)) = (ended, self.write.take()) {
            let _ = sys::write_all(w.as_fd(), &[sig as u8]);
        }
        ended.code()
    }

    /// Outside, once the init ended as `ended`: how the command ended (the signal the
    /// init reported, if any).
    pub fn receive(&mut self, ended: Ended) -> Ended {
        let Some(r) = self.read.take() else {
            return ended;
        };
        let mut byte = [0u8; 1];
        match sys::read_full(r.as_fd(), &mut byte) {
            Ok(1) => Signal::try_from(i32::from(byte[0])).map_or(ended, Ended::Signaled),
            _ => ended,
        }
    }
}

/// A signal by name or number, as `--kill-child=SIG` takes it: `SIGTERM`, `TERM`,
/// `term`, `15`.
pub fn parse_signal(s: &str) -> Result<Signal, String> {
    let bad = || format!("unknown signal: {s}");
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i32 = s.parse().map_err(|_| bad())?;
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    // The old names util-linux also accepts.
    let name = match name.as_str() {
        "SIGIOT" => "SIGABRT".to_owned(),
        "SIGPOLL" => "SIGIO".to_owned(),
        "SIGCLD" => "SIGCHLD".to_owned(),
        _ => name,
    };
    name.parse::<Signal>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("SIGTERM"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("TERM"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("term"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("sigkill"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("15"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("9"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("HUP"), Ok(Signal::SIGHUP));
        assert_eq!(parse_signal("USR1"), Ok(Signal::SIGUSR1));
        assert_eq!(parse_signal("IOT"), Ok(Signal::SIGABRT));
        assert_eq!(parse_signal("CLD"), Ok(Signal::SIGCHLD));
    }

    #[test]
    fn bad_signal_names() {
        for bad in [
            "",
            "0",
            "65",
            "SIG",
            "FOO",
            "SIGFOO",
            "-9",
            "15x",
            "99999999999",
        ] {
            assert_eq!(
                parse_signal(bad),
                Err(format!("unknown signal: {bad}")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn forwarded_set_is_the_documented_list() {
        let names: Vec<&str> = FORWARDED.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"
            ]
        );
    }

    #[test]
    fn ends_and_codes() {
        let pid = Pid::from_raw(5);
        assert_eq!(
            Ended::from_wait(WaitStatus::Exited(pid, 3)),
            Some(Ended::Exited(3))
        );
        assert_eq!(
            Ended::from_wait(WaitStatus::Signaled(pid, Signal::SIGTERM, false)),
            Some(Ended::Signaled(Signal::SIGTERM))
        );
        assert_eq!(Ended::from_wait(WaitStatus::StillAlive), None);
        assert_eq!(Ended::Signaled(Signal::SIGINT).code(), 130);
        assert_eq!(Ended::Exited(7).code(), 7);
        // An exit needs no signal: finish just returns the code.
        assert_eq!(Ended::Exited(4).finish(), 4);
    }

    #[test]
    fn init_report_round_trip() {
        let mut r = InitReport::new().unwrap();
        // Both ends live in this one process: send, then receive.
        assert_eq!(r.send(Ended::Signaled(Signal::SIGTERM)), 143);
        assert_eq!(
            r.receive(Ended::Exited(143)),
            Ended::Signaled(Signal::SIGTERM)
        );
        let mut r = InitReport::new().unwrap();
        assert_eq!(r.send(Ended::Exited(3)), 3);
        r.outside();
        assert_eq!(r.receive(Ended::Exited(3)), Ended::Exited(3));
    }
}
