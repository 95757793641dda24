//! The target process of nsenter-rs: named by PID or pidfile, held by a pidfd from the
//! moment it is named. A pidfd refers to one process for its whole life, never to a later
//! one that gets the same number, so:
//!
//! - all namespaces are entered with one `setns(pidfd, flags)` (Linux 5.8), atomically;
//! - where /proc/PID files must be opened instead (older kernels, files mixed in, root and
//!   working directory), the pidfd is asked afterwards whether the process still lives:
//!   if it does, the files opened were its own.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::error::Error;
use crate::ns::{NsEntry, NsType};
use crate::sys;

/// A process whose namespaces, root or working directory are wanted.
#[derive(Debug)]
pub struct Target {
    pid: Pid,
    /// None on kernels without pidfd_open (before 5.3).
    pidfd: Option<OwnedFd>,
}

impl Target {
    /// Take hold of process `pid`.
    pub fn open(pid: Pid) -> Result<Target, Error> {
        match sys::pidfd_open(pid) {
            Ok(fd) => Ok(Target {
                pid,
                pidfd: Some(fd),
            }),
            Err(Errno::ENOSYS) => {
                if Path::new(&format!("/proc/{pid}")).exists() {
                    Ok(Target { pid, pidfd: None })
                } else {
                    Err(Error::Target {
                        pid: pid.as_raw(),
                        source: Errno::ESRCH,
                    })
                }
            }
            Err(source) => Err(Error::Target {
                pid: pid.as_raw(),
                source,
            }),
        }
    }

    /// The PID.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The pidfd, when the kernel has them.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// `/proc/PID/<name>`.
    pub fn proc_path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/{name}", self.pid))
    }

    /// `/proc/PID/ns/<type>`.
    pub fn ns_path(&self, t: NsType) -> PathBuf {
        self.proc_path(&format!("ns/{}", t.name()))
    }

    /// Fail when the process has ended: called after opening /proc/PID files, it proves
    /// they were the target's (a PID is only reused after its process is gone).
    pub fn check_alive(&self) -> Result<(), Error> {
        let gone = match &self.pidfd {
            Some(fd) => sys::pidfd_alive(fd.as_fd()) == Err(Errno::ESRCH),
            None => !self.proc_path("").exists(),
        };
        if gone {
            return Err(Error::Target {
                pid: self.pid.as_raw(),
                source: Errno::ESRCH,
            });
        }
        Ok(())
    }

    /// True when the process is in the same namespace of type `t` as we are.
    pub fn shares(&self, t: NsType) -> bool {
        let ours = sys::inode(Path::new(&format!("/proc/self/ns/{}", t.name())));
        let theirs = sys::inode(&self.ns_path(t));
        matches!((ours, theirs), (Ok(a), Ok(b)) if a == b)
    }
}

/// True when this kernel has no namespaces of type `t` (no /proc/self/ns/<type>).
pub fn kernel_lacks(t: NsType) -> bool {
    sys::inode(Path::new(&format!("/proc/self/ns/{}", t.name()))) == Err(Errno::ENOENT)
}

/// The order `--list` shows namespaces in: that of `ls /proc/PID/ns`.
const LIST_ORDER: [NsType; 8] = [
    NsType::Cgroup,
    NsType::Ipc,
    NsType::Mnt,
    NsType::Net,
    NsType::Pid,
    NsType::Time,
    NsType::User,
    NsType::Uts,
];

/// `nsenter-rs --list PID`: the namespaces of `pid`, each with its inode and path. Types
/// the kernel lacks are left out.
pub fn list(pid: Pid) -> Result<Vec<NsEntry>, Error> {
    let target = Target::open(pid)?;
    let mut out = Vec::with_capacity(8);
    for t in LIST_ORDER {
        let path = target.ns_path(t);
        match sys::inode(&path) {
            Ok(inode) => out.push(NsEntry {
                ns_type: t.name(),
                inode,
                path: path.to_string_lossy().into_owned(),
            }),
            Err(source) => {
                target.check_alive()?;
                if source == Errno::ENOENT && kernel_lacks(t) {
                    continue;
                }
                return Err(Error::OpenNs {
                    ns: t,
                    from: format!("of pid {pid}"),
                    source,
                });
            }
        }
    }
    target.check_alive()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = Target {
            pid: Pid::from_raw(42),
            pidfd: None,
        };
        assert_eq!(t.ns_path(NsType::Mnt), PathBuf::from("/proc/42/ns/mnt"));
        assert_eq!(t.proc_path("root"), PathBuf::from("/proc/42/root"));
    }

    #[test]
    fn own_namespaces_are_listed() {
        let me = sys::getpid();
        let entries = list(me).unwrap();
        assert!(entries.len() >= 7, "{entries:?}");
        for e in &entries {
            let link = std::fs::read_link(&e.path).unwrap();
            assert_eq!(
                link.to_string_lossy(),
                format!("{}:[{}]", e.ns_type, e.inode)
            );
        }
        let t = Target::open(me).unwrap();
        assert!(t.shares(NsType::Net));
        t.check_alive().unwrap();
    }
}
