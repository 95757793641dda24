//! The errors of nsenter-rs and unshare-rs: each variant says what was being done, the
//! cause is its `source`, and `common::exit::report` joins them into one line:
//! `nsenter-rs: cannot open namespace of pid 123: No such process`.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use common::exit;
use nix::errno::Errno;

use crate::ns::{NsSet, NsType};

pub use common::cli::quote;

/// The status of a failure of nsenter-rs or unshare-rs itself, usage errors included:
/// 1, as util-linux's nsenter and unshare exit (GNU chroot's 125 is not theirs), so that
/// scripts written for them keep working.
pub const FAILED: i32 = exit::FAILURE;

/// Everything that can stop nsenter-rs or unshare-rs before the command runs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line error; main adds "Try '… --help'".
    #[error("{0}")]
    Usage(String),

    /// Already reported on standard error by another process of ours (the forked child
    /// or the outside helper): exit with this code and print nothing more.
    #[error("")]
    Reported(i32),

    /// pidfd_open(2) of the target failed (it does not exist, or is not ours to see).
    #[error("cannot open namespace of pid {pid}")]
    Target {
        /// The target PID.
        pid: i32,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A pidfile could not be read.
    #[error("cannot read pidfile {}", quote(.path))]
    ReadPidfile {
        /// The pidfile.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// `--container` aimed at a process that shares this system's root directory: not a
    /// container, or one whose init has not pivoted into its root yet.
    #[error(
        "pid {0} shares this system's root directory: not a container (or not set up yet); --container refuses it"
    )]
    NotAContainer(i32),

    /// A pidfile holds no PID.
    #[error("invalid pidfile {}: no PID in it", quote(.0))]
    BadPidfile(PathBuf),

    /// A pidfile could not be written.
    #[error("cannot write pidfile {}", quote(.path))]
    WritePidfile {
        /// The pidfile.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A namespace file (given, or /proc/PID/ns/X) could not be opened.
    #[error("cannot open {ns} namespace {from}")]
    OpenNs {
        /// The namespace type.
        ns: NsType,
        /// `of pid 42` or `'/run/netns/x'`.
        from: String,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A file given for a namespace is not an nsfs file.
    #[error("{} is not a namespace file", quote(.0))]
    NotNamespace(PathBuf),

    /// A file given for a namespace holds another type.
    #[error("{} is a {found} namespace, not a {expected} namespace", quote(.path))]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The type asked for.
        expected: NsType,
        /// The type it holds.
        found: NsType,
    },

    /// A namespace (or root/wd) was asked for without a file and without a target.
    #[error("neither a file nor a target PID given for {0}")]
    NoSource(String),

    /// The kernel was built without this namespace type.
    #[error("this kernel has no {0} namespaces")]
    KernelLacks(NsType),

    /// setns(2) failed.
    #[error("cannot enter {what}")]
    Enter {
        /// `namespaces of pid 42`, `net namespace '/run/netns/x'`.
        what: String,
        /// Why.
        #[source]
        source: Errno,
    },

    /// unshare(2) or clone3(2) with namespace flags failed.
    #[error("cannot create new namespaces ({set})")]
    Create {
        /// The types asked for.
        set: NsSet,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A namespace file for `--TYPE=FILE` could not be created.
    #[error("cannot create namespace file {}", quote(.path))]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// Bind-mounting a namespace on its file failed.
    #[error("cannot bind the {ns} namespace on {}", quote(.path))]
    Bind {
        /// The namespace type.
        ns: NsType,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },

    /// `--release FILE` on a file that holds no namespace.
    #[error("cannot release {}: not a namespace file", quote(.0))]
    NotBound(PathBuf),

    /// `--release FILE` failed to unmount.
    #[error("cannot release {}", quote(.path))]
    Release {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A user name that is not in /etc/passwd, or not a number.
    #[error("unknown user {}", quote(.0))]
    UnknownUser(String),

    /// A group name that is not in /etc/group, or not a number.
    #[error("unknown group {}", quote(.0))]
    UnknownGroup(String),

    /// No subordinate ID range for the user (`--map-auto`).
    #[error("no line for user {} in {file}", quote(.user))]
    NoSubIds {
        /// /etc/subuid or /etc/subgid.
        file: &'static str,
        /// The user name.
        user: String,
    },

    /// newuidmap/newgidmap could not run, or failed.
    #[error("{program} {why}")]
    IdMapper {
        /// `newuidmap` or `newgidmap`.
        program: &'static str,
        /// What went wrong.
        why: String,
    },

    /// A state change between namespace creation and exec failed (mount, chroot, chdir,
    /// hostname, ID maps, credentials): `what` says which, with its argument.
    #[error("{what}")]
    Setup {
        /// `cannot mount proc on '/proc'`, `setuid failed`, ….
        what: String,
        /// Why.
        #[source]
        source: Errno,
    },

    /// `--keep-caps` could not raise the ambient capabilities.
    #[error("cannot keep capabilities: {0}")]
    Caps(String),

    /// execvp(3) of the command failed: 126 or 127.
    #[error("failed to run command {}", quote(.command))]
    Exec {
        /// argv[0].
        command: OsString,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A process-control call (fork, wait, pipe, signals) failed.
    #[error("{what}")]
    Process {
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: Errno,
    },
}

impl common::cli::Failure for Error {
    /// 126/127 when the command could not be run, the recorded code when already
    /// reported elsewhere, [`FAILED`] for every failure of the tool itself.
    fn exit_code(&self) -> i32 {
        match self {
            Error::Exec { source, .. } => exit::exec_failure(*source),
            Error::Reported(code) => *code,
            _ => FAILED,
        }
    }

    /// True for command-line errors (main adds the "Try --help" line).
    fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }

    /// Another process of ours (the forked child, the outside helper) printed it.
    fn reported(&self) -> bool {
        matches!(self, Error::Reported(_))
    }
}

impl Error {
    /// A setup step's error: `what` and the errno.
    pub fn setup(what: impl Into<String>) -> impl FnOnce(Errno) -> Error {
        let what = what.into();
        move |source| Error::Setup { what, source }
    }

    /// A process-control error.
    pub fn process(what: &'static str) -> impl FnOnce(Errno) -> Error {
        move |source| Error::Process { what, source }
    }
}

/// Print the error once, unless another process of ours already did (in a forked
/// helper, which ends with `_exit` instead of returning to `main`).
pub fn report(tool: &str, err: &Error) {
    use common::cli::Failure;
    if !err.reported() {
        exit::report(tool, err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::cli::Failure;

    #[test]
    fn messages() {
        let e = Error::Target {
            pid: 123,
            source: Errno::ESRCH,
        };
        assert_eq!(
            exit::message(&e),
            "cannot open namespace of pid 123: No such process"
        );
        assert_eq!(e.exit_code(), 1);
        let e = Error::WrongType {
            path: "/proc/1/ns/uts".into(),
            expected: NsType::Net,
            found: NsType::Uts,
        };
        assert_eq!(
            e.to_string(),
            "'/proc/1/ns/uts' is a uts namespace, not a net namespace"
        );
        let e = Error::Create {
            set: [NsType::Net, NsType::Mnt].into_iter().collect(),
            source: Errno::EPERM,
        };
        assert_eq!(
            exit::message(&e),
            "cannot create new namespaces (net, mnt): Operation not permitted"
        );
        let e = Error::OpenNs {
            ns: NsType::Net,
            from: "of pid 7".into(),
            source: Errno::ENOENT,
        };
        assert_eq!(
            exit::message(&e),
            "cannot open net namespace of pid 7: No such file or directory"
        );
        assert_eq!(
            Error::KernelLacks(NsType::Time).to_string(),
            "this kernel has no time namespaces"
        );
        assert_eq!(
            Error::NotBound("/x".into()).to_string(),
            "cannot release '/x': not a namespace file"
        );
    }

    #[test]
    fn exit_codes() {
        let e = Error::Exec {
            command: "nope".into(),
            source: Errno::ENOENT,
        };
        assert_eq!(e.exit_code(), 127);
        assert_eq!(
            exit::message(&e),
            "failed to run command 'nope': No such file or directory"
        );
        let e = Error::Exec {
            command: "/etc".into(),
            source: Errno::EACCES,
        };
        assert_eq!(e.exit_code(), 126);
        assert_eq!(Error::Reported(3).exit_code(), 3);
        assert_eq!(Error::Usage("x".into()).exit_code(), 1);
        assert!(Error::Usage("x".into()).is_usage());
    }
}
