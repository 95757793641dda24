//! ptyhold: hold a command's console and ttys on pseudo-terminals, serve them on a Unix
//! socket, keep a bounded log; attach to them with lxc-console's keys. Linux only.
//!
//! - [`hold`]: `ptyhold [OPTIONS] -- COMMAND`, the holder, its steps in order;
//!   [`spawn`] (the command's fds and environment), [`daemon`] (`-d`), [`listen`]
//!   (`--socket`), [`log`] (`--log`, rotation), [`pidfile`], [`serve`] (the poll loop).
//! - [`attach`]: `ptyhold attach` and `ptyhold list`, over [`proto`], the wire protocol.
//! - [`cli`] (the command line into a [`Config`]), [`error`], [`sys`] (every syscall,
//!   traced; the crate's only `unsafe`). The pty code both sides share, and that other
//!   tools reuse, is `common::pty`.
//!
//! The library never prints to standard output except the data `list` is asked for, and
//! never exits: [`run`] returns the exit status or an error.

pub mod attach;
pub mod cli;
pub mod daemon;
pub mod error;
pub mod hold;
pub mod listen;
pub mod log;
pub mod pidfile;
pub mod proto;
pub mod serve;
pub mod spawn;
pub mod sys;

use std::io::Write;

use common::cli::Outcome;

pub use cli::{Config, Mode};
pub use error::Error;

/// Messages for standard error, printed by the caller.
pub struct Ui<'a> {
    /// A line for the user, printed as `ptyhold: …` (a warning, a notice).
    pub warn: &'a dyn Fn(&str),
    /// Text printed as it is (lxc-console's hint).
    pub hint: &'a dyn Fn(&str),
}

impl std::fmt::Debug for Ui<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ui")
    }
}

/// Do what `cfg` asks; how to end (the held command's end, or a client's status).
/// `out` gets `list`'s data.
pub fn run(cfg: &Config, ui: &Ui<'_>, out: &mut dyn Write) -> Result<Outcome, Error> {
    match &cfg.mode {
        Mode::Hold(h) => hold::run(h, ui).map(Outcome::from),
        Mode::Attach(a) => attach::attach(a, ui).map(Outcome::Exit),
        Mode::List(l) => attach::list(l, out).map(Outcome::Exit),
    }
}
