//! The first links of the chain: InRelease (signature, suite, validity), then each
//! component's Packages index, checked against the signed SHA-256 as it streams in and
//! parsed at the same time. A persistent cache keeps the uncompressed index under its
//! signed SHA-256 (re-hashed on every use, so a damaged file is simply fetched again).

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use common::trace;

use crate::error::{Error, Result, quote};
use crate::http::{Hashing, Http, check, create_fresh, partial_name};
use crate::index::Index;
use crate::release::{Checksum, Release, hex};
use crate::verify::{self, Keyring};

/// Where files are kept between and during runs.
#[derive(Debug, Clone)]
pub struct Cache {
    /// The directory (`indexes/`, `debs/` beneath it).
    pub dir: PathBuf,
    /// Kept after the run (`--cache-dir`, a bundle being made), or a scratch directory
    /// removed at the end (which keeps the verified indexes too, for the run itself).
    pub persistent: bool,
    /// Files come only from here (an `--unpack-tarball` bundle): nothing is fetched.
    pub offline: bool,
}

impl Cache {
    /// `indexes/` path of an index with this uncompressed digest.
    pub fn index_path(&self, sha256: &[u8; 32]) -> PathBuf {
        self.dir.join("indexes").join(hex(sha256))
    }

    /// `debs/` path of a package.
    pub fn deb_path(&self, name: &str, version: &str, arch: &str) -> PathBuf {
        self.dir
            .join("debs")
            .join(format!("{name}_{}_{arch}.deb", version.replace(':', "%3a")))
    }

    /// The saved InRelease of source `n` (bundles).
    pub fn inrelease_path(&self, n: usize) -> PathBuf {
        self.dir.join("inrelease").join(n.to_string())
    }

    /// Create the subdirectories, and remove the temporary files of runs that died
    /// (SIGKILL, power loss): `NAME.partial.PID` whose process is gone. They were never
    /// trusted; this only reclaims the space.
    pub fn prepare(&self) -> Result<()> {
        for d in ["indexes", "debs", "inrelease"] {
            let p = self.dir.join(d);
            fs::create_dir_all(&p)
                .map_err(|e| Error::io(format!("cannot create {}", quote(&p)), e))?;
            for e in fs::read_dir(&p).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some((_, pid)) = name.rsplit_once(".partial.") else {
                    continue;
                };
                if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                    trace::line(
                        1,
                        format_args!("removing {} (its run died)", e.path().display()),
                    );
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }
}

/// One suite from one mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The suite as asked (bookworm, stable, bookworm-security).
    pub suite: String,
    /// The mirror URL, without a trailing slash.
    pub mirror: String,
}

/// A source whose InRelease was verified.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// What was asked.
    pub source: Source,
    /// Its Release file.
    pub release: Release,
    /// The InRelease as fetched (kept for bundles).
    pub inrelease: Vec<u8>,
}

/// How InRelease files are checked.
#[derive(Debug)]
pub struct Trust {
    /// The keyring (None: `--no-check-gpg`).
    pub keyring: Option<Keyring>,
    /// Check Valid-Until at this time (None: `--no-check-valid-until`).
    pub now: Option<i64>,
    /// The time for key expiry.
    pub clock: i64,
}

/// The signed text of an InRelease without checking the signature (`--no-check-gpg`).
pub fn unsigned_text(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    match pgp::composed::CleartextSignedMessage::from_string(&text) {
        Ok((msg, _)) => msg.signed_text().replace("\r\n", "\n"),
        Err(_) => text.into_owned(),
    }
}

/// Fetch (or read from the bundle) and verify the InRelease of source `n`.
pub fn load_release(
    http: &Http,
    cache: &Cache,
    trust: &Trust,
    n: usize,
    source: &Source,
) -> Result<Loaded> {
    let url = format!("{}/dists/{}/InRelease", source.mirror, source.suite);
    let data = if cache.offline {
        let p = cache.inrelease_path(n);
        fs::read(&p).map_err(|e| Error::io(format!("cannot read {}", quote(&p)), e))?
    } else {
        http.fetch_bytes(&url)?
    };
    let text = match &trust.keyring {
        Some(kr) => {
            let v = verify::verify_inrelease(&data, kr, trust.clock).map_err(|why| {
                Error::Signature {
                    suite: source.suite.clone(),
                    url: url.clone(),
                    why,
                }
            })?;
            trace::line(
                1,
                format_args!(
                    "{}: InRelease signed by {} ({})",
                    source.suite, v.signer, v.signer_name
                ),
            );
            v.text
        }
        None => unsigned_text(&data),
    };
    let release = Release::parse(&text).map_err(|source_err| Error::Release {
        suite: source.suite.clone(),
        url: url.clone(),
        source: source_err,
    })?;
    release
        .check(&source.suite, trust.now)
        .map_err(|e| Error::Release {
            suite: source.suite.clone(),
            url: url.clone(),
            source: e,
        })?;
    Ok(Loaded {
        source: source.clone(),
        release,
        inrelease: data,
    })
}

/// A writer that hashes what it writes and may copy it to a file.
struct Tee {
    file: Option<io::BufWriter<File>>,
    hasher: sha2::Sha256,
    count: u64,
}

struct TeeReader<R> {
    inner: R,
    tee: Tee,
}

impl<R: Read> Read for TeeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        self.tee.hasher.update(&buf[..n]);
        self.tee.count += n as u64;
        if let Some(f) = self.tee.file.as_mut() {
            f.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

/// Load the Packages index of `component` of a verified source into `index`. Returns
/// the number of records and where the verified, uncompressed index is kept in the
/// cache (the stanzas of the chosen packages are read back from it for dpkg's
/// `available`), when the Release lists its uncompressed hash.
pub fn load_packages(
    http: &Http,
    cache: &Cache,
    loaded: &Loaded,
    component: &str,
    arch: &str,
    index: &mut Index,
    source_id: usize,
) -> Result<(usize, Option<PathBuf>)> {
    let rel = loaded.release.clone();
    let base = format!("{component}/binary-{arch}/Packages");
    let by = format!("the signed Release of {}", loaded.source.suite);
    let plain = rel.files.get(&base).copied();
    let what = format!(
        "{}/dists/{}/{base}",
        loaded.source.mirror, loaded.source.suite
    );
    let index_err = |e| Error::Index {
        what: what.clone(),
        source: e,
    };
    // A cached uncompressed index, re-hashed while it is parsed.
    if let Some(want) = plain {
        let p = cache.index_path(&want.sha256);
        if let Ok(f) = File::open(&p) {
            let mut scratch = Index::new();
            let f = f.take(want.size.saturating_add(1));
            let mut h = Hashing::new(BufReader::with_capacity(1 << 20, f));
            let parsed = scratch.add(BufReader::with_capacity(256 << 10, &mut h), source_id);
            if h.count == want.size && h.digest() == want.sha256 {
                trace::line(1, format_args!("cached index {} = ok", p.display()));
                let n = parsed.map_err(index_err)?;
                index.merge(scratch);
                return Ok((n, Some(p)));
            }
            trace::line(
                1,
                format_args!("cached index {} is damaged: fetching it again", p.display()),
            );
            let _ = fs::remove_file(&p);
        }
    }
    if cache.offline {
        return Err(Error::io(
            format!("{base} is not in the tarball"),
            io::Error::from_raw_os_error(libc::ENOENT),
        ));
    }
    // gz decodes about twice as fast as xz; take the fastest the Release lists.
    let (suffix, want) = ["gz", "xz", ""]
        .iter()
        .find_map(|s| {
            let name = if s.is_empty() {
                base.clone()
            } else {
                format!("{base}.{s}")
            };
            rel.files.get(&name).map(|c| (*s, *c))
        })
        .ok_or_else(|| Error::NoIndex {
            suite: loaded.source.suite.clone(),
            component: component.to_owned(),
            arch: arch.to_owned(),
        })?;
    let dir = format!(
        "{}/dists/{}/{component}/binary-{arch}",
        loaded.source.mirror, loaded.source.suite
    );
    let url = if rel.by_hash {
        format!("{dir}/by-hash/SHA256/{}", hex(&want.sha256))
    } else if suffix.is_empty() {
        format!("{dir}/Packages")
    } else {
        format!("{dir}/Packages.{suffix}")
    };
    let kept = plain.map(|p| cache.index_path(&p.sha256));
    fetch_and_parse(
        http, cache, &url, suffix, &want, plain, &by, index, source_id,
    )
    .or_else(|e| {
        // A mirror without by-hash directories: fall back to the plain name.
        if rel.by_hash
            && matches!(
                &e,
                Error::Fetch {
                    source: crate::error::FetchError::Status(404),
                    ..
                }
            )
        {
            let url = if suffix.is_empty() {
                format!("{dir}/Packages")
            } else {
                format!("{dir}/Packages.{suffix}")
            };
            fetch_and_parse(
                http, cache, &url, suffix, &want, plain, &by, index, source_id,
            )
        } else {
            Err(e)
        }
    })
    .map(|n| (n, kept))
}

#[allow(clippy::too_many_arguments)]
fn fetch_and_parse(
    http: &Http,
    cache: &Cache,
    url: &str,
    suffix: &str,
    want: &Checksum,
    plain: Option<Checksum>,
    by: &str,
    index: &mut Index,
    source_id: usize,
) -> Result<usize> {
    let fetch = |e| Error::Fetch {
        url: url.to_owned(),
        source: e,
    };
    let (body, _) = http.open(url).map_err(fetch)?;
    // Never more than one byte beyond what the Release promises, compressed or not: a
    // mirror (or a decompression bomb) cannot fill the disk or the memory of the parser
    // before the hashes say no.
    let mut compressed = Hashing::new(body.take(want.size.saturating_add(1)));
    // Kept in a scratch cache too: the chosen packages' stanzas are read back from it.
    let keep = plain.is_some();
    let dest = plain.map(|p| cache.index_path(&p.sha256));
    let tmp = dest.as_deref().map(partial_name);
    let file = match (&tmp, keep) {
        (Some(t), true) => Some(io::BufWriter::with_capacity(
            1 << 20,
            create_fresh(t).map_err(|e| Error::io(format!("cannot create {}", quote(t)), e))?,
        )),
        _ => None,
    };
    let mut scratch = Index::new();
    let parsed = {
        let decoded: Box<dyn Read> = match suffix {
            "gz" => Box::new(flate2::read::GzDecoder::new(&mut compressed)),
            "xz" => Box::new(liblzma::read::XzDecoder::new(&mut compressed)),
            _ => Box::new(&mut compressed),
        };
        let decoded = decoded.take(plain.map_or(u64::MAX, |p| p.size.saturating_add(1)));
        let mut tee = TeeReader {
            inner: decoded,
            tee: Tee {
                file,
                hasher: sha2::Digest::new(),
                count: 0,
            },
        };
        let r = scratch.add(BufReader::with_capacity(256 << 10, &mut tee), source_id);
        // Read to the end, so that the whole compressed file is hashed.
        let rest = io::copy(&mut tee, &mut io::sink());
        (r, rest.map(|_| ()), tee.tee)
    };
    let (r, rest, tee) = parsed;
    let cleanup = || {
        if let Some(t) = &tmp {
            let _ = fs::remove_file(t);
        }
    };
    if let Err(e) = rest {
        cleanup();
        return Err(fetch(crate::error::FetchError::Io(e)));
    }
    // Drain what is left of the body (trailing bytes after the compressed stream).
    let _ = io::copy(&mut compressed, &mut io::sink());
    if let Err(e) = check(url, by, compressed.count, &compressed.digest(), want) {
        cleanup();
        return Err(e);
    }
    if let Some(p) = plain {
        let digest: [u8; 32] = sha2::Digest::finalize(tee.hasher).into();
        if let Err(e) = check(&format!("{url} (uncompressed)"), by, tee.count, &digest, &p) {
            cleanup();
            return Err(e);
        }
    }
    let n = match r {
        Ok(n) => n,
        Err(e) => {
            cleanup();
            return Err(Error::Index {
                what: url.to_owned(),
                source: e,
            });
        }
    };
    if let (Some(mut f), Some(t), Some(d)) = (tee.file, &tmp, &dest) {
        f.flush().and_then(|()| fs::rename(t, d)).map_err(|e| {
            cleanup();
            Error::io(format!("cannot write {}", quote(d)), e)
        })?;
    }
    index.merge(scratch);
    Ok(n)
}

/// The archive keyring Debian installs.
pub const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Load `--keyring` or the default.
pub fn load_keyring(path: &Path) -> Result<Keyring> {
    Keyring::load(path).map_err(|e| Error::Keyring {
        path: path.to_path_buf(),
        source: e,
    })
}

/// dpkg's `available` as debootstrap writes it (`setup_available`): for each suite, then
/// each component, the index stanzas of the packages `names`, verbatim, in index order,
/// each followed by a blank line. `files[k]` is the kept uncompressed index of the
/// records whose `file` is `k`. Each stanza read back must still name its package and
/// carry the SHA-256 that was verified with the index (the file is only taken when it
/// is a regular file of this user that no one else may write, as cached .debs are).
pub fn available(index: &Index, files: &[Option<PathBuf>], names: &[String]) -> Result<Vec<u8>> {
    use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
    let mut out = Vec::new();
    for (k, file) in files.iter().enumerate() {
        let mut recs: Vec<_> = names
            .iter()
            .flat_map(|n| index.named(n))
            .filter(|p| p.rec().file as usize == k)
            .collect();
        if recs.is_empty() {
            continue;
        }
        let Some(path) = file else {
            trace::line(
                1,
                format_args!("index {k} was not kept: its stanzas are not in 'available'"),
            );
            continue;
        };
        recs.sort_by_key(|p| p.rec().stanza.0);
        let changed = |why: &str| {
            Error::io(
                format!("cannot read back {}", quote(path)),
                io::Error::new(io::ErrorKind::InvalidData, why.to_owned()),
            )
        };
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| Error::io(format!("cannot open {}", quote(path)), e))?;
        let md = f
            .metadata()
            .map_err(|e| Error::io(format!("cannot stat {}", quote(path)), e))?;
        if !md.is_file() || md.uid() != nix::unistd::geteuid().as_raw() || md.mode() & 0o022 != 0 {
            return Err(changed("not a file of this user that only it may write"));
        }
        for p in recs {
            let (at, len) = p.rec().stanza;
            let mut buf = vec![0u8; len as usize];
            f.read_exact_at(&mut buf, at)
                .map_err(|e| Error::io(format!("cannot read {}", quote(path)), e))?;
            let text = String::from_utf8_lossy(&buf);
            let head = format!("Package: {}\n", p.name());
            let sha = format!("\nSHA256: {}\n", hex(&p.rec().sha256));
            if !text.starts_with(&head) || !text.contains(&sha) {
                return Err(changed("the index changed after it was verified"));
            }
            out.extend_from_slice(&buf);
            out.push(b'\n');
        }
    }
    Ok(out)
}
