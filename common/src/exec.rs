//! The last step of every chain-loader: exec the command, as GNU chroot, util-linux and
//! cgexec do, with the signal state a command expects.

use std::ffi::{OsStr, OsString};

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::{sys, trace};

/// Exec `argv` (searched in `PATH`), showing `argv0` as its `argv[0]` when given.
/// Returns only on failure, with the errno ([`crate::exit::exec_failure`] turns it into
/// 126 or 127).
///
/// SIGPIPE goes back to its default action first: Rust's runtime ignores it, an ignored
/// signal stays ignored across exec, and a command in a pipeline must die of it as under
/// GNU chroot (`chroot-rs / yes | head -1` ends). Resetting a valid signal to SIG_DFL
/// cannot fail; were it to, the command would still run, so the failure is only traced.
pub fn exec(argv: &[OsString], argv0: Option<&OsStr>) -> Errno {
    let r = sys::default_action(Signal::SIGPIPE);
    trace::syscall(format_args!("rt_sigaction(SIGPIPE, SIG_DFL)"), &r);
    sys::execvp(argv, argv0)
}
