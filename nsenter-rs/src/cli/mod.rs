//! The two command lines, one module each ([`nsenter`], [`unshare`]). clap defines them
//! (help, version, man pages) with getopt's rules: options stop at the command
//! (`nsenter-rs -t 42 -a ls -l`), `--` ends them, long options may be abbreviated while
//! unambiguous, and optional values attach with `=` (`--net=/run/netns/x`; `--net /x`
//! means `--net` and the command `/x`, as in util-linux). Usage errors exit 1, as
//! util-linux's. The result is a plain [`NsenterConfig`] or [`UnshareConfig`] that the
//! library takes; unit tests build those directly. The getopt machinery both use
//! (option tables, prefixes, one-line clap errors) is `common::cli`'s.

mod nsenter;
mod unshare;

use std::ffi::OsString;

use clap::FromArgMatches;

pub use common::cli::Parsed;
pub use nsenter::*;
pub use unshare::*;

use crate::error::Error;

/// Run clap on `argv`; help and version become [`Parsed::Print`], errors a one-line
/// [`Error::Usage`].
fn parse_clap<T: FromArgMatches>(
    cmd: clap::Command,
    argv: &[OsString],
) -> Result<Parsed<T>, Error> {
    common::cli::parse_clap(cmd, argv).map_err(Error::Usage)
}
