//! Host names resolved without NSS: `/etc/hosts` first, then DNS over UDP (TCP when an
//! answer comes back truncated) to the name servers of `/etc/resolv.conf`, A then AAAA.
//!
//! Release binaries are static (glibc static-pie), and `getaddrinfo` in a static binary
//! loads the host's NSS modules at run time, built for another glibc: that is unsafe
//! (it crashed chroot-rs). A mirror's host name needs none of NSS's generality: the
//! files and DNS sources, `search`/`domain` and `ndots` as glibc applies them, the
//! `timeout` and `attempts` options, and RFC 6761's `localhost`. Nothing else of
//! resolv.conf (no `rotate`, no EDNS, no DNSSEC): the answer only picks an address to
//! connect to; what is downloaded is trusted through the signed InRelease alone.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::trace;

/// DNS record types asked for.
pub const TYPE_A: u16 = 1;
/// AAAA.
pub const TYPE_AAAA: u16 = 28;
const TYPE_CNAME: u16 = 5;
const CLASS_IN: u16 = 1;

/// The addresses `/etc/hosts` (its text) gives `name`, in file order.
pub fn hosts_lookup(text: &str, name: &str) -> Vec<IpAddr> {
    let name = name.trim_end_matches('.');
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(addr) = words
            .next()
            .and_then(|a| a.split('%').next()?.parse::<IpAddr>().ok())
        else {
            continue;
        };
        if words.any(|w| w.eq_ignore_ascii_case(name)) && !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

/// What `/etc/resolv.conf` says, as far as a look-up here uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` lines (port 53), at most three as in glibc; 127.0.0.1 when none.
    pub nameservers: Vec<SocketAddr>,
    /// `search` (or `domain`: the last of the two wins).
    pub search: Vec<String>,
    /// `options ndots:N` (default 1).
    pub ndots: usize,
    /// `options timeout:N` per try (default 5 s).
    pub timeout: Duration,
    /// `options attempts:N` rounds over the name servers (default 2).
    pub attempts: u32,
}

impl ResolvConf {
    /// Parse the text of a resolv.conf.
    pub fn parse(text: &str) -> Self {
        let mut c = ResolvConf {
            nameservers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
        };
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut w = line.split_whitespace();
            match w.next() {
                Some("nameserver") => {
                    let ip = w
                        .next()
                        .and_then(|a| a.split('%').next()?.parse::<IpAddr>().ok());
                    if let Some(ip) = ip
                        && c.nameservers.len() < 3
                    {
                        c.nameservers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("search") => {
                    c.search = w.map(|d| d.trim_end_matches('.').to_owned()).collect();
                }
                Some("domain") => {
                    c.search = w
                        .next()
                        .map(|d| vec![d.trim_end_matches('.').to_owned()])
                        .unwrap_or_default();
                }
                Some("options") => {
                    for o in w {
                        let (k, v) = o.split_once(':').unwrap_or((o, ""));
                        let n = v.parse::<u32>().ok();
                        match (k, n) {
                            ("ndots", Some(n)) => c.ndots = n.min(15) as usize,
                            ("timeout", Some(n)) => {
                                c.timeout = Duration::from_secs(u64::from(n.clamp(1, 30)));
                            }
                            ("attempts", Some(n)) => c.attempts = n.clamp(1, 5),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if c.nameservers.is_empty() {
            c.nameservers
                .push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
        }
        c
    }

    /// The names tried for `name`, in glibc's order: as given first when it has at least
    /// `ndots` dots (or ends with one), else after the search domains.
    pub fn candidates(&self, name: &str) -> Vec<String> {
        if let Some(abs) = name.strip_suffix('.') {
            return vec![abs.to_owned()];
        }
        let searched = self.search.iter().map(|d| format!("{name}.{d}"));
        if name.matches('.').count() >= self.ndots {
            std::iter::once(name.to_owned()).chain(searched).collect()
        } else {
            searched.chain(std::iter::once(name.to_owned())).collect()
        }
    }
}

/// A DNS answer that is not a list of addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN).
    NoSuchName,
    /// The server failed or refused (RCODE), try another.
    Server(u8),
    /// The message is not a valid answer to our question.
    Malformed(&'static str),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::NoSuchName => f.write_str("no such name"),
            DnsError::Server(2) => f.write_str("server failure"),
            DnsError::Server(5) => f.write_str("query refused"),
            DnsError::Server(c) => write!(f, "error code {c}"),
            DnsError::Malformed(why) => write!(f, "malformed answer ({why})"),
        }
    }
}

/// A parsed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The TC bit: the answer did not fit in the datagram (ask again over TCP).
    pub truncated: bool,
    /// The addresses of the asked type for the name (through its CNAMEs).
    pub addrs: Vec<IpAddr>,
}

/// A query for `name` (no trailing dot) of type `qtype`, recursion desired.
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, DnsError> {
    let mut m = Vec::with_capacity(18 + name.len());
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; QDCOUNT 1
    if name.len() > 253 {
        return Err(DnsError::Malformed("name too long"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(DnsError::Malformed("empty or long label"));
        }
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(m)
}

fn be16(m: &[u8], at: usize) -> Result<u16, DnsError> {
    m.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(DnsError::Malformed("short message"))
}

/// Read the (possibly compressed) name at `at`: the name in lower case and where the
/// bytes after it start.
fn read_name(m: &[u8], mut at: usize) -> Result<(String, usize), DnsError> {
    let mut name = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *m.get(at).ok_or(DnsError::Malformed("short name"))? as usize;
        match len & 0xc0 {
            0xc0 => {
                let ptr = (be16(m, at)? & 0x3fff) as usize;
                end.get_or_insert(at + 2);
                jumps += 1;
                if jumps > 32 || ptr >= m.len() {
                    return Err(DnsError::Malformed("compression loop"));
                }
                at = ptr;
            }
            0 if len == 0 => {
                return Ok((name, end.unwrap_or(at + 1)));
            }
            0 => {
                let label = m
                    .get(at + 1..at + 1 + len)
                    .ok_or(DnsError::Malformed("short label"))?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
                if name.len() > 255 {
                    return Err(DnsError::Malformed("name too long"));
                }
                at += 1 + len;
            }
            _ => return Err(DnsError::Malformed("bad label type")),
        }
    }
}

/// Parse the answer `m` to query `id` for `name` of type `qtype`.
pub fn parse_answer(m: &[u8], id: u16, name: &str, qtype: u16) -> Result<Answer, DnsError> {
    if m.len() < 12 {
        return Err(DnsError::Malformed("short header"));
    }
    if be16(m, 0)? != id {
        return Err(DnsError::Malformed("another query's ID"));
    }
    let flags = be16(m, 2)?;
    if flags & 0x8000 == 0 || (flags >> 11) & 0xf != 0 {
        return Err(DnsError::Malformed("not an answer to a query"));
    }
    let truncated = flags & 0x0200 != 0;
    match (flags & 0xf) as u8 {
        0 => {}
        3 => return Err(DnsError::NoSuchName),
        c => return Err(DnsError::Server(c)),
    }
    let (qd, an) = (be16(m, 4)?, be16(m, 6)?);
    let mut at = 12;
    let want = name.trim_end_matches('.').to_ascii_lowercase();
    for _ in 0..qd {
        let (q, next) = read_name(m, at)?;
        if q != want || be16(m, next)? != qtype {
            return Err(DnsError::Malformed("another question"));
        }
        at = next + 4;
    }
    let mut cnames: HashMap<String, String> = HashMap::new();
    let mut found: Vec<(String, IpAddr)> = Vec::new();
    for _ in 0..an {
        let (owner, next) = match read_name(m, at) {
            Ok(v) => v,
            // A truncated answer may end in the middle of a record.
            Err(_) if truncated => break,
            Err(e) => return Err(e),
        };
        let (Ok(typ), Ok(class), Ok(len)) = (be16(m, next), be16(m, next + 2), be16(m, next + 8))
        else {
            if truncated {
                break;
            }
            return Err(DnsError::Malformed("short record"));
        };
        let data = next + 10;
        let Some(rdata) = m.get(data..data + len as usize) else {
            if truncated {
                break;
            }
            return Err(DnsError::Malformed("short record data"));
        };
        if class == CLASS_IN {
            match (typ, rdata.len()) {
                (TYPE_A, 4) if qtype == TYPE_A => {
                    let a = Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]);
                    found.push((owner, IpAddr::V4(a)));
                }
                (TYPE_AAAA, 16) if qtype == TYPE_AAAA => {
                    let b: [u8; 16] = rdata.try_into().expect("16 bytes");
                    found.push((owner, IpAddr::V6(Ipv6Addr::from(b))));
                }
                (TYPE_CNAME, _) => {
                    let (target, _) = read_name(m, data)?;
                    cnames.insert(owner, target);
                }
                _ => {}
            }
        }
        at = data + len as usize;
    }
    // The asked name and the names its CNAME chain leads to.
    let mut names = vec![want];
    while let Some(next) = cnames.get(names.last().expect("one name")) {
        if names.contains(next) || names.len() > 16 {
            break;
        }
        names.push(next.clone());
    }
    let addrs = found
        .into_iter()
        .filter(|(owner, _)| names.contains(owner))
        .map(|(_, a)| a)
        .collect();
    Ok(Answer { truncated, addrs })
}

fn query_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u16
}

/// One question to one server: UDP, then TCP if the answer was truncated.
pub fn query(
    server: SocketAddr,
    name: &str,
    qtype: u16,
    timeout: Duration,
) -> io::Result<Result<Answer, DnsError>> {
    let id = query_id();
    let q = match encode_query(id, name, qtype) {
        Ok(q) => q,
        Err(e) => return Ok(Err(e)),
    };
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind)?;
    sock.connect(server)?;
    sock.send(&q)?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    let answer = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer"));
        }
        sock.set_read_timeout(Some(left))?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                if crate::signals::interrupted() {
                    return Err(io::Error::other("interrupted"));
                }
                continue;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer"));
            }
            Err(e) => return Err(e),
        };
        match parse_answer(&buf[..n], id, name, qtype) {
            // Not the answer to this query (a late one, a forgery): keep listening.
            Err(DnsError::Malformed("another query's ID" | "another question")) => {}
            r => break r,
        }
    };
    trace::line(
        1,
        format_args!(
            "dns: {name} {} @{server} (udp) = {}",
            type_name(qtype),
            show(&answer)
        ),
    );
    match answer {
        Ok(a) if a.truncated => query_tcp(server, id, &q, name, qtype, timeout),
        r => Ok(r),
    }
}

fn query_tcp(
    server: SocketAddr,
    id: u16,
    q: &[u8],
    name: &str,
    qtype: u16,
    timeout: Duration,
) -> io::Result<Result<Answer, DnsError>> {
    let mut s = TcpStream::connect_timeout(&server, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    s.write_all(&framed)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf)?;
    let answer = parse_answer(&buf, id, name, qtype);
    trace::line(
        1,
        format_args!(
            "dns: {name} {} @{server} (tcp) = {}",
            type_name(qtype),
            show(&answer)
        ),
    );
    Ok(answer)
}

fn type_name(t: u16) -> &'static str {
    if t == TYPE_A { "A" } else { "AAAA" }
}

fn show(a: &Result<Answer, DnsError>) -> String {
    match a {
        Ok(a) if a.truncated => "truncated".into(),
        Ok(a) => format!("{:?}", a.addrs),
        Err(e) => e.to_string(),
    }
}

/// Resolve `host` (a name or an IP literal, IPv6 possibly in brackets): an address
/// literal as it is, then `hosts` (the text of /etc/hosts), RFC 6761's `localhost`, then
/// DNS per `conf`, IPv4 addresses before IPv6 ones.
pub fn resolve(host: &str, hosts: &str, conf: &ResolvConf) -> io::Result<Vec<IpAddr>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let mut from_hosts = hosts_lookup(hosts, host);
    if !from_hosts.is_empty() {
        from_hosts.sort_by_key(IpAddr::is_ipv6);
        trace::line(1, format_args!("/etc/hosts: {host} = {from_hosts:?}"));
        return Ok(from_hosts);
    }
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]);
    }
    let mut last: Option<String> = None;
    for name in conf.candidates(host) {
        let mut addrs = Vec::new();
        let mut nxdomain = false;
        for qtype in [TYPE_A, TYPE_AAAA] {
            match ask(&name, qtype, conf) {
                Ok(a) => addrs.extend(a),
                Err(Asked::NoSuchName) => {
                    nxdomain = true;
                    break;
                }
                Err(Asked::Failed(why)) => last = Some(why),
            }
        }
        if !addrs.is_empty() {
            return Ok(addrs);
        }
        if nxdomain && last.is_none() {
            last = Some(format!("'{name}': {}", DnsError::NoSuchName));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "cannot resolve '{host}' ({})",
            last.unwrap_or_else(|| "no address".into())
        ),
    ))
}

enum Asked {
    NoSuchName,
    Failed(String),
}

/// Ask the name servers in turn, `attempts` rounds.
fn ask(name: &str, qtype: u16, conf: &ResolvConf) -> Result<Vec<IpAddr>, Asked> {
    let mut why = String::new();
    for _ in 0..conf.attempts {
        for &server in &conf.nameservers {
            if crate::signals::interrupted() {
                return Err(Asked::Failed("interrupted".into()));
            }
            match query(server, name, qtype, conf.timeout) {
                Ok(Ok(a)) => return Ok(a.addrs),
                Ok(Err(DnsError::NoSuchName)) => return Err(Asked::NoSuchName),
                Ok(Err(e)) => why = format!("{server}: {e}"),
                Err(e) => why = format!("{server}: {e}"),
            }
        }
    }
    Err(Asked::Failed(why))
}

/// ureq's resolver: [`resolve`] with the host's /etc/hosts and /etc/resolv.conf, read
/// once, and each host resolved once per run (ureq asks for every request, even one
/// that reuses a pooled connection).
#[derive(Debug)]
pub struct NoNss {
    hosts: String,
    conf: ResolvConf,
    cache: Mutex<HashMap<String, Vec<IpAddr>>>,
}

impl NoNss {
    /// Read `etc`/hosts and `etc`/resolv.conf (missing files: none, and 127.0.0.1).
    pub fn new(etc: &Path) -> Self {
        let read = |f: &str| std::fs::read_to_string(etc.join(f)).unwrap_or_default();
        Self {
            hosts: read("hosts"),
            conf: ResolvConf::parse(&read("resolv.conf")),
            cache: Mutex::default(),
        }
    }

    /// The addresses of `host`, cached.
    pub fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        if let Some(hit) = self.cache.lock().expect("resolver cache").get(host) {
            return Ok(hit.clone());
        }
        let addrs = resolve(host, &self.hosts, &self.conf)?;
        self.cache
            .lock()
            .expect("resolver cache")
            .insert(host.to_owned(), addrs.clone());
        Ok(addrs)
    }
}

impl ureq::unversioned::resolver::Resolver for NoNss {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let addrs = self.lookup(host).map_err(ureq::Error::Io)?;
        let mut out = self.empty();
        for a in addrs.into_iter().take(16) {
            out.push(SocketAddr::new(a, port));
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer for `mirror.example.` A, assembled by hand in the shape a recursive
    /// resolver sends for a mirror behind a CDN (the captured ones above have no CNAME):
    /// the question echoed, a CNAME to a CDN name, two A records of that name, all names
    /// after the first compressed; an unrelated A record (not on the chain) that must be
    /// ignored, and an EDNS OPT record in the additional section.
    const ANSWER: &[u8] = &[
        0xbe, 0xef, 0x81, 0x80, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01,
        // question: mirror.example A IN
        6, b'm', b'i', b'r', b'r', b'o', b'r', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0, 0x00,
        0x01, 0x00, 0x01,
        // answer 1: ptr(12) CNAME IN ttl 300, rdata: cdn + ptr(19: "example")
        0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x06, 3, b'c', b'd', b'n',
        0xc0, 0x13, // answer 2: ptr(44: cdn.example) A 192.0.2.10
        0xc0, 0x2c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 192, 0, 2, 10,
        // answer 3: cdn.example A 192.0.2.11
        0xc0, 0x2c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 192, 0, 2, 11,
        // answer 4: ptr(19: example) A 198.51.100.1 — not on the chain
        0xc0, 0x13, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 198, 51, 100, 1,
        // additional: OPT (root name, type 41, payload 1232)
        0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// Answers captured from a real recursive resolver (the development machine's, asked
    /// for its Debian mirror's A and AAAA records), with each label of the mirror's name
    /// replaced by placeholder letters of the same length: `mir.exampl.exa`.
    const CAPTURED_A: &str = "beef81800001000100000000036d6972066578616d706c036578610000010001\
                              c00c000100010000003c0004cb007150";
    const CAPTURED_AAAA: &str = "beef81800001000000000000036d6972066578616d706c0365786100001c0001";

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn captured_answers_parse() {
        let a = unhex(CAPTURED_A);
        assert_eq!(
            encode_query(0xbeef, "mir.exampl.exa", TYPE_A).unwrap(),
            [&[0xbe, 0xef, 1, 0][..], &a[4..6], &[0; 6], &a[12..32]].concat(),
            "our query is the question the resolver echoed"
        );
        let got = parse_answer(&a, 0xbeef, "mir.exampl.exa", TYPE_A).unwrap();
        assert_eq!(got.addrs, [IpAddr::from([203, 0, 113, 80])]);
        assert!(!got.truncated);
        // No IPv6 address: an empty answer, not an error.
        let aaaa = unhex(CAPTURED_AAAA);
        let got = parse_answer(&aaaa, 0xbeef, "mir.exampl.exa", TYPE_AAAA).unwrap();
        assert!(got.addrs.is_empty());
        // The A answer is no answer to an AAAA question.
        assert!(parse_answer(&a, 0xbeef, "mir.exampl.exa", TYPE_AAAA).is_err());
    }

    #[test]
    fn queries_are_encoded_as_the_wire_format_says() {
        let q = encode_query(0xbeef, "mirror.example", TYPE_A).unwrap();
        assert_eq!(&q[..12], &[0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..], &ANSWER[12..32]);
        assert!(encode_query(1, "a..b", TYPE_A).is_err());
        assert!(encode_query(1, &"x".repeat(64), TYPE_A).is_err());
    }

    #[test]
    fn an_answer_is_followed_through_its_cname() {
        let a = parse_answer(ANSWER, 0xbeef, "mirror.example", TYPE_A).unwrap();
        assert!(!a.truncated);
        assert_eq!(
            a.addrs,
            [IpAddr::from([192, 0, 2, 10]), IpAddr::from([192, 0, 2, 11])]
        );
        // Case does not matter; another ID or question is not our answer.
        assert!(parse_answer(ANSWER, 0xbeef, "MIRROR.Example.", TYPE_A).is_ok());
        assert_eq!(
            parse_answer(ANSWER, 0xbeee, "mirror.example", TYPE_A),
            Err(DnsError::Malformed("another query's ID"))
        );
        assert_eq!(
            parse_answer(ANSWER, 0xbeef, "other.example", TYPE_A),
            Err(DnsError::Malformed("another question"))
        );
        // NXDOMAIN, SERVFAIL, a pointer loop, a cut message.
        let mut nx = ANSWER.to_vec();
        nx[3] = 0x83;
        assert_eq!(
            parse_answer(&nx, 0xbeef, "mirror.example", TYPE_A),
            Err(DnsError::NoSuchName)
        );
        nx[3] = 0x82;
        assert_eq!(
            parse_answer(&nx, 0xbeef, "mirror.example", TYPE_A),
            Err(DnsError::Server(2))
        );
        let mut looped = ANSWER.to_vec();
        looped[32..34].copy_from_slice(&[0xc0, 32]);
        assert!(parse_answer(&looped, 0xbeef, "mirror.example", TYPE_A).is_err());
        assert!(parse_answer(&ANSWER[..60], 0xbeef, "mirror.example", TYPE_A).is_err());
        // Truncated (TC): what is there is kept, the rest asked over TCP.
        let mut tc = ANSWER[..60].to_vec();
        tc[2] |= 0x02;
        let a = parse_answer(&tc, 0xbeef, "mirror.example", TYPE_A).unwrap();
        assert!(a.truncated);
    }

    #[test]
    fn hosts_and_resolv_conf() {
        let hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n\
                     192.0.2.5 mirror.lab mirror # the lab's\n#192.0.2.6 mirror.lab\n";
        assert_eq!(
            hosts_lookup(hosts, "MIRROR.lab"),
            [IpAddr::from([192, 0, 2, 5])]
        );
        assert_eq!(
            hosts_lookup(hosts, "mirror"),
            [IpAddr::from([192, 0, 2, 5])]
        );
        assert_eq!(hosts_lookup(hosts, "localhost").len(), 2);
        assert!(hosts_lookup(hosts, "lab").is_empty());
        let c = ResolvConf::parse(
            "# x\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nsearch lab.example example\n\
             options ndots:2 timeout:1 attempts:3 rotate\nnameserver 192.0.2.54\nnameserver 192.0.2.55\n",
        );
        assert_eq!(c.nameservers.len(), 3);
        assert_eq!(c.nameservers[1], "[fe80::1]:53".parse().unwrap());
        assert_eq!(
            (c.ndots, c.timeout, c.attempts),
            (2, Duration::from_secs(1), 3)
        );
        assert_eq!(
            c.candidates("deb.mirror"),
            ["deb.mirror.lab.example", "deb.mirror.example", "deb.mirror"]
        );
        assert_eq!(c.candidates("a.b.c")[0], "a.b.c");
        assert_eq!(c.candidates("abs."), ["abs"]);
        let empty = ResolvConf::parse("");
        assert_eq!(empty.nameservers, ["127.0.0.1:53".parse().unwrap()]);
        // Literals, /etc/hosts, localhost: no DNS asked.
        let none = ResolvConf::parse("nameserver 192.0.2.1\noptions timeout:1 attempts:1\n");
        assert_eq!(
            resolve("[::1]", "", &none).unwrap(),
            [IpAddr::from(Ipv6Addr::LOCALHOST)]
        );
        assert_eq!(
            resolve("mirror.lab", hosts, &none).unwrap(),
            [IpAddr::from([192, 0, 2, 5])]
        );
        assert_eq!(resolve("localhost", "", &none).unwrap().len(), 2);
    }

    /// A DNS server on loopback that answers with `ANSWER` (its ID and question copied
    /// from the query), truncated over UDP when `tc`, whole over TCP.
    fn fake_server(tc: bool) -> (SocketAddr, std::thread::JoinHandle<usize>) {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = std::net::TcpListener::bind(addr).unwrap();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, from) = udp.recv_from(&mut buf).unwrap();
            let mut a = ANSWER.to_vec();
            a[..2].copy_from_slice(&buf[..2]);
            assert_eq!(&buf[12..n], &ANSWER[12..32], "the question");
            if !tc {
                udp.send_to(&a, from).unwrap();
                return 1;
            }
            let mut cut = a[..40].to_vec();
            cut[2] |= 0x02;
            udp.send_to(&cut, from).unwrap();
            let (mut s, _) = tcp.accept().unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).unwrap();
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut q).unwrap();
            a[..2].copy_from_slice(&q[..2]);
            let mut framed = (a.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&a);
            s.write_all(&framed).unwrap();
            2
        });
        (addr, t)
    }

    #[test]
    fn udp_then_tcp_on_truncation() {
        for tc in [false, true] {
            let (server, t) = fake_server(tc);
            let a = query(server, "mirror.example", TYPE_A, Duration::from_secs(5))
                .unwrap()
                .unwrap();
            assert!(!a.truncated);
            assert_eq!(a.addrs.len(), 2);
            assert_eq!(t.join().unwrap(), if tc { 2 } else { 1 });
        }
    }
}
