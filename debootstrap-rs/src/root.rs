//! TARGET as a confined tree: every path is resolved with openat2(RESOLVE_IN_ROOT) from
//! a descriptor of TARGET, so `..` and symlinks (absolute or relative, planted by a
//! package or already there) resolve inside TARGET and never outside it. The final
//! component is then handled with the *at() calls relative to its parent's descriptor,
//! without following it.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::sys;

/// A directory tree that paths cannot escape.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

fn io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Split a relative path into its parent and last component.
pub fn split(rel: &Path) -> (&Path, &OsStr) {
    (
        rel.parent().unwrap_or(Path::new("")),
        rel.file_name().unwrap_or_default(),
    )
}

/// Normalise a path from an archive: leading `/` and `./` dropped, `.` skipped; `None`
/// when it has a `..` component (refused, never clamped).
pub fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => return None,
        }
    }
    Some(out)
}

impl Root {
    /// Open the directory `path` as a root.
    pub fn open(path: &Path) -> io::Result<Self> {
        let fd = sys::open_dir(path).map_err(io)?;
        Ok(Self {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The root's path on the host.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root's descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The host path of `rel` (for messages and for tools run outside, such as mkfs).
    pub fn host(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    /// Open `rel` (resolved inside the root) with `flags`.
    pub fn open_at(&self, rel: &Path, flags: OFlag, mode: u32) -> io::Result<OwnedFd> {
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        sys::open_in_root(self.fd(), rel, flags, mode).map_err(io)
    }

    /// The directory `rel`, created (0755, with its parents) when missing.
    pub fn dir(&self, rel: &Path) -> io::Result<OwnedFd> {
        match self.open_at(rel, OFlag::O_PATH | OFlag::O_DIRECTORY, 0) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let (parent, name) = split(rel);
                if name.is_empty() {
                    return Err(e);
                }
                let pfd = self.dir(parent)?;
                match sys::mkdirat(pfd.as_fd(), name, 0o755) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(io(e)),
                }
                self.open_at(rel, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
            }
            r => r,
        }
    }

    /// Does `rel` exist (without following a final symlink)?
    pub fn exists(&self, rel: &Path) -> bool {
        let (parent, name) = split(rel);
        self.open_at(parent, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
            .is_ok_and(|d| sys::lstatat(d.as_fd(), name).is_ok())
    }

    /// lstat of `rel`.
    pub fn lstat(&self, rel: &Path) -> io::Result<libc::stat> {
        let (parent, name) = split(rel);
        let d = self.open_at(parent, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)?;
        sys::lstatat(d.as_fd(), name).map_err(io)
    }

    /// Read the regular file `rel`.
    pub fn read(&self, rel: &Path) -> io::Result<Vec<u8>> {
        let fd = self.open_at(rel, OFlag::O_RDONLY | OFlag::O_NOFOLLOW, 0)?;
        let mut buf = Vec::new();
        std::fs::File::from(fd).read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// Replace `rel` with a file holding `data` (root-owned, `mode`): written under a
    /// temporary name and renamed over, never through an existing symlink.
    pub fn write(&self, rel: &Path, data: &[u8], mode: u32) -> io::Result<()> {
        self.replace_with(rel, mode, |f| f.write_all(data))
    }

    /// Replace `rel` with a copy of the host file `src` (root-owned, `mode`), copied in
    /// the kernel (copy_file_range), never through an existing symlink.
    pub fn copy_in(&self, src: &Path, rel: &Path, mode: u32) -> io::Result<()> {
        let mut from = std::fs::File::open(src)?;
        self.replace_with(rel, mode, |f| io::copy(&mut from, f).map(|_| ()))
    }

    /// Fill a temporary file beside `rel`, give it root and `mode`, rename it over `rel`;
    /// on failure the temporary file is removed.
    fn replace_with(
        &self,
        rel: &Path,
        mode: u32,
        fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
    ) -> io::Result<()> {
        let (parent, name) = split(rel);
        let d = self.dir(parent)?;
        let mut tmp = OsString::from(".");
        tmp.push(name);
        tmp.push(".debootstrap-rs-new");
        let _ = sys::unlinkat(d.as_fd(), &tmp, false);
        let fd = sys::create_at(d.as_fd(), &tmp, 0o600).map_err(io)?;
        let mut f = std::fs::File::from(fd);
        let r = fill(&mut f)
            .and_then(|()| sys::fchown_fchmod(f.as_fd(), 0, 0, mode).map_err(io))
            .and_then(|()| {
                drop(f);
                sys::renameat(d.as_fd(), &tmp, d.as_fd(), name).map_err(io)
            });
        if r.is_err() {
            let _ = sys::unlinkat(d.as_fd(), &tmp, false);
        }
        r
    }

    /// Remove the non-directory `rel`; a missing one is fine.
    pub fn remove(&self, rel: &Path) -> io::Result<()> {
        let (parent, name) = split(rel);
        let d = match self.open_at(parent, OFlag::O_PATH | OFlag::O_DIRECTORY, 0) {
            Ok(d) => d,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        };
        match sys::unlinkat(d.as_fd(), name, false) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    /// Remove what is inside the directory `rel` (and `rel` itself with `itself`).
    /// Symlinks are removed, never followed.
    pub fn remove_tree(&self, rel: &Path, itself: bool) -> io::Result<()> {
        let st = match if rel.as_os_str().is_empty() {
            self.open_at(rel, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
                .and_then(|fd| nix::sys::stat::fstat(&fd).map_err(io))
        } else {
            self.lstat(rel)
        } {
            Ok(st) => st,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return if itself { self.remove(rel) } else { Ok(()) };
        }
        let fd = self.open_at(
            rel,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
            0,
        )?;
        let proc = PathBuf::from(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ));
        let mut names: Vec<OsString> = std::fs::read_dir(&proc)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for n in names {
            let child = rel.join(&n);
            let st = sys::lstatat(fd.as_fd(), &n).map_err(io)?;
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                self.remove_tree(&child, true)?;
            } else {
                sys::unlinkat(fd.as_fd(), &n, false).map_err(io)?;
            }
        }
        if itself {
            let (parent, name) = split(rel);
            let d = self.open_at(parent, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)?;
            sys::unlinkat(d.as_fd(), name, true).map_err(io)?;
        }
        Ok(())
    }

    /// Create the symlink `rel` → `target` (replacing a non-directory at `rel`).
    pub fn symlink(&self, target: &Path, rel: &Path) -> io::Result<()> {
        let (parent, name) = split(rel);
        let d = self.dir(parent)?;
        match sys::symlinkat(target.as_os_str(), d.as_fd(), name) {
            Err(Errno::EEXIST) => {
                sys::unlinkat(d.as_fd(), name, false).map_err(io)?;
                sys::symlinkat(target.as_os_str(), d.as_fd(), name).map_err(io)
            }
            r => r.map_err(io),
        }
    }

    /// Rename `from` to `to`, both inside the root.
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (fp, fname) = split(from);
        let (tp, tname) = split(to);
        let fd = self.open_at(fp, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)?;
        let td = self.dir(tp)?;
        sys::renameat(fd.as_fd(), fname, td.as_fd(), tname).map_err(io)
    }

    /// Create a character device (mode, major, minor) unless `rel` exists. Something
    /// else already there (a package's symlink) is left alone, as debootstrap leaves it,
    /// and never followed.
    pub fn mknod_char(&self, rel: &Path, mode: u32, major: u64, minor: u64) -> io::Result<()> {
        let (parent, name) = split(rel);
        let d = self.dir(parent)?;
        match sys::mknodat(
            d.as_fd(),
            name,
            nix::sys::stat::SFlag::S_IFCHR,
            mode,
            major,
            minor,
        ) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                let st = sys::lstatat(d.as_fd(), name).map_err(io)?;
                if st.st_mode & libc::S_IFMT != libc::S_IFCHR {
                    return Ok(());
                }
            }
            Err(e) => return Err(io(e)),
        }
        // The mode without the umask; not through a symlink should one appear meanwhile.
        sys::fchmodat(d.as_fd(), name, mode).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_refuses_dotdot() {
        assert_eq!(
            normalize(Path::new("./usr/bin/x")),
            Some("usr/bin/x".into())
        );
        assert_eq!(normalize(Path::new("/abs/x")), Some("abs/x".into()));
        assert_eq!(normalize(Path::new("./")), Some(PathBuf::new()));
        assert_eq!(normalize(Path::new("a/../../escape")), None);
        assert_eq!(normalize(Path::new("../escape")), None);
    }

    #[test]
    fn symlinks_cannot_lead_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let probe = format!("debootstrap-rs-probe-{}", std::process::id());
        // An absolute symlink to the host's /tmp, then a write through it: it lands in
        // TARGET/tmp, never in /tmp.
        root.dir(Path::new("tmp")).unwrap();
        std::os::unix::fs::symlink("/tmp", dir.path().join("evil")).unwrap();
        root.write(&Path::new("evil").join(&probe), b"x", 0o644)
            .unwrap();
        assert!(!Path::new("/tmp").join(&probe).exists());
        assert!(dir.path().join("tmp").join(&probe).exists());
        // A relative one that climbs: it stops at TARGET.
        std::os::unix::fs::symlink("../../../../../../../tmp", dir.path().join("up")).unwrap();
        root.write(&Path::new("up").join(format!("{probe}-2")), b"x", 0o644)
            .unwrap();
        assert!(dir.path().join("tmp").join(format!("{probe}-2")).exists());
        assert!(!Path::new("/tmp").join(format!("{probe}-2")).exists());
        // A dangling one cannot be written through at all.
        std::os::unix::fs::symlink("/nonexistent-dir", dir.path().join("dangling")).unwrap();
        assert!(root.write(Path::new("dangling/f"), b"x", 0o644).is_err());
        root.remove_tree(Path::new(""), false).unwrap();
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let e = root
            .replace_with(Path::new("f"), 0o644, |f| {
                f.write_all(b"half")?;
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            })
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
        root.copy_in(Path::new("/proc/self/exe"), Path::new("f"), 0o755)
            .unwrap();
        assert!(std::fs::metadata(dir.path().join("f")).unwrap().len() > 0);
    }

    #[test]
    fn device_nodes_never_chmod_through_a_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, b"secret").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::create_dir(dir.path().join("dev")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("dev/null")).unwrap();
        let root = Root::open(dir.path()).unwrap();
        root.mknod_char(Path::new("dev/null"), 0o666, 1, 3).unwrap();
        let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600, "chmod went through the symlink");
        assert!(
            std::fs::symlink_metadata(dir.path().join("dev/null"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // The chmod itself refuses a symlink.
        let d = root.dir(Path::new("dev")).unwrap();
        assert!(sys::fchmodat(d.as_fd(), OsStr::new("null"), 0o666).is_err());
        assert_eq!(
            std::fs::metadata(&victim).unwrap().permissions().mode() & 0o7777,
            0o600
        );
    }
}
