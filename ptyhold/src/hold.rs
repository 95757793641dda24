//! `ptyhold [OPTIONS] -- COMMAND`: the holder. The order of the steps is the tool:
//!
//! 1. with `-d`, fork; the caller's side waits for the outcome ([`crate::daemon`]);
//! 2. block SIGCHLD, SIGTERM, SIGINT, SIGHUP and SIGWINCH and open a signalfd, before
//!    anything forks, so that no signal is lost between the fork and the loop;
//! 3. the socket (refused early when another holder answers on it), the log;
//! 4. the ptys: the console and `--ttys` more, each slave given to `--owner`, each
//!    window 24×80 until a client says otherwise;
//! 5. the command's fork ([`crate::spawn`]); from here on, a failure kills it rather
//!    than leaving it behind;
//! 6. the pidfile, the word to the waiting caller (`-d`, which returns when the exec
//!    succeeds), the exec's outcome, the local terminal (`-F`);
//! 7. the loop ([`crate::serve`]) until the command ends; then the pidfile and the socket
//!    are removed and its status returned.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use common::pty::{self, Pty};
use common::supervise::Ended;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::SignalFd;
use nix::unistd::Pid;

use crate::Ui;
use crate::cli::Hold;
use crate::daemon::{self, Role};
use crate::error::Error;
use crate::listen::Listener;
use crate::log::Log;
use crate::serve::{self, Local, Parts, Tty};
use crate::{pidfile, spawn, sys};

/// The signals the holder handles through its signalfd.
const HANDLED: [Signal; 5] = [
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGWINCH,
];

/// A path made absolute against the working directory (the daemon changes to `/`).
fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|source| Error::Process {
        what: "cannot find the working directory",
        source,
    })
}

/// Kills the command with SIGKILL (and reaps it) unless disarmed: a failure after the
/// start leaves nothing running.
struct ChildGuard(Option<Pid>);

impl ChildGuard {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = sys::kill(pid, Signal::SIGKILL);
            let _ = sys::waitpid(pid, None);
        }
    }
}

/// Run the holder; how the command ended (or the waiting caller's status, with `-d`).
pub fn run(cfg: &Hold, ui: &Ui<'_>) -> Result<Ended, Error> {
    let socket = cfg.socket.as_deref().map(absolute).transpose()?;
    let log = cfg.log.as_deref().map(absolute).transpose()?;
    let pidfile = cfg.pidfile.as_deref().map(absolute).transpose()?;
    if let Some(path) = &pidfile {
        common::pidfile::check_free(path).map_err(|source| Error::Pidfile {
            path: path.clone(),
            source,
        })?;
    }
    // (Made close-on-exec at once: the command never gets it, even with -d.)
    let status_fd = cfg
        .status_fd
        .map(|fd| sys::adopt_cloexec(fd).map_err(|source| Error::StatusFd { fd, source }))
        .transpose()?;
    let stdin = sys::stdin();
    let foreground =
        cfg.foreground || (!cfg.daemon && pty::is_terminal(stdin) && sys::in_foreground(stdin));

    // 1. -d: the caller's side waits here for the outcome.
    let mut notifier = if cfg.daemon {
        match daemon::detach()? {
            Role::Parent(code) => return Ok(Ended::Exited(code)),
            Role::Child(n) => Some(n),
        }
    } else {
        None
    };

    // 2. Signals, before anything forks.
    let mut set = SigSet::empty();
    for s in HANDLED {
        set.add(s);
    }
    let process = |what| {
        move |e: Errno| Error::Process {
            what,
            source: e.into(),
        }
    };
    let old_mask =
        sys::sigprocmask(SigmaskHow::SIG_BLOCK, &set).map_err(process("cannot block signals"))?;
    let sigfd: SignalFd = sys::signalfd(&set).map_err(process("cannot open a signalfd"))?;

    // 3. The socket and the log.
    let listener = socket.as_deref().map(Listener::bind).transpose()?;
    let log = log
        .as_deref()
        .map(|p| Log::open(p, cfg.log_size))
        .transpose()?;

    // 4. The ptys (with --receive-ttys, the console only, and a socket for the rest).
    let ttys = open_ttys(cfg)?;
    let receiver = cfg
        .receive_ttys
        .map(|_| sys::seqpacket_pair().map_err(process("cannot create a socket pair")))
        .transpose()?;
    // The descriptors passed on exist now, or the start fails before anything runs.
    for &fd in &cfg.pass_fds {
        sys::check_fd(fd).map_err(|source| Error::PassFd { fd, source })?;
    }

    // 5. The command.
    let console = ttys[0].1.as_fd();
    let slaves: Vec<BorrowedFd<'_>> = match &receiver {
        Some((_, theirs)) => vec![theirs.as_fd()],
        None => ttys[1..].iter().map(|t| t.1.as_fd()).collect(),
    };
    let also_tell = notifier.as_ref().and_then(daemon::Notifier::fd);
    let defaults: &[Signal] = if cfg.daemon { &daemon::IGNORED } else { &[] };
    let forked = spawn::fork(
        &cfg.command,
        spawn::Fds {
            console,
            ttys: &slaves,
            announced: usize::from(cfg.receive_ttys.unwrap_or(cfg.ttys)),
            pass: &cfg.pass_fds,
            controlling: !cfg.no_ctty,
        },
        &old_mask,
        defaults,
        also_tell,
    )?;
    drop(slaves);
    let child = forked.pid();
    let mut guard = ChildGuard(Some(child));

    // 6. Pidfile, the caller told (-d: it returns at the exec), the exec's outcome,
    // the local terminal.
    let pidfile = pidfile
        .as_deref()
        .map(|p| pidfile::write(p, child))
        .transpose()?;
    let result = (|| {
        if let Some(n) = notifier.as_mut() {
            n.forked()?;
        }
        // A failed exec has been reaped already: nothing to kill.
        forked.wait_exec().inspect_err(|_| guard.disarm())?;
        let local = if foreground {
            Some(Local::attach(cfg.escape, ui.hint)?)
        } else {
            None
        };
        let mut held: Vec<Held> = ttys
            .into_iter()
            .map(|(master, slave, pts)| (master, Some(slave), pts))
            .collect();
        if let Some((ours, theirs)) = receiver {
            drop(theirs);
            held.extend(receive_ttys(&ours, cfg.receive_ttys.unwrap_or(0), &sigfd)?);
        }
        if let Some(n) = notifier {
            n.started()?;
        }
        // 7. The loop.
        let parts = Parts {
            ttys: held
                .into_iter()
                .map(|(master, slave, pts)| Tty::new(master, slave, pts))
                .collect(),
            listener: listener.as_ref(),
            log,
            local,
            sigfd: &sigfd,
            child,
        };
        serve::run(parts, ui)
    })();
    if result.is_ok() {
        // The loop returns only once the command has been reaped.
        guard.disarm();
    }
    drop(guard);
    if let Some(p) = pidfile {
        p.remove();
    }
    drop(listener);
    if let (Ok(ended), Some(fd)) = (&result, &status_fd) {
        // The reader may have gone: nothing to tell then, and no reason to fail.
        let line = format!("{}\n", ended.code());
        let _ = sys::write_all(fd.as_fd(), line.as_bytes());
    }
    result
}

type Held = (OwnedFd, Option<OwnedFd>, u32);

/// `--receive-ttys N`: the masters the command sends (tag K for tty K), in order, until
/// all N came or the command ended (its SIGCHLD is left for the loop to read). Each
/// master is made non-blocking and sized like the others.
fn receive_ttys(sock: &OwnedFd, n: u16, sigfd: &SignalFd) -> Result<Vec<Held>, Error> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut got: Vec<Held> = Vec::new();
    while got.len() < usize::from(n) {
        let mut fds = [
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(e) => {
                return Err(Error::Process {
                    what: "cannot wait for the ttys",
                    source: e.into(),
                });
            }
            Ok(_) => {}
        }
        let readable = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
        if readable(&fds[0]) {
            match common::sys::recv_fd(sock.as_fd()) {
                Ok((tag, master)) => {
                    pty::set_winsize(master.as_fd(), serve::DEFAULT_SIZE).map_err(Error::Pty)?;
                    sys::set_nonblocking(master.as_fd()).map_err(|e| Error::Pty(e.into()))?;
                    got.push((master, None, u32::from(tag)));
                    continue;
                }
                // The senders are gone: the command will not send more.
                Err(_) => break,
            }
        }
        // A signal (the command ended, or we are asked to stop): the loop deals with it.
        if readable(&fds[1]) {
            break;
        }
    }
    got.sort_by_key(|t| t.2);
    Ok(got)
}

/// The console and `--ttys` more: masters non-blocking (from their open), slaves given
/// to `--owner`.
fn open_ttys(cfg: &Hold) -> Result<Vec<(OwnedFd, OwnedFd, u32)>, Error> {
    (0..=cfg.ttys)
        .map(|_| {
            let pty = Pty::open_nonblocking().map_err(Error::Pty)?;
            if let Some((uid, gid)) = cfg.owner {
                sys::give_tty(pty.slave(), uid, gid, 0o620).map_err(|source| Error::Owner {
                    pts: pty.path(),
                    uid,
                    gid,
                    source,
                })?;
            }
            pty::set_winsize(pty.master(), serve::DEFAULT_SIZE).map_err(Error::Pty)?;
            let number = pty.number();
            let (master, slave) = pty.into_fds();
            Ok((master, slave, number))
        })
        .collect()
}
