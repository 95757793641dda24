//! Where connection records live: one file per container link in a directory only the
//! host's root can write (`/run/netlink-tool`, or `$NETLINK_TOOL_STATE_DIR`), named by
//! the container namespace's identity and the link's name: `DEV:INODE:NAME` (`:` cannot
//! be part of an interface name). Files are replaced atomically (written aside, then
//! renamed). A `NAME.lock` beside each record, held with flock(2) for a whole connect,
//! disconnect or readdr, keeps two runs off one connection; the kernel drops the lock of a
//! process that dies, even of SIGKILL.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::record::Record;
use crate::error::Error;
use crate::sys;

/// The default state directory.
pub const DEFAULT_DIR: &str = "/run/netlink-tool";

/// The environment variable that moves the state directory (tests, packagers).
pub const DIR_ENV: &str = "NETLINK_TOOL_STATE_DIR";

/// One connection: the container namespace's (device, inode) and the link's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Device of the namespace's nsfs inode.
    pub dev: u64,
    /// The inode.
    pub ino: u64,
    /// The container link's name as connect gave it.
    pub name: String,
}

impl Key {
    fn file_name(&self) -> String {
        format!("{}:{}:{}", self.dev, self.ino, self.name)
    }
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// A held lock on one connection (released on drop).
#[derive(Debug)]
pub struct Lock {
    _file: nix::fcntl::Flock<File>,
    path: PathBuf,
    dir: PathBuf,
}

impl Lock {
    /// Release the lock and remove its file (the connection has no record any more),
    /// and the state directory when it is left empty. A run that opened the file
    /// meanwhile sees it unlinked and takes a fresh one.
    pub fn release_and_remove(self) {
        let _ = sys::unlink(&self.path);
        let _ = sys::rmdir(&self.dir);
    }
}

impl Store {
    /// The directory from the environment, or the default.
    pub fn from_env() -> Store {
        let dir = std::env::var_os(DIR_ENV)
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from);
        Store { dir }
    }

    /// A store in `dir`.
    pub fn at(dir: &Path) -> Store {
        Store {
            dir: dir.to_owned(),
        }
    }

    /// The record file of `key`.
    pub fn path(&self, key: &Key) -> PathBuf {
        self.dir.join(key.file_name())
    }

    fn file_error(&self, context: &'static str, path: PathBuf) -> impl FnOnce(Errno) -> Error {
        move |e| Error::File {
            context,
            path,
            source: std::io::Error::from(e),
        }
    }

    /// Lock the connection `key`; refused when another run holds it.
    pub fn lock(&self, key: &Key, what: &str) -> Result<Lock, Error> {
        sys::mkdir_private(&self.dir)
            .map_err(self.file_error("cannot create the state directory", self.dir.clone()))?;
        let path = self.dir.join(format!("{}.lock", key.file_name()));
        loop {
            let f = match sys::lock_file(&path) {
                Ok(f) => f,
                // Another run removed the directory, empty, a moment ago.
                Err(Errno::ENOENT) => {
                    sys::mkdir_private(&self.dir).map_err(
                        self.file_error("cannot create the state directory", self.dir.clone()),
                    )?;
                    continue;
                }
                Err(Errno::EWOULDBLOCK) => {
                    return Err(Error::Refused(format!(
                        "{what}: another netlink-tool is working on '{}' of this namespace \
                         right now",
                        key.name
                    )));
                }
                Err(e) => return Err(self.file_error("cannot lock", path)(e)),
            };
            // A run that finished the connection meanwhile removed the file we opened.
            if sys::same_file(&f, &path) {
                return Ok(Lock {
                    _file: f,
                    path,
                    dir: self.dir.clone(),
                });
            }
        }
    }

    /// The record of `key`, if there is one. One that does not read back exactly is
    /// an error (it is trusted whole or not at all).
    pub fn read(&self, key: &Key) -> Result<Option<Record>, Error> {
        let path = self.path(key);
        let text = sys::read_optional(&path).map_err(|source| Error::File {
            context: "cannot read the connection record",
            path: path.clone(),
            source,
        })?;
        text.map(|t| {
            Record::parse(&t).map_err(|why| {
                Error::Refused(format!(
                    "the connection record '{}' is not one this netlink-tool can trust ({why}); \
                     undo that connection by hand and remove the file",
                    path.display()
                ))
            })
        })
        .transpose()
    }

    /// Write (or replace) the record of `key`.
    pub fn write(&self, key: &Key, r: &Record) -> Result<(), Error> {
        let path = self.path(key);
        let tmp = self.dir.join(format!(".{}.tmp", key.file_name()));
        sys::write_atomic(&path, &tmp, &r.to_text()).map_err(|source| Error::File {
            context: "cannot write the connection record",
            path,
            source,
        })
    }

    /// Remove the record of `key` (none is fine).
    pub fn remove(&self, key: &Key) -> Result<(), Error> {
        let path = self.path(key);
        match sys::unlink(&path) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(self.file_error("cannot remove the connection record", path)(e)),
        }
    }

    /// The records in the store (file names), for tests.
    #[cfg(test)]
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.ends_with(".lock"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}
