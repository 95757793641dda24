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

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use common::pty::{self, Pty};
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

/// Run the holder; the command's status (or the waiting caller's, with `-d`).
pub fn run(cfg: &Hold, ui: &Ui<'_>) -> Result<i32, Error> {
    let socket = cfg.socket.as_deref().map(absolute).transpose()?;
    let log = cfg.log.as_deref().map(absolute).transpose()?;
    let pidfile = cfg.pidfile.as_deref().map(absolute).transpose()?;
    let stdin = sys::stdin();
    let foreground =
        cfg.foreground || (!cfg.daemon && pty::is_terminal(stdin) && sys::in_foreground(stdin));

    // 1. -d: the caller's side waits here for the outcome.
    let mut notifier = if cfg.daemon {
        match daemon::detach()? {
            Role::Parent(code) => return Ok(code),
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

    // 4. The ptys.
    let ttys = open_ttys(cfg)?;

    // 5. The command.
    let console = ttys[0].1.as_fd();
    let slaves: Vec<BorrowedFd<'_>> = ttys[1..].iter().map(|t| t.1.as_fd()).collect();
    let also_tell = notifier.as_ref().and_then(daemon::Notifier::fd);
    let defaults: &[Signal] = if cfg.daemon { &daemon::IGNORED } else { &[] };
    let forked = spawn::fork(
        &cfg.command,
        console,
        &slaves,
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
        if let Some(n) = notifier {
            n.started()?;
        }
        // 7. The loop.
        let parts = Parts {
            ttys: ttys
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
    result
}

type Held = (std::os::fd::OwnedFd, std::os::fd::OwnedFd, u32);

/// The console and `--ttys` more: masters non-blocking, slaves given to `--owner`.
fn open_ttys(cfg: &Hold) -> Result<Vec<Held>, Error> {
    (0..=cfg.ttys)
        .map(|_| {
            let pty = Pty::open().map_err(Error::Pty)?;
            if let Some((uid, gid)) = cfg.owner {
                sys::give_tty(pty.slave(), uid, gid, 0o620).map_err(|source| Error::Owner {
                    pts: pty.path(),
                    uid,
                    gid,
                    source,
                })?;
            }
            pty::set_winsize(pty.master(), serve::DEFAULT_SIZE).map_err(Error::Pty)?;
            sys::set_nonblocking(pty.master()).map_err(|e| Error::Pty(e.into()))?;
            let number = pty.number();
            let (master, slave) = pty.into_fds();
            Ok((master, slave, number))
        })
        .collect()
}
