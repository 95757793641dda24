//! What `--container` adds to entering namespaces, so that an attached command is
//! confined exactly as the container's init is (as lxc-attach does), not as its caller:
//!
//! - the init's **cgroups**, in every hierarchy (v1 and v2): the command is limited,
//!   accounted and frozen with the container;
//! - the init's **capability bounding set**, **no_new_privs** and **seccomp** filter (the
//!   container profile of `common::seccomp`, installed when the init runs under one);
//! - a **clean environment** (TERM kept, a standard PATH, HOME, and the init's
//!   `container=`), nothing else of the caller's;
//! - **no way to the caller's terminal**: a command on a terminal gets a new pty, which
//!   nsenter-rs relays from outside, in place of each of its standard streams that is the
//!   caller's terminal (a pipe or a file stays as it is: `x=$(nsenter-rs --container …)`
//!   captures the command's output alone, without the terminal's CRLF or its errors);
//!   otherwise it starts in a new session without a controlling terminal. Descriptors
//!   above 2 are not passed on.
//!
//! What is read about the init is read through /proc while its pidfd proves it is the
//! same process, before any namespace is entered.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::error::{Error, quote};
use crate::sys;
use crate::target::Target;

/// The init's confinement, as read from /proc before entering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confinement {
    /// The init's group in each hierarchy, as host paths.
    pub cgroups: Vec<PathBuf>,
    /// Its capability bounding set (CapBnd).
    pub cap_bnd: u64,
    /// Its no_new_privs bit.
    pub no_new_privs: bool,
    /// It runs under a seccomp filter.
    pub seccomp: bool,
    /// Its `container=` variable.
    pub container: Option<OsString>,
}

impl Confinement {
    /// Read the confinement of `target`.
    pub fn read(target: &Target) -> Result<Confinement, Error> {
        let read = |name: &str| -> Result<Vec<u8>, Error> {
            let path = target.proc_path(name);
            std::fs::read(&path).map_err(|e| {
                Error::setup(format!("cannot read {}", quote(&path)))(Errno::from_raw(
                    e.raw_os_error().unwrap_or(libc::EIO),
                ))
            })
        };
        // A container has a root of its own: entering the namespaces of a process that
        // shares ours (a container still being set up) would give the command this
        // system's files.
        let ours = std::fs::metadata("/");
        let theirs = std::fs::metadata(target.proc_path("root"));
        if let (Ok(a), Ok(b)) = (&ours, &theirs)
            && a.dev() == b.dev()
            && a.ino() == b.ino()
        {
            return Err(Error::NotAContainer(target.pid().as_raw()));
        }
        let status = String::from_utf8_lossy(&read("status")?).into_owned();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_default()
                .to_owned()
        };
        let cap_bnd = u64::from_str_radix(&field("CapBnd:"), 16).unwrap_or(0);
        let no_new_privs = field("NoNewPrivs:") == "1";
        let seccomp = field("Seccomp:") == "2";
        let environ = read("environ")?;
        let container = environ
            .split(|&b| b == 0)
            .find_map(|e| e.strip_prefix(b"container="))
            .map(|v| std::ffi::OsStr::from_bytes(v).to_owned());
        let own = String::from_utf8_lossy(&read("cgroup")?).into_owned();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| {
            Error::setup("cannot read /proc/self/mountinfo")(Errno::from_raw(
                e.raw_os_error().unwrap_or(libc::EIO),
            ))
        })?;
        let cgroups = host_paths(&own, &mountinfo);
        // Everything read belonged to the init if it still lives.
        target.check_alive()?;
        Ok(Confinement {
            cgroups,
            cap_bnd,
            no_new_privs,
            seccomp,
            container,
        })
    }

    /// Move this process into the init's group in every hierarchy (before entering the
    /// namespaces: the paths are the host's).
    pub fn join_cgroups(&self) -> Result<(), Error> {
        let me = sys::getpid().to_string();
        for dir in &self.cgroups {
            let procs = dir.join("cgroup.procs");
            sys::write_file(&procs, &me).map_err(Error::setup(format!(
                "cannot join the container's cgroup {}",
                quote(dir)
            )))?;
        }
        Ok(())
    }

    /// In the process that becomes the command: the init's bounding set, no_new_privs
    /// and seccomp filter, in that order (the filter needs CAP_SYS_ADMIN or
    /// no_new_privs, and the bounding set limits only what exec grants).
    pub fn apply(&self) -> Result<(), Error> {
        for cap in caps::all() {
            if self.cap_bnd & (1u64 << cap.index()) == 0 {
                sys::drop_bounding(cap).map_err(|e| Error::Caps(e.to_string()))?;
            }
        }
        if self.no_new_privs {
            sys::set_no_new_privs().map_err(Error::setup("cannot set no_new_privs"))?;
        }
        if self.seccomp {
            common::seccomp::Filter::container()
                .install()
                .map_err(Error::setup(
                    "cannot install the container's seccomp filter",
                ))?;
        }
        Ok(())
    }

    /// The attached command's environment.
    pub fn environment(&self) -> common::exec::Env {
        let mut extra = Vec::new();
        if let Some(c) = &self.container {
            let mut e = OsString::from("container=");
            e.push(c);
            extra.push(e);
        }
        common::exec::Env::container(std::ffi::OsStr::new("/root"), &extra)
    }
}

/// The host path of each group in `own` (a /proc/PID/cgroup text read from the host's
/// cgroup namespace): the hierarchy's mount point in `mountinfo` plus the group's path
/// below the mount's root. Hierarchies not mounted here are skipped.
pub fn host_paths(own: &str, mountinfo: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let wanted: Vec<&str> = ctrls.split(',').filter(|c| !c.is_empty()).collect();
        let found = mountinfo.lines().find_map(|m| {
            let (left, right) = m.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let (root, point) = (fields.get(3)?, fields.get(4)?);
            let mut r = right.split(' ');
            let (fstype, _, superopts) = (r.next()?, r.next()?, r.next()?);
            let matches = if wanted.is_empty() {
                fstype == "cgroup2"
            } else {
                fstype == "cgroup" && {
                    let opts: Vec<&str> = superopts.split(',').collect();
                    wanted.iter().all(|w| opts.contains(w))
                }
            };
            matches.then(|| ((*root).to_owned(), (*point).to_owned()))
        });
        let Some((root, point)) = found else {
            continue;
        };
        let rel = if root == "/" {
            Some(path)
        } else {
            path.strip_prefix(root.as_str())
        };
        if let Some(rel) = rel {
            out.push(Path::new(&point).join(rel.trim_start_matches('/')));
        }
    }
    out
}

/// The terminal of an attached command.
#[derive(Debug)]
pub enum Terminal {
    /// The caller is on a terminal: a new pty, master kept by the relaying parent.
    Pty {
        /// The master end (the parent relays it).
        master: OwnedFd,
        /// The slave end (the command's controlling terminal); the parent drops its copy.
        slave: Option<OwnedFd>,
        /// Standard output and error are the caller's terminal too (each, when not, is
        /// passed on as it is).
        out_tty: bool,
        /// See `out_tty`.
        err_tty: bool,
    },
    /// No terminal: a new session without one.
    Detached,
}

impl Terminal {
    /// A new pty when standard input is a terminal (sized as it), else none.
    pub fn for_caller() -> Result<Terminal, Error> {
        let stdin = std::io::stdin();
        if !nix::unistd::isatty(stdin.as_fd()).unwrap_or(false) {
            return Ok(Terminal::Detached);
        }
        let (master, slave) =
            sys::open_pty().map_err(Error::setup("cannot open a terminal for the command"))?;
        if let Ok(size) = sys::window_size(stdin.as_fd()) {
            let _ = sys::set_window_size(slave.as_fd(), &size);
        }
        Ok(Terminal::Pty {
            master,
            slave: Some(slave),
            out_tty: is_tty(&std::io::stdout()),
            err_tty: is_tty(&std::io::stderr()),
        })
    }

    /// The parent's share: the master only.
    pub fn parent_side(self) -> Terminal {
        match self {
            Terminal::Pty {
                master,
                out_tty,
                err_tty,
                ..
            } => Terminal::Pty {
                master,
                slave: None,
                out_tty,
                err_tty,
            },
            t => t,
        }
    }

    /// In the command: a new session, and the pty as controlling terminal and standard
    /// input, output and error.
    pub fn take(&self) -> Result<(), Error> {
        sys::setsid().map_err(Error::setup("cannot start a new session"))?;
        if let Terminal::Pty {
            slave: Some(slave),
            out_tty,
            err_tty,
            ..
        } = self
        {
            sys::set_controlling_tty(slave.as_fd())
                .map_err(Error::setup("cannot take the new terminal"))?;
            for (fd, tty) in [(0, true), (1, *out_tty), (2, *err_tty)] {
                if tty {
                    sys::dup_onto(slave.as_fd(), fd)
                        .map_err(Error::setup("cannot take the new terminal"))?;
                }
            }
        }
        Ok(())
    }
}

fn is_tty(f: &impl AsFd) -> bool {
    nix::unistd::isatty(f.as_fd()).unwrap_or(false)
}

/// The caller's terminal in raw mode for as long as this lives (restored on drop).
struct Raw {
    saved: Option<nix::sys::termios::Termios>,
}

impl Raw {
    fn enter() -> Raw {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        Raw { saved }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        use nix::sys::termios::{SetArg, tcsetattr};
        if let Some(t) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSAFLUSH, t);
        }
    }
}

/// Relay between the caller's terminal and the command's pty until the command ends:
/// keys to the pty, its output to our terminal (standard output when it is one, else
/// standard error; only the streams that are the terminal write to the pty), our window
/// size to it (SIGWINCH), the forwarded signals to the command. The caller's terminal is
/// in raw mode meanwhile.
pub fn relay(
    master: &OwnedFd,
    child: nix::unistd::Pid,
    blocked: &common::supervise::Blocked,
) -> common::supervise::Ended {
    use common::supervise::Ended;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    use nix::sys::wait::{WaitPidFlag, WaitStatus};

    let mut mask = SigSet::empty();
    for s in common::supervise::FORWARDED {
        mask.add(s);
    }
    mask.add(Signal::SIGCHLD);
    mask.add(Signal::SIGWINCH);
    let _ =
        nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&mask), None);
    let Ok(sfd) = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC) else {
        // No signalfd: wait without relaying (the command still has its own terminal).
        return blocked.wait_forwarding(child);
    };
    let _raw = Raw::enter();
    let stdin = std::io::stdin();
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    let sink = if is_tty(&stdout) {
        Some(stdout.as_fd())
    } else if is_tty(&stderr) {
        Some(stderr.as_fd())
    } else {
        None
    };
    let copy_size = || {
        if let Ok(ws) = sys::window_size(stdin.as_fd()) {
            let _ = sys::set_window_size(master.as_fd(), &ws);
        }
    };
    let mut buf = [0u8; 4096];
    let mut stdin_open = true;
    let mut master_open = true;
    let mut ended = None;
    loop {
        if let Some(e) = ended
            && !master_open
        {
            return e;
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if master_open {
            fds.push(PollFd::new(master.as_fd(), PollFlags::POLLIN));
        }
        if stdin_open && ended.is_none() {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        // Once the command ended, what it wrote is drained without blocking.
        let timeout = if ended.is_some() {
            PollTimeout::ZERO
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Err(Errno::EINTR) => continue,
            Err(_) => return ended.unwrap_or_else(|| blocked.wait_forwarding(child)),
            Ok(0) => master_open = false,
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        if ready[0]
            && let Ok(Some(info)) = sfd.read_signal()
        {
            match Signal::try_from(info.ssi_signo.cast_signed()) {
                Ok(Signal::SIGCHLD) => {
                    if let Ok(s) = sys::waitpid(Some(child), Some(WaitPidFlag::WNOHANG))
                        && s != WaitStatus::StillAlive
                        && let Some(e) = Ended::from_wait(s)
                    {
                        ended = Some(e);
                    }
                }
                Ok(Signal::SIGWINCH) => copy_size(),
                Ok(sig) => {
                    let _ = sys::kill(child, sig);
                }
                Err(_) => {}
            }
        }
        let mut i = 1;
        if master_open {
            if ready[i] {
                match sys::read(master.as_fd(), &mut buf) {
                    Ok(0) | Err(_) => master_open = false,
                    Ok(n) => {
                        if let Some(out) = sink
                            && sys::write_all(out, &buf[..n]).is_err()
                        {
                            master_open = false;
                        }
                    }
                }
            }
            i += 1;
        }
        if stdin_open && i < ready.len() && ready[i] {
            match sys::read(stdin.as_fd(), &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let _ = sys::write_all(master.as_fd(), &buf[..n]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn groups_map_to_host_paths() {
        let own = "9:name=systemd:/ctn/payload/init.scope\n\
                   4:memory:/ctn/payload\n\
                   1:cpu:/ctn/payload\n\
                   5:devices:/ctn\n\
                   0::/ctn/payload/init.scope\n";
        assert_eq!(
            host_paths(own, MOUNTINFO),
            vec![
                PathBuf::from("/sys/fs/cgroup/systemd/ctn/payload/init.scope"),
                PathBuf::from("/sys/fs/cgroup/memory/ctn/payload"),
                PathBuf::from("/sys/fs/cgroup/cpu/ctn/payload"),
                PathBuf::from("/sys/fs/cgroup/unified/ctn/payload/init.scope"),
            ]
        );
    }

    #[test]
    fn a_mount_of_a_subtree_is_followed() {
        let mi = "50 23 0:32 /ctn /mnt/mem rw - cgroup cgroup rw,memory\n";
        assert_eq!(
            host_paths("4:memory:/ctn/payload\n", mi),
            vec![PathBuf::from("/mnt/mem/payload")]
        );
    }
}
