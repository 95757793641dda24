//! `--pidfile`: the command's PID as `common::pidfile` writes it (atomically, removed at
//! exit unless someone has replaced it since), with ptyhold's errors.

use std::path::Path;

use nix::unistd::Pid;

pub use common::pidfile::Pidfile;

use crate::error::Error;

/// Write `pid` to `path` atomically.
pub fn write(path: &Path, pid: Pid) -> Result<Pidfile, Error> {
    common::pidfile::write(path, pid).map_err(|source| Error::Pidfile {
        path: path.to_owned(),
        source,
    })
}
