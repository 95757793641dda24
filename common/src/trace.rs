//! The syscall trace: `-v` makes every tool print each kernel interaction on standard
//! error, strace style, so that a student can replay it by hand and a test can compare it
//! as golden output:
//!
//! ```text
//! chroot-rs: pivot_root(".", ".") = 0
//! nsenter-rs: setns(3</proc/42/ns/net>, CLONE_NEWNET) = -1 EPERM (Operation not permitted)
//! ```
//!
//! Level 1 (`-v`) shows the calls that change state; level 2 (`-vv`) adds the reads of
//! /proc and /sys behind a decision. Each tool's `sys.rs` is the only caller of
//! [`syscall`]; the trace is the one kind of output a library writes (to standard error).

use std::fmt;
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use nix::errno::Errno;
use nix::unistd::Pid;

static LEVEL: AtomicU8 = AtomicU8::new(0);
static TOOL: OnceLock<&'static str> = OnceLock::new();

/// Set the tool's name (the line prefix) and the verbosity (the count of `-v`).
pub fn init(tool: &'static str, level: u8) {
    let _ = TOOL.set(tool);
    LEVEL.store(level, Ordering::Relaxed);
}

/// The verbosity set by [`init`]; 0 when tracing is off.
pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// True when lines of `level` are printed.
pub fn enabled(level: u8) -> bool {
    self::level() >= level
}

fn tool() -> &'static str {
    TOOL.get().copied().unwrap_or("trace")
}

/// Print one trace line, `tool: text`, when `level` is enabled.
pub fn line(level: u8, text: fmt::Arguments<'_>) {
    if enabled(level) {
        // One write per line (stderr is unbuffered: written piece by piece, the lines of
        // a parent and its child, sharing stderr, came out mixed). The trace must never
        // fail the tool: a closed stderr just loses the line.
        let line = format!("{}: {text}\n", tool());
        let _ = io::stderr().lock().write_all(line.as_bytes());
    }
}

/// How a successful call's return value is shown after ` = `.
pub trait Retval {
    /// The value as strace would print it.
    fn retval(&self) -> String;
}

impl Retval for () {
    fn retval(&self) -> String {
        "0".to_owned()
    }
}

macro_rules! retval_display {
    ($($t:ty),*) => {$(
        impl Retval for $t {
            fn retval(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
retval_display!(i32, i64, u32, u64, usize, Pid, String);

impl Retval for OwnedFd {
    fn retval(&self) -> String {
        self.as_raw_fd().to_string()
    }
}

impl<T: Retval, U> Retval for (T, U) {
    fn retval(&self) -> String {
        self.0.retval()
    }
}

/// An error that carries an errno, for the ` = -1 EPERM (...)` form.
pub trait AsErrno {
    /// The errno, when the error came from the kernel.
    fn errno(&self) -> Option<Errno>;
}

impl AsErrno for Errno {
    fn errno(&self) -> Option<Errno> {
        Some(*self)
    }
}

/// A library error that carries only text (no errno): shown as `= -1 (text)`.
impl AsErrno for String {
    fn errno(&self) -> Option<Errno> {
        None
    }
}

impl AsErrno for io::Error {
    fn errno(&self) -> Option<Errno> {
        self.raw_os_error().map(Errno::from_raw)
    }
}

/// The ` = …` part of a trace line for `result`.
pub fn outcome<T: Retval, E: AsErrno + fmt::Display>(result: &Result<T, E>) -> String {
    match result {
        Ok(v) => v.retval(),
        Err(e) => match e.errno() {
            Some(errno) => format!("-1 {errno:?} ({})", errno.desc()),
            None => format!("-1 ({e})"),
        },
    }
}

/// Trace one system call at level 1: `tool: call = result`.
///
/// `call` is the call as a student would type it in C (`chroot("/srv/lab")`); it is
/// formatted only when tracing is on.
pub fn syscall<T: Retval, E: AsErrno + fmt::Display>(
    call: fmt::Arguments<'_>,
    result: &Result<T, E>,
) {
    syscall_at(1, call, result);
}

/// [`syscall`] at a chosen level: 2 for the reads behind a decision.
pub fn syscall_at<T: Retval, E: AsErrno + fmt::Display>(
    level: u8,
    call: fmt::Arguments<'_>,
    result: &Result<T, E>,
) {
    if enabled(level) {
        line(level, format_args!("{call} = {}", outcome(result)));
    }
}

/// A file descriptor as strace -y shows it: `3</proc/42/ns/net>`.
#[derive(Debug, Clone, Copy)]
pub struct Fd<'a>(pub RawFd, pub &'a str);

impl fmt::Display for Fd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}<{}>", self.0, self.1)
    }
}

/// Names of the bits set in `value`, joined with `|` as strace prints flag words;
/// leftover bits are shown in hex; no bit set gives `0`.
pub fn flags(value: u64, names: &[(u64, &str)]) -> String {
    let mut parts = Vec::new();
    let mut rest = value;
    for &(bit, name) in names {
        if bit != 0 && value & bit == bit {
            parts.push(name.to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_forms() {
        assert_eq!(outcome::<(), Errno>(&Ok(())), "0");
        assert_eq!(outcome::<i32, Errno>(&Ok(7)), "7");
        assert_eq!(
            outcome::<(), Errno>(&Err(Errno::EPERM)),
            "-1 EPERM (Operation not permitted)"
        );
        let io = io::Error::from_raw_os_error(2);
        assert_eq!(
            outcome::<(), io::Error>(&Err(io)),
            "-1 ENOENT (No such file or directory)"
        );
    }

    #[test]
    fn flag_words() {
        let names = [(1, "A"), (2, "B"), (8, "D")];
        assert_eq!(flags(0, &names), "0");
        assert_eq!(flags(3, &names), "A|B");
        assert_eq!(flags(8 | 16, &names), "D|0x10");
    }

    #[test]
    fn fd_display() {
        assert_eq!(Fd(3, "/proc/1/ns/net").to_string(), "3</proc/1/ns/net>");
    }
}
