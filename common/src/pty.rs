//! Pseudo-terminals, for the tools that hold or relay a console (ptyhold; nsenter-rs when it
//! gives an attached command a terminal of its own, as `lxc-attach` does).
//!
//! - [`Pty::open`]: a master/slave pair from `/dev/ptmx`, as glibc's `openpty` makes it
//!   (unlock with `TIOCSPTLCK`, number with `TIOCGPTN`, the slave opened from the master
//!   with `TIOCGPTPEER`, so no path under `/dev/pts` is trusted). Both ends close-on-exec,
//!   the slave opened `O_NOCTTY`.
//! - [`make_controlling`]: `setsid` + `TIOCSCTTY`, in a forked child before it execs.
//! - [`winsize`] / [`set_winsize`]: `TIOCGWINSZ` / `TIOCSWINSZ`.
//! - [`RawMode`]: the local terminal in raw mode (the settings ssh and `lxc-console` use),
//!   restored when the guard drops.
//! - [`Escape`], [`parse_escape`], [`hint`]: lxc-console's keys. `Ctrl+a q` detaches,
//!   `Ctrl+a Ctrl+a` sends one `Ctrl+a`; as in LXC, `Ctrl+a` followed by any other key sends
//!   that key alone.
//! - [`relay`]: the loop between a local terminal (or pipes) and a [`Remote`] (a pty master,
//!   [`Master`], or a connection that carries one), with the escape keys, the window size
//!   passed on at the start and on `SIGWINCH`, and raw mode restored on every way out.
//!
//! Every call is traced through [`crate::trace`]: set-up at level 1, the relay's polls,
//! reads and writes at level 2. This module and the tools' `sys.rs` are the homes of
//! `unsafe` (each block under a `// SAFETY:` comment).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::libc;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::Mode;
use nix::sys::termios::{self, SetArg, Termios};

use crate::trace;

/// The size of the relay's buffers: one read, one write.
pub const BUFFER: usize = 4096;

/// The escape key lxc-console uses by default: `Ctrl+a`.
pub const DEFAULT_ESCAPE: u8 = 0x01;

// ---- opening a pair ----

/// A pseudo-terminal pair: the master the holder reads and writes, the slave a command
/// gets as its terminal (`/dev/pts/N`).
#[derive(Debug)]
pub struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    number: u32,
}

impl Pty {
    /// Open a new pair: `open("/dev/ptmx")`, unlock, the number, the slave through
    /// `TIOCGPTPEER` (a path open of `/dev/pts/N` on kernels before 4.13).
    pub fn open() -> io::Result<Pty> {
        Self::open_flags(OFlag::empty())
    }

    /// As [`Pty::open`], the master non-blocking from its open (for a poll loop: no
    /// fcntl calls after).
    pub fn open_nonblocking() -> io::Result<Pty> {
        Self::open_flags(OFlag::O_NONBLOCK)
    }

    fn open_flags(master_flags: OFlag) -> io::Result<Pty> {
        let master = open_path(
            "/dev/ptmx",
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC | master_flags,
        )?;
        ioctl_set_lock(master.as_fd(), false)?;
        let number = ioctl_get_number(master.as_fd())?;
        let slave = match ioctl_peer(master.as_fd()) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOTTY)) => open_path(
                &format!("/dev/pts/{number}"),
                OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            )?,
            r => r?,
        };
        Ok(Pty {
            master,
            slave,
            number,
        })
    }

    /// The master end.
    pub fn master(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }

    /// The slave end.
    pub fn slave(&self) -> BorrowedFd<'_> {
        self.slave.as_fd()
    }

    /// N of `/dev/pts/N`.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// `/dev/pts/N`, as the holder's devpts names it.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/pts/{}", self.number))
    }

    /// The two ends: (master, slave).
    pub fn into_fds(self) -> (OwnedFd, OwnedFd) {
        (self.master, self.slave)
    }
}

fn oflag_names(flags: OFlag) -> String {
    let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
    if names.is_empty() {
        "O_RDONLY".to_owned()
    } else {
        names.join("|")
    }
}

/// open(2).
fn open_path(path: &str, flags: OFlag) -> io::Result<OwnedFd> {
    let r = nix::fcntl::open(path, flags, Mode::empty());
    trace::syscall(format_args!("open({path:?}, {})", oflag_names(flags)), &r);
    r.map_err(io::Error::from)
}

/// ioctl(TIOCSPTLCK): lock or unlock the slave (`unlockpt`).
fn ioctl_set_lock(master: BorrowedFd<'_>, lock: bool) -> io::Result<()> {
    let value: libc::c_int = lock.into();
    // SAFETY: TIOCSPTLCK reads one int through the pointer, which points at `value`, alive
    // for the call; `master` is an open descriptor.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &raw const value) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(
        format_args!("ioctl({}, TIOCSPTLCK, [{value}])", master.as_raw_fd()),
        &r,
    );
    r.map_err(io::Error::from)
}

/// ioctl(TIOCGPTN): the slave's number (`ptsname`).
fn ioctl_get_number(master: BorrowedFd<'_>) -> io::Result<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the pointer, which points at `n`,
    // alive and writable for the call; `master` is an open descriptor.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &raw mut n) };
    let r = Errno::result(rc).map(|_| n);
    trace::syscall(
        format_args!("ioctl({}, TIOCGPTN, [{n}])", master.as_raw_fd()),
        &r.map(drop),
    );
    r.map_err(io::Error::from)
}

/// ioctl(TIOCGPTPEER): open the slave through the master (Linux 4.13).
fn ioctl_peer(master: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags as a plain integer argument and returns a
    // new descriptor; `master` is an open descriptor.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    let r = Errno::result(rc).map(|fd| {
        // SAFETY: on success the ioctl returned a new descriptor that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    });
    trace::syscall(
        format_args!(
            "ioctl({}, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC)",
            master.as_raw_fd()
        ),
        &r,
    );
    r.map_err(io::Error::from)
}

/// Make `tty` the controlling terminal of a new session led by this process: setsid(2),
/// then ioctl(TIOCSCTTY). For a forked child before it execs (both calls are
/// async-signal-safe).
pub fn make_controlling(tty: BorrowedFd<'_>) -> io::Result<()> {
    let r = nix::unistd::setsid();
    trace::syscall(format_args!("setsid()"), &r);
    r?;
    // SAFETY: TIOCSCTTY takes a plain integer (0: do not steal a terminal that is another
    // session's); `tty` is an open descriptor.
    let rc = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(format_args!("ioctl({}, TIOCSCTTY, 0)", tty.as_raw_fd()), &r);
    r.map_err(io::Error::from)
}

// ---- window sizes ----

/// A terminal's window size (`struct winsize`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Winsize {
    /// Rows (lines).
    pub rows: u16,
    /// Columns.
    pub cols: u16,
    /// Width in pixels (mostly 0).
    pub xpixel: u16,
    /// Height in pixels (mostly 0).
    pub ypixel: u16,
}

/// ioctl(TIOCGWINSZ): the window size of the terminal `fd`.
pub fn winsize(fd: BorrowedFd<'_>) -> io::Result<Winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one struct winsize through the pointer, which points at
    // `ws`, alive and writable for the call; `fd` is an open descriptor.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &raw mut ws) };
    let r = Errno::result(rc).map(|_| Winsize {
        rows: ws.ws_row,
        cols: ws.ws_col,
        xpixel: ws.ws_xpixel,
        ypixel: ws.ws_ypixel,
    });
    trace::syscall(
        format_args!(
            "ioctl({}, TIOCGWINSZ, {{ws_row={}, ws_col={}}})",
            fd.as_raw_fd(),
            ws.ws_row,
            ws.ws_col
        ),
        &r.map(drop),
    );
    r.map_err(io::Error::from)
}

/// ioctl(TIOCSWINSZ): set the window size of `fd` (a master or a slave); the kernel sends
/// SIGWINCH to the terminal's foreground process group when it changes.
pub fn set_winsize(fd: BorrowedFd<'_>, size: Winsize) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: size.xpixel,
        ws_ypixel: size.ypixel,
    };
    // SAFETY: TIOCSWINSZ reads one struct winsize through the pointer, which points at
    // `ws`, alive for the call; `fd` is an open descriptor.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &raw const ws) };
    let r = Errno::result(rc).map(drop);
    trace::syscall(
        format_args!(
            "ioctl({}, TIOCSWINSZ, {{ws_row={}, ws_col={}}})",
            fd.as_raw_fd(),
            size.rows,
            size.cols
        ),
        &r,
    );
    r.map_err(io::Error::from)
}

/// True when `fd` is a terminal (isatty(3)).
pub fn is_terminal(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

// ---- raw mode ----

/// The local terminal in raw mode until dropped (or [`RawMode::restore`]d).
///
/// The settings are those of ssh and `lxc-console`: no echo, no line editing, no signal
/// keys, no flow control, no CR/NL translation of input; output post-processing (NL to
/// CR NL) stays on, so messages printed meanwhile still start at the left margin.
#[derive(Debug)]
pub struct RawMode<'fd> {
    fd: BorrowedFd<'fd>,
    saved: Option<Termios>,
}

impl<'fd> RawMode<'fd> {
    /// tcgetattr, then tcsetattr(TCSADRAIN) with the raw settings. TCSADRAIN, as ssh
    /// does (LXC flushes): keys typed ahead (by a script) are kept, not discarded.
    pub fn enter(fd: BorrowedFd<'fd>) -> io::Result<Self> {
        let r = termios::tcgetattr(fd);
        trace::syscall(
            format_args!("ioctl({}, TCGETS, …)", fd.as_raw_fd()),
            &r.as_ref().map(drop).map_err(|e| *e),
        );
        let saved = r?;
        let raw = raw_settings(&saved);
        let r = termios::tcsetattr(fd, SetArg::TCSADRAIN, &raw);
        trace::syscall(
            format_args!("ioctl({}, TCSETSW, {{raw}})", fd.as_raw_fd()),
            &r,
        );
        r?;
        Ok(Self {
            fd,
            saved: Some(saved),
        })
    }

    /// Put the saved settings back now (the drop does it otherwise, ignoring errors).
    pub fn restore(mut self) -> io::Result<()> {
        self.put_back()
    }

    fn put_back(&mut self) -> io::Result<()> {
        let Some(saved) = self.saved.take() else {
            return Ok(());
        };
        // TCSADRAIN: what the relay wrote is shown first; keys typed after the detach
        // stay for the shell.
        let r = termios::tcsetattr(self.fd, SetArg::TCSADRAIN, &saved);
        trace::syscall(
            format_args!("ioctl({}, TCSETSW, {{saved}})", self.fd.as_raw_fd()),
            &r,
        );
        r.map_err(io::Error::from)
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = self.put_back();
    }
}

/// The raw settings made from `old`, as lxc_setup_tios does (and ssh before it).
fn raw_settings(old: &Termios) -> Termios {
    use termios::{InputFlags as I, LocalFlags as L, OutputFlags as O, SpecialCharacterIndices};
    let mut t = old.clone();
    t.input_flags |= I::IGNPAR;
    t.input_flags &= !(I::ISTRIP | I::INLCR | I::IGNCR | I::ICRNL | I::IXON | I::IXANY | I::IXOFF);
    t.input_flags &= !I::IUCLC;
    t.local_flags &=
        !(L::TOSTOP | L::ISIG | L::ICANON | L::ECHO | L::ECHOE | L::ECHOK | L::ECHONL | L::IEXTEN);
    t.output_flags |= O::OPOST | O::ONLCR;
    t.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    t.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    t
}

// ---- the escape keys ----

/// The escape key state machine of lxc-console (`lxc_terminal_stdin_cb`): the escape key
/// arms it and is swallowed; armed, `q` detaches and any other key (the escape key
/// included) is sent alone and disarms it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escape {
    key: u8,
    armed: bool,
}

/// What [`Escape::feed`] made of a chunk of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filtered {
    /// How many bytes of `out` to send.
    pub len: usize,
    /// The detach sequence was typed: send `out[..len]`, then detach (the input after
    /// the `q` is dropped).
    pub detach: bool,
}

impl Escape {
    /// A machine for escape key `key` (a control code, 0x01 for `Ctrl+a`).
    pub fn new(key: u8) -> Self {
        Self { key, armed: false }
    }

    /// The escape key.
    pub fn key(&self) -> u8 {
        self.key
    }

    /// Filter `input` into `out` (at least as long as `input`: the output is never longer).
    pub fn feed(&mut self, input: &[u8], out: &mut [u8]) -> Filtered {
        let mut len = 0;
        for &c in input {
            if self.armed {
                self.armed = false;
                if c == b'q' {
                    return Filtered { len, detach: true };
                }
            } else if c == self.key {
                self.armed = true;
                continue;
            }
            out[len] = c;
            len += 1;
        }
        Filtered { len, detach: false }
    }
}

/// The escape key for `-e`: a letter, optionally after `^` (`a`, `^b`, `B`), as
/// lxc-console's `-e` takes it; `None` for anything else.
pub fn parse_escape(text: &str) -> Option<u8> {
    let letter = match text.as_bytes() {
        [b'^', c] | [c] => *c,
        _ => return None,
    };
    letter
        .is_ascii_alphabetic()
        .then(|| letter.to_ascii_lowercase() - b'a' + 1)
}

/// The lines lxc-console prints on standard error before it relays (`lxc_console` in
/// LXC's terminal.c), a blank line first:
///
/// ```text
///
/// Connected to tty 1
/// Type <Ctrl+a q> to exit the console, <Ctrl+a Ctrl+a> to enter Ctrl+a itself
/// ```
pub fn hint(tty: u32, key: u8) -> String {
    let c = char::from(b'a' + key.saturating_sub(1).min(25));
    format!(
        "\nConnected to tty {tty}\n\
         Type <Ctrl+{c} q> to exit the console, <Ctrl+{c} Ctrl+{c}> to enter Ctrl+{c} itself\n"
    )
}

// ---- the relay ----

/// The far end of a [`relay`]: where typed bytes go and output comes from.
pub trait Remote {
    /// The descriptor to poll for output (readable when [`Remote::recv`] has something).
    fn fd(&self) -> BorrowedFd<'_>;
    /// Output into `buf`: `Ok(0)` when the far end has ended; `WouldBlock` or
    /// `Interrupted` when there was nothing to show this time.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Send typed bytes, all of them.
    fn send(&mut self, data: &[u8]) -> io::Result<()>;
    /// Pass the local window size on.
    fn resize(&mut self, size: Winsize) -> io::Result<()>;
    /// The local input has ended and the relay lingers ([`RelayOptions::linger`]): tell
    /// the far end, if it has a way (a pty: the end-of-file key). Nothing by default.
    fn end_input(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A pty master as a [`Remote`]: the relay of `lxc-attach`, where this process holds the
/// master of the command's terminal.
#[derive(Debug)]
pub struct Master<'fd>(pub BorrowedFd<'fd>);

impl Remote for Master<'_> {
    fn fd(&self) -> BorrowedFd<'_> {
        self.0
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match read(self.0, buf) {
            // The last slave descriptor closed: the command and its children are gone.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(0),
            r => r,
        }
    }

    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        write_all(self.0, data)
    }

    fn resize(&mut self, size: Winsize) -> io::Result<()> {
        set_winsize(self.0, size)
    }

    /// The terminal's end-of-file key (VEOF, `^D` unless changed): a reader in canonical
    /// mode sees the end of its input, as when a user types it.
    fn end_input(&mut self) -> io::Result<()> {
        let eof = termios::tcgetattr(self.0).map_or(0x04, |t| {
            t.control_chars[termios::SpecialCharacterIndices::VEOF as usize]
        });
        write_all(self.0, &[eof])
    }
}

/// How a [`relay`] behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayOptions {
    /// The escape key (see [`Escape`]); `None`: every byte passes.
    pub escape: Option<u8>,
    /// At the end of input, tell the far end ([`Remote::end_input`]) and go on showing
    /// output until it ends (`ssh < file`); otherwise the end of input ends the relay
    /// ([`End::LocalClosed`]).
    pub linger: bool,
}

/// Why a [`relay`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The escape key and `q`.
    Detached,
    /// End of input, or the local output went away.
    LocalClosed,
    /// The far end ended.
    RemoteClosed,
    /// SIGTERM, SIGINT, SIGHUP or SIGQUIT arrived (the terminal was restored first).
    Signal(Signal),
}

/// The signals a relay watches: the window size, and the ends it must survive long enough
/// to restore the terminal.
const RELAY_SIGNALS: [Signal; 5] = [
    Signal::SIGWINCH,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// A signal set as strace prints it: `[WINCH TERM]`.
fn sigset_names(set: &SigSet) -> String {
    let names: Vec<&str> = Signal::iterator()
        .filter(|s| set.contains(*s))
        .map(|s| s.as_str().trim_start_matches("SIG"))
        .collect();
    format!("[{}]", names.join(" "))
}

/// Block `set` until dropped, the old mask put back then.
struct Blocked {
    old: SigSet,
}

impl Blocked {
    fn new(set: &SigSet) -> io::Result<Self> {
        let mut old = SigSet::empty();
        let r = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(set), Some(&mut old));
        trace::syscall(
            format_args!("rt_sigprocmask(SIG_BLOCK, {})", sigset_names(set)),
            &r,
        );
        r?;
        Ok(Self { old })
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        let r = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
        trace::syscall(format_args!("rt_sigprocmask(SIG_SETMASK, old)"), &r);
    }
}

/// Relay between the local side (`input`, `output`) and `remote` until one ends.
///
/// When `input` is a terminal, it is put in raw mode for the duration and its window
/// size is passed to `remote` at the start and on every SIGWINCH; otherwise (a pipe, a
/// script) bytes pass as they are. With an escape key (see [`Escape`]), it and `q`
/// detach. SIGTERM, SIGINT, SIGHUP and SIGQUIT end the relay (terminal restored) instead
/// of the process; the caller decides what they mean. Output is written blocking; typed
/// bytes are sent blocking too.
pub fn relay(
    input: BorrowedFd<'_>,
    output: BorrowedFd<'_>,
    remote: &mut dyn Remote,
    options: RelayOptions,
) -> io::Result<End> {
    let mut set = SigSet::empty();
    for s in RELAY_SIGNALS {
        set.add(s);
    }
    let _blocked = Blocked::new(&set)?;
    let sigfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK);
    trace::syscall(
        format_args!(
            "signalfd4(-1, {}, SFD_CLOEXEC|SFD_NONBLOCK)",
            sigset_names(&set)
        ),
        &sigfd
            .as_ref()
            .map(|fd| fd.as_fd().as_raw_fd())
            .map_err(|e| *e),
    );
    let sigfd = sigfd?;
    let terminal = is_terminal(input);
    let raw = if terminal {
        if let Ok(size) = winsize(input) {
            remote.resize(size)?;
        }
        Some(RawMode::enter(input)?)
    } else {
        None
    };
    let mut keys = options.escape.map(Escape::new);
    let mut buf = [0u8; BUFFER];
    let mut out = [0u8; BUFFER];
    let mut input_open = true;
    let end = loop {
        let (sig_ready, remote_ready, input_ready) = {
            let mut fds = [
                PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
                PollFd::new(remote.fd(), PollFlags::POLLIN),
                PollFd::new(
                    input,
                    if input_open {
                        PollFlags::POLLIN
                    } else {
                        PollFlags::empty()
                    },
                ),
            ];
            let r = nix::poll::poll(&mut fds, PollTimeout::NONE);
            trace::syscall_at(2, format_args!("poll([sigfd, remote, input], 3, -1)"), &r);
            match r {
                Err(Errno::EINTR) => continue,
                Err(e) => break Err(e.into()),
                Ok(_) => {}
            }
            let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), ready(&fds[1]), input_open && ready(&fds[2]))
        };
        if sig_ready {
            if let Some(sig) = read_signal(&sigfd)? {
                if sig == Signal::SIGWINCH {
                    if terminal && let Ok(size) = winsize(input) {
                        remote.resize(size)?;
                    }
                } else {
                    break Ok(End::Signal(sig));
                }
            }
            continue;
        }
        if remote_ready {
            match remote.recv(&mut buf) {
                Ok(0) => break Ok(End::RemoteClosed),
                Ok(n) => {
                    if let Err(e) = write_all(output, &buf[..n]) {
                        break lost_local(e);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => break Err(e),
            }
        }
        if input_ready {
            let n = match read(input, &mut buf) {
                Ok(0) if options.linger => {
                    input_open = false;
                    remote.end_input()?;
                    continue;
                }
                Ok(0) => break Ok(End::LocalClosed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break lost_local(e),
            };
            let filtered = match keys.as_mut() {
                Some(k) => k.feed(&buf[..n], &mut out),
                None => {
                    out[..n].copy_from_slice(&buf[..n]);
                    Filtered {
                        len: n,
                        detach: false,
                    }
                }
            };
            if filtered.len > 0 {
                remote.send(&out[..filtered.len])?;
            }
            if filtered.detach {
                break Ok(End::Detached);
            }
        }
    };
    if let Some(raw) = raw {
        raw.restore()?;
    }
    end
}

/// A local read or write that failed because the terminal or pipe went away ends the
/// relay as [`End::LocalClosed`]; other errors are errors.
fn lost_local(e: io::Error) -> io::Result<End> {
    match e.raw_os_error() {
        Some(libc::EIO | libc::EPIPE | libc::ENXIO) => Ok(End::LocalClosed),
        _ => Err(e),
    }
}

/// read(2) from a signalfd: the signal, `None` when none was pending.
pub fn read_signal(sigfd: &SignalFd) -> io::Result<Option<Signal>> {
    let r = sigfd.read_signal();
    trace::syscall_at(
        2,
        format_args!("read(sigfd, {{ssi_signo=…}})"),
        &r.as_ref()
            .map(|s| s.map_or(0, |s| s.ssi_signo))
            .map_err(|e| *e),
    );
    match r? {
        Some(info) => Ok(i32::try_from(info.ssi_signo)
            .ok()
            .and_then(|n| Signal::try_from(n).ok())),
        None => Ok(None),
    }
}

/// read(2), traced at level 2.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let r = nix::unistd::read(fd, buf);
    trace::syscall_at(
        2,
        format_args!("read({}, …, {})", fd.as_raw_fd(), buf.len()),
        &r,
    );
    r.map_err(io::Error::from)
}

/// write(2) until all of `data` is written (EINTR retried), traced at level 2.
pub fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let r = nix::unistd::write(fd, data);
        trace::syscall_at(
            2,
            format_args!("write({}, …, {})", fd.as_raw_fd(), data.len()),
            &r,
        );
        match r {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(e: &mut Escape, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = vec![0u8; input.len()];
        let f = e.feed(input, &mut out);
        out.truncate(f.len);
        (out, f.detach)
    }

    #[test]
    fn escape_keys_as_lxc_console() {
        let mut e = Escape::new(DEFAULT_ESCAPE);
        assert_eq!(feed(&mut e, b"ls\r"), (b"ls\r".to_vec(), false));
        // Ctrl+a Ctrl+a: one Ctrl+a.
        assert_eq!(feed(&mut e, b"\x01\x01"), (vec![1], false));
        // Ctrl+a x: the x alone (LXC swallows the escape key).
        assert_eq!(feed(&mut e, b"\x01x"), (b"x".to_vec(), false));
        // Ctrl+a q: detach; what came before is sent, what comes after is dropped.
        assert_eq!(feed(&mut e, b"ab\x01qcd"), (b"ab".to_vec(), true));
        // A q alone is a q.
        let mut e = Escape::new(DEFAULT_ESCAPE);
        assert_eq!(feed(&mut e, b"q"), (b"q".to_vec(), false));
    }

    #[test]
    fn escape_state_survives_chunk_boundaries() {
        let mut e = Escape::new(DEFAULT_ESCAPE);
        assert_eq!(feed(&mut e, b"x\x01"), (b"x".to_vec(), false));
        assert_eq!(feed(&mut e, b"q"), (vec![], true));
        let mut e = Escape::new(DEFAULT_ESCAPE);
        assert_eq!(feed(&mut e, b"\x01"), (vec![], false));
        assert_eq!(feed(&mut e, b"\x01"), (vec![1], false));
        // Disarmed again: a q now is a q.
        assert_eq!(feed(&mut e, b"q"), (b"q".to_vec(), false));
    }

    #[test]
    fn another_escape_key() {
        let key = parse_escape("^b").unwrap();
        assert_eq!(key, 2);
        let mut e = Escape::new(key);
        assert_eq!(feed(&mut e, b"\x01\x02\x02\x02q"), (vec![1, 2], true));
    }

    #[test]
    fn escape_spellings() {
        assert_eq!(parse_escape("a"), Some(1));
        assert_eq!(parse_escape("^a"), Some(1));
        assert_eq!(parse_escape("A"), Some(1));
        assert_eq!(parse_escape("^Z"), Some(26));
        assert_eq!(parse_escape("z"), Some(26));
        for bad in ["", "^", "ab", "^ab", "1", "^1", "é"] {
            assert_eq!(parse_escape(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hint_is_lxc_consoles() {
        assert_eq!(
            hint(1, DEFAULT_ESCAPE),
            "\nConnected to tty 1\nType <Ctrl+a q> to exit the console, \
             <Ctrl+a Ctrl+a> to enter Ctrl+a itself\n"
        );
        assert_eq!(
            hint(0, 2),
            "\nConnected to tty 0\nType <Ctrl+b q> to exit the console, \
             <Ctrl+b Ctrl+b> to enter Ctrl+b itself\n"
        );
    }

    #[test]
    fn a_non_blocking_master_is_non_blocking_and_its_slave_is_not() {
        let flags = |fd: BorrowedFd<'_>| {
            OFlag::from_bits_truncate(nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).unwrap())
        };
        let pty = Pty::open_nonblocking().expect("open a pty");
        assert!(flags(pty.master()).contains(OFlag::O_NONBLOCK));
        assert!(!flags(pty.slave()).contains(OFlag::O_NONBLOCK));
        // Nothing to read: the master says so at once.
        let mut buf = [0u8; 4];
        assert_eq!(
            read(pty.master(), &mut buf).unwrap_err().raw_os_error(),
            Some(libc::EAGAIN)
        );
        let blocking = Pty::open().expect("open a pty");
        assert!(!flags(blocking.master()).contains(OFlag::O_NONBLOCK));
    }

    #[test]
    fn a_pair_with_a_window_size() {
        let pty = Pty::open().expect("open a pty");
        assert!(is_terminal(pty.master()));
        assert!(is_terminal(pty.slave()));
        let size = Winsize {
            rows: 33,
            cols: 101,
            xpixel: 0,
            ypixel: 0,
        };
        set_winsize(pty.master(), size).unwrap();
        assert_eq!(winsize(pty.slave()).unwrap(), size);
        // The slave is /dev/pts/N.
        let link =
            std::fs::read_link(format!("/proc/self/fd/{}", pty.slave().as_raw_fd())).unwrap();
        assert_eq!(link, pty.path());
        // Bytes pass both ways.
        write_all(pty.slave(), b"out\n").unwrap();
        let mut buf = [0u8; 16];
        let n = read(pty.master(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"out\r\n");
    }

    #[test]
    fn raw_mode_is_restored() {
        let pty = Pty::open().expect("open a pty");
        let before = termios::tcgetattr(pty.slave()).unwrap();
        {
            let _raw = RawMode::enter(pty.slave()).unwrap();
            let now = termios::tcgetattr(pty.slave()).unwrap();
            assert!(!now.local_flags.contains(termios::LocalFlags::ECHO));
            assert!(!now.local_flags.contains(termios::LocalFlags::ICANON));
            assert!(now.output_flags.contains(termios::OutputFlags::OPOST));
        }
        let after = termios::tcgetattr(pty.slave()).unwrap();
        assert_eq!(before.local_flags, after.local_flags);
        assert_eq!(before.input_flags, after.input_flags);
    }

    #[test]
    fn relay_to_a_master_with_the_escape_keys() {
        let pty = Pty::open().expect("open a pty");
        let (in_r, in_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        write_all(in_w.as_fd(), b"abc\x01\x01\n\x01qignored").unwrap();
        let options = RelayOptions {
            escape: Some(DEFAULT_ESCAPE),
            linger: false,
        };
        let end = relay(
            in_r.as_fd(),
            out_w.as_fd(),
            &mut Master(pty.master()),
            options,
        );
        assert_eq!(end.unwrap(), End::Detached);
        // The slave reads the line with one Ctrl+a in it.
        let mut buf = [0u8; 32];
        let n = read(pty.slave(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"abc\x01\n");
        drop((in_w, out_r));
    }

    #[test]
    fn relay_ends_with_the_input() {
        let pty = Pty::open().expect("open a pty");
        let (in_r, in_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let (_out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        write_all(in_w.as_fd(), b"x\n").unwrap();
        drop(in_w);
        let end = relay(
            in_r.as_fd(),
            out_w.as_fd(),
            &mut Master(pty.master()),
            RelayOptions::default(),
        );
        assert_eq!(end.unwrap(), End::LocalClosed);
    }

    #[test]
    fn the_end_of_input_reaches_a_pty_as_its_eof_key() {
        let pty = Pty::open().expect("open a pty");
        let mut master = Master(pty.master());
        master.send(b"last line\n").unwrap();
        master.end_input().unwrap();
        let mut buf = [0u8; 32];
        let n = read(pty.slave(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"last line\n");
        // A canonical reader sees the end of its input.
        assert_eq!(read(pty.slave(), &mut buf).unwrap(), 0);
    }
}
