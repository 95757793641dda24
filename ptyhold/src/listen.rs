//! `--socket PATH`: the holder's listening socket (`SOCK_SEQPACKET`, mode 0600), removed
//! when dropped.
//!
//! A PATH that exists is tried first: when something answers there, ptyhold refuses to
//! start (another holder has it); a socket nobody listens on (ECONNREFUSED: left by a
//! holder that was killed) is replaced; anything that is not a socket is refused.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::SFlag;

use crate::error::Error;
use crate::sys;

/// How many connections may wait to be accepted.
const BACKLOG: i32 = 16;

/// The listening socket; the file is removed on drop if it is still ours.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
    path: PathBuf,
    ino: u64,
}

impl Listener {
    /// Bind and listen on `path`, replacing a stale socket.
    pub fn bind(path: &Path) -> Result<Self, Error> {
        let err = |source: io::Error| Error::Listen {
            path: path.to_owned(),
            source,
        };
        match sys::lstat(path) {
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(err(e.into())),
            Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK => {
                return Err(Error::NotASocket(path.to_owned()));
            }
            Ok(_) => {
                let probe = sys::socket().map_err(|e| err(e.into()))?;
                match sys::connect(probe.as_fd(), path) {
                    // Nobody listens: a stale socket, left by a holder that was killed.
                    Err(Errno::ECONNREFUSED) => match sys::unlink(path) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(err(e)),
                        _ => {}
                    },
                    Err(Errno::ENOENT) => {}
                    // Something listens there: a holder, or a stream socket (EPROTOTYPE).
                    Ok(()) | Err(Errno::EPROTOTYPE | Errno::EAGAIN) => {
                        return Err(Error::SocketInUse(path.to_owned()));
                    }
                    Err(e) => return Err(err(e.into())),
                }
            }
        }
        let fd = sys::socket().map_err(|e| err(e.into()))?;
        // Mode 0600 from the start: the umask is the process's, and ptyhold has one thread.
        let old = sys::umask(0o177);
        let bound = sys::bind(fd.as_fd(), path);
        sys::umask(old);
        bound.map_err(|e| err(e.into()))?;
        let ino = sys::lstat(path).map(|st| st.st_ino).unwrap_or(0);
        let listener = Self {
            fd,
            path: path.to_owned(),
            ino,
        };
        sys::listen(listener.fd.as_fd(), BACKLOG).map_err(|e| err(e.into()))?;
        sys::set_nonblocking(listener.fd.as_fd()).map_err(|e| err(e.into()))?;
        Ok(listener)
    }

    /// The socket, to poll and accept on.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The path it is bound to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Remove the file only when it is still the one we bound (not a newer holder's).
        if sys::lstat(&self.path).is_ok_and(|st| st.st_ino == self.ino) {
            let _ = sys::unlink(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn binds_with_mode_0600_and_refuses_a_live_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        let first = Listener::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(Listener::bind(&path), Err(Error::SocketInUse(_))));
        drop(first);
        assert!(!path.exists());
    }

    #[test]
    fn a_stream_listener_is_in_use_and_a_dead_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let other = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(matches!(Listener::bind(&path), Err(Error::SocketInUse(_))));
        // Closed, its file stays behind: stale.
        drop(other);
        assert!(path.exists());
        let ours = Listener::bind(&path).unwrap();
        assert_eq!(ours.path(), path);
        drop(ours);
        assert!(!path.exists());
    }

    #[test]
    fn refuses_what_is_not_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, b"x").unwrap();
        assert_eq!(
            Listener::bind(&path).unwrap_err().to_string(),
            format!("'{}' exists and is not a socket", path.display())
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    }
}
