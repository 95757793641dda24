//! `-d`: hold in the background, and return only once the outcome of the start is known.
//!
//! ptyhold forks first. The child (the holder) does the whole set-up with the caller's
//! standard error still open, so a failure is reported there by the holder itself, as one
//! line, and it exits with its code (125, 126, 127). The caller waits on a pipe whose
//! write end the holder and then the command hold:
//!
//! - the holder writes `F` once it has forked the command and written the pidfile, and
//!   closes its end;
//! - the command's copy is close-on-exec: it closes when the exec succeeds; a failed
//!   step writes its 5-byte report there first.
//!
//! So the caller sees the end of the pipe right after the command's exec, without
//! waiting for the holder to be scheduled again (on a loaded machine every hand-over
//! between processes can cost a time slice). Exactly `F` then the end: success, exit 0.
//! Anything else (nothing: the set-up failed; `F` and a report: the exec failed): the
//! caller waits for the holder, which has reported the error, removed its socket and
//! pidfile and exited, and exits with its status. A failed start is therefore never
//! reported as a success, and leaves nothing behind. The holder ignores the terminal's
//! stop and quit keys from the fork on, leads a new session (no controlling terminal)
//! once the command is forked, and once it runs moves its standard streams to /dev/null
//! and changes to `/`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::ForkResult;

use crate::error::Error;
use crate::sys;

/// Which side of the fork this process is on.
#[derive(Debug)]
pub enum Role {
    /// The caller's side: exit with this status.
    Parent(i32),
    /// The holder: set up, then call [`Notifier::started`].
    Child(Notifier),
}

/// The holder's end of the pipe to the waiting parent.
#[derive(Debug)]
pub struct Notifier(Option<OwnedFd>);

fn process(what: &'static str) -> impl FnOnce(Errno) -> Error {
    move |e| Error::Process {
        what,
        source: e.into(),
    }
}

/// The terminal's stop and quit signals, ignored by the holder from the fork on.
pub const IGNORED: [Signal; 4] = [
    Signal::SIGQUIT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

/// Fork; the parent waits for the child's word.
pub fn detach() -> Result<Role, Error> {
    let (r, w) = sys::pipe().map_err(process("cannot create a pipe"))?;
    match sys::fork().map_err(process("cannot fork"))? {
        ForkResult::Parent { child } => {
            drop(w);
            // Up to the end of the pipe: `F` alone is success.
            let mut got = [0u8; 16];
            let mut len = 0;
            loop {
                match sys::read(r.as_fd(), &mut got[len.min(15)..]) {
                    Ok(0) => break,
                    Ok(n) => len += n,
                    Err(Errno::EINTR) => {}
                    Err(_) => break,
                }
            }
            if len == 1 && got[0] == b'F' {
                return Ok(Role::Parent(common::exit::SUCCESS));
            }
            // The holder failed (and said why on our shared standard error).
            let status =
                sys::waitpid(child, None).map_err(process("cannot wait for the holder"))?;
            Ok(Role::Parent(
                common::exit::from_wait(status).unwrap_or(common::exit::CANCELED),
            ))
        }
        ForkResult::Child => {
            drop(r);
            // Until the holder leads its own session (see `forked`), the caller's
            // terminal may stop it or make it dump core: those keys are ignored for good
            // (the command gets them back at their defaults). SIGINT, SIGTERM and SIGHUP
            // are blocked next and passed on to the command, as ever.
            for sig in IGNORED {
                sys::ignore(sig).map_err(process("cannot ignore a signal"))?;
            }
            Ok(Role::Child(Notifier(Some(w))))
        }
    }
}

impl Notifier {
    /// The pipe, for the command to inherit (close-on-exec) until it has forked.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.0.as_ref().map(AsFd::as_fd)
    }

    /// The command is forked and the pidfile written: `F`, our end closes, and the
    /// holder leads a new session (no controlling terminal).
    ///
    /// setsid(2) waits until here because it moves the process into a new scheduler
    /// autogroup, and on a loaded machine the move costs a turn of the scheduler (2 to 4
    /// ms measured on 2 busy CPUs): now it happens while the command starts (which makes
    /// the same move), not before, and the caller no longer waits for it.
    pub fn forked(&mut self) -> Result<(), Error> {
        let Some(w) = self.0.take() else {
            return Ok(());
        };
        sys::write_all(w.as_fd(), b"F").map_err(|source| Error::Process {
            what: "cannot tell the caller",
            source,
        })?;
        drop(w);
        sys::setsid()
            .map(drop)
            .map_err(process("cannot start a new session"))
    }

    /// The command runs: standard streams to /dev/null, `/` as the working directory.
    pub fn started(self) -> Result<(), Error> {
        let null = sys::open_devnull().map_err(process("cannot open /dev/null"))?;
        for fd in 0..3 {
            sys::dup2(null.as_fd(), fd, true).map_err(process("cannot redirect to /dev/null"))?;
        }
        sys::chdir(Path::new("/")).map_err(process("cannot change to '/'"))
    }
}
