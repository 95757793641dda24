//! The holder's loop: one poll(2) over the signalfd, the listening socket, the pty
//! masters, the clients and (with `-F`) the local terminal, until the command ends.
//!
//! - Tty 0, the console, is always read: its output goes to the log, then to its client
//!   if it has one (dropped otherwise), so the command never blocks on an unwatched
//!   console. Ttys 1 to N are read only while a client is attached: what a getty wrote
//!   before (its login prompt) waits in the pty and is shown on attach, as with LXC.
//! - Memory is fixed: one buffer of output and one of input per tty, one receive buffer.
//!   A client that does not read its output holds its tty's output in the pty (flow
//!   control, as a real terminal with XOFF); the other ttys and the log go on (the console
//!   waits for its client too).
//! - One client per tty: a second attach is refused as busy, unless it asks to take over
//!   (`attach --force`), which detaches the first one (told `T`).
//! - The holder keeps every slave open itself, so a master never reads a hang-up while a
//!   getty restarts (vhangup, respawn); the command's end is learnt from SIGCHLD only.
//! - SIGTERM, SIGINT and SIGHUP are passed on to the command; SIGWINCH resizes the
//!   console from the local terminal (`-F`).
//! - When the command has ended, output still in the ptys is drained to the log and the
//!   clients (for at most [`DRAIN_LIMIT`]), each client is told the status (`X`) and the
//!   loop returns the status.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use common::pty::{self, Escape, RawMode, Winsize};
use common::supervise::Ended;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::Error;
use crate::listen::Listener;
use crate::log::Log;
use crate::proto::{self, Client as Who, Refusal, Reply, Request, TtyState};
use crate::{Ui, sys};

/// The longest the holder waits for slow clients after the command ended.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Connections beyond one per tty that may be open at once (attaching, listing).
const SPARE_CLIENTS: usize = 8;

/// A fixed buffer holding one chunk, sent or written from `start`.
#[derive(Debug)]
struct Chunk {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Chunk {
    fn new() -> Self {
        Self {
            buf: vec![0u8; proto::MAX_DATA].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    fn set(&mut self, data: &[u8]) {
        self.buf[..data.len()].copy_from_slice(data);
        self.start = 0;
        self.end = data.len();
    }
}

/// Who has a tty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    None,
    Local,
    Socket(usize),
}

/// One held pty.
#[derive(Debug)]
pub struct Tty {
    master: OwnedFd,
    /// Held open so that a getty's hangup does not end the master; absent for a tty
    /// whose slave lives in the container's own devpts (`--receive-ttys`).
    _slave: Option<OwnedFd>,
    pts: u32,
    /// Output read and not yet taken by a socket client (sent whole, as one message).
    out: Chunk,
    /// Typed input not yet taken by the master.
    input: Chunk,
    client: Peer,
    /// The master read EIO: not polled until a client attaches or types.
    hung: bool,
}

impl Tty {
    /// A pty to hold: the master (made non-blocking), the slave kept open when we have it.
    pub fn new(master: OwnedFd, slave: Option<OwnedFd>, pts: u32) -> Self {
        Self {
            master,
            _slave: slave,
            pts,
            out: Chunk::new(),
            input: Chunk::new(),
            client: Peer::None,
            hung: false,
        }
    }
}

#[derive(Debug)]
struct Client {
    sock: OwnedFd,
    pid: i32,
    tty: Option<usize>,
}

/// The holder's own terminal, attached to the console (`-F`).
#[derive(Debug)]
pub struct Local {
    raw: Option<RawMode<'static>>,
    escape: Escape,
    terminal: bool,
}

impl Local {
    /// Attach standard input and output to the console: the hint, raw mode when stdin is
    /// a terminal.
    pub fn attach(escape: u8, hint: &dyn Fn(&str)) -> Result<Self, Error> {
        let stdin = sys::stdin();
        let terminal = pty::is_terminal(stdin);
        hint(&pty::hint(0, escape));
        let raw = if terminal {
            Some(RawMode::enter(stdin).map_err(Error::Terminal)?)
        } else {
            None
        };
        Ok(Self {
            raw,
            escape: Escape::new(escape),
            terminal,
        })
    }
}

/// What the loop needs.
#[derive(Debug)]
pub struct Parts<'a> {
    /// Tty 0 (the console), then ttys 1 to N.
    pub ttys: Vec<Tty>,
    /// `--socket`.
    pub listener: Option<&'a Listener>,
    /// `--log`.
    pub log: Option<Log>,
    /// `-F`.
    pub local: Option<Local>,
    /// SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGWINCH.
    pub sigfd: &'a SignalFd,
    /// The command.
    pub child: Pid,
}

/// What is polled, by index.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Signals,
    Listener,
    Master(usize),
    Client(usize),
    LocalInput,
}

struct Holder<'a, 'u> {
    ttys: Vec<Tty>,
    clients: Vec<Option<Client>>,
    listener: Option<&'a Listener>,
    log: Option<Log>,
    local: Option<Local>,
    sigfd: &'a SignalFd,
    child: Pid,
    ended: Option<Ended>,
    recv_buf: Box<[u8]>,
    ui: &'u Ui<'u>,
}

/// Run the loop until the command ends; how it ended.
pub fn run(parts: Parts<'_>, ui: &Ui<'_>) -> Result<Ended, Error> {
    let slots = parts.ttys.len() + SPARE_CLIENTS;
    let mut h = Holder {
        ttys: parts.ttys,
        clients: (0..slots).map(|_| None).collect(),
        listener: parts.listener,
        log: parts.log,
        local: parts.local,
        sigfd: parts.sigfd,
        child: parts.child,
        ended: None,
        recv_buf: vec![0u8; proto::MAX_MESSAGE + 1].into_boxed_slice(),
        ui,
    };
    if h.local.is_some() {
        h.ttys[0].client = Peer::Local;
        h.local_resize();
    }
    let mut ready: Vec<(Slot, PollFlags)> = Vec::with_capacity(h.ttys.len() * 2 + slots + 3);
    // A SIGCHLD may have come before the signalfd was polled: check once.
    h.reap();
    while h.ended.is_none() {
        h.poll_once(&mut ready)?;
        for &(slot, events) in &ready {
            h.handle(slot, events)?;
        }
    }
    let ended = h.ended.unwrap_or(Ended::Exited(common::exit::CANCELED));
    h.drain(ended.code());
    Ok(ended)
}

impl Holder<'_, '_> {
    fn free_slot(&self) -> Option<usize> {
        self.clients.iter().position(Option::is_none)
    }

    /// Does tty `i` want its master read now?
    fn wants_output(&self, i: usize) -> bool {
        let t = &self.ttys[i];
        !t.hung && t.out.is_empty() && (i == 0 || t.client != Peer::None)
    }

    /// One poll(2); `ready` gets what has events.
    fn poll_once(&mut self, ready: &mut Vec<(Slot, PollFlags)>) -> Result<(), Error> {
        ready.clear();
        let mut slots: Vec<Slot> = Vec::with_capacity(ready.capacity());
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(ready.capacity());
        fds.push(PollFd::new(self.sigfd.as_fd(), PollFlags::POLLIN));
        slots.push(Slot::Signals);
        if let Some(l) = self.listener
            && self.free_slot().is_some()
        {
            fds.push(PollFd::new(l.fd(), PollFlags::POLLIN));
            slots.push(Slot::Listener);
        }
        for (i, t) in self.ttys.iter().enumerate() {
            let mut ev = PollFlags::empty();
            if self.wants_output(i) {
                ev |= PollFlags::POLLIN;
            }
            if !t.input.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            if !ev.is_empty() {
                fds.push(PollFd::new(t.master.as_fd(), ev));
                slots.push(Slot::Master(i));
            }
        }
        for (c, client) in self.clients.iter().enumerate() {
            let Some(client) = client else { continue };
            let mut ev = PollFlags::empty();
            match client.tty {
                None => ev |= PollFlags::POLLIN,
                Some(t) => {
                    if self.ttys[t].input.is_empty() {
                        ev |= PollFlags::POLLIN;
                    }
                    if !self.ttys[t].out.is_empty() {
                        ev |= PollFlags::POLLOUT;
                    }
                }
            }
            fds.push(PollFd::new(client.sock.as_fd(), ev));
            slots.push(Slot::Client(c));
        }
        if self.local.is_some() && self.ttys[0].input.is_empty() {
            fds.push(PollFd::new(sys::stdin(), PollFlags::POLLIN));
            slots.push(Slot::LocalInput);
        }
        match sys::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                return Err(Error::Process {
                    what: "poll failed",
                    source: e.into(),
                });
            }
        }
        for (fd, slot) in fds.iter().zip(slots) {
            if let Some(ev) = fd.revents()
                && !ev.is_empty()
            {
                ready.push((slot, ev));
            }
        }
        Ok(())
    }

    fn handle(&mut self, slot: Slot, ev: PollFlags) -> Result<(), Error> {
        let input = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        match slot {
            Slot::Signals => self.signals()?,
            Slot::Listener => self.accept(),
            Slot::Master(i) => {
                if ev.contains(PollFlags::POLLOUT) || ev.intersects(PollFlags::POLLERR) {
                    self.flush_input(i);
                }
                if ev.intersects(input) && self.wants_output(i) {
                    self.read_master(i);
                }
            }
            Slot::Client(c) => {
                if ev.contains(PollFlags::POLLOUT)
                    && let Some(t) = self.clients[c].as_ref().and_then(|c| c.tty)
                {
                    self.send_output(t);
                }
                let tty = self.clients[c].as_ref().and_then(|c| c.tty);
                let pending = tty.is_some_and(|t| !self.ttys[t].input.is_empty());
                if !pending && ev.intersects(input) {
                    self.client_readable(c);
                } else if pending && ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                    // Gone while its last keys wait for the master: polling it again would
                    // report the hang-up at once, forever. Drop it; its keys stay queued.
                    self.drop_client(c);
                }
            }
            Slot::LocalInput => self.local_readable(),
        }
        Ok(())
    }

    // ---- signals and the command ----

    fn signals(&mut self) -> Result<(), Error> {
        // Once the command is reaped, nothing more: an error now would make the caller
        // kill a PID that is no longer the command's.
        while self.ended.is_none() {
            let sig = match pty::read_signal(self.sigfd) {
                Ok(Some(sig)) => sig,
                Ok(None) => return Ok(()),
                Err(source) => {
                    return Err(Error::Process {
                        what: "cannot read signals",
                        source,
                    });
                }
            };
            match sig {
                Signal::SIGCHLD => self.reap(),
                Signal::SIGWINCH => self.local_resize(),
                // SIGTERM, SIGINT, SIGHUP: the command decides.
                _ => {
                    let _ = sys::kill(self.child, sig);
                }
            }
        }
        Ok(())
    }

    /// waitpid(WNOHANG) of the command.
    fn reap(&mut self) {
        match sys::waitpid(self.child, Some(WaitPidFlag::WNOHANG)) {
            Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                self.ended = Ended::from_wait(s);
            }
            // Gone without a status we could read: ptyhold's own failure.
            Err(Errno::ECHILD) => self.ended = Some(Ended::Exited(common::exit::CANCELED)),
            _ => {}
        }
    }

    // ---- ttys ----

    /// Read tty `i`'s master once and pass the output on; true when something came.
    fn read_master(&mut self, i: usize) -> bool {
        let t = &mut self.ttys[i];
        let n = match sys::read(t.master.as_fd(), &mut t.out.buf) {
            Ok(0) | Err(Errno::EIO) => {
                t.hung = true;
                return false;
            }
            Ok(n) => n,
            Err(_) => return false,
        };
        t.out.start = 0;
        t.out.end = n;
        if i == 0 {
            self.log_output();
        }
        match self.ttys[i].client {
            Peer::None => self.ttys[i].out.clear(),
            Peer::Local => {
                let t = &mut self.ttys[i];
                let written = sys::write_all(sys::stdout(), t.out.data());
                t.out.clear();
                if written.is_err() {
                    self.detach_local("the terminal went away");
                }
            }
            Peer::Socket(_) => self.send_output(i),
        }
        true
    }

    fn log_output(&mut self) {
        let Some(log) = self.log.as_mut() else { return };
        if let Err(e) = log.write(self.ttys[0].out.data()) {
            let msg = format!(
                "cannot write log '{}': {}; logging stops",
                log.path().display(),
                common::exit::message(&e)
            );
            self.log = None;
            (self.ui.warn)(&msg);
        }
    }

    /// Send tty `i`'s pending output to its socket client, without waiting.
    fn send_output(&mut self, i: usize) {
        let Peer::Socket(c) = self.ttys[i].client else {
            self.ttys[i].out.clear();
            return;
        };
        let Some(client) = self.clients[c].as_ref() else {
            return;
        };
        match sys::send(
            client.sock.as_fd(),
            proto::DATA,
            self.ttys[i].out.data(),
            false,
        ) {
            Ok(()) => self.ttys[i].out.clear(),
            Err(Errno::EAGAIN) => {}
            Err(_) => self.drop_client(c),
        }
    }

    /// Write tty `i`'s pending input to its master, without waiting.
    fn flush_input(&mut self, i: usize) {
        let t = &mut self.ttys[i];
        while !t.input.is_empty() {
            match sys::write(t.master.as_fd(), t.input.data()) {
                Ok(n) => t.input.start += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    // The tty is gone for input; drop it rather than spin.
                    t.input.clear();
                    return;
                }
            }
        }
        t.input.clear();
    }

    fn type_into(&mut self, i: usize, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let t = &mut self.ttys[i];
        t.hung = false;
        t.input.set(data);
        self.flush_input(i);
    }

    // ---- socket clients ----

    fn accept(&mut self) {
        let Some(listener) = self.listener else {
            return;
        };
        while let Some(slot) = self.free_slot() {
            match sys::accept(listener.fd()) {
                Ok(sock) => {
                    let pid = sys::peer_pid(sock.as_fd()).unwrap_or(0);
                    self.clients[slot] = Some(Client {
                        sock,
                        pid,
                        tty: None,
                    });
                }
                Err(Errno::EINTR | Errno::ECONNABORTED) => {}
                Err(_) => return,
            }
        }
    }

    fn drop_client(&mut self, c: usize) {
        if let Some(client) = self.clients[c].take()
            && let Some(t) = client.tty
            && self.ttys[t].client == Peer::Socket(c)
        {
            // Keys it typed that wait for the tty still reach it (a detach right after
            // typing, `… | ptyhold attach`, must not lose them); its output goes.
            let t = &mut self.ttys[t];
            t.client = Peer::None;
            t.out.clear();
        }
    }

    /// Send a control message to client `c` without waiting; drop it when that fails.
    fn tell(&mut self, c: usize, reply: &Reply<'_>) -> bool {
        let Some(client) = self.clients[c].as_ref() else {
            return false;
        };
        if sys::send_message(client.sock.as_fd(), &reply.encode(), false).is_err() {
            self.drop_client(c);
            return false;
        }
        true
    }

    fn refuse(&mut self, c: usize, why: Refusal) {
        let ttys = self.tty_count();
        self.tell(c, &Reply::Refused { why, ttys });
        self.drop_client(c);
    }

    fn tty_count(&self) -> u16 {
        u16::try_from(self.ttys.len() - 1).unwrap_or(u16::MAX)
    }

    fn client_readable(&mut self, c: usize) {
        let Some(client) = self.clients[c].as_ref() else {
            return;
        };
        let n = match sys::recv(client.sock.as_fd(), &mut self.recv_buf, false) {
            Ok(0) => return self.drop_client(c),
            Ok(n) => n,
            Err(Errno::EAGAIN | Errno::EINTR) => return,
            Err(_) => return self.drop_client(c),
        };
        let attached = client.tty;
        // The buffer is one byte longer than the longest message: a longer one is bad.
        let msg = std::mem::take(&mut self.recv_buf);
        let request = if n > proto::MAX_MESSAGE {
            None
        } else {
            Request::decode(&msg[..n]).ok()
        };
        match (attached, request) {
            (None, Some(Request::Attach { tty, takeover })) => {
                self.attach(c, usize::from(tty), takeover);
            }
            (None, Some(Request::List)) => {
                let list = self.list();
                self.tell(c, &list);
                self.drop_client(c);
            }
            (None, _) => self.refuse(c, Refusal::BadRequest),
            (Some(t), Some(Request::Data(data))) => self.type_into(t, data),
            (Some(t), Some(Request::Resize(size))) => {
                let _ = pty::set_winsize(self.ttys[t].master.as_fd(), size);
            }
            (Some(_), _) => self.drop_client(c),
        }
        self.recv_buf = msg;
    }

    fn attach(&mut self, c: usize, t: usize, takeover: bool) {
        if t >= self.ttys.len() {
            return self.refuse(c, Refusal::NoSuchTty);
        }
        match self.ttys[t].client {
            Peer::None => {}
            _ if !takeover => return self.refuse(c, Refusal::Busy),
            Peer::Local => self.detach_local("another client took the console over"),
            Peer::Socket(old) => {
                self.tell(old, &Reply::TakenOver);
                self.drop_client(old);
            }
        }
        let tty = u16::try_from(t).unwrap_or(u16::MAX);
        let ttys = self.tty_count();
        let tt = &mut self.ttys[t];
        tt.client = Peer::Socket(c);
        tt.hung = false;
        tt.out.clear();
        tt.input.clear();
        if let Some(client) = self.clients[c].as_mut() {
            client.tty = Some(t);
        }
        self.tell(c, &Reply::Attached { tty, ttys });
    }

    fn list(&self) -> Reply<'static> {
        let ttys = self
            .ttys
            .iter()
            .map(|t| TtyState {
                pts: t.pts,
                client: match t.client {
                    Peer::None => Who::None,
                    Peer::Local => Who::Local,
                    Peer::Socket(c) => Who::Socket(self.clients[c].as_ref().map_or(0, |c| c.pid)),
                },
            })
            .collect();
        Reply::List {
            pid: self.child.as_raw(),
            ttys,
        }
    }

    // ---- the local terminal (-F) ----

    fn local_readable(&mut self) {
        let Some(local) = self.local.as_mut() else {
            return;
        };
        let mut buf = [0u8; proto::MAX_DATA];
        let n = match sys::read(sys::stdin(), &mut buf) {
            Ok(0) => return self.detach_local("end of input"),
            Ok(n) => n,
            Err(Errno::EINTR | Errno::EAGAIN) => return,
            Err(_) => return self.detach_local("the terminal went away"),
        };
        let mut out = [0u8; proto::MAX_DATA];
        let filtered = local.escape.feed(&buf[..n], &mut out);
        self.type_into(0, &out[..filtered.len]);
        if filtered.detach {
            self.detach_local("detached");
        }
    }

    fn detach_local(&mut self, why: &str) {
        let Some(mut local) = self.local.take() else {
            return;
        };
        if let Some(raw) = local.raw.take() {
            let _ = raw.restore();
        }
        if self.ttys[0].client == Peer::Local {
            self.ttys[0].client = Peer::None;
            self.ttys[0].input.clear();
        }
        let reattach = self
            .listener
            .map(|l| format!(" (ptyhold attach {})", l.path().display()))
            .unwrap_or_default();
        (self.ui.warn)(&format!(
            "{why}; the command (pid {}) goes on until it ends{reattach}",
            self.child
        ));
    }

    fn local_resize(&mut self) {
        if let Some(local) = self.local.as_ref()
            && local.terminal
            && let Ok(size) = pty::winsize(sys::stdin())
        {
            let _ = pty::set_winsize(self.ttys[0].master.as_fd(), size);
        }
    }

    // ---- the end ----

    /// The command has ended: what is still in the ptys goes to the log and the clients
    /// (bounded by DRAIN_LIMIT), then each client is told the status.
    fn drain(&mut self, status: i32) {
        let deadline = Instant::now() + DRAIN_LIMIT;
        for i in 0..self.ttys.len() {
            if self.ttys[i].client == Peer::None && i != 0 {
                continue;
            }
            // A bounded number of reads: a process the command left behind may still write.
            for _ in 0..64 {
                if !self.ttys[i].out.is_empty() && !self.send_bounded(i, deadline) {
                    break;
                }
                if self.ttys[i].hung || !self.read_master(i) {
                    break;
                }
            }
            if !self.ttys[i].out.is_empty() {
                self.send_bounded(i, deadline);
            }
        }
        for c in 0..self.clients.len() {
            let attached = self.clients[c].as_ref().is_some_and(|c| c.tty.is_some());
            if attached {
                let msg = Reply::Exited(status).encode();
                self.send_bounded_message(c, &msg, deadline);
            }
            self.drop_client(c);
        }
        if let Some(mut local) = self.local.take()
            && let Some(raw) = local.raw.take()
        {
            let _ = raw.restore();
        }
    }

    /// Deliver tty `i`'s pending output to its socket client, waiting until `deadline`.
    fn send_bounded(&mut self, i: usize, deadline: Instant) -> bool {
        let Peer::Socket(c) = self.ttys[i].client else {
            self.ttys[i].out.clear();
            return true;
        };
        let mut msg = Vec::with_capacity(1 + self.ttys[i].out.data().len());
        msg.push(proto::DATA);
        msg.extend(self.ttys[i].out.data());
        self.ttys[i].out.clear();
        self.send_bounded_message(c, &msg, deadline)
    }

    fn send_bounded_message(&mut self, c: usize, msg: &[u8], deadline: Instant) -> bool {
        loop {
            let Some(client) = self.clients[c].as_ref() else {
                return false;
            };
            match sys::send_message(client.sock.as_fd(), msg, false) {
                Ok(()) => return true,
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => {
                    self.drop_client(c);
                    return false;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            if ms == 0 || !wait_writable(client.sock.as_fd(), ms) {
                self.drop_client(c);
                return false;
            }
        }
    }
}

fn wait_writable(fd: BorrowedFd<'_>, ms: u16) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    matches!(sys::poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// The window size every pty starts with, before a client says otherwise.
pub const DEFAULT_SIZE: Winsize = Winsize {
    rows: 24,
    cols: 80,
    xpixel: 0,
    ypixel: 0,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_one_message() {
        let mut c = Chunk::new();
        assert!(c.is_empty());
        c.set(b"abc");
        assert_eq!(c.data(), b"abc");
        c.start += 1;
        assert_eq!(c.data(), b"bc");
        c.clear();
        assert!(c.is_empty());
        assert_eq!(c.buf.len(), proto::MAX_DATA);
    }
}
