//! Exit codes and the one-line error report every tool prints.
//!
//! The codes are repeated in README.md and in each man page's EXIT STATUS section:
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | the operation failed |
//! | 2 | usage error (tools that do not chain-load) |
//! | 125 | a chain-loader itself failed, usage errors included |
//! | 126 | the command was found but could not be run |
//! | 127 | the command was not found |
//! | 128+N | the command died of signal N |
//!
//! Reports look like GNU's: `chroot-rs: cannot change root directory to '/srv/lab': No such
//! file or directory`. Each error in the `source()` chain adds `: ` and its text; an errno is
//! rendered as its description, without Rust's ` (os error 2)` suffix.

use std::error::Error;
use std::fmt::Write as _;
use std::io;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

/// Success.
pub const SUCCESS: i32 = 0;
/// The operation failed.
pub const FAILURE: i32 = 1;
/// The command line was wrong (tools that do not chain-load).
pub const USAGE: i32 = 2;
/// A chain-loading tool failed before running the command (usage errors included).
pub const CANCELED: i32 = 125;
/// The command was found but could not be executed.
pub const CANNOT_INVOKE: i32 = 126;
/// The command was not found.
pub const NOT_FOUND: i32 = 127;

/// The exit status a shell reports for a process killed by `signal`: 128 + N.
pub fn signal_status(signal: Signal) -> i32 {
    128 + signal as i32
}

/// The status to pass on for a child's wait status: its exit code, or 128 + N for a
/// death by signal N. `None` for states that are not terminations (stopped, continued).
pub fn from_wait(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(signal_status(signal)),
        _ => None,
    }
}

/// The chain-loader's exit code when `execve` of the command failed with `errno`:
/// 127 when it does not exist (ENOENT), 126 for every other reason, ENOTDIR included
/// (as GNU chroot and env, and util-linux).
pub fn exec_failure(errno: Errno) -> i32 {
    match errno {
        Errno::ENOENT => NOT_FOUND,
        _ => CANNOT_INVOKE,
    }
}

/// The text of one error, with an OS error rendered as its errno description only.
fn describe(err: &(dyn Error + 'static)) -> String {
    if let Some(errno) = err.downcast_ref::<Errno>() {
        return errno.desc().to_owned();
    }
    if let Some(io) = err.downcast_ref::<io::Error>() {
        if let Some(raw) = io.raw_os_error() {
            return Errno::from_raw(raw).desc().to_owned();
        }
        // A wrapped custom error shows its own text; the chain continues through it.
        if let Some(inner) = io.get_ref() {
            return describe(inner);
        }
    }
    err.to_string()
}

/// The whole report for `err`: its text and each cause's, joined with `": "`.
///
/// A cause whose text the outer message already ends with is not repeated, so an
/// error type that embeds its source (`#[error("...: {0}")]`) still reads once.
pub fn message(err: &(dyn Error + 'static)) -> String {
    let mut out = describe(err);
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = describe(c);
        if !text.is_empty() && !out.ends_with(&text) {
            let _ = write!(out, ": {text}");
        }
        cause = c.source();
    }
    out
}

/// Print `tool: message` on standard error. The one place a tool reports an error.
pub fn report(tool: &str, err: &(dyn Error + 'static)) {
    eprintln!("{tool}: {}", message(err));
}

/// True when `err` is a write to a closed pipe: a tool whose reader went away ends
/// quietly and successfully (`cgctl list | head -1`).
pub fn is_broken_pipe(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct Ctx {
        what: &'static str,
        source: Box<dyn Error + 'static>,
    }
    impl fmt::Display for Ctx {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.what)
        }
    }
    impl Error for Ctx {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(self.source.as_ref())
        }
    }

    #[test]
    fn io_errors_lose_the_os_error_suffix() {
        let err = Ctx {
            what: "cannot change root directory to '/x'",
            source: Box::new(io::Error::from_raw_os_error(2)),
        };
        assert_eq!(
            message(&err),
            "cannot change root directory to '/x': No such file or directory"
        );
    }

    #[test]
    fn errno_is_described() {
        let err = Ctx {
            what: "pivot_root",
            source: Box::new(Errno::EPERM),
        };
        assert_eq!(message(&err), "pivot_root: Operation not permitted");
    }

    #[test]
    fn nested_causes_are_joined_and_not_repeated() {
        let inner = Ctx {
            what: "reading '/etc/x'",
            source: Box::new(io::Error::from_raw_os_error(13)),
        };
        let outer = Ctx {
            what: "loading config",
            source: Box::new(inner),
        };
        assert_eq!(
            message(&outer),
            "loading config: reading '/etc/x': Permission denied"
        );
        let embedded = Ctx {
            what: "open: Permission denied",
            source: Box::new(io::Error::from_raw_os_error(13)),
        };
        assert_eq!(message(&embedded), "open: Permission denied");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(signal_status(Signal::SIGTERM), 143);
        assert_eq!(signal_status(Signal::SIGKILL), 137);
        assert_eq!(exec_failure(Errno::ENOENT), 127);
        assert_eq!(exec_failure(Errno::EACCES), 126);
        assert_eq!(exec_failure(Errno::ENOEXEC), 126);
        assert_eq!(exec_failure(Errno::ENOTDIR), 126);
        let pid = nix::unistd::Pid::from_raw(5);
        assert_eq!(from_wait(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            from_wait(WaitStatus::Signaled(pid, Signal::SIGINT, false)),
            Some(130)
        );
        assert_eq!(from_wait(WaitStatus::StillAlive), None);
    }
}
