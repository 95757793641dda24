//! Everything mounted in the private mount namespace: the new root as a mount point (bind
//! or `--image`), API filesystems, `--bind`s, the resolver config, the read-only root,
//! and the pivot itself.
//!
//! Paths inside NEWROOT are resolved with openat2(RESOLVE_IN_ROOT) from a handle on the
//! new root, and mounts go onto `/proc/self/fd/N` of the resolved handle: a guest's
//! symlink (`/proc -> /etc`, `/dev -> ../../host`) can never make chroot-rs mount on a
//! host path. Missing mount points are created (as `mount --mkdir` would); that is the
//! one change left in the guest's tree.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;

use crate::error::{Error, quote};
use crate::sys;

/// Which API filesystems to mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiFs {
    /// proc on /proc.
    pub proc: bool,
    /// sysfs, read-only, on /sys.
    pub sys: bool,
    /// A minimal /dev.
    pub dev: bool,
}

impl ApiFs {
    /// True when any is asked for.
    pub fn any(&self) -> bool {
        self.proc || self.sys || self.dev
    }
}

/// One `--bind SRC[:DST[:ro|rw]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindSpec {
    /// Host path.
    pub src: PathBuf,
    /// Path inside the new root.
    pub dst: PathBuf,
    /// Mount read-only.
    pub read_only: bool,
}

impl BindSpec {
    /// Parse `SRC:DST`, `SRC:DST:ro`, `SRC:DST:rw` or `SRC` (same path inside).
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let bad = |why| Error::BindSpec {
            spec: spec.to_owned(),
            why,
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let (src, dst, read_only) = match parts.as_slice() {
            [src] => (*src, *src, false),
            [src, dst] => (*src, *dst, false),
            [src, dst, "ro"] => (*src, *dst, true),
            [src, dst, "rw"] => (*src, *dst, false),
            [_, _, _] => return Err(bad("the option after DST must be ro or rw")),
            _ => return Err(bad("expected SRC[:DST[:ro|rw]]")),
        };
        if src.is_empty() {
            return Err(bad("empty source"));
        }
        if dst.is_empty() {
            return Err(bad("empty destination"));
        }
        Ok(Self {
            src: PathBuf::from(src),
            dst: PathBuf::from(dst),
            read_only,
        })
    }
}

/// What a missing mount point is created as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
}

impl Kind {
    /// The mount point a bind of `src` needs: a directory for a directory.
    fn of(src: &Path) -> Self {
        if src.is_dir() { Kind::Dir } else { Kind::File }
    }
}

/// A handle on the new root: its host path (for messages and the trace) and an O_PATH
/// descriptor every inner path is resolved from.
#[derive(Debug)]
pub struct NewRoot {
    path: PathBuf,
    fd: OwnedFd,
}

/// `inner` without leading `/`, `.` or `..` that would climb above the root: the path
/// as RESOLVE_IN_ROOT would see it lexically.
fn lexical(inner: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in inner.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

impl NewRoot {
    /// Open a handle on `path` (after it has become the mount it will be).
    pub fn open(path: &Path) -> Result<Self, Error> {
        let fd = sys::open_dir(path).map_err(|source| Error::ChangeRoot {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            fd,
        })
    }

    /// The host-side path of `inner`, for messages.
    pub fn shown(&self, inner: &Path) -> PathBuf {
        self.path.join(lexical(inner))
    }

    fn open_inner(&self, inner: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        let rel = lexical(inner);
        let rel = if rel.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            rel
        };
        sys::open_in_root(self.fd.as_fd(), &rel, flags, 0, 1)
    }

    /// Resolve `inner` inside the root, creating it (and its parents) as `kind` when it
    /// does not exist. A dangling symlink is followed and its target created, inside the
    /// root (so a guest's `/etc/resolv.conf -> ../run/…/stub-resolv.conf` gets one).
    fn ensure(&self, inner: &Path, kind: Kind) -> Result<OwnedFd, Error> {
        self.ensure_depth(&lexical(inner), kind, 0)
    }

    fn ensure_depth(&self, rel: &Path, kind: Kind, depth: u32) -> Result<OwnedFd, Error> {
        let prepare = |source| Error::Prepare {
            path: PathBuf::from("/").join(rel),
            source,
        };
        if depth > 16 {
            return Err(prepare(Errno::ELOOP));
        }
        match self.open_inner(rel, OFlag::O_PATH) {
            Err(Errno::ENOENT) => {}
            other => return other.map_err(prepare),
        }
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Err(prepare(Errno::ENOENT));
        };
        let dir = self.ensure_depth(parent, Kind::Dir, depth + 1)?;
        // A dangling symlink: create what it points to, inside the root.
        if let Ok(link) = sys::readlinkat(dir.as_fd(), Path::new(name)) {
            let target = if Path::new(&link).is_absolute() {
                lexical(Path::new(&link))
            } else {
                lexical(&parent.join(&link))
            };
            return self.ensure_depth(&target, kind, depth + 1);
        }
        let made = match kind {
            Kind::Dir => sys::mkdirat(
                dir.as_fd(),
                Path::new(name),
                Mode::from_bits_truncate(0o755),
            ),
            Kind::File => sys::create_file_at(dir.as_fd(), Path::new(name)),
        };
        match made {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(prepare(e)),
        }
        self.open_inner(rel, OFlag::O_PATH).map_err(prepare)
    }

    fn mount_fs(
        &self,
        inner: &str,
        fstype: &str,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Error> {
        let target = self.ensure(Path::new(inner), Kind::Dir)?;
        let shown = self.shown(Path::new(inner));
        sys::mount(
            Some(fstype),
            &sys::fd_path(target.as_fd()),
            &shown,
            Some(fstype),
            flags,
            data,
        )
        .map_err(|source| Error::Mount {
            what: fstype.to_owned(),
            target: shown.clone(),
            source,
        })
    }

    /// Bind `src` (a host path) onto `inner`, recursively; read-only when asked.
    fn bind(&self, src: &Path, inner: &Path, read_only: bool) -> Result<(), Error> {
        let target = self.ensure(inner, Kind::of(src))?;
        let shown = self.shown(inner);
        let mount_err = |source| Error::Mount {
            what: quote(src),
            target: shown.clone(),
            source,
        };
        sys::bind_mount(
            src,
            &sys::fd_path(target.as_fd()),
            &shown,
            MsFlags::MS_BIND | MsFlags::MS_REC,
        )
        .map_err(mount_err)?;
        if read_only {
            // The handle taken before the mount points below it: resolve again.
            let top = self.open_inner(inner, OFlag::O_PATH).map_err(mount_err)?;
            sys::make_read_only_recursive(&top, &shown).map_err(mount_err)?;
        }
        Ok(())
    }

    /// proc on /proc.
    pub fn mount_proc(&self) -> Result<(), Error> {
        self.mount_fs(
            "proc",
            "proc",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
        )
    }

    /// sysfs on /sys, read-only. In a user namespace that does not own the network
    /// namespace sysfs cannot be mounted: the host's /sys is bound read-only instead.
    pub fn mount_sys(&self) -> Result<(), Error> {
        let flags =
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        match self.mount_fs("sys", "sysfs", flags, None) {
            Err(Error::Mount {
                source: Errno::EPERM,
                ..
            }) => self.bind(Path::new("/sys"), Path::new("sys"), true),
            other => other,
        }
    }

    /// A minimal /dev on a tmpfs: null zero full random urandom tty (device nodes, or
    /// binds of the host's when mknod is not allowed), devpts with ptmx, shm, and the
    /// fd/stdin/stdout/stderr links.
    pub fn mount_dev(&self) -> Result<(), Error> {
        self.mount_fs(
            "dev",
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("mode=755,size=64k"),
        )?;
        let dev = self
            .open_inner(Path::new("dev"), OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|source| Error::Prepare {
                path: "/dev".into(),
                source,
            })?;
        let prepare = |name: &str| {
            let path = PathBuf::from("/dev").join(name);
            move |source| Error::Prepare { path, source }
        };
        for (name, major, minor) in [
            ("null", 1, 3),
            ("zero", 1, 5),
            ("full", 1, 7),
            ("random", 1, 8),
            ("urandom", 1, 9),
            ("tty", 5, 0),
        ] {
            match sys::mknod_char(dev.as_fd(), name, 0o666, major, minor) {
                Ok(()) => {}
                Err(Errno::EPERM) => {
                    let host = Path::new("/dev").join(name);
                    self.bind(&host, &Path::new("dev").join(name), false)?;
                }
                Err(e) => return Err(prepare(name)(e)),
            }
        }
        for dir in ["pts", "shm"] {
            sys::mkdirat(dev.as_fd(), Path::new(dir), Mode::from_bits_truncate(0o755))
                .map_err(prepare(dir))?;
        }
        self.mount_fs(
            "dev/pts",
            "devpts",
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=620"),
        )?;
        self.mount_fs(
            "dev/shm",
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=1777"),
        )?;
        for (target, name) in [
            ("pts/ptmx", "ptmx"),
            ("/proc/self/fd", "fd"),
            ("/proc/self/fd/0", "stdin"),
            ("/proc/self/fd/1", "stdout"),
            ("/proc/self/fd/2", "stderr"),
        ] {
            sys::symlinkat(target, dev.as_fd(), name).map_err(prepare(name))?;
        }
        Ok(())
    }

    /// A tmpfs on `inner` (mode 755, nosuid, nodev), created when missing.
    pub fn mount_tmpfs(&self, inner: &Path) -> Result<(), Error> {
        let rel = lexical(inner);
        self.mount_fs(
            &rel.to_string_lossy(),
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=755"),
        )
    }

    /// `--console`: the terminal on standard input bound onto /dev/console.
    pub fn bind_console(&self) -> Result<(), Error> {
        let stdin = std::io::stdin();
        if !sys::isatty(stdin.as_fd()) {
            return Err(Error::Terminal {
                what: "--console: standard input is not a terminal".to_owned(),
                source: Errno::ENOTTY,
            });
        }
        // A bind takes its source from this mount namespace: the terminal's path (its
        // devpts as copied into our namespace), checked to be the same device.
        let path = std::fs::read_link("/proc/self/fd/0").map_err(|e| Error::Terminal {
            what: "--console: cannot name the terminal on standard input".to_owned(),
            source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })?;
        let same = |a: &std::fs::Metadata, b: &std::fs::Metadata| {
            use std::os::unix::fs::MetadataExt;
            a.rdev() == b.rdev() && a.ino() == b.ino()
        };
        let ours = std::fs::metadata("/proc/self/fd/0");
        let named = std::fs::metadata(&path);
        if !matches!((&ours, &named), (Ok(a), Ok(b)) if same(a, b)) {
            return Err(Error::Terminal {
                what: format!(
                    "--console: the terminal on standard input is not {} in this mount namespace",
                    quote(&path)
                ),
                source: Errno::ENOENT,
            });
        }
        self.bind(&path, Path::new("dev/console"), false)
    }

    /// `--ttys N:FD`: N terminals from the new /dev/pts, each bound onto /dev/ttyK, their
    /// master ends sent over the socket `sock` (tag K) and closed here. Returns their
    /// names in the new devpts (`pts/0`…), for systemd's `container_ttys`.
    pub fn make_ttys(&self, n: u32, sock: &OwnedFd) -> Result<Vec<String>, Error> {
        let term = |what: String| move |source| Error::Terminal { what, source };
        let mut names = Vec::new();
        for k in 1..=n {
            let master = self
                .open_inner(Path::new("dev/pts/ptmx"), OFlag::O_RDWR | OFlag::O_NOCTTY)
                .map_err(term(format!("cannot open /dev/pts/ptmx for tty{k}")))?;
            let num = sys::pty_unlock(master.as_fd())
                .map_err(term(format!("cannot unlock the pty of tty{k}")))?;
            let slave = sys::pty_peer(master.as_fd())
                .map_err(term(format!("cannot open the pty of tty{k}")))?;
            self.bind(
                &sys::fd_path(slave.as_fd()),
                &Path::new("dev").join(format!("tty{k}")),
                false,
            )?;
            let tag = u8::try_from(k).unwrap_or(u8::MAX);
            sys::send_fd(sock.as_fd(), tag, master.as_fd())
                .map_err(term(format!("cannot hand the master of tty{k} over")))?;
            names.push(format!("pts/{num}"));
        }
        Ok(names)
    }

    /// `--protect-kernel`: the kernel's global knobs read-only, its secrets hidden.
    pub fn protect_kernel(&self) -> Result<(), Error> {
        for ro in ["proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus"] {
            let Ok(fd) = self.open_inner(Path::new(ro), OFlag::O_PATH) else {
                continue; // not on this kernel
            };
            let shown = self.shown(Path::new(ro));
            let err = |source| Error::Mount {
                what: format!("{} read-only", quote(&shown)),
                target: shown.clone(),
                source,
            };
            let path = sys::fd_path(fd.as_fd());
            sys::bind_mount(&path, &path, &shown, MsFlags::MS_BIND | MsFlags::MS_REC)
                .map_err(err)?;
            let top = self.open_inner(Path::new(ro), OFlag::O_PATH).map_err(err)?;
            sys::make_read_only_recursive(&top, &shown).map_err(err)?;
        }
        for file in [
            "proc/kcore",
            "proc/keys",
            "proc/timer_list",
            "proc/sched_debug",
        ] {
            if self.open_inner(Path::new(file), OFlag::O_PATH).is_ok() {
                self.bind(Path::new("/dev/null"), Path::new(file), true)?;
            }
        }
        for dir in ["sys/firmware", "proc/acpi", "proc/scsi"] {
            if self.open_inner(Path::new(dir), OFlag::O_PATH).is_ok() {
                self.mount_fs(
                    dir,
                    "tmpfs",
                    MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV
                        | MsFlags::MS_NOEXEC,
                    Some("size=4k,mode=555"),
                )?;
            }
        }
        Ok(())
    }

    /// `--cgroup-fs`: the cgroup filesystem on /sys/fs/cgroup as the host lays it out.
    pub fn mount_cgroup_fs(&self, layout: &crate::cgroupfs::Layout) -> Result<(), Error> {
        use crate::cgroupfs::{Entry, Layout, inner};
        let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        let entries = match layout {
            Layout::Unified => return self.mount_fs("sys/fs/cgroup", "cgroup2", nosuid, None),
            Layout::Tmpfs(entries) => entries,
        };
        self.mount_fs("sys/fs/cgroup", "tmpfs", nosuid, Some("mode=755"))?;
        let dir = self
            .open_inner(
                Path::new("sys/fs/cgroup"),
                OFlag::O_PATH | OFlag::O_DIRECTORY,
            )
            .map_err(|source| Error::Prepare {
                path: "/sys/fs/cgroup".into(),
                source,
            })?;
        for e in entries {
            match e {
                Entry::V1 { name, data } => {
                    self.mount_fs(&inner(name).to_string_lossy(), "cgroup", nosuid, Some(data))?;
                }
                Entry::V2 { name } => {
                    self.mount_fs(&inner(name).to_string_lossy(), "cgroup2", nosuid, None)?;
                }
                Entry::Link { name, target } => {
                    sys::symlinkat(target, dir.as_fd(), name).map_err(|source| Error::Prepare {
                        path: Path::new("/").join(inner(name)),
                        source,
                    })?;
                }
            }
        }
        // The tmpfs itself read-only: no new hierarchy can be mounted beside the others.
        let shown = self.shown(Path::new("sys/fs/cgroup"));
        sys::mount(
            None,
            &sys::fd_path(dir.as_fd()),
            &shown,
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | nosuid,
            None,
        )
        .map_err(|source| Error::Mount {
            what: "the cgroup tmpfs read-only".to_owned(),
            target: shown.clone(),
            source,
        })
    }

    /// The host's resolver config (`real`: /etc/resolv.conf followed to the real file)
    /// bound read-only over the guest's, which is created (through its symlink, if
    /// dangling) when missing.
    pub fn bind_resolv_conf(&self, real: &Path) -> Result<(), Error> {
        self.bind(real, Path::new("etc/resolv.conf"), true)
    }

    /// Apply the user's `--bind`s.
    pub fn bind_all(&self, binds: &[BindSpec]) -> Result<(), Error> {
        for b in binds {
            self.bind(&b.src, &b.dst, b.read_only)?;
        }
        Ok(())
    }

    /// Create the mount points the later mounts need (for a root about to be made
    /// read-only, which would refuse them then).
    pub fn prepare_mount_points(
        &self,
        api: ApiFs,
        binds: &[BindSpec],
        resolv_conf: bool,
    ) -> Result<(), Error> {
        for (wanted, dir) in [(api.proc, "proc"), (api.sys, "sys"), (api.dev, "dev")] {
            if wanted {
                self.ensure(Path::new(dir), Kind::Dir)?;
            }
        }
        for b in binds {
            self.ensure(&b.dst, Kind::of(&b.src))?;
        }
        if resolv_conf {
            self.ensure(Path::new("etc/resolv.conf"), Kind::File)?;
        }
        Ok(())
    }

    /// Make the root read-only, with every mount below it (those that came with the
    /// bind of NEWROOT). Done before the API filesystems and binds are mounted (on
    /// mount points prepared first), which keep their own modes.
    pub fn make_read_only(&self) -> Result<(), Error> {
        sys::make_read_only_recursive(&self.fd, &self.path).map_err(|source| Error::Mount {
            what: "the root read-only".to_owned(),
            target: self.path.clone(),
            source,
        })
    }

    /// pivot_root into the root and detach the old one: chdir(NEWROOT),
    /// pivot_root(".", "."), umount2(".", MNT_DETACH), chdir("/").
    pub fn pivot(&self) -> Result<(), Error> {
        let err = |source| Error::Pivot {
            path: self.path.clone(),
            source,
        };
        sys::chdir(&self.path).map_err(err)?;
        sys::pivot_root(Path::new("."), Path::new(".")).map_err(err)?;
        sys::umount_detach(Path::new(".")).map_err(err)?;
        sys::chdir(Path::new("/")).map_err(Error::ChdirRoot)
    }
}

/// The host's /etc/resolv.conf, followed to the file it names.
pub fn host_resolv_conf() -> Result<PathBuf, Error> {
    let host = Path::new("/etc/resolv.conf");
    host.canonicalize().map_err(|source| Error::Access {
        path: host.to_owned(),
        source,
    })
}

/// Make NEWROOT a mount point of its own: a recursive bind onto itself.
pub fn bind_onto_itself(path: &Path) -> Result<(), Error> {
    sys::bind_mount(path, path, path, MsFlags::MS_BIND | MsFlags::MS_REC).map_err(|source| {
        Error::Mount {
            what: quote(path),
            target: path.to_owned(),
            source,
        }
    })
}

/// Make every mount in this (new) namespace private, so nothing propagates back.
pub fn make_private() -> Result<(), Error> {
    sys::mount(
        None,
        Path::new("/"),
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )
    .map_err(|source| Error::Mount {
        what: "'/' as private".to_owned(),
        target: "/".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_specs() {
        let b = BindSpec::parse("/srv/data:/data:ro").unwrap();
        assert_eq!(
            b,
            BindSpec {
                src: "/srv/data".into(),
                dst: "/data".into(),
                read_only: true
            }
        );
        let b = BindSpec::parse("/srv/data:/data").unwrap();
        assert!(!b.read_only);
        let b = BindSpec::parse("/srv/data:/data:rw").unwrap();
        assert!(!b.read_only);
        let b = BindSpec::parse("/srv/data").unwrap();
        assert_eq!(b.dst, PathBuf::from("/srv/data"));
        for bad in ["", ":/x", "/x:", "/x:/y:rx", "/x:/y:ro:extra"] {
            assert!(BindSpec::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            common::exit::message(&BindSpec::parse("/x:/y:rx").unwrap_err()),
            "invalid bind '/x:/y:rx': the option after DST must be ro or rw"
        );
    }

    #[test]
    fn lexical_paths_stay_inside() {
        assert_eq!(lexical(Path::new("/etc/../../../x")), PathBuf::from("x"));
        assert_eq!(lexical(Path::new("./a/./b/")), PathBuf::from("a/b"));
        assert_eq!(lexical(Path::new("/")), PathBuf::new());
    }
}
