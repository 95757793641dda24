//! Pidfiles as `common::pidfile` writes and reads them (atomically, removed only if still
//! ours), with nsenter-rs's errors.

use std::path::Path;

use common::pidfile::ReadError;
use nix::unistd::Pid;

pub use common::pidfile::{Pidfile, parse};

use crate::error::Error;

/// Read the PID in `path`.
pub fn read(path: &Path) -> Result<Pid, Error> {
    common::pidfile::read(path).map_err(|e| match e {
        ReadError::Io(source) => Error::ReadPidfile {
            path: path.to_owned(),
            source,
        },
        ReadError::NoPid => Error::BadPidfile(path.to_owned()),
    })
}

/// Write `pid` to `path` atomically.
pub fn write(path: &Path, pid: Pid) -> Result<Pidfile, Error> {
    common::pidfile::write(path, pid).map_err(|source| Error::WritePidfile {
        path: path.to_owned(),
        source,
    })
}
