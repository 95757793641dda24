//! Downloads: one ureq agent shared by the download threads (keep-alive per host),
//! every request traced with `-v`, files written under a temporary name and renamed only
//! once their SHA-256 and size match the signed chain, so that a cache never holds a
//! partial or unverified file under its real name.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::trace;
use sha2::{Digest, Sha256};

use crate::error::{Error, FetchError, Result, quote};
use crate::release::{Checksum, hex};
use crate::signals;

/// How many times a transient failure (connection, truncation) is tried.
const ATTEMPTS: u32 = 3;

/// The HTTP client.
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

/// A reader that hashes and counts what passes through it.
#[derive(Debug)]
pub struct Hashing<R> {
    inner: R,
    /// The running SHA-256.
    pub hasher: Sha256,
    /// Bytes read so far.
    pub count: u64,
}

impl<R: Read> Hashing<R> {
    /// Wrap `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The digest of everything read.
    pub fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if signals::interrupted() {
            // Not ErrorKind::Interrupted: io::copy would retry that forever.
            return Err(io::Error::other("interrupted"));
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Compare what was read with what the chain promised.
pub fn check(what: &str, by: &str, got_size: u64, got: &[u8; 32], want: &Checksum) -> Result<()> {
    if got_size != want.size {
        return Err(Error::Mismatch {
            what: what.to_owned(),
            why: format!("size {got_size} instead of {}", want.size),
            by: by.to_owned(),
        });
    }
    if *got != want.sha256 {
        return Err(Error::Mismatch {
            what: what.to_owned(),
            why: format!("SHA256 {} instead of {}", hex(got), hex(&want.sha256)),
            by: by.to_owned(),
        });
    }
    Ok(())
}

fn transport(e: ureq::Error) -> FetchError {
    match e {
        ureq::Error::StatusCode(code) => FetchError::Status(code),
        ureq::Error::Io(io) => FetchError::Io(io),
        other => FetchError::Transport(other.to_string()),
    }
}

impl Http {
    /// A client with time-outs that end a stalled mirror instead of hanging.
    pub fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(30)))
            .timeout_recv_body(Some(Duration::from_secs(600)))
            .max_idle_connections_per_host(16)
            .user_agent(concat!("debootstrap-rs/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            // Host names without NSS (glibc's NSS is unsafe in a static binary): see
            // resolver.rs.
            crate::resolver::NoNss::new(std::path::Path::new("/etc")),
        );
        Self { agent }
    }

    /// Open `url` for reading: its body and, when known, its length.
    pub fn open(&self, url: &str) -> Result<(Box<dyn Read + Send>, Option<u64>), FetchError> {
        if let Some(path) = url.strip_prefix("file://") {
            let r = File::open(path).map_err(FetchError::Io);
            trace::line(
                1,
                format_args!(
                    "open {url} = {}",
                    r.as_ref().map_or_else(ToString::to_string, |_| "ok".into())
                ),
            );
            let f = r?;
            let len = f.metadata().ok().map(|m| m.len());
            return Ok((Box::new(f), len));
        }
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(FetchError::Scheme);
        }
        let r = self.agent.get(url).call();
        match &r {
            Ok(resp) => trace::line(
                1,
                format_args!(
                    "GET {url} = {} ({} bytes)",
                    resp.status().as_u16(),
                    resp.body()
                        .content_length()
                        .map_or_else(|| "?".to_owned(), |n| n.to_string())
                ),
            ),
            Err(e) => trace::line(1, format_args!("GET {url} = {e}")),
        }
        let resp = r.map_err(transport)?;
        let len = resp.body().content_length();
        let reader = resp.into_body().into_with_config().limit(u64::MAX).reader();
        Ok((Box::new(reader), len))
    }

    /// A small file (InRelease) into memory, tried up to three times.
    pub fn fetch_bytes(&self, url: &str) -> Result<Vec<u8>> {
        retry(url, || {
            let (mut r, len) = self.open(url)?;
            let mut buf = Vec::new();
            r.by_ref()
                .take(64 << 20)
                .read_to_end(&mut buf)
                .map_err(FetchError::Io)?;
            if let Some(want) = len
                && want != buf.len() as u64
            {
                return Err(FetchError::Truncated {
                    got: buf.len() as u64,
                    want,
                });
            }
            Ok(buf)
        })
    }

    /// Download `url` to `dest`, verified against `want`: written to a temporary name
    /// beside `dest` and renamed only when size and SHA-256 match. `by` names the link of
    /// the chain that promised the checksum, for the error. Returns the file as written
    /// (the descriptor the verified bytes went through), rewound: no need to hash it again.
    pub fn fetch_file(&self, url: &str, dest: &Path, want: &Checksum, by: &str) -> Result<File> {
        let tmp = partial_name(dest);
        let result = retry(url, || {
            let (r, _) = self.open(url)?;
            // One byte more than promised is enough to know it is wrong: a mirror that
            // sends without end does not fill the disk.
            let mut hashing = Hashing::new(r.take(want.size.saturating_add(1)));
            let file = create_fresh(&tmp).map_err(FetchError::Io)?;
            let mut out = BufWriter::with_capacity(256 << 10, file);
            io::copy(&mut hashing, &mut out).map_err(FetchError::Io)?;
            let mut file = out
                .into_inner()
                .map_err(|e| FetchError::Io(e.into_error()))?;
            if hashing.count < want.size {
                return Err(FetchError::Truncated {
                    got: hashing.count,
                    want: want.size,
                });
            }
            file.rewind().map_err(FetchError::Io)?;
            Ok((hashing.digest(), hashing.count, file))
        });
        let (digest, count, file) = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        if let Err(e) = check(url, by, count, &digest, want) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        trace::line(
            1,
            format_args!(
                "verified {url}: {count} bytes, SHA256 {} as {by} says",
                hex(&digest)
            ),
        );
        fs::rename(&tmp, dest).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(
                format!("cannot rename {} to {}", quote(&tmp), quote(dest)),
                e,
            )
        })?;
        Ok(file)
    }
}

/// Create `path` afresh (mode 0644) for writing, and reading back. Its name is
/// predictable (a [`partial_name`]), so whatever is there is unlinked first and the file
/// is made with O_CREAT|O_EXCL: a symlink planted under that name (in a shared directory)
/// cannot turn the write into one through it, which `File::create` would follow.
pub fn create_fresh(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
}

/// The temporary name of a file being written: never trusted, removed on failure, and
/// unique per process so that two runs sharing a cache do not collide.
pub fn partial_name(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".partial.{}", std::process::id()));
    dest.with_file_name(name)
}

fn retry<T>(url: &str, mut f: impl FnMut() -> Result<T, FetchError>) -> Result<T> {
    let mut attempt = 1;
    loop {
        if signals::interrupted() {
            return Err(Error::Interrupted);
        }
        match f() {
            Ok(v) => return Ok(v),
            Err(e) => {
                if signals::interrupted() {
                    return Err(Error::Interrupted);
                }
                let transient = matches!(
                    e,
                    FetchError::Transport(_) | FetchError::Io(_) | FetchError::Truncated { .. }
                ) || matches!(e, FetchError::Status(s) if s >= 500);
                if !transient || attempt >= ATTEMPTS {
                    return Err(Error::Fetch {
                        url: url.to_owned(),
                        source: e,
                    });
                }
                trace::line(
                    1,
                    format_args!("retrying {url} after: {}", common::exit::message(&e)),
                );
                std::thread::sleep(Duration::from_millis(300 * u64::from(attempt)));
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_reader_and_checks() {
        let data = b"hello";
        let mut h = Hashing::new(&data[..]);
        let mut out = Vec::new();
        h.read_to_end(&mut out).unwrap();
        let want = Checksum {
            size: 5,
            sha256: Sha256::digest(data).into(),
        };
        assert!(check("x", "y", h.count, &h.digest(), &want).is_ok());
        let e = check("x", "the index", 4, &h.digest(), &want).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x: size 4 instead of 5, expected by the index"
        );
        let bad = [0u8; 32];
        let e = check("x", "the index", 5, &bad, &want).unwrap_err();
        assert!(e.to_string().starts_with("x: SHA256 0000"));
    }

    #[test]
    fn a_symlink_planted_at_the_partial_name_is_not_followed() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.deb");
        fs::write(&src, b"the package").unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let dest = dir.path().join("a_1_all.deb");
        std::os::unix::fs::symlink(&victim, partial_name(&dest)).unwrap();
        let want = Checksum {
            size: 11,
            sha256: Sha256::digest(b"the package").into(),
        };
        let url = format!("file://{}", src.display());
        let mut f = Http::new().fetch_file(&url, &dest, &want, "x").unwrap();
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"the package", "the written file, rewound");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::read(&dest).unwrap(), b"the package");
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o022, 0, "{mode:o}");
        assert!(!partial_name(&dest).exists());
    }

    #[test]
    fn a_mirror_that_sends_too_much_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("big");
        fs::write(&src, vec![7u8; 1 << 20]).unwrap();
        let dest = dir.path().join("small.deb");
        let want = Checksum {
            size: 10,
            sha256: [0; 32],
        };
        let url = format!("file://{}", src.display());
        let e = Http::new().fetch_file(&url, &dest, &want, "x").unwrap_err();
        assert!(
            e.to_string()
                .ends_with(": size 11 instead of 10, expected by x"),
            "{e}"
        );
        assert!(!dest.exists() && !partial_name(&dest).exists());
    }

    #[test]
    fn partial_names_are_per_process() {
        let p = partial_name(Path::new("/c/debs/a_1_all.deb"));
        assert_eq!(
            p,
            PathBuf::from(format!(
                "/c/debs/a_1_all.deb.partial.{}",
                std::process::id()
            ))
        );
    }
}
