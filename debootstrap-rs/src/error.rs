//! debootstrap-rs's errors: each variant says what was being done; the cause is its
//! `source`, and `common::exit::report` joins them into one line.

use std::io;
use std::path::PathBuf;

use common::exit;

pub use common::cli::quote;

/// Everything that can stop debootstrap-rs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line error (exit 2).
    #[error("{0}")]
    Usage(String),

    /// No MIRROR argument and none in the host's apt sources.
    #[error(
        "no MIRROR given and the host's apt sources name no mirror for '{0}': give MIRROR (e.g. http://<mirror>/debian)"
    )]
    NoMirror(String),

    /// TARGET exists and has something in it.
    #[error("target {} exists and is not empty (use --force to build into it anyway)", quote(.0))]
    TargetNotEmpty(PathBuf),

    /// A download failed.
    #[error("cannot fetch {}", quote(.url))]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: FetchError,
    },

    /// The keyring could not be read or holds no usable key.
    #[error("keyring {}", quote(.path))]
    Keyring {
        /// The keyring file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The InRelease signature did not verify.
    #[error("{suite}: InRelease from {}: {why}", quote(.url))]
    Signature {
        /// The suite.
        suite: String,
        /// Where it came from.
        url: String,
        /// What is wrong.
        why: String,
    },

    /// The Release file is not the one asked for, or expired.
    #[error("{suite}: Release file from {}", quote(.url))]
    Release {
        /// The suite.
        suite: String,
        /// Where it came from.
        url: String,
        /// Why.
        #[source]
        source: crate::release::ReleaseError,
    },

    /// A file does not match what the signed chain says.
    #[error("{what}: {why}, expected by {by}")]
    Mismatch {
        /// The file (URL or name).
        what: String,
        /// `SHA256 mismatch`, `size 12 instead of 13`.
        why: String,
        /// Which link of the chain promised it ("the signed Release of bookworm").
        by: String,
    },

    /// The Release file does not list a Packages index for a component.
    #[error("{suite}: the Release file lists no Packages index for {component}/binary-{arch}")]
    NoIndex {
        /// The suite.
        suite: String,
        /// The component.
        component: String,
        /// The architecture.
        arch: String,
    },

    /// A Packages index is malformed.
    #[error("{what}")]
    Index {
        /// Which index.
        what: String,
        /// Why.
        #[source]
        source: crate::index::IndexError,
    },

    /// A package asked for is missing.
    #[error("cannot resolve the package set")]
    Resolve(#[source] crate::resolve::NotFound),

    /// A .deb is malformed or unsafe.
    #[error("package {}: {why}", quote(.package))]
    Deb {
        /// The package.
        package: String,
        /// What is wrong.
        why: String,
    },

    /// A file-system operation failed.
    #[error("{context}")]
    Io {
        /// What was being done, with the path quoted.
        context: String,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A command run for the target failed.
    #[error("{what} failed{}", status.map_or(String::new(), |s| format!(" with status {s}")))]
    Command {
        /// The command and where it ran.
        what: String,
        /// Its exit status (None: killed or not started).
        status: Option<i32>,
    },

    /// A step of the second stage failed.
    #[error("second stage: {what}{}", log.as_ref().map_or(String::new(), |l| format!(" (see {})", quote(l))))]
    SecondStage {
        /// What failed, with its cause.
        what: String,
        /// The log of the steps' output.
        log: Option<PathBuf>,
    },

    /// The state a second stage needs is missing or unreadable.
    #[error("{} holds no first stage of debootstrap-rs (run with --foreign first)", quote(.0))]
    NoFirstStage(PathBuf),

    /// `--image-size` cannot hold the chosen packages (exit 2, found once the package
    /// set is known, before anything is downloaded).
    #[error("{0}")]
    ImageTooSmall(String),

    /// SIGINT, SIGTERM or SIGHUP.
    #[error("interrupted by {}", crate::signals::which().as_str())]
    Interrupted,
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// HTTP status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// Connection, TLS, protocol.
    #[error("{0}")]
    Transport(String),
    /// Reading the body or writing it failed (the report shows the cause).
    #[error("")]
    Io(#[source] io::Error),
    /// The body was shorter or longer than promised.
    #[error("truncated: {got} of {want} bytes")]
    Truncated {
        /// Bytes received.
        got: u64,
        /// Bytes expected.
        want: u64,
    },
    /// Only http, https and file URLs are supported.
    #[error("unsupported URL scheme")]
    Scheme,
}

impl Error {
    /// The exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::ImageTooSmall(_) => exit::USAGE,
            Error::Interrupted => 128 + crate::signals::which() as i32,
            _ => exit::FAILURE,
        }
    }

    /// An I/O error with its context.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl common::cli::Failure for Error {
    fn exit_code(&self) -> i32 {
        Error::exit_code(self)
    }

    fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let e = Error::Fetch {
            url: "http://m/dists/x/InRelease".into(),
            source: FetchError::Status(404),
        };
        assert_eq!(
            exit::message(&e),
            "cannot fetch 'http://m/dists/x/InRelease': HTTP status 404"
        );
        let e = Error::io(
            "cannot create '/t/etc'",
            io::Error::from_raw_os_error(libc::ENOSPC),
        );
        assert_eq!(
            exit::message(&e),
            "cannot create '/t/etc': No space left on device"
        );
        assert_eq!(e.exit_code(), 1);
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(
            Error::Interrupted.exit_code(),
            130,
            "no signal recorded: SIGINT"
        );
        let e = Error::Command {
            what: "dpkg --configure in '/t'".into(),
            status: Some(1),
        };
        assert_eq!(
            e.to_string(),
            "dpkg --configure in '/t' failed with status 1"
        );
    }
}
