//! cgctl's errors. Each variant says what was being done and to which path; the cause is
//! its `source`, and `common::exit::report` joins them into one line:
//! `cgctl: cannot write '1048576' to '/sys/fs/cgroup/memory/x/memory.limit_in_bytes': Device or resource busy`.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use common::exit;
use nix::errno::Errno;

pub use common::cli::quote;

/// Everything that can stop cgctl.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line error (exit 2, or 125 for `exec`).
    #[error("{0}")]
    Usage(String),

    /// A value that does not parse or cannot apply to this group (exit 2).
    #[error("invalid {what} {}: {why}", quote(.value))]
    Invalid {
        /// The option or key (`--memory`, `memory.max`).
        what: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        why: String,
    },

    /// A key that is neither a named limit nor a v1 or v2 file cgctl knows (exit 2).
    #[error("unknown key {}{}", quote(.key), .nearest.as_ref().map(|n| format!(" (did you mean '{n}'?)")).unwrap_or_default())]
    UnknownKey {
        /// The key given.
        key: String,
        /// The nearest known key.
        nearest: Option<String>,
    },

    /// A key that has no equivalent on this group's cgroup version (exit 2).
    #[error("{key} has no cgroup {version} equivalent{}", .hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    NoEquivalent {
        /// The key given.
        key: String,
        /// "v1" or "v2".
        version: &'static str,
        /// What to use instead.
        hint: Option<String>,
    },

    /// A key that can only be read.
    #[error("{0} is read-only")]
    ReadOnly(String),

    /// A NAME or --parent that is refused (exit 2).
    #[error("invalid cgroup name {}: {why}", quote(.name))]
    BadName {
        /// The name given.
        name: String,
        /// Why.
        why: &'static str,
    },

    /// No cgroup filesystem is mounted.
    #[error("no cgroup filesystem is mounted (see 'cgctl check')")]
    NoCgroupFs,

    /// A knob whose controller or file this host does not have.
    #[error("{what} is not available for {}: {why}", quote(.name))]
    Unavailable {
        /// The limit (`swap`, `io weight`).
        what: String,
        /// The cgroup.
        name: String,
        /// Why, with a hint.
        why: String,
    },

    /// The group does not exist in any hierarchy.
    #[error("no such cgroup {}", quote(.0))]
    NoSuchGroup(String),

    /// The group exists in part of the hierarchies only.
    #[error("cgroup {} is missing from {}", quote(.name), .missing.join(", "))]
    Incomplete {
        /// The cgroup.
        name: String,
        /// The labels of the hierarchies without it.
        missing: Vec<String>,
    },

    /// `create` of a group that exists.
    #[error("cgroup {} already exists", quote(.0))]
    Exists(String),

    /// The parent of `list`/`top` is missing from some hierarchies.
    #[error("parent cgroup {} does not exist in {}", quote(.parent), .missing.join(", "))]
    NoParentGroup {
        /// --parent as given.
        parent: String,
        /// The labels of the hierarchies without it.
        missing: Vec<String>,
    },

    /// The parent given by --parent does not exist.
    #[error("parent {} does not exist", quote(.0))]
    NoParent(PathBuf),

    /// Reading a cgroup or /proc file failed.
    #[error("cannot read {}", quote(.path))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A file's contents did not parse.
    #[error("cannot parse {}: {why}", quote(.path))]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        why: String,
    },

    /// Writing a control file failed (the rest of a `set` was rolled back).
    #[error("cannot write {} to {}{}", quote(.value), quote(.path), .note)]
    Write {
        /// The file.
        path: PathBuf,
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: Cause,
        /// A trailing note (rollback trouble), empty when none.
        note: String,
    },

    /// v2: a controller would have to be enabled in an ancestor that holds processes.
    #[error(
        "cannot enable {controllers} in {}: the group holds {count} process{} of its own{}, and cgroup v2 lets only a group without processes enable controllers for its children (the no-internal-process rule); use a --parent without processes, or move them into a child group first",
        quote(.dir), if *.count == 1 { "" } else { "es" },
        if *.ours { " (cgctl among them)" } else { "" }
    )]
    InternalProcesses {
        /// The controllers (`memory pids`).
        controllers: String,
        /// The ancestor.
        dir: PathBuf,
        /// Its processes.
        count: usize,
        /// True when cgctl itself is one of them (`--parent self`).
        ours: bool,
    },

    /// A new v1 or v2 memory limit below what the group uses, that reclaim could not reach.
    #[error("cannot lower the memory limit of {} to {limit} bytes: it uses {usage} bytes and the kernel could not reclaim enough", quote(.name))]
    BelowUsage {
        /// The cgroup.
        name: String,
        /// The limit asked for.
        limit: u64,
        /// Its usage.
        usage: u64,
    },

    /// mkdir of a group directory failed (what was created was removed again).
    #[error("cannot create {}", quote(.path))]
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// `delete` without --kill of a group that has processes.
    #[error("cgroup {} has {count} process{} (use --kill)", quote(.name), if *.count == 1 { "" } else { "es" })]
    Populated {
        /// The cgroup.
        name: String,
        /// How many.
        count: usize,
    },

    /// `delete` could not remove everything: what is left, and why.
    #[error("cannot delete {} completely; left: {}", quote(.name), .left.join("; "))]
    Leftover {
        /// The cgroup.
        name: String,
        /// `'path': reason` per directory that is still there.
        left: Vec<String>,
    },

    /// Moving a process failed (those already moved were moved back).
    #[error("cannot move {pid} into {}", quote(.path))]
    Move {
        /// The pid.
        pid: i32,
        /// The `cgroup.procs` file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Cause,
    },

    /// A signal could not be sent.
    #[error("cannot send {signal} to {pid}")]
    Kill {
        /// The pid.
        pid: i32,
        /// The signal's name.
        signal: &'static str,
        /// Why.
        #[source]
        source: Errno,
    },

    /// `kill`/`delete --kill` of a group that holds cgctl itself.
    #[error("cgroup {} holds cgctl itself; refusing to signal it", quote(.0))]
    KillSelf(String),

    /// freeze, thaw, kill or delete did not reach its state in time.
    #[error("{what}: still not done after {seconds} s")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The time-out.
        seconds: f64,
    },

    /// execvp(3) of the command failed: 126 or 127.
    #[error("failed to run command {}", quote(.command))]
    Exec {
        /// argv[0].
        command: OsString,
        /// Why.
        #[source]
        source: Errno,
    },

    /// A line of a `--batch` file failed; the batch stopped there.
    #[error("line {line}")]
    Batch {
        /// 1-based line number.
        line: usize,
        /// Why.
        #[source]
        source: Box<Error>,
    },

    /// SIGINT, SIGTERM or SIGHUP stopped the command; what it had made was rolled back.
    #[error("interrupted by {}; what this run had changed was undone", .0.as_str())]
    Interrupted(nix::sys::signal::Signal),

    /// Another cgctl is creating or deleting the group right now.
    #[error("cgroup {} is being created or deleted by cgctl (pid {pid})", quote(.name))]
    Busy {
        /// The cgroup.
        name: String,
        /// The other cgctl.
        pid: i32,
    },

    /// An interrupted cgctl left the group half made or half removed.
    #[error("cgroup {} is unfinished: cgctl (pid {pid}) was stopped while creating or deleting it ('cgctl delete {name}' removes what is left)", quote(.name))]
    Unfinished {
        /// The cgroup.
        name: String,
        /// The cgctl that left it.
        pid: i32,
    },

    /// A rename(2) of a group's directory failed.
    #[error("cannot rename {} to {}", quote(.from), quote(.to))]
    Rename {
        /// The directory.
        from: PathBuf,
        /// The new name.
        to: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// chown(2) for --owner failed.
    #[error("cannot change the owner of {}", quote(.path))]
    Chown {
        /// The directory or file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A step of the v2 device filter failed.
    #[error("cannot {what} the device filter of {}", quote(.path))]
    DeviceFilter {
        /// The group's directory.
        path: PathBuf,
        /// `load`, `attach`, `detach` or `query`.
        what: &'static str,
        /// Why.
        #[source]
        source: Cause,
    },

    /// Writing to standard output failed (not EPIPE, which ends quietly).
    #[error("cannot write to standard output")]
    Output(#[source] io::Error),
}

/// A kernel error with an optional hint after it: `Device or resource busy (hint)`.
#[derive(Debug)]
pub struct Cause {
    /// The error.
    pub error: io::Error,
    /// What it probably means here.
    pub hint: Option<String>,
}

impl Cause {
    /// A cause without a hint.
    pub fn plain(error: io::Error) -> Self {
        Cause { error, hint: None }
    }

    /// The errno, when the error came from the kernel.
    pub fn errno(&self) -> Option<Errno> {
        self.error.raw_os_error().map(Errno::from_raw)
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.error.raw_os_error() {
            Some(raw) => f.write_str(Errno::from_raw(raw).desc())?,
            None => write!(f, "{}", self.error)?,
        }
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Cause {}

impl Error {
    /// The exit status: 2 for what the command line got wrong, 1 for the rest;
    /// `exec` maps its own failures to 125/126/127 (see [`Error::exec_code`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Invalid { .. }
            | Error::UnknownKey { .. }
            | Error::NoEquivalent { .. }
            | Error::ReadOnly(_)
            | Error::BadName { .. } => exit::USAGE,
            Error::Batch { source, .. } => source.exit_code(),
            Error::Interrupted(sig) => exit::signal_status(*sig),
            _ => exit::FAILURE,
        }
    }

    /// The exit status when the failure happened in `exec` (a chain-loader).
    pub fn exec_code(&self) -> i32 {
        match self {
            Error::Exec { source, .. } => exit::exec_failure(*source),
            Error::Interrupted(sig) => exit::signal_status(*sig),
            _ => exit::CANCELED,
        }
    }

    /// True when main should add "Try 'cgctl --help'".
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }
}

/// A failed run of cgctl as `main` ends it: `exec` is a chain-loader (125/126/127 for
/// its own failures), every other subcommand exits 1 or 2.
#[derive(Debug)]
pub struct Failed {
    /// What went wrong.
    pub error: Error,
    /// The run was `cgctl exec`.
    pub exec: bool,
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
        if self.exec {
            self.error.exec_code()
        } else {
            self.error.exit_code()
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
    fn messages_read_as_one_line() {
        let e = Error::Write {
            path: "/cg/memory.max".into(),
            value: "1".into(),
            source: Cause {
                error: io::Error::from_raw_os_error(16),
                hint: Some("hint".into()),
            },
            note: String::new(),
        };
        assert_eq!(
            exit::message(&e),
            "cannot write '1' to '/cg/memory.max': Device or resource busy (hint)"
        );
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.exec_code(), 125);
        let e = Error::UnknownKey {
            key: "memory.limt".into(),
            nearest: Some("memory.limit_in_bytes".into()),
        };
        assert_eq!(
            e.to_string(),
            "unknown key 'memory.limt' (did you mean 'memory.limit_in_bytes'?)"
        );
        assert_eq!(e.exit_code(), 2);
        let e = Error::Populated {
            name: "x".into(),
            count: 1,
        };
        assert_eq!(e.to_string(), "cgroup 'x' has 1 process (use --kill)");
        let e = Error::Exec {
            command: "nope".into(),
            source: Errno::ENOENT,
        };
        assert_eq!(e.exec_code(), 127);
    }
}
