//! netlink-tool's errors. A variant says what was being done (`link add veth0`); its
//! source says why, and `common::exit::report` joins them into one line:
//! `netlink-tool: link add veth0: File exists`.

use std::fmt;
use std::io;
use std::path::PathBuf;

use common::exit;
use nix::errno::Errno;

use crate::parse::Invalid;

/// An error the kernel returned for a netlink request: the errno, the kernel's own
/// extended-ack text when it sent one, and a hint of ours for the errnos that need one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// The errno.
    pub errno: Errno,
    /// The kernel's extended ack message ("Unknown device type"), if any.
    pub extack: Option<String>,
    /// Our explanation ("needs CAP_NET_ADMIN"), if any.
    pub hint: Option<String>,
}

impl KernelError {
    /// An error with no kernel text and no hint.
    pub fn new(errno: Errno) -> Self {
        let hint = match errno {
            Errno::EPERM => Some("needs CAP_NET_ADMIN".to_owned()),
            _ => None,
        };
        KernelError {
            errno,
            extack: None,
            hint,
        }
    }

    /// Replace the hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The kernel's own text says more than the errno when it sent one.
        match &self.extack {
            Some(x) if !x.is_empty() => f.write_str(x)?,
            _ => f.write_str(self.errno.desc())?,
        }
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for KernelError {}

impl common::trace::AsErrno for KernelError {
    fn errno(&self) -> Option<Errno> {
        Some(self.errno)
    }
}

/// Everything that can stop netlink-tool.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or a batch line does not parse; main adds "Try --help".
    #[error("{0}")]
    Usage(String),

    /// A value that fails its check (name, CIDR, MAC…), refused before anything is sent.
    #[error(transparent)]
    Invalid(#[from] Invalid),

    /// A namespace that cannot be found or is not a network namespace.
    #[error("network namespace '{}' {why}", crate::parse::shown(spec))]
    UnknownNetns {
        /// As given (PID, path or name).
        spec: String,
        /// "does not exist (no /run/netns/x)", "is not a network namespace".
        why: String,
    },

    /// A netlink request failed in the kernel.
    #[error("{context}")]
    Kernel {
        /// What was being done: `link add veth0`.
        context: String,
        /// The kernel's answer.
        #[source]
        source: KernelError,
    },

    /// A system call failed.
    #[error("{context}")]
    Sys {
        /// What was being done.
        context: String,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A file (batch input, /proc/sys, /run/netns) could not be read or written.
    #[error("{context} '{}'", .path.display())]
    File {
        /// What was being done ("cannot read", "cannot write").
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A state the command refuses to act on (not connected, already connected, not ours).
    #[error("{0}")]
    Refused(String),

    /// A reply the tool does not understand.
    #[error("{context}: unexpected reply from the kernel: {why}")]
    Protocol {
        /// What was being done.
        context: String,
        /// What was wrong.
        why: String,
    },

    /// A failure with a step of context in front (`connect c1: …`, `line 3: …`).
    #[error("{context}")]
    Context {
        /// The step.
        context: String,
        /// The failure.
        #[source]
        source: Box<Error>,
    },

    /// A failure with a note after its message (which lines of a batch were applied).
    #[error("{}{note}", common::exit::message(inner.as_ref()))]
    Note {
        /// The note, with its leading space.
        note: String,
        /// The failure (shown in this error's own message, so not its `source`).
        inner: Box<Error>,
    },

    /// Writing to standard output failed (a closed pipe ends quietly in main).
    #[error("write error")]
    Stdout(#[source] io::Error),

    /// SIGINT, SIGTERM or SIGHUP stopped the run (what it had made was rolled back).
    #[error("interrupted by {signal}")]
    Interrupted {
        /// The signal.
        signal: nix::sys::signal::Signal,
    },
}

impl Error {
    /// Wrap with a step of context.
    #[must_use]
    pub fn context(self, context: impl Into<String>) -> Error {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// Add text after the message (`line 3: …: File exists (applied: lines 1-2)`); the
    /// exit status stays the inner error's.
    #[must_use]
    pub fn context_after(self, note: impl Into<String>) -> Error {
        Error::Note {
            note: note.into(),
            inner: Box::new(self),
        }
    }

    /// The innermost error (through the context layers).
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root(),
            Error::Note { inner, .. } => inner.root(),
            e => e,
        }
    }

    /// The kernel's errno, when the innermost error is a kernel error.
    pub fn errno(&self) -> Option<Errno> {
        match self.root() {
            Error::Kernel { source, .. } => Some(source.errno),
            Error::Sys { source, .. } => Some(*source),
            _ => None,
        }
    }

    /// Exit status: 2 for usage and invalid values, 128 + N when signal N stopped the
    /// run, 1 for every other failure.
    pub fn exit_code(&self) -> i32 {
        if let Error::Interrupted { signal } = self.root() {
            return exit::signal_status(*signal);
        }
        if self.is_usage() {
            exit::USAGE
        } else {
            exit::FAILURE
        }
    }

    /// True for errors of the command line (main adds "Try 'netlink-tool --help'").
    pub fn is_usage(&self) -> bool {
        matches!(self.root(), Error::Usage(_) | Error::Invalid(_))
    }
}

impl common::cli::Failure for Error {
    fn exit_code(&self) -> i32 {
        Error::exit_code(self)
    }

    fn is_usage(&self) -> bool {
        Error::is_usage(self)
    }
}

/// A kernel error with context: `kernel("link add veth0")(err)`.
pub fn kernel(context: impl Into<String>) -> impl FnOnce(KernelError) -> Error {
    let context = context.into();
    move |source| Error::Kernel { context, source }
}

/// A syscall error with context.
pub fn sys(context: impl Into<String>) -> impl FnOnce(Errno) -> Error {
    let context = context.into();
    move |source| Error::Sys { context, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_lines() {
        let e = kernel("link add veth0")(KernelError::new(Errno::EEXIST));
        assert_eq!(exit::message(&e), "link add veth0: File exists");
        let e = kernel("link add veth0")(KernelError::new(Errno::EPERM));
        assert_eq!(
            exit::message(&e),
            "link add veth0: Operation not permitted (needs CAP_NET_ADMIN)"
        );
        let mut k = KernelError::new(Errno::EOPNOTSUPP);
        k.extack = Some("Unknown device type".into());
        let k = k.with_hint("kernel lacks vlan support: CONFIG_VLAN_8021Q");
        let e = kernel("link add v0")(k).context("line 2");
        assert_eq!(
            exit::message(&e),
            "line 2: link add v0: Unknown device type (kernel lacks vlan support: CONFIG_VLAN_8021Q)"
        );
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.errno(), Some(Errno::EOPNOTSUPP));
    }

    #[test]
    fn usage_codes() {
        let e = Error::from(crate::parse::ifname("a/b").unwrap_err()).context("line 1");
        assert!(e.is_usage());
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            exit::message(&e),
            "line 1: invalid interface name 'a/b': contains '/'"
        );
        let e = Error::UnknownNetns {
            spec: "c9".into(),
            why: "does not exist (no /run/netns/c9)".into(),
        };
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            e.to_string(),
            "network namespace 'c9' does not exist (no /run/netns/c9)"
        );
    }
}
