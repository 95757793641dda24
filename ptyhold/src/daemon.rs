//! `-d`: hold in the background, and return only once the outcome of the start is known.
//!
//! ptyhold forks first. The child leads a new session (no controlling terminal) and does
//! the whole set-up with the caller's standard error still open, so a failure is reported
//! there by the child itself, as one line, and the child exits with its code (125, 126,
//! 127). Once the command runs (and the pidfile is written), the child moves its standard
//! streams to /dev/null, changes to `/`, and writes one byte on a pipe. The parent waits
//! on that pipe: the byte means success (exit 0); the end of the pipe without it means
//! the child failed, and the parent exits with the child's status. A failed start is
//! therefore never reported as a success, and leaves nothing behind: the child removed
//! its socket and pidfile before it exited.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
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
pub struct Notifier(OwnedFd);

fn process(what: &'static str) -> impl FnOnce(Errno) -> Error {
    move |e| Error::Process {
        what,
        source: e.into(),
    }
}

/// Fork; the parent waits for the child's word.
pub fn detach() -> Result<Role, Error> {
    let (r, w) = sys::pipe().map_err(process("cannot create a pipe"))?;
    match sys::fork().map_err(process("cannot fork"))? {
        ForkResult::Parent { child } => {
            drop(w);
            let mut byte = [0u8; 1];
            loop {
                match sys::read(r.as_fd(), &mut byte) {
                    Ok(1) => return Ok(Role::Parent(common::exit::SUCCESS)),
                    Err(Errno::EINTR) => {}
                    _ => break,
                }
            }
            // The child failed (and said why on our shared standard error).
            let status =
                sys::waitpid(child, None).map_err(process("cannot wait for the holder"))?;
            Ok(Role::Parent(
                common::exit::from_wait(status).unwrap_or(common::exit::CANCELED),
            ))
        }
        ForkResult::Child => {
            drop(r);
            sys::setsid().map_err(process("cannot start a new session"))?;
            Ok(Role::Child(Notifier(w)))
        }
    }
}

impl Notifier {
    /// The command runs: standard streams to /dev/null, `/` as the working directory,
    /// then the word to the parent.
    pub fn started(self) -> Result<(), Error> {
        let null = sys::open_devnull().map_err(process("cannot open /dev/null"))?;
        for fd in 0..3 {
            sys::dup2(null.as_fd(), fd, true).map_err(process("cannot redirect to /dev/null"))?;
        }
        sys::chdir(Path::new("/")).map_err(process("cannot change to '/'"))?;
        sys::write_all(self.0.as_fd(), b"1").map_err(|source| Error::Process {
            what: "cannot tell the caller",
            source,
        })
    }
}
