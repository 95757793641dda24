//! ptyhold's errors: each variant says what was being done; the cause is its `source`,
//! and `common::exit::report` joins them into one line (`ptyhold: context: cause`).

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use common::exit;
use nix::errno::Errno;

pub use common::cli::quote;

/// Everything that can stop ptyhold.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line error; main adds "Try 'ptyhold --help'".
    #[error("{0}")]
    Usage(String),

    /// Opening a pseudo-terminal pair failed.
    #[error("cannot open a pseudo-terminal")]
    Pty(#[source] io::Error),

    /// `--owner`: chown or chmod of a slave failed.
    #[error("cannot give {} to {uid}:{gid}", quote(.pts))]
    Owner {
        /// The slave, `/dev/pts/N`.
        pts: PathBuf,
        /// The owner asked for.
        uid: u32,
        /// The group asked for.
        gid: u32,
        /// Why.
        #[source]
        source: Errno,
    },

    /// The socket could not be made ready.
    #[error("cannot listen on {}", quote(.path))]
    Listen {
        /// `--socket`.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// Something already answers on the socket's path.
    #[error("{} is in use: something listens on it", quote(.0))]
    SocketInUse(PathBuf),

    /// The socket's path is taken by something that is not a socket.
    #[error("{} exists and is not a socket", quote(.0))]
    NotASocket(PathBuf),

    /// The log could not be opened or rotated.
    #[error("cannot open log {}", quote(.path))]
    Log {
        /// `--log`.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The pidfile could not be written.
    #[error("cannot write pidfile {}", quote(.path))]
    Pidfile {
        /// `--pidfile`.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// execvp(3) of the command failed: 126 or 127.
    #[error("failed to run command {}", quote(.command))]
    Exec {
        /// `argv[0]`.
        command: OsString,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A step of the command's start before its exec failed (in the child).
    #[error("cannot start the command: {what}")]
    Start {
        /// The step.
        what: &'static str,
        /// Why.
        #[source]
        source: Errno,
    },

    /// `--pass-fd FD`: FD is not open.
    #[error("--pass-fd {fd}: not an open descriptor")]
    PassFd {
        /// The descriptor.
        fd: i32,
        /// Why.
        #[source]
        source: Errno,
    },

    /// `--status-fd FD`: FD is not open.
    #[error("--status-fd {fd}: not an open descriptor")]
    StatusFd {
        /// The descriptor.
        fd: i32,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A process or descriptor call of the holder itself failed.
    #[error("{what}")]
    Process {
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The local terminal could not be set up or read.
    #[error("cannot use the terminal")]
    Terminal(#[source] io::Error),

    /// `attach`/`list`: the holder's socket did not answer.
    #[error("cannot connect to {}", quote(.path))]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// `attach`: another client has the tty.
    #[error("tty {0} is busy: another client is attached (--force takes it over)")]
    Busy(u16),

    /// `attach -t N` with N beyond the held ttys.
    #[error("tty {tty} does not exist: {} holds {}", quote(.path), held(*.ttys))]
    NoSuchTty {
        /// The socket.
        path: PathBuf,
        /// The tty asked for.
        tty: u16,
        /// How many ttys the holder has besides the console.
        ttys: u16,
    },

    /// The other side spoke something else than the protocol.
    #[error("{}: {what}", quote(.path))]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },

    /// A relay between the terminal and the holder failed.
    #[error("{what}")]
    Relay {
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
}

fn held(ttys: u16) -> String {
    match ttys {
        0 => "the console only (tty 0)".to_owned(),
        1 => "the console (tty 0) and tty 1".to_owned(),
        n => format!("the console (tty 0) and ttys 1 to {n}"),
    }
}

impl Error {
    /// The exit status of the holder (`ptyhold … -- COMMAND`), a chain-loader: 126/127
    /// when the command could not be run, 125 for every failure of ptyhold itself.
    pub fn hold_code(&self) -> i32 {
        match self {
            Error::Exec { source, .. } => exit::exec_failure(*source),
            _ => exit::CANCELED,
        }
    }

    /// The exit status of `attach` and `list`: 2 for usage errors, 1 otherwise.
    pub fn client_code(&self) -> i32 {
        match self {
            Error::Usage(_) => exit::USAGE,
            _ => exit::FAILURE,
        }
    }

    /// True when main should add "Try 'ptyhold --help' for more information.".
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }
}

/// A failed run as `main` ends it: the holder is a chain-loader (125/126/127), the
/// clients (`attach`, `list`) are not (1, 2).
#[derive(Debug)]
pub struct Failed {
    /// What went wrong.
    pub error: Error,
    /// The run was `attach` or `list`.
    pub client: bool,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

impl common::cli::Failure for Failed {
    fn exit_code(&self) -> i32 {
        if self.client {
            self.error.client_code()
        } else {
            self.error.hold_code()
        }
    }

    fn is_usage(&self) -> bool {
        self.error.is_usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_codes() {
        let e = Error::Exec {
            command: "nope".into(),
            source: Errno::ENOENT,
        };
        assert_eq!(
            exit::message(&e),
            "failed to run command 'nope': No such file or directory"
        );
        assert_eq!(e.hold_code(), 127);
        let e = Error::Exec {
            command: "x".into(),
            source: Errno::EACCES,
        };
        assert_eq!(e.hold_code(), 126);
        assert_eq!(Error::Busy(1).hold_code(), 125);
        assert_eq!(Error::Busy(1).client_code(), 1);
        assert_eq!(Error::Usage("x".into()).client_code(), 2);
        assert_eq!(
            Error::Busy(0).to_string(),
            "tty 0 is busy: another client is attached (--force takes it over)"
        );
        let e = Error::NoSuchTty {
            path: "/run/c.sock".into(),
            tty: 3,
            ttys: 2,
        };
        assert_eq!(
            e.to_string(),
            "tty 3 does not exist: '/run/c.sock' holds the console (tty 0) and ttys 1 to 2"
        );
        let e = Error::Listen {
            path: "/run/c.sock".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(
            exit::message(&e),
            "cannot listen on '/run/c.sock': Permission denied"
        );
    }
}
