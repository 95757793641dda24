//! The wire protocol between `ptyhold attach`/`list` and the holder.
//!
//! One `SOCK_SEQPACKET` Unix socket connection per client. The kernel keeps message
//! boundaries and order, so a message is one `send` and one `recv`, without a length
//! prefix. The first byte is the message's type; integers are little-endian.
//!
//! Client to holder:
//!
//! | message | bytes | meaning |
//! | --- | --- | --- |
//! | `A` | version u8, tty u16, flags u8 (bit 0: take over) | attach to a tty (first message) |
//! | `L` | version u8 | list the ttys (first message); answered by `I`, then closed |
//! | `D` | 1 to 4096 bytes | typed input for the tty |
//! | `W` | rows u16, cols u16, xpixel u16, ypixel u16 | the client's window size |
//!
//! Closing the connection detaches; no message is needed.
//!
//! Holder to client:
//!
//! | message | bytes | meaning |
//! | --- | --- | --- |
//! | `O` | tty u16, ttys u16 | attached; `ttys` besides the console |
//! | `E` | code u8, ttys u16 | refused (1 busy, 2 no such tty, 3 bad request or version), then closed |
//! | `D` | 1 to 4096 bytes | the tty's output |
//! | `X` | status i32 | the command ended with this status (exit code or 128+N), then closed |
//! | `T` | | another client took the tty over (`--force`), then closed |
//! | `I` | command pid i32, n u16, n × (pts u32, client u8, client pid i32) | the list; client 0 none, 1 the holder's own terminal (`-F`), 2 a socket client |
//!
//! Why relay instead of passing the pty master with `SCM_RIGHTS`, as LXC does: the
//! holder must see every byte of the console for the log, and one reader per master
//! keeps the log and a client from racing for the output. LXC gets the same by handing
//! the client a proxy pty; a relay over the socket needs no extra pty.

use common::pty::Winsize;

/// The protocol's version, sent in the first message.
pub const VERSION: u8 = 1;
/// The most data bytes in one `D` message.
pub const MAX_DATA: usize = 4096;
/// The longest message (a `D` with its type byte).
pub const MAX_MESSAGE: usize = 1 + MAX_DATA;

/// Type byte of typed input and of output.
pub const DATA: u8 = b'D';

/// A message from a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// Attach to a tty.
    Attach {
        /// 0 the console.
        tty: u16,
        /// Take the tty over when busy.
        takeover: bool,
    },
    /// List the ttys.
    List,
    /// Typed input.
    Data(&'a [u8]),
    /// The window size.
    Resize(Winsize),
}

/// Why the holder refused an attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another client has the tty.
    Busy,
    /// No such tty.
    NoSuchTty,
    /// A first message that is not `A` or `L`, or another version.
    BadRequest,
}

/// Who is attached to a tty, in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Nobody.
    None,
    /// The holder's own terminal (`-F`).
    Local,
    /// A socket client, with its PID when known (0 otherwise).
    Socket(i32),
}

/// One tty in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtyState {
    /// N of the holder's `/dev/pts/N`.
    pub pts: u32,
    /// Who is attached.
    pub client: Client,
}

/// A message from the holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// Attached.
    Attached {
        /// The tty.
        tty: u16,
        /// Ttys besides the console.
        ttys: u16,
    },
    /// Refused.
    Refused {
        /// Why.
        why: Refusal,
        /// Ttys besides the console.
        ttys: u16,
    },
    /// Output.
    Data(&'a [u8]),
    /// The command ended with this status.
    Exited(i32),
    /// Another client took the tty over.
    TakenOver,
    /// The ttys (index 0 the console) and the command's PID.
    List {
        /// The command's PID.
        pid: i32,
        /// The ttys.
        ttys: Vec<TtyState>,
    },
}

/// A message that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn i32_at(b: &[u8], i: usize) -> Option<i32> {
    Some(i32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn malformed(what: &str, msg: &[u8]) -> Malformed {
    let kind = msg.first().map_or("an empty message".to_owned(), |&t| {
        format!("message {:?}", char::from(t))
    });
    Malformed(format!("{what}: {kind} of {} bytes", msg.len()))
}

impl<'a> Request<'a> {
    /// The message's bytes (not for `Data`, which is sent as the type byte and the data
    /// in two pieces, without a copy).
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            Request::Attach { tty, takeover } => {
                let mut m = vec![b'A', VERSION];
                m.extend(tty.to_le_bytes());
                m.push(u8::from(takeover));
                m
            }
            Request::List => vec![b'L', VERSION],
            Request::Data(d) => {
                let mut m = vec![DATA];
                m.extend(d);
                m
            }
            Request::Resize(w) => {
                let mut m = vec![b'W'];
                for v in [w.rows, w.cols, w.xpixel, w.ypixel] {
                    m.extend(v.to_le_bytes());
                }
                m
            }
        }
    }

    /// Parse one message.
    pub fn decode(msg: &'a [u8]) -> Result<Self, Malformed> {
        let bad = || malformed("bad request", msg);
        match msg.first() {
            Some(b'A') if msg.len() == 5 => {
                if msg[1] != VERSION {
                    return Err(Malformed(format!(
                        "protocol version {} (this ptyhold speaks {VERSION})",
                        msg[1]
                    )));
                }
                Ok(Request::Attach {
                    tty: u16_at(msg, 2).ok_or_else(bad)?,
                    takeover: msg[4] & 1 != 0,
                })
            }
            Some(b'L') if msg.len() == 2 => {
                if msg[1] != VERSION {
                    return Err(Malformed(format!(
                        "protocol version {} (this ptyhold speaks {VERSION})",
                        msg[1]
                    )));
                }
                Ok(Request::List)
            }
            Some(&DATA) if msg.len() > 1 && msg.len() <= MAX_MESSAGE => {
                Ok(Request::Data(&msg[1..]))
            }
            Some(b'W') if msg.len() == 9 => Ok(Request::Resize(Winsize {
                rows: u16_at(msg, 1).ok_or_else(bad)?,
                cols: u16_at(msg, 3).ok_or_else(bad)?,
                xpixel: u16_at(msg, 5).ok_or_else(bad)?,
                ypixel: u16_at(msg, 7).ok_or_else(bad)?,
            })),
            _ => Err(bad()),
        }
    }
}

impl<'a> Reply<'a> {
    /// The message's bytes (output is sent in two pieces, like typed input).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Attached { tty, ttys } => {
                let mut m = vec![b'O'];
                m.extend(tty.to_le_bytes());
                m.extend(ttys.to_le_bytes());
                m
            }
            Reply::Refused { why, ttys } => {
                let code = match why {
                    Refusal::Busy => 1,
                    Refusal::NoSuchTty => 2,
                    Refusal::BadRequest => 3,
                };
                let mut m = vec![b'E', code];
                m.extend(ttys.to_le_bytes());
                m
            }
            Reply::Data(d) => {
                let mut m = vec![DATA];
                m.extend(*d);
                m
            }
            Reply::Exited(status) => {
                let mut m = vec![b'X'];
                m.extend(status.to_le_bytes());
                m
            }
            Reply::TakenOver => vec![b'T'],
            Reply::List { pid, ttys } => {
                let mut m = vec![b'I'];
                m.extend(pid.to_le_bytes());
                let n = u16::try_from(ttys.len()).unwrap_or(u16::MAX);
                m.extend(n.to_le_bytes());
                for t in ttys.iter().take(usize::from(n)) {
                    m.extend(t.pts.to_le_bytes());
                    let (kind, pid) = match t.client {
                        Client::None => (0u8, 0),
                        Client::Local => (1, 0),
                        Client::Socket(pid) => (2, pid),
                    };
                    m.push(kind);
                    m.extend(pid.to_le_bytes());
                }
                m
            }
        }
    }

    /// Parse one message.
    pub fn decode(msg: &'a [u8]) -> Result<Self, Malformed> {
        let bad = || malformed("unexpected answer", msg);
        match msg.first() {
            Some(b'O') if msg.len() == 5 => Ok(Reply::Attached {
                tty: u16_at(msg, 1).ok_or_else(bad)?,
                ttys: u16_at(msg, 3).ok_or_else(bad)?,
            }),
            Some(b'E') if msg.len() == 4 => Ok(Reply::Refused {
                why: match msg[1] {
                    1 => Refusal::Busy,
                    2 => Refusal::NoSuchTty,
                    _ => Refusal::BadRequest,
                },
                ttys: u16_at(msg, 2).ok_or_else(bad)?,
            }),
            Some(&DATA) if msg.len() > 1 && msg.len() <= MAX_MESSAGE => Ok(Reply::Data(&msg[1..])),
            Some(b'X') if msg.len() == 5 => Ok(Reply::Exited(i32_at(msg, 1).ok_or_else(bad)?)),
            Some(b'T') if msg.len() == 1 => Ok(Reply::TakenOver),
            Some(b'I') if msg.len() >= 7 => {
                let pid = i32_at(msg, 1).ok_or_else(bad)?;
                let n = usize::from(u16_at(msg, 5).ok_or_else(bad)?);
                if msg.len() != 7 + 9 * n {
                    return Err(bad());
                }
                let ttys = (0..n)
                    .map(|i| {
                        let at = 7 + 9 * i;
                        let pts = u32_at(msg, at)?;
                        let client = match msg[at + 4] {
                            0 => Client::None,
                            1 => Client::Local,
                            _ => Client::Socket(i32_at(msg, at + 5)?),
                        };
                        Some(TtyState { pts, client })
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(bad)?;
                Ok(Reply::List { pid, ttys })
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let size = Winsize {
            rows: 50,
            cols: 132,
            xpixel: 1,
            ypixel: 2,
        };
        for r in [
            Request::Attach {
                tty: 3,
                takeover: true,
            },
            Request::Attach {
                tty: 0,
                takeover: false,
            },
            Request::List,
            Request::Data(b"ls\r"),
            Request::Resize(size),
        ] {
            let bytes = r.encode();
            assert_eq!(Request::decode(&bytes), Ok(r), "{bytes:?}");
        }
        assert_eq!(
            Request::Attach {
                tty: 258,
                takeover: false
            }
            .encode(),
            [b'A', 1, 2, 1, 0]
        );
    }

    #[test]
    fn replies_round_trip() {
        let list = Reply::List {
            pid: 4242,
            ttys: vec![
                TtyState {
                    pts: 7,
                    client: Client::Local,
                },
                TtyState {
                    pts: 8,
                    client: Client::Socket(99),
                },
                TtyState {
                    pts: 9,
                    client: Client::None,
                },
            ],
        };
        for r in [
            Reply::Attached { tty: 1, ttys: 4 },
            Reply::Refused {
                why: Refusal::Busy,
                ttys: 4,
            },
            Reply::Refused {
                why: Refusal::NoSuchTty,
                ttys: 0,
            },
            Reply::Data(b"login: "),
            Reply::Exited(143),
            Reply::TakenOver,
            list,
        ] {
            let bytes = r.encode();
            assert_eq!(Reply::decode(&bytes), Ok(r.clone()), "{bytes:?}");
        }
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert!(Request::decode(b"").is_err());
        assert!(Request::decode(b"D").is_err());
        assert!(Request::decode(b"A\x01\x00").is_err());
        assert!(Request::decode(b"W\x01").is_err());
        assert!(Request::decode(b"?").is_err());
        let too_long = vec![DATA; MAX_MESSAGE + 1];
        assert!(Request::decode(&too_long).is_err());
        assert_eq!(
            Request::decode(b"A\x02\x00\x00\x00").unwrap_err().0,
            "protocol version 2 (this ptyhold speaks 1)"
        );
        assert_eq!(
            Reply::decode(b"Z1").unwrap_err().0,
            "unexpected answer: message 'Z' of 2 bytes"
        );
        // A list whose count does not match its length.
        assert!(Reply::decode(b"I\x01\x00\x00\x00\x02\x00").is_err());
    }
}
