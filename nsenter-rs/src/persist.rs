//! Persisted namespaces: `unshare-rs --net=FILE` bind-mounts the new namespace's nsfs
//! file (`/proc/PID/ns/net`) on FILE, as `ip netns add` does under /run/netns, so that it
//! outlives its processes and can be entered by path (`nsenter-rs --net=FILE`,
//! `ip netns exec NAME` for FILE = /run/netns/NAME). `--release FILE` unmounts it again.
//!
//! FILE is created when missing (and /run/netns with it, as `ip netns` would). What a
//! run bound or created is recorded in [`Persisted`], and undone when the run fails
//! before the command starts: a failed unshare-rs leaves no namespace file behind.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::error::Error;
use crate::ns::NsType;
use crate::sys;

use common::nsfs::NETNS_DIR;

/// One `--TYPE=FILE` of unshare-rs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The namespace type.
    pub ns: NsType,
    /// Where to bind it.
    pub path: PathBuf,
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    created: bool,
    bound: bool,
}

/// What this run created and bound, to undo on failure.
#[derive(Debug, Default)]
pub struct Persisted {
    entries: Vec<Entry>,
}

impl Persisted {
    /// Make sure each file exists as a mount point (creating the missing ones), before
    /// any namespace is made: a bad path fails with nothing done.
    pub fn prepare(requests: &[Request]) -> Result<Persisted, Error> {
        let mut done = Persisted::default();
        for r in requests {
            match prepare_one(&r.path) {
                Ok(created) => done.entries.push(Entry {
                    path: r.path.clone(),
                    created,
                    bound: false,
                }),
                Err(e) => {
                    done.undo();
                    return Err(e);
                }
            }
        }
        Ok(done)
    }

    /// Bind the namespaces of `pid` on the prepared files (`for_children`: take
    /// pid_for_children/time_for_children, for a process that unshared them itself).
    /// On failure, what this call bound is unbound again; the files stay prepared.
    pub fn bind_all(
        &mut self,
        requests: &[Request],
        pid: Pid,
        for_children: bool,
    ) -> Result<(), Error> {
        for r in requests {
            let name = if for_children {
                r.ns.for_children_name()
            } else {
                r.ns.name()
            };
            let source = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
            if let Err(source) = sys::bind(&source, &r.path) {
                self.unbind();
                return Err(Error::Bind {
                    ns: r.ns,
                    path: r.path.clone(),
                    source,
                });
            }
            if let Some(e) = self.entries.iter_mut().find(|e| e.path == r.path) {
                e.bound = true;
            }
        }
        Ok(())
    }

    /// Unmount what was bound (in reverse order), keeping the files.
    fn unbind(&mut self) {
        for e in self.entries.iter_mut().rev().filter(|e| e.bound) {
            let _ = sys::umount_detach(&e.path);
            e.bound = false;
        }
    }

    /// Undo everything: unmount what was bound, remove the files that were created.
    pub fn undo(&mut self) {
        self.unbind();
        for e in self.entries.drain(..).rev() {
            if e.created {
                let _ = sys::unlink(&e.path);
            }
        }
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Create `path` as an empty file when it does not exist; true when created.
fn prepare_one(path: &Path) -> Result<bool, Error> {
    let err = |source: io::Error| Error::CreateFile {
        path: path.to_owned(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(err(io::Error::from_raw_os_error(libc::EISDIR))),
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if path.parent() == Some(Path::new(NETNS_DIR)) {
                match sys::mkdir(Path::new(NETNS_DIR), 0o755) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(err(e.into())),
                }
            }
            sys::create_excl(path, 0o444).map_err(|e| err(e.into()))?;
            Ok(true)
        }
        Err(e) => Err(err(e)),
    }
}

/// `--release FILE`: unmount the namespace bound on FILE, then remove FILE when nothing
/// is mounted on it any more and it is an empty regular file (as `ip netns delete` does);
/// an empty file on which nothing is bound (a killed run's placeholder) is removed too.
/// The namespace itself ends when its last process and its last reference are gone.
pub fn release(path: &Path) -> Result<(), Error> {
    match sys::fs_magic(path) {
        Ok(m) if m == sys::NSFS_MAGIC => {}
        // The placeholder of a run killed before it bound the namespace (SIGKILL): the
        // empty file it made, removed as a bound one would have been.
        Ok(_) if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.size() == 0) => {
            return sys::unlink(path).map_err(|source| Error::Release {
                path: path.to_owned(),
                source,
            });
        }
        Ok(_) => return Err(Error::NotBound(path.to_owned())),
        Err(source) => {
            return Err(Error::Release {
                path: path.to_owned(),
                source,
            });
        }
    }
    sys::umount_detach(path).map_err(|source| Error::Release {
        path: path.to_owned(),
        source,
    })?;
    let still_bound = common::nsfs::is_namespace(path);
    let empty_file = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.size() == 0);
    if !still_bound && empty_file {
        let _ = sys::unlink(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_creates_missing_files_and_undo_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("existing");
        std::fs::write(&existing, "").unwrap();
        let reqs = [
            Request {
                ns: NsType::Net,
                path: existing.clone(),
            },
            Request {
                ns: NsType::Uts,
                path: dir.path().join("new"),
            },
        ];
        let mut p = Persisted::prepare(&reqs).unwrap();
        assert!(dir.path().join("new").is_file());
        p.undo();
        assert!(!dir.path().join("new").exists());
        assert!(existing.is_file(), "a file the user made stays");
        assert!(p.is_empty());
    }

    #[test]
    fn prepare_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let reqs = [
            Request {
                ns: NsType::Net,
                path: dir.path().join("a"),
            },
            Request {
                ns: NsType::Uts,
                path: dir.path().join("missing-dir/b"),
            },
        ];
        let e = Persisted::prepare(&reqs).unwrap_err();
        assert_eq!(
            common::exit::message(&e),
            format!(
                "cannot create namespace file '{}': No such file or directory",
                dir.path().join("missing-dir/b").display()
            )
        );
        assert!(
            !dir.path().join("a").exists(),
            "the first file was removed again"
        );
        let e = Persisted::prepare(&[Request {
            ns: NsType::Net,
            path: dir.path().to_owned(),
        }])
        .unwrap_err();
        assert!(common::exit::message(&e).ends_with(": Is a directory"));
    }

    #[test]
    fn release_refuses_plain_files_and_removes_placeholders() {
        let dir = tempfile::tempdir().unwrap();
        // An empty file nothing is bound on: a killed run's placeholder, removed.
        let placeholder = dir.path().join("placeholder");
        std::fs::write(&placeholder, "").unwrap();
        release(&placeholder).unwrap();
        assert!(!placeholder.exists());
        // A file with something in it is not ours: refused, left.
        let f = dir.path().join("plain");
        std::fs::write(&f, "data").unwrap();
        let e = release(&f).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("cannot release '{}': not a namespace file", f.display())
        );
        assert!(f.exists());
        let e = release(&dir.path().join("absent")).unwrap_err();
        assert!(common::exit::message(&e).ends_with(": No such file or directory"));
    }
}
