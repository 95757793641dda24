//! The clients: `ptyhold attach SOCKET [-t N]` and `ptyhold list SOCKET`.
//!
//! `attach` connects, asks for tty N (0 the console), prints lxc-console's two lines on
//! standard error (a blank line first, as LXC does), then relays with
//! [`common::pty::relay`]: raw mode and the window size when standard input is a
//! terminal, bytes as they are otherwise (a script can drive a login). The escape key and
//! `q` detach, and so does the end of standard input: the held command goes on.

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use common::pty::{self, End, RelayOptions, Remote, Winsize};
use serde::Serialize;

use crate::Ui;
use crate::cli::{Attach, List};
use crate::error::Error;
use crate::proto::{self, Client, Refusal, Reply, Request};
use crate::sys;

// The relay's buffer must hold the longest output message's data.
const _: () = assert!(pty::BUFFER >= proto::MAX_DATA);

/// A connection to a holder, as the relay's far end.
#[derive(Debug)]
struct Connection {
    sock: OwnedFd,
    path: PathBuf,
    buf: Box<[u8]>,
    exited: Option<i32>,
    taken_over: bool,
}

impl Connection {
    fn open(path: &Path) -> Result<Self, Error> {
        let err = |e: nix::errno::Errno| Error::Connect {
            path: path.to_owned(),
            source: e.into(),
        };
        let sock = sys::socket().map_err(err)?;
        sys::connect(sock.as_fd(), path).map_err(err)?;
        Ok(Self {
            sock,
            path: path.to_owned(),
            buf: vec![0u8; proto::MAX_MESSAGE + 1].into_boxed_slice(),
            exited: None,
            taken_over: false,
        })
    }

    fn protocol(&self, what: impl Into<String>) -> Error {
        Error::Protocol {
            path: self.path.clone(),
            what: what.into(),
        }
    }

    fn request(&self, r: &Request<'_>) -> Result<(), Error> {
        sys::send_message(self.sock.as_fd(), &r.encode(), true).map_err(|e| Error::Connect {
            path: self.path.clone(),
            source: e.into(),
        })
    }

    /// The next message, waiting for it.
    fn reply(&mut self) -> Result<Reply<'_>, Error> {
        let n = sys::recv(self.sock.as_fd(), &mut self.buf, true).map_err(|e| Error::Connect {
            path: self.path.clone(),
            source: e.into(),
        })?;
        if n == 0 {
            return Err(self.protocol("the holder closed the connection"));
        }
        if n > proto::MAX_MESSAGE {
            return Err(self.protocol(format!("a message of {n} bytes or more")));
        }
        Reply::decode(&self.buf[..n]).map_err(|e| Error::Protocol {
            path: self.path.clone(),
            what: e.0,
        })
    }
}

impl Remote for Connection {
    fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    fn recv(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = sys::recv(self.sock.as_fd(), &mut self.buf, true)?;
        if n == 0 {
            return Ok(0);
        }
        match Reply::decode(&self.buf[..n.min(proto::MAX_MESSAGE)]) {
            Ok(Reply::Data(d)) => {
                let len = d.len().min(out.len());
                out[..len].copy_from_slice(&d[..len]);
                Ok(len)
            }
            Ok(Reply::Exited(status)) => {
                self.exited = Some(status);
                Ok(0)
            }
            Ok(Reply::TakenOver) => {
                self.taken_over = true;
                Ok(0)
            }
            // Nothing else is expected once attached; skip it.
            _ => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        for chunk in data.chunks(proto::MAX_DATA) {
            sys::send(self.sock.as_fd(), proto::DATA, chunk, true)?;
        }
        Ok(())
    }

    fn resize(&mut self, size: Winsize) -> io::Result<()> {
        sys::send_message(self.sock.as_fd(), &Request::Resize(size).encode(), true)?;
        Ok(())
    }
}

/// `ptyhold attach`: 0 when detached or when the command ended; 128+N after signal N.
pub fn attach(cfg: &Attach, ui: &Ui<'_>) -> Result<i32, Error> {
    let mut conn = Connection::open(&cfg.socket)?;
    conn.request(&Request::Attach {
        tty: cfg.tty,
        takeover: cfg.force,
    })?;
    match conn.reply()? {
        Reply::Attached { .. } => {}
        Reply::Refused {
            why: Refusal::Busy, ..
        } => return Err(Error::Busy(cfg.tty)),
        Reply::Refused {
            why: Refusal::NoSuchTty,
            ttys,
        } => {
            return Err(Error::NoSuchTty {
                path: cfg.socket.clone(),
                tty: cfg.tty,
                ttys,
            });
        }
        other => {
            let what = format!("refused the request ({other:?})");
            return Err(conn.protocol(what));
        }
    }
    (ui.hint)(&pty::hint(u32::from(cfg.tty), cfg.escape));
    let options = RelayOptions {
        escape: Some(cfg.escape),
        linger: false,
    };
    let end = pty::relay(sys::stdin(), sys::stdout(), &mut conn, options).map_err(|source| {
        Error::Relay {
            what: "the relay failed",
            source,
        }
    })?;
    if conn.taken_over {
        (ui.warn)(&format!("tty {} was taken over by another client", cfg.tty));
    }
    Ok(match end {
        End::Signal(sig) => common::exit::signal_status(sig),
        End::Detached | End::LocalClosed | End::RemoteClosed => common::exit::SUCCESS,
    })
}

/// One tty in `list --json`.
#[derive(Debug, Serialize)]
struct Row {
    tty: u16,
    name: String,
    pts: String,
    attached: bool,
    client: &'static str,
    client_pid: Option<i32>,
    command_pid: i32,
}

fn rows(pid: i32, ttys: &[proto::TtyState]) -> Vec<Row> {
    ttys.iter()
        .enumerate()
        .map(|(i, t)| {
            let (client, client_pid) = match t.client {
                Client::None => ("none", None),
                Client::Local => ("local", None),
                Client::Socket(p) => ("socket", (p > 0).then_some(p)),
            };
            Row {
                tty: u16::try_from(i).unwrap_or(u16::MAX),
                name: if i == 0 {
                    "console".to_owned()
                } else {
                    format!("tty{i}")
                },
                pts: format!("/dev/pts/{}", t.pts),
                attached: t.client != Client::None,
                client,
                client_pid,
                command_pid: pid,
            }
        })
        .collect()
}

/// The text form: a header, then one line per tty.
fn write_text(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    writeln!(out, "TTY  NAME     PTS          CLIENT")?;
    for r in rows {
        let client = match (r.client, r.client_pid) {
            ("none", _) => "-".to_owned(),
            ("local", _) => "the holder's terminal".to_owned(),
            (_, Some(pid)) => format!("pid {pid}"),
            (_, None) => "attached".to_owned(),
        };
        writeln!(out, "{:<4} {:<8} {:<12} {client}", r.tty, r.name, r.pts)?;
    }
    Ok(())
}

/// `ptyhold list`: the ttys on `out` (text or JSON lines).
pub fn list(cfg: &List, out: &mut dyn Write) -> Result<i32, Error> {
    let mut conn = Connection::open(&cfg.socket)?;
    conn.request(&Request::List)?;
    let (pid, ttys) = match conn.reply()? {
        Reply::List { pid, ttys } => (pid, ttys),
        other => {
            let what = format!("answered {other:?} to a list");
            return Err(conn.protocol(what));
        }
    };
    let rows = rows(pid, &ttys);
    let written = if cfg.json {
        rows.iter()
            .try_for_each(|r| common::json::write_line(&mut *out, r))
    } else {
        write_text(out, &rows)
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if !common::exit::is_broken_pipe(&e) => Err(Error::Relay {
            what: "cannot write the list",
            source: e,
        }),
        _ => Ok(common::exit::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::TtyState;

    #[test]
    fn list_forms() {
        let ttys = [
            TtyState {
                pts: 4,
                client: Client::Local,
            },
            TtyState {
                pts: 5,
                client: Client::Socket(321),
            },
            TtyState {
                pts: 6,
                client: Client::None,
            },
        ];
        let rows = rows(77, &ttys);
        let mut text = Vec::new();
        write_text(&mut text, &rows).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "TTY  NAME     PTS          CLIENT\n\
             0    console  /dev/pts/4   the holder's terminal\n\
             1    tty1     /dev/pts/5   pid 321\n\
             2    tty2     /dev/pts/6   -\n"
        );
        let line = common::json::to_line(&rows[1]).unwrap();
        assert_eq!(
            line,
            r#"{"tty":1,"name":"tty1","pts":"/dev/pts/5","attached":true,"client":"socket","client_pid":321,"command_pid":77}"#
        );
    }
}
