//! A tiny Debian archive made in a test, signed with a throwaway OpenPGP key, served on
//! loopback by a small HTTP server that can also misbehave (truncate a file, answer
//! slowly). debootstrap-rs's tests use it to show that a modified InRelease, Packages or
//! .deb is refused and that crafted archives cannot write outside TARGET.
//!
//! The .debs are written here byte by byte (ar + ustar, uncompressed members, which dpkg
//! accepts), so that entries no packaging tool would produce (`../escape`, `/abs`, a
//! symlink followed by a file through it) can be made. Hashes come from `sha256sum`,
//! signatures from `gpg` (a primary certification key with a signing subkey, as the
//! Debian archive keys are).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// One entry of a crafted data.tar.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A directory.
    Dir(&'static str),
    /// A regular file with contents.
    File(String, Vec<u8>),
    /// A symlink (name, target).
    Symlink(String, String),
    /// A hard link (name, the archive path it links to).
    HardLink(String, String),
    /// An executable file (mode 0755) with contents.
    Exec(String, Vec<u8>),
}

/// A package of the test archive.
#[derive(Debug, Clone)]
pub struct Package {
    /// Its name.
    pub name: String,
    /// `Priority:`.
    pub priority: &'static str,
    /// What data.tar holds.
    pub entries: Vec<Entry>,
    /// More control fields (`Replaces: x\n`), in the .deb and in the index alike.
    pub fields: String,
}

impl Package {
    /// A stand-in for Debian's essential set that lets a second stage run in seconds:
    /// busybox (static, from the host: `crate::rootfs::busybox`) as `/usr/bin/busybox`
    /// and `/usr/bin/sh`, an `ldconfig` that does nothing, and a `dpkg` that behaves like
    /// a slow `dpkg --configure` with a maintainer script left behind: it starts a
    /// child that ignores SIGTERM, SIGINT and SIGHUP and sleeps `linger` seconds (what a
    /// killed run must not leave running), then works for `work` seconds itself.
    pub fn fake_system(name: &str, work: f32, linger: u32) -> Self {
        let busybox = std::fs::read(crate::rootfs::busybox()).expect("read busybox");
        let dpkg = format!(
            "#!/bin/sh\n\
             (trap '' TERM INT HUP; exec /usr/bin/busybox sleep {linger}) &\n\
             /usr/bin/busybox sleep {work}\n\
             echo configured >/var/lib/dpkg/fake-configured\n"
        );
        Self {
            name: name.to_owned(),
            priority: "required",
            entries: vec![
                Entry::Dir("./"),
                Entry::Dir("./usr/"),
                Entry::Dir("./usr/bin/"),
                Entry::Dir("./usr/sbin/"),
                Entry::Exec("./usr/bin/busybox".into(), busybox),
                Entry::Symlink("./usr/bin/sh".into(), "busybox".into()),
                Entry::Exec(
                    "./usr/sbin/ldconfig".into(),
                    b"#!/bin/sh\nexit 0\n".to_vec(),
                ),
                Entry::Exec("./usr/bin/dpkg".into(), dpkg.into_bytes()),
            ],
            fields: String::new(),
        }
    }

    /// A package with one harmless file, `/usr/share/NAME/hello`.
    pub fn plain(name: &str, priority: &'static str) -> Self {
        Self {
            name: name.to_owned(),
            priority,
            entries: vec![
                Entry::Dir("./"),
                Entry::Dir("./usr/"),
                Entry::Dir("./usr/share/"),
                Entry::File(format!("./usr/share/{name}/hello"), b"hello\n".to_vec()),
            ],
            fields: String::new(),
        }
    }
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{v:0width$o}", width = field.len() - 1);
    field[..s.len()].copy_from_slice(s.as_bytes());
}

/// One ustar header (+ contents padded to 512).
fn tar_entry(out: &mut Vec<u8>, name: &str, kind: u8, data: &[u8], link: &str, mode: u64) {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], mode);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], data.len() as u64);
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        match e {
            Entry::Dir(n) => tar_entry(&mut out, n, b'5', &[], "", 0o755),
            Entry::File(n, d) => tar_entry(&mut out, n, b'0', d, "", 0o644),
            Entry::Symlink(n, t) => tar_entry(&mut out, n, b'2', &[], t, 0o777),
            Entry::HardLink(n, t) => tar_entry(&mut out, n, b'1', &[], t, 0o644),
            Entry::Exec(n, d) => tar_entry(&mut out, n, b'0', d, "", 0o755),
        }
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn ar_member(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    let h = format!(
        "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
        name,
        0,
        0,
        0,
        "100644",
        data.len()
    );
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(b'\n');
    }
}

/// The bytes of a .deb for `p`.
pub fn deb(p: &Package) -> Vec<u8> {
    let control = format!(
        "Package: {}\nVersion: 1.0\nArchitecture: all\nMaintainer: test <test@invalid>\n\
         Priority: {}\n{}Description: test package\n",
        p.name, p.priority, p.fields
    );
    let ctl = tar(&[
        Entry::Dir("./"),
        Entry::File("./control".into(), control.into_bytes()),
    ]);
    let mut out = b"!<arch>\n".to_vec();
    ar_member(&mut out, "debian-binary", b"2.0\n");
    ar_member(&mut out, "control.tar", &ctl);
    ar_member(&mut out, "data.tar", &tar(&p.entries));
    out
}

/// `sha256sum` of a file, as hex.
pub fn sha256(path: &Path) -> String {
    let o = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_owned()
}

/// A throwaway signing key: a GnuPG home with a certification-only primary key and a
/// signing RSA subkey, and its public keyring file.
#[derive(Debug)]
pub struct Key {
    _dir: tempfile::TempDir,
    home: PathBuf,
    /// gpg's clock, when the key lives in the past (`--faked-system-time`).
    clock: Option<&'static str>,
    /// The primary key's fingerprint.
    fpr: String,
    /// The public keyring (binary), for `--keyring`.
    pub keyring: PathBuf,
}

impl Drop for Key {
    fn drop(&mut self) {
        // gpg started an agent for this home; end it with the home (ours, by its socket).
        let _ = std::process::Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "all"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Run gpg on the home `home` (at the time `clock`, if any) with `input` on its stdin;
/// its stdout. A failure panics with gpg's stderr.
fn gpg(home: &Path, clock: Option<&str>, args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::process::Stdio;
    let mut child = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args([
            "--batch",
            "--yes",
            "--quiet",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ])
        .args(clock.map(|c| ["--faked-system-time", c]).iter().flatten())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gpg");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("gpg input");
    let o = child.wait_with_output().expect("gpg");
    assert!(
        o.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

impl Key {
    /// Generate one (a second or two).
    pub fn new() -> Self {
        Self::make(None, "never")
    }

    /// A key made on 2020-01-01 whose signing subkey expired a day later; it also signs
    /// with that date. (gpg's clock is frozen there, "!": a clock that ran on from the
    /// key's making would have a later gpg process, starting again at 00:00:00, see the key
    /// made a second or two in its future on a slow machine, and refuse to sign.)
    pub fn expired() -> Self {
        Self::make(Some("20200101T000000!"), "1d")
    }

    fn make(clock: Option<&'static str>, subkey_expiry: &str) -> Self {
        let dir = crate::tempdir();
        let home = dir.path().join("gnupg");
        std::fs::create_dir(&home).expect("gnupg home");
        let gpg = |args: &[&str]| gpg(&home, clock, args, b"");
        let uid = format!("debootstrap-rs test {} <test@invalid>", std::process::id());
        gpg(&["--quick-gen-key", &uid, "rsa2048", "cert", "never"]);
        let listing =
            String::from_utf8_lossy(&gpg(&["--with-colons", "--list-keys", &uid])).into_owned();
        let fpr = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| f.len() == 40))
            .expect("fingerprint")
            .to_owned();
        gpg(&["--quick-add-key", &fpr, "rsa2048", "sign", subkey_expiry]);
        let keyring = dir.path().join("test-keyring.gpg");
        let public = gpg(&["--export", &fpr]);
        std::fs::write(&keyring, public).expect("write keyring");
        Self {
            _dir: dir,
            home,
            clock,
            fpr,
            keyring,
        }
    }

    /// Revoke the signing subkey (after it signed) and export the keyring again.
    pub fn revoke_signing_subkey(&self) {
        // key 1 (the subkey), revkey, confirm, reason 0, no text, confirm, save.
        gpg(
            &self.home,
            self.clock,
            &["--command-fd", "0", "--edit-key", &self.fpr],
            b"key 1\nrevkey\ny\n0\n\ny\nsave\n",
        );
        let public = gpg(&self.home, self.clock, &["--export", &self.fpr], b"");
        std::fs::write(&self.keyring, public).expect("write keyring");
    }

    /// Remove the back-signature (the primary-key binding signature embedded in the
    /// unhashed area of the signing subkey's binding) from the exported keyring: the
    /// binding stays valid, but the subkey no longer shows that it consents to be bound,
    /// which OpenPGP requires of a signing subkey (RFC 9580 5.2.1.12, 11.1).
    pub fn strip_back_signature(&self) {
        let data = std::fs::read(&self.keyring).expect("read keyring");
        std::fs::write(&self.keyring, strip_embedded_signatures(&data)).expect("write keyring");
    }

    /// Clearsign `text` into `out` (an InRelease).
    pub fn clearsign(&self, text: &str, out: &Path) {
        self.clearsign_with(text, out, "SHA256");
    }

    /// Clearsign `text` into `out` with the digest algorithm `digest` (`SHA1`, `SHA512`…).
    pub fn clearsign_with(&self, text: &str, out: &Path, digest: &str) {
        let out = out.to_str().expect("a UTF-8 path");
        gpg(
            &self.home,
            self.clock,
            &["--digest-algo", digest, "--clearsign", "-o", out],
            text.as_bytes(),
        );
    }
}

impl Default for Key {
    fn default() -> Self {
        Self::new()
    }
}

/// The OpenPGP packets of binary `data`: (tag, body).
fn packets(data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let ctb = data[at];
        assert!(ctb & 0x80 != 0, "not an OpenPGP packet at {at}");
        let (tag, len, head) = if ctb & 0x40 != 0 {
            let o1 = usize::from(data[at + 1]);
            match o1 {
                0..=191 => (ctb & 0x3f, o1, 2),
                192..=223 => (
                    ctb & 0x3f,
                    ((o1 - 192) << 8) + usize::from(data[at + 2]) + 192,
                    3,
                ),
                255 => {
                    let b = &data[at + 2..at + 6];
                    (
                        ctb & 0x3f,
                        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize,
                        6,
                    )
                }
                _ => panic!("partial body lengths in a key"),
            }
        } else {
            let tag = (ctb >> 2) & 0xf;
            match ctb & 3 {
                0 => (tag, usize::from(data[at + 1]), 2),
                1 => (
                    tag,
                    usize::from(u16::from_be_bytes([data[at + 1], data[at + 2]])),
                    3,
                ),
                2 => {
                    let b = &data[at + 1..at + 5];
                    (
                        tag,
                        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize,
                        5,
                    )
                }
                _ => panic!("indeterminate length in a key"),
            }
        };
        out.push((tag, data[at + head..at + head + len].to_vec()));
        at += head + len;
    }
    out
}

/// A packet with a new-format header.
fn packet(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xc0 | tag, 0xff];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Subpackets of a signature subpacket area: (whole subpacket bytes, type).
fn subpackets(area: &[u8]) -> Vec<(Vec<u8>, u8)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < area.len() {
        let o1 = usize::from(area[at]);
        let (len, head) = match o1 {
            0..=191 => (o1, 1),
            192..=254 => (((o1 - 192) << 8) + usize::from(area[at + 1]) + 192, 2),
            _ => {
                let b = &area[at + 1..at + 5];
                (u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize, 5)
            }
        };
        out.push((area[at..at + head + len].to_vec(), area[at + head] & 0x7f));
        at += head + len;
    }
    out
}

/// `data` with every embedded signature (subpacket 32) removed from the unhashed area
/// of v4 subkey binding signatures (type 0x18).
fn strip_embedded_signatures(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, body) in packets(data) {
        if tag != 2 || body.first() != Some(&4) || body.get(1) != Some(&0x18) {
            out.extend_from_slice(&packet(tag, &body));
            continue;
        }
        let hashed = usize::from(u16::from_be_bytes([body[4], body[5]]));
        let u_at = 6 + hashed;
        let unhashed = usize::from(u16::from_be_bytes([body[u_at], body[u_at + 1]]));
        let area = &body[u_at + 2..u_at + 2 + unhashed];
        let kept: Vec<u8> = subpackets(area)
            .into_iter()
            .filter(|(_, t)| *t != 32)
            .flat_map(|(b, _)| b)
            .collect();
        assert!(kept.len() < area.len(), "no embedded signature to strip");
        let mut b = body[..u_at].to_vec();
        b.extend_from_slice(&(kept.len() as u16).to_be_bytes());
        b.extend_from_slice(&kept);
        b.extend_from_slice(&body[u_at + 2 + unhashed..]);
        out.extend_from_slice(&packet(tag, &b));
    }
    out
}

/// A test archive on disk: suite `testsuite`, component `main`, architecture amd64.
#[derive(Debug)]
pub struct Archive {
    /// The archive's root (what the server serves).
    pub root: PathBuf,
}

impl Archive {
    /// Write the archive for `packages` into `root`, signed by `key`; `extra_release`
    /// adds fields to the Release file (e.g. `Valid-Until:`).
    pub fn build(root: &Path, packages: &[Package], key: &Key, extra_release: &str) -> Self {
        let pool = root.join("pool/main");
        let bin = root.join("dists/testsuite/main/binary-amd64");
        std::fs::create_dir_all(&pool).expect("pool");
        std::fs::create_dir_all(&bin).expect("dists");
        let mut index = String::new();
        for p in packages {
            let file = pool.join(format!("{}_1.0_all.deb", p.name));
            let bytes = deb(p);
            std::fs::write(&file, &bytes).expect("write deb");
            index.push_str(&format!(
                "Package: {}\nVersion: 1.0\nArchitecture: all\nPriority: {}\n\
                 Maintainer: test <test@invalid>\nFilename: pool/main/{}_1.0_all.deb\n\
                 Size: {}\nSHA256: {}\n{}Description: test package\n\n",
                p.name,
                p.priority,
                p.name,
                bytes.len(),
                sha256(&file),
                p.fields
            ));
        }
        let packages_file = bin.join("Packages");
        std::fs::write(&packages_file, &index).expect("write Packages");
        let release = format!(
            "Origin: Test\nLabel: Test\nSuite: testsuite\nCodename: testsuite\n\
             Date: Thu, 01 Jan 2026 00:00:00 UTC\n{extra_release}Architectures: amd64\n\
             Components: main\nSHA256:\n {} {} main/binary-amd64/Packages\n",
            sha256(&packages_file),
            index.len()
        );
        key.clearsign(&release, &root.join("dists/testsuite/InRelease"));
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The signed text of the InRelease (the Release file, as signed).
    pub fn release_text(&self) -> String {
        let inrelease = std::fs::read_to_string(self.root.join("dists/testsuite/InRelease"))
            .expect("read InRelease");
        let body = inrelease.split_once("\n\n").expect("armor headers").1;
        let text = body
            .split_once("-----BEGIN PGP SIGNATURE-----")
            .expect("a signature")
            .0;
        // The line break before the signature belongs to the armor, not the text.
        let text = text.strip_suffix('\n').unwrap_or(text);
        text.lines()
            .map(|l| l.strip_prefix("- ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }

    /// Sign `text` as this archive's InRelease again, with `key` and `digest`.
    pub fn resign(&self, text: &str, key: &Key, digest: &str) {
        key.clearsign_with(text, &self.root.join("dists/testsuite/InRelease"), digest);
    }

    /// The path of a package's .deb.
    pub fn deb_path(&self, name: &str) -> PathBuf {
        self.root.join(format!("pool/main/{name}_1.0_all.deb"))
    }
}

/// How the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Serve files.
    Normal,
    /// For paths ending with the string: send the full Content-Length, half the body,
    /// then close.
    Truncate(String),
    /// Wait this long before answering anything.
    Delay(Duration),
    /// For paths ending with the string: send half the body, stall this long, then the
    /// rest (a download caught in the middle).
    Stall(String, Duration),
}

/// An HTTP/1.1 file server on 127.0.0.1 (a random port), stopped on drop.
#[derive(Debug)]
pub struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    behaviour: Arc<Mutex<Behaviour>>,
    thread: Option<JoinHandle<()>>,
}

fn handle(mut s: TcpStream, root: &Path, behaviour: &Behaviour) {
    let mut reader = BufReader::new(s.try_clone().expect("clone stream"));
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).map_or(true, |n| n == 0) || l == "\r\n" {
            break;
        }
    }
    if let Behaviour::Delay(d) = behaviour {
        thread::sleep(*d);
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let rel = Path::new(path.trim_start_matches('/'));
    let safe = rel.components().all(|c| matches!(c, Component::Normal(_)));
    let file = root.join(rel);
    let Some(body) = safe.then(|| std::fs::read(&file).ok()).flatten() else {
        let _ = s
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    match behaviour {
        Behaviour::Truncate(suffix) if path.ends_with(suffix.as_str()) => {
            let _ = s.write_all(&body[..body.len() / 2]);
        }
        Behaviour::Stall(suffix, d) if path.ends_with(suffix.as_str()) => {
            let _ = s.write_all(&body[..body.len() / 2]);
            let _ = s.flush();
            thread::sleep(*d);
            let _ = s.write_all(&body[body.len() / 2..]);
        }
        _ => {
            let _ = s.write_all(&body);
        }
    }
    let _ = s.flush();
}

impl Server {
    /// Serve `root`.
    pub fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let behaviour = Arc::new(Mutex::new(Behaviour::Normal));
        let (root, stop2, b2) = (root.to_path_buf(), stop.clone(), behaviour.clone());
        let thread = thread::spawn(move || {
            for s in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = s else { continue };
                let (root, b) = (root.clone(), b2.lock().expect("behaviour").clone());
                thread::spawn(move || handle(s, &root, &b));
            }
        });
        Self {
            port,
            stop,
            behaviour,
            thread: Some(thread),
        }
    }

    /// The archive's URL: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Change how it answers from now on.
    pub fn set(&self, b: Behaviour) {
        *self.behaviour.lock().expect("behaviour") = b;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port)).map(|mut s| {
            let _ = s.write_all(b"\r\n");
            let mut b = [0u8; 1];
            let _ = s.read(&mut b);
        });
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
