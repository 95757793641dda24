//! nsenter-rs and unshare-rs: enter the namespaces of a process or of namespace files,
//! and run a command in new ones. Linux only (kernel 5.3 for clone3 and pidfds, 5.8 for
//! the one-call `setns(pidfd)`, with a fallback).
//!
//! - [`enter`]: nsenter-rs (`run`), race-free targets through [`target`].
//! - [`create`]: unshare-rs (`run`): one clone3 with `--fork`, util-linux's unshare-and-exec
//!   without; ID maps ([`idmap`]), persisted namespace files ([`persist`]), pidfiles
//!   ([`pidfile`]).
//! - Waiting, signal forwarding and the `--init` reaper are `common::supervise`'s.
//! - [`cli`] parses both command lines into plain configs; [`sys`] is every system call.
//!
//! Both binaries are single-threaded; the library never prints to stdout and never
//! exits, except in forked helpers and children, which end with `_exit` or exec.

pub mod attach;
pub mod cli;
pub mod create;
pub mod enter;
pub mod error;
pub mod exec;
pub mod idmap;
pub mod ns;
pub mod persist;
pub mod pidfile;
pub mod sys;
pub mod target;

pub use cli::{NsenterConfig, UnshareConfig};
pub use error::Error;

use common::cli::Outcome;
use common::exit;

/// What nsenter-rs produced when it did not exec: how to end, or a listing for stdout.
#[derive(Debug)]
pub enum Done {
    /// End so (the command's status, or its signal).
    End(Outcome),
    /// Print these namespaces (`--list`), as a table or JSON lines, and exit 0.
    List(Vec<ns::NsEntry>, bool),
}

/// Run nsenter-rs: enter, list or release.
pub fn nsenter(cfg: &NsenterConfig) -> Result<Done, Error> {
    match &cfg.mode {
        cli::NsenterMode::Enter => enter::run(cfg).map(Done::End),
        cli::NsenterMode::List { pid, json } => {
            let entries = target::list(nix::unistd::Pid::from_raw(*pid))?;
            Ok(Done::List(entries, *json))
        }
        cli::NsenterMode::Release(files) => {
            for f in files {
                persist::release(f)?;
            }
            Ok(Done::End(Outcome::Exit(exit::SUCCESS)))
        }
    }
}

/// Run unshare-rs.
pub fn unshare(cfg: &UnshareConfig) -> Result<Outcome, Error> {
    create::run(cfg)
}
