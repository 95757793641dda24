//! A synchronous netlink socket: send one request, read until its ACK (or error), or
//! read a whole dump. No async runtime: one socket per network namespace, on the one
//! thread. The framing (headers, ACKs, the kernel's extended-ack text, interrupted
//! dumps) is done here for both families the tool speaks: rtnetlink (links, addresses,
//! routes, through `netlink-packet-route`'s types) and nftables (raw bytes built by
//! `nftnl`).

use std::fmt;

use common::trace;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_EXCL,
    NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NlasIterator,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::Socket;
use nix::errno::Errno;

use crate::error::KernelError;
use crate::sys;

/// The length of a netlink message header (`NLMSG_HDRLEN`).
const NLMSG_HDRLEN: usize = std::mem::size_of::<libc::nlmsghdr>();
/// `NLMSGERR_ATTR_MSG` of linux/netlink.h (not in netlink-packet-core): the extended
/// ack's text.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// How often an interrupted dump (the set changed while it ran) is restarted.
const DUMP_RETRIES: usize = 5;

/// Flags of a request that creates an object and must not replace one.
pub const CREATE_EXCL: u16 = NLM_F_CREATE | NLM_F_EXCL;

/// One message of a datagram: its header fields and payload.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// nlmsg_type.
    pub ty: u16,
    /// nlmsg_flags.
    pub flags: u16,
    /// nlmsg_seq.
    pub seq: u32,
    /// The whole message, header included.
    pub bytes: &'a [u8],
    /// The payload after the header.
    pub payload: &'a [u8],
}

/// Split a datagram into messages; a malformed length ends the walk with an error.
pub fn frames(buf: &[u8]) -> Result<Vec<Frame<'_>>, String> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let b = NetlinkBuffer::new_checked(&buf[off..])
            .map_err(|e| format!("bad message at offset {off}: {e}"))?;
        let len = b.length() as usize;
        out.push(Frame {
            ty: b.message_type(),
            flags: b.flags(),
            seq: b.sequence_number(),
            bytes: &buf[off..off + len],
            payload: &buf[off + NLMSG_HDRLEN..off + len],
        });
        off += (len + 3) & !3;
    }
    Ok(out)
}

/// The value of the first attribute of type `kind` in a run of netlink attributes
/// (`NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` ignored); `None` when absent or malformed.
pub fn attr(attrs: &[u8], kind: u16) -> Option<&[u8]> {
    NlasIterator::new(attrs)
        .map_while(Result::ok)
        .find(|a| a.kind() & netlink_packet_core::NLA_TYPE_MASK == kind)
        .map(|a| {
            let len = usize::from(a.length());
            &a.into_inner()[4..len]
        })
}

/// The result carried by an NLMSG_ERROR (or NLMSG_DONE) payload: `Ok` for an ACK,
/// else the errno and the kernel's extended-ack text. An NLMSG_ERROR too short to hold
/// its error code is malformed, not an ACK.
pub fn parse_error(flags: u16, payload: &[u8]) -> Result<(), KernelError> {
    if payload.len() < 4 {
        let mut k = KernelError::new(Errno::EBADMSG);
        k.extack = Some(format!(
            "truncated NLMSG_ERROR ({} bytes of payload)",
            payload.len()
        ));
        return Err(k);
    }
    let code = i32::from_ne_bytes(payload[0..4].try_into().expect("4 bytes"));
    if code == 0 {
        return Ok(());
    }
    // Saturating: i32::MIN (no errno) has no negation.
    let mut err = KernelError::new(Errno::from_raw(code.saturating_neg()));
    if flags & NLM_F_ACK_TLVS != 0 && payload.len() >= 4 + NLMSG_HDRLEN {
        // After the code comes the request's header (capped) or whole request.
        let orig_len = if flags & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            let l = u32::from_ne_bytes(payload[4..8].try_into().expect("4 bytes")) as usize;
            (l + 3) & !3
        };
        if let Some(text) = payload
            .get(4 + orig_len..)
            .and_then(|tlvs| attr(tlvs, NLMSGERR_ATTR_MSG))
        {
            let text = text.split(|b| *b == 0).next().unwrap_or_default();
            err.extack = Some(String::from_utf8_lossy(text).into_owned());
        }
    }
    Err(err)
}

/// The name of an rtnetlink message type, for the trace.
pub fn rtm_name(msg: &RouteNetlinkMessage) -> &'static str {
    use RouteNetlinkMessage as M;
    match msg {
        M::NewLink(_) => "RTM_NEWLINK",
        M::DelLink(_) => "RTM_DELLINK",
        M::GetLink(_) => "RTM_GETLINK",
        M::SetLink(_) => "RTM_SETLINK",
        M::NewAddress(_) => "RTM_NEWADDR",
        M::DelAddress(_) => "RTM_DELADDR",
        M::GetAddress(_) => "RTM_GETADDR",
        M::NewRoute(_) => "RTM_NEWROUTE",
        M::DelRoute(_) => "RTM_DELROUTE",
        M::GetRoute(_) => "RTM_GETROUTE",
        M::GetNsId(_) => "RTM_GETNSID",
        _ => "RTM_?",
    }
}

/// Serialize an rtnetlink request with `flags` (NLM_F_REQUEST is added) and `seq`.
pub fn encode(msg: RouteNetlinkMessage, flags: u16, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | flags;
    header.sequence_number = seq;
    let mut m = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    m.finalize();
    let mut buf = vec![0; m.buffer_len()];
    m.serialize(&mut buf);
    buf
}

/// An rtnetlink conversation with one namespace: what the commands need from a socket.
/// [`Sock`] is the real one; the unit tests of `connect` use a fake kernel.
pub trait Rtnl {
    /// Send a request that changes state and wait for its ACK.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: fmt::Arguments<'_>,
    ) -> Result<(), KernelError>;

    /// Send a GET (or a dump) and collect the answers.
    fn query(
        &mut self,
        msg: &RouteNetlinkMessage,
        dump: bool,
        what: fmt::Arguments<'_>,
    ) -> Result<Vec<RouteNetlinkMessage>, KernelError>;

    /// The namespace, as the user named it.
    fn label(&self) -> &str;
}

impl Rtnl for Sock {
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: fmt::Arguments<'_>,
    ) -> Result<(), KernelError> {
        Sock::request(self, msg, flags, what)
    }

    fn query(
        &mut self,
        msg: &RouteNetlinkMessage,
        dump: bool,
        what: fmt::Arguments<'_>,
    ) -> Result<Vec<RouteNetlinkMessage>, KernelError> {
        Sock::query(self, msg, dump, what)
    }

    fn label(&self) -> &str {
        &self.label
    }
}

/// A netlink socket in one network namespace.
pub struct Sock {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
    /// The namespace it lives in, for the trace and for errors.
    pub label: String,
}

impl fmt::Debug for Sock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sock").field("label", &self.label).finish()
    }
}

/// A transport failure (not an errno from the kernel's answer): reported as a kernel
/// error with the errno of the failed send or receive.
fn io_err(e: &std::io::Error) -> KernelError {
    let mut k = KernelError::new(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)));
    if e.raw_os_error().is_none() {
        k.extack = Some(e.to_string());
    }
    k
}

impl Sock {
    /// Wrap an opened socket (see [`sys::netlink_socket`]).
    pub fn new(sock: Socket, label: String) -> Self {
        Sock {
            sock,
            // Start from the pid so two tools' traces do not look alike.
            seq: std::process::id().wrapping_mul(1000),
            buf: Vec::with_capacity(1 << 16),
            label,
        }
    }

    /// The cookie of the namespace the socket lives in (`SO_NETNS_COOKIE`).
    pub fn cookie(&self) -> nix::Result<u64> {
        use std::os::fd::AsFd;
        sys::netns_cookie(self.sock.as_fd())
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Send an rtnetlink request that changes state and wait for its ACK. Traced at `-v`
    /// as `RTM_NEWLINK(what) = 0`.
    pub fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: fmt::Arguments<'_>,
    ) -> Result<(), KernelError> {
        let name = rtm_name(&msg);
        let seq = self.next_seq();
        let bytes = encode(msg, flags | NLM_F_ACK, seq);
        let r = self.exchange(&bytes, seq, false, &mut |_| Ok(())).map(drop);
        trace::syscall(format_args!("{name}({what}) in {}", self.label), &r);
        r
    }

    /// Send a request that answers with messages (a GET or a dump) and collect them.
    /// Traced at `-vv`.
    pub fn query(
        &mut self,
        msg: &RouteNetlinkMessage,
        dump: bool,
        what: fmt::Arguments<'_>,
    ) -> Result<Vec<RouteNetlinkMessage>, KernelError> {
        let name = rtm_name(msg);
        let mut attempt = 0;
        loop {
            let seq = self.next_seq();
            let flags = if dump { NLM_F_DUMP } else { NLM_F_ACK };
            let bytes = encode(msg.clone(), flags, seq);
            let mut out = Vec::new();
            let r = self.exchange(&bytes, seq, dump, &mut |f: &Frame<'_>| {
                let m =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(f.bytes).map_err(|e| {
                        let mut k = KernelError::new(Errno::EBADMSG);
                        k.extack = Some(format!("cannot parse the kernel's {name} reply: {e}"));
                        k
                    })?;
                if let NetlinkPayload::InnerMessage(inner) = m.payload {
                    out.push(inner);
                }
                Ok(())
            });
            trace::syscall_at(
                2,
                format_args!("{name}({what}) in {}", self.label),
                &r.as_ref().map(|_| out.len()).map_err(Clone::clone),
            );
            if r? {
                check_interrupted(attempt)?;
                attempt += 1;
                continue;
            }
            return Ok(out);
        }
    }

    /// Send raw bytes (an nftables batch) and wait until each message in `acked` (those
    /// that ask for an ACK) has been answered; the first error wins, with the seq of its
    /// message. An error for the batch's begin message (`begin_seq`: no permission, a
    /// stale generation id) ends the wait at once: the kernel then sends nothing else,
    /// whether or not the begin message asked for an ACK.
    pub fn raw_batch(
        &mut self,
        bytes: &[u8],
        acked: &[u32],
        begin_seq: u32,
    ) -> Result<(), (Option<u32>, KernelError)> {
        sys::nl_send(&self.sock, bytes).map_err(|e| (None, io_err(&e)))?;
        let mut pending: Vec<u32> = acked.to_vec();
        let mut first_err: Option<(Option<u32>, KernelError)> = None;
        while !pending.is_empty() {
            sys::nl_recv(&self.sock, &mut self.buf).map_err(|e| (None, io_err(&e)))?;
            let fr = frames(&self.buf).map_err(|why| {
                let mut k = KernelError::new(Errno::EBADMSG);
                k.extack = Some(why);
                (None, k)
            })?;
            for f in fr {
                if f.ty != NLMSG_ERROR {
                    continue;
                }
                let r = parse_error(f.flags, f.payload);
                if f.seq == begin_seq
                    && let Err(e) = r
                {
                    return Err((Some(f.seq), e));
                }
                if let Some(i) = pending.iter().position(|s| *s == f.seq) {
                    pending.swap_remove(i);
                    if let Err(e) = r {
                        if first_err.is_none() {
                            first_err = Some((Some(f.seq), e));
                        }
                        // After an error the kernel aborts the batch; the rest of the
                        // acks may not come.
                        pending.clear();
                    }
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Send raw bytes (one request on a non-route family that asks for an ACK) and hand
    /// each reply message to `each` until the ACK.
    pub fn raw_request(
        &mut self,
        bytes: &[u8],
        seq: u32,
        each: &mut dyn FnMut(&Frame<'_>) -> Result<(), KernelError>,
    ) -> Result<(), KernelError> {
        self.exchange(bytes, seq, false, each).map(drop)
    }

    /// Send raw bytes (one dump request on a non-route family) and hand each reply
    /// message to `each` until NLMSG_DONE. True when the kernel marked the dump
    /// interrupted (NLM_F_DUMP_INTR: the set changed while it was read; read it again).
    pub fn raw_dump(
        &mut self,
        bytes: &[u8],
        seq: u32,
        each: &mut dyn FnMut(&Frame<'_>) -> Result<(), KernelError>,
    ) -> Result<bool, KernelError> {
        self.exchange(bytes, seq, true, each)
    }

    /// A fresh sequence number for a raw request.
    pub fn seq(&mut self) -> u32 {
        self.next_seq()
    }

    /// Send `bytes` and read replies with `seq` until the ACK/error (request) or
    /// NLMSG_DONE (dump), giving every data message to `each`. True when the kernel
    /// marked a reply NLM_F_DUMP_INTR.
    fn exchange(
        &mut self,
        bytes: &[u8],
        seq: u32,
        dump: bool,
        each: &mut dyn FnMut(&Frame<'_>) -> Result<(), KernelError>,
    ) -> Result<bool, KernelError> {
        sys::nl_send(&self.sock, bytes).map_err(|e| io_err(&e))?;
        let mut answer = Answer::new(seq, dump);
        loop {
            sys::nl_recv(&self.sock, &mut self.buf).map_err(|e| io_err(&e))?;
            let fr = frames(&self.buf).map_err(|why| {
                let mut k = KernelError::new(Errno::EBADMSG);
                k.extack = Some(why);
                k
            })?;
            answer.absorb(&fr, each);
            if answer.finished {
                return answer.result.map(|()| answer.interrupted);
            }
        }
    }
}

/// After an interrupted dump: another try, or, after [`DUMP_RETRIES`], an error (an
/// inconsistent view must not pass for the state: a missed bridge port would let
/// `disconnect` delete a bridge still in use).
pub fn check_interrupted(attempt: usize) -> Result<(), KernelError> {
    if attempt < DUMP_RETRIES {
        return Ok(());
    }
    let mut k = KernelError::new(Errno::EINTR);
    k.extack = Some(format!(
        "the kernel's dump was interrupted {} times (the set kept changing while it was read)",
        attempt + 1
    ));
    Err(k)
}

/// What the replies to one request (`seq`) have said so far.
#[derive(Debug)]
struct Answer {
    seq: u32,
    dump: bool,
    /// The ACK, the error, or NLMSG_DONE came.
    finished: bool,
    /// A reply (data or NLMSG_DONE) carried NLM_F_DUMP_INTR.
    interrupted: bool,
    /// The first error (the kernel's, or one from `each`).
    result: Result<(), KernelError>,
}

impl Answer {
    fn new(seq: u32, dump: bool) -> Self {
        Answer {
            seq,
            dump,
            finished: false,
            interrupted: false,
            result: Ok(()),
        }
    }

    /// Take in the messages of one datagram.
    fn absorb(
        &mut self,
        fr: &[Frame<'_>],
        each: &mut dyn FnMut(&Frame<'_>) -> Result<(), KernelError>,
    ) {
        for f in fr {
            if f.seq != self.seq {
                continue; // a stale answer to an earlier request
            }
            // The kernel may mark the NLMSG_DONE alone (the set changed after the last
            // data message was filled).
            if f.flags & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            match f.ty {
                NLMSG_ERROR => {
                    // An ACK ends a request; an error ends both kinds.
                    let r = parse_error(f.flags, f.payload);
                    if r.is_err() || !self.dump {
                        self.finished = true;
                        if self.result.is_ok() {
                            self.result = r;
                        }
                    }
                }
                NLMSG_DONE => {
                    self.finished = true;
                    // Its error code (dump_done_errno) may be absent on old kernels.
                    if self.result.is_ok() && !f.payload.is_empty() {
                        self.result = parse_error(f.flags, f.payload);
                    }
                }
                _ => {
                    if self.result.is_ok() {
                        self.result = each(f);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::NLM_F_MULTIPART;

    fn frame(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = (NLMSG_HDRLEN + payload.len()) as u32;
        let mut v = Vec::new();
        v.extend_from_slice(&len.to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&flags.to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(payload);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn ack_and_errors() {
        assert_eq!(parse_error(0, &0i32.to_ne_bytes()), Ok(()));
        // Truncated: not an ACK.
        let e = parse_error(0, &[0, 0]).unwrap_err();
        assert_eq!(e.errno, Errno::EBADMSG);
        assert_eq!(e.to_string(), "truncated NLMSG_ERROR (2 bytes of payload)");
        let mut p = (-17i32).to_ne_bytes().to_vec();
        p.extend_from_slice(&[0; 16]);
        let e = parse_error(NLM_F_CAPPED, &p).unwrap_err();
        assert_eq!(e.errno, Errno::EEXIST);
        assert_eq!(e.extack, None);
        assert_eq!(e.to_string(), "File exists");
    }

    #[test]
    fn an_error_code_without_a_negation_is_an_error() {
        // Found by fuzzing (fuzz/fuzz_targets/netlink_values.rs): an NLMSG_ERROR whose code
        // is i32::MIN overflowed its negation (a panic in a debug build).
        let mut p = i32::MIN.to_ne_bytes().to_vec();
        p.extend_from_slice(&[0; 16]);
        for flags in [0, NLM_F_CAPPED | NLM_F_ACK_TLVS] {
            let e = parse_error(flags, &p).unwrap_err();
            assert_eq!(e.errno, Errno::UnknownErrno);
        }
    }

    #[test]
    fn extended_ack_text() {
        // -EOPNOTSUPP, the capped request header, then NLMSGERR_ATTR_MSG.
        let mut p = (-95i32).to_ne_bytes().to_vec();
        p.extend_from_slice(&[0; 16]);
        let text = b"Unknown device type\0";
        let len = (4 + text.len()) as u16;
        p.extend_from_slice(&len.to_ne_bytes());
        p.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        p.extend_from_slice(text);
        let e = parse_error(NLM_F_CAPPED | NLM_F_ACK_TLVS, &p).unwrap_err();
        assert_eq!(e.errno, Errno::EOPNOTSUPP);
        assert_eq!(e.extack.as_deref(), Some("Unknown device type"));
    }

    #[test]
    fn splitting_datagrams() {
        let mut buf = frame(16, NLM_F_MULTIPART, 7, &[1, 2, 3]);
        buf.extend(frame(NLMSG_DONE, NLM_F_MULTIPART, 7, &0i32.to_ne_bytes()));
        let f = frames(&buf).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].ty, 16);
        assert_eq!(f[0].payload, &[1, 2, 3]);
        assert_eq!(f[1].ty, NLMSG_DONE);
        assert_eq!(f[1].seq, 7);
        let mut bad = frame(16, 0, 1, &[]);
        bad[0] = 200;
        assert!(frames(&bad).is_err());
    }

    /// Feed datagrams to an [`Answer`] for seq 7; the data messages' first payload bytes.
    fn answer(dump: bool, datagrams: &[Vec<u8>]) -> (Answer, Vec<u8>) {
        let mut a = Answer::new(7, dump);
        let mut seen = Vec::new();
        for d in datagrams {
            let fr = frames(d).unwrap();
            a.absorb(&fr, &mut |f| {
                seen.push(f.payload[0]);
                Ok(())
            });
        }
        (a, seen)
    }

    #[test]
    fn a_dump_ends_at_done_and_notes_an_interruption_even_on_done_alone() {
        let done = |flags| frame(NLMSG_DONE, NLM_F_MULTIPART | flags, 7, &0i32.to_ne_bytes());
        let mut d1 = frame(16, NLM_F_MULTIPART, 7, &[1]);
        d1.extend(frame(16, NLM_F_MULTIPART, 6, &[9])); // stale: another request's
        let d2 = {
            let mut d = frame(16, NLM_F_MULTIPART, 7, &[2]);
            d.extend(done(0));
            d
        };
        let (a, seen) = answer(true, &[d1.clone(), d2]);
        assert!(a.finished && !a.interrupted && a.result.is_ok());
        assert_eq!(seen, [1, 2]);
        // The kernel may set NLM_F_DUMP_INTR on NLMSG_DONE only.
        let (a, _) = answer(true, &[frame(NLMSG_DONE, NLM_F_MULTIPART, 7, &[])]);
        assert!(a.finished && a.result.is_ok(), "a DONE without its code");
        let (a, _) = answer(true, &[d1.clone(), done(NLM_F_DUMP_INTR)]);
        assert!(a.finished && a.interrupted, "{a:?}");
        let (a, _) = answer(
            true,
            &[frame(16, NLM_F_MULTIPART | NLM_F_DUMP_INTR, 7, &[1])],
        );
        assert!(!a.finished && a.interrupted);
        // Not finished before NLMSG_DONE; an error ends it.
        let (a, _) = answer(true, &[d1]);
        assert!(!a.finished);
        let (a, _) = answer(true, &[frame(NLMSG_ERROR, 0, 7, &(-1i32).to_ne_bytes())]);
        assert!(a.finished);
        assert_eq!(a.result.unwrap_err().errno, Errno::EPERM);
        // A request ends at its ACK, after the answer.
        let mut r = frame(16, 0, 7, &[5]);
        r.extend(frame(NLMSG_ERROR, 0, 7, &0i32.to_ne_bytes()));
        let (a, seen) = answer(false, &[r]);
        assert!(a.finished && a.result.is_ok());
        assert_eq!(seen, [5]);
    }

    #[test]
    fn a_dump_interrupted_again_and_again_is_an_error() {
        for attempt in 0..DUMP_RETRIES {
            assert!(check_interrupted(attempt).is_ok());
        }
        let e = check_interrupted(DUMP_RETRIES).unwrap_err();
        assert_eq!(e.errno, Errno::EINTR);
        assert_eq!(
            e.to_string(),
            "the kernel's dump was interrupted 6 times (the set kept changing while it was read)"
        );
    }

    #[test]
    fn encoded_requests_carry_flags_and_seq() {
        let msg = RouteNetlinkMessage::GetLink(Default::default());
        let b = encode(msg, NLM_F_ACK, 42);
        let f = frames(&b).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].ty, 18); // RTM_GETLINK
        assert_eq!(f[0].flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(f[0].seq, 42);
    }
}
