//! chroot-rs's errors: each variant says what was being done; the cause is its `source`,
//! and `common::exit::report` joins them into GNU-style lines.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use common::exit;
use nix::errno::Errno;

pub use common::cli::quote;

/// Everything that can stop chroot-rs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line error; main adds "Try 'chroot-rs --help'".
    #[error("{0}")]
    Usage(String),

    /// `--skip-chdir` with a NEWROOT other than `/`.
    #[error("option --skip-chdir only permitted if NEWROOT is old '/'")]
    SkipChdir,

    /// chroot(2) or the checks before it failed.
    #[error("cannot change root directory to {}", quote(.path))]
    ChangeRoot {
        /// NEWROOT.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },

    /// chdir("/") after the root change failed.
    #[error("cannot chdir to root directory")]
    ChdirRoot(#[source] Errno),

    /// A user or group spec did not resolve (`invalid user`, `invalid group`, `invalid spec`).
    #[error("{0}")]
    UserSpec(&'static str),

    /// The look-up inside the new root failed (its message, as the child gave it).
    #[error("{0}")]
    Lookup(String),

    /// A numeric uid with no passwd entry and no group given.
    #[error("no group specified for unknown uid: {0}")]
    UnknownUid(u32),

    /// `--groups` entries that are neither a group nor a number (GNU says each).
    #[error("{}", .0.iter().map(|g| format!("invalid group {}", quote(g))).collect::<Vec<_>>().join("\nchroot-rs: "))]
    InvalidGroup(Vec<String>),

    /// A `--groups` list with no entry at all (`,`).
    #[error("invalid group list {}", quote(.0))]
    InvalidGroupList(String),

    /// getgrouplist(3) failed.
    #[error("failed to get supplemental groups")]
    GetGroups(#[source] Errno),

    /// setgroups(2) failed.
    #[error("failed to set supplemental groups")]
    SetGroups(#[source] Errno),

    /// setgid(2) failed.
    #[error("failed to set group-ID")]
    SetGid(#[source] Errno),

    /// setuid(2) failed.
    #[error("failed to set user-ID")]
    SetUid(#[source] Errno),

    /// execvp(3) of the command failed: 126 or 127.
    #[error("failed to run command {}", quote(.command))]
    Exec {
        /// argv[0].
        command: OsString,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A `--bind` spec that does not parse.
    #[error("invalid bind {}: {why}", quote(.spec))]
    BindSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        why: &'static str,
    },

    /// A capability name that does not exist.
    #[error("unknown capability {}", quote(.0))]
    UnknownCapability(String),

    /// Changing the capability sets failed.
    #[error("cannot change capabilities: {0}")]
    Capabilities(String),

    /// unshare(2) failed.
    #[error("cannot create a private {what} namespace")]
    Unshare {
        /// "mount" or "mount and PID".
        what: &'static str,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A mount(2) (or the preparation of its target) failed.
    #[error("cannot mount {what} on {}", quote(.target))]
    Mount {
        /// What was being mounted ("proc", "'/srv/data'").
        what: String,
        /// Where, as seen from the host.
        target: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },

    /// `--cgroup-fs` cannot be laid out.
    #[error("cannot mount the cgroup filesystem: {0}")]
    CgroupFs(String),

    /// `--console` or `--ttys` failed.
    #[error("{what}")]
    Terminal {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: Errno,
    },

    /// `--seccomp` could not be installed.
    #[error("cannot install the seccomp filter")]
    Seccomp(#[source] Errno),

    /// A file or directory inside NEWROOT could not be prepared.
    #[error("cannot create {} in the new root", quote(.path))]
    Prepare {
        /// The path inside NEWROOT.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A path given on the command line that is needed outside NEWROOT.
    #[error("cannot access {}", quote(.path))]
    Access {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// pivot_root(2) or detaching the old root failed.
    #[error("cannot pivot into {}", quote(.path))]
    Pivot {
        /// NEWROOT.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },

    /// `--image` is not an ext4 or squashfs filesystem.
    #[error("{} is not an ext4 or squashfs image", quote(.0))]
    NotAnImage(PathBuf),

    /// Another chroot-rs (or any flock(2) user) has the image: it is in use.
    #[error("{} is in use by another process", quote(.0))]
    ImageBusy(PathBuf),

    /// Setting up the loop device for `--image` failed.
    #[error("cannot set up a loop device for {}", quote(.path))]
    Loop {
        /// The image.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },

    /// `--ready-fd FD`: FD is not open, or the word could not be written.
    #[error("--ready-fd {fd}: {what}")]
    ReadyFd {
        /// The descriptor.
        fd: i32,
        /// What failed.
        what: &'static str,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A process-control call (fork, wait, prctl, signals) failed.
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
    /// 126/127 when the command could not be run, 125 for every failure of chroot-rs
    /// itself.
    fn exit_code(&self) -> i32 {
        match self {
            Error::Exec { source, .. } => exit::exec_failure(*source),
            _ => exit::CANCELED,
        }
    }

    /// True when GNU would add "Try 'chroot --help' for more information.".
    fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_) | Error::SkipChdir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::cli::Failure;

    #[test]
    fn messages_match_gnu() {
        let e = Error::ChangeRoot {
            path: "/srv/lab".into(),
            source: Errno::ENOENT,
        };
        assert_eq!(
            exit::message(&e),
            "cannot change root directory to '/srv/lab': No such file or directory"
        );
        let e = Error::Exec {
            command: "x".into(),
            source: Errno::ENOENT,
        };
        assert_eq!(
            exit::message(&e),
            "failed to run command 'x': No such file or directory"
        );
        assert_eq!(e.exit_code(), 127);
        let e = Error::Exec {
            command: "x".into(),
            source: Errno::EACCES,
        };
        assert_eq!(e.exit_code(), 126);
        assert_eq!(Error::SkipChdir.exit_code(), 125);
        assert_eq!(
            Error::UnknownUid(4321).to_string(),
            "no group specified for unknown uid: 4321"
        );
    }
}
