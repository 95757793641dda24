//! A .deb, read in process: the ar container, control.tar (kept in memory: the control
//! file, maintainer scripts, conffiles, md5sums, triggers) and data.tar, decompressed
//! once (xz, zstd, gzip or none) and unpacked straight into the confined TARGET.
//!
//! What dpkg --unpack would leave is reproduced: conffiles land as `NAME.dpkg-new`
//! (dpkg's configure step moves them into place) and, as after debootstrap's first
//! stage, as `NAME`, ownership is numeric from the archive
//! (Debian's static IDs), chown precedes chmod so setuid and setgid bits stay, hard links
//! and symlinks are made as such, modification times are kept. An entry with a `..`
//! component is refused; an absolute one is taken relative to TARGET; a symlink planted
//! by a package resolves inside TARGET like every other path.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use md5::Md5;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::SFlag;
use sha2::Digest;

use crate::error::{Error, Result};
use crate::root::{self, Root, split};
use crate::signals;
use crate::sys;

/// What one package left for the dpkg database.
#[derive(Debug, Clone, Default)]
pub struct Unpacked {
    /// Position in the install order (lower: unpacked first by dpkg).
    pub order: usize,
    /// `Package:`.
    pub name: String,
    /// The name used for its files in `info/`: `libc6:amd64` for Multi-Arch: same.
    pub info_name: String,
    /// The `control` file.
    pub control: String,
    /// Absolute paths of its conffiles.
    pub conffiles: Vec<String>,
    /// Its `triggers` control file.
    pub triggers: Option<String>,
    /// It has a `preinst`.
    pub has_preinst: bool,
    /// The paths of data.tar, for the `.list` file (`/.` first), in archive order.
    pub files: Vec<String>,
}

/// Metadata of a directory as an archive gave it.
#[derive(Debug, Clone, Copy)]
struct DirMeta {
    order: usize,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// State shared by the parallel unpackers.
#[derive(Debug)]
pub struct Shared {
    /// TARGET.
    pub root: Root,
    dirs: Mutex<HashMap<PathBuf, DirMeta>>,
    owners: Mutex<HashMap<PathBuf, usize>>,
    /// (path, earlier owner, later owner) of files two packages ship.
    pub conflicts: Mutex<Vec<(PathBuf, usize, usize)>>,
}

impl Shared {
    /// Unpack into `root`.
    pub fn new(root: Root) -> Self {
        Self {
            root,
            dirs: Mutex::default(),
            owners: Mutex::default(),
            conflicts: Mutex::default(),
        }
    }

    /// Give every directory the owner and mode of the first package (in install order)
    /// that ships it, as dpkg does; directories reached through a symlink keep theirs.
    pub fn finish_dirs(&self) -> Result<()> {
        let dirs = self.dirs.lock().expect("dirs");
        let mut list: Vec<(&PathBuf, &DirMeta)> = dirs.iter().collect();
        list.sort_by(|a, b| a.0.cmp(b.0));
        for (path, meta) in list {
            let (parent, name) = split(path);
            let Ok(d) = self
                .root
                .open_at(parent, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
            else {
                continue;
            };
            match sys::lstatat(d.as_fd(), name) {
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {}
                _ => continue,
            }
            sys::lchownat(d.as_fd(), name, meta.uid, meta.gid)
                .and_then(|()| sys::fchmodat(d.as_fd(), name, meta.mode))
                .map_err(|e| {
                    Error::io(
                        format!(
                            "cannot set the mode of {}",
                            crate::error::quote(self.root.host(path))
                        ),
                        e.into(),
                    )
                })?;
        }
        Ok(())
    }
}

/// One member of an ar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its name, without the trailing `/` of GNU ar.
    pub name: String,
    /// Its size in bytes (the padding to an even offset not counted).
    pub size: u64,
}

/// Read the 60-byte header of the next ar member; `None` at the end of the archive.
pub fn read_member_header(r: &mut impl Read) -> io::Result<Option<Member>> {
    let mut h = [0u8; 60];
    let mut got = 0;
    while got < 60 {
        let n = r.read(&mut h[got..])?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated ar header",
                ))
            };
        }
        got += n;
    }
    if &h[58..60] != b"`\n" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad ar member header",
        ));
    }
    let name = String::from_utf8_lossy(&h[0..16])
        .trim_end()
        .trim_end_matches('/')
        .to_owned();
    let size = std::str::from_utf8(&h[48..58])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad ar member size"))?;
    Ok(Some(Member { name, size }))
}

fn skip(r: &mut impl Read, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    if copied != n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "truncated ar member",
        ));
    }
    Ok(())
}

/// A decompressing reader for a member named `control.tar.xz` etc.
pub fn decompressor<'a, R: BufRead + 'a>(name: &str, r: R) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match name.rsplit_once('.').map(|(_, e)| e) {
        Some("xz") => Box::new(liblzma::bufread::XzDecoder::new(r)),
        Some("zst") => Box::new(zstd::Decoder::with_buffer(r)?),
        Some("gz") => Box::new(flate2::bufread::GzDecoder::new(r)),
        Some("tar") => Box::new(r),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unsupported compression of {name}"),
            ));
        }
    })
}

/// The members of control.tar: name → (mode, mtime, contents).
pub type ControlFiles = HashMap<String, (u32, i64, Vec<u8>)>;

/// The regular files at the top of a control.tar (`control`, maintainer scripts, …).
pub fn read_control(r: impl Read) -> io::Result<ControlFiles> {
    let mut out = HashMap::new();
    let mut ar = tar::Archive::new(r);
    for e in ar.entries()? {
        let mut e = e?;
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = e.path()?.into_owned();
        let Some(name) = root::normalize(&path) else {
            continue;
        };
        let name = name.to_string_lossy().into_owned();
        if name.contains('/') || name.is_empty() {
            continue;
        }
        let mode = e.header().mode()?;
        let mtime = e.header().mtime().unwrap_or(0).cast_signed();
        let mut buf = Vec::new();
        e.read_to_end(&mut buf)?;
        out.insert(name, (mode, mtime, buf));
    }
    Ok(out)
}

/// Unpack the .deb open as `file` (already verified against the signed chain) into the
/// shared root, and write its `info/` files (all but the `.list`, written later). With
/// `only`, just re-extract those paths (conflict resolution).
pub fn unpack(
    shared: &Shared,
    file: File,
    package: &str,
    order: usize,
    arch: &str,
    only: Option<&HashSet<PathBuf>>,
) -> Result<Unpacked> {
    let mut r = BufReader::with_capacity(128 << 10, file);
    let bad = |why: String| Error::Deb {
        package: package.to_owned(),
        why,
    };
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|e| bad(format!("not a .deb ({e})")))?;
    if &magic != b"!<arch>\n" {
        return Err(bad("not a .deb (no ar magic)".into()));
    }
    let mut control: Option<ControlFiles> = None;
    let mut out = Unpacked {
        order,
        ..Unpacked::default()
    };
    loop {
        let m = read_member_header(&mut r)
            .map_err(|e| bad(e.to_string()))?
            .ok_or_else(|| bad("no data.tar member".into()))?;
        let pad = m.size % 2;
        if m.name == "debian-binary" {
            skip(&mut r, m.size + pad).map_err(|e| bad(e.to_string()))?;
        } else if m.name.starts_with("control.tar") {
            let mut limited = BufReader::new((&mut r).take(m.size));
            let files = decompressor(&m.name, &mut limited)
                .and_then(read_control)
                .map_err(|e| bad(format!("{}: {e}", m.name)))?;
            // Drain whatever the decompressor left of the member, then the padding.
            io::copy(&mut limited, &mut io::sink()).map_err(|e| bad(e.to_string()))?;
            drop(limited);
            skip(&mut r, pad).map_err(|e| bad(e.to_string()))?;
            control = Some(files);
        } else if m.name.starts_with("data.tar") {
            let ctl = control
                .take()
                .ok_or_else(|| bad("data.tar before control.tar".into()))?;
            describe(&mut out, &ctl, arch).map_err(bad)?;
            if only.is_none() {
                write_info(shared, &out, &ctl)?;
            }
            let compute_md5 = !ctl.contains_key("md5sums");
            let limited = BufReader::with_capacity(128 << 10, (&mut r).take(m.size));
            let data =
                decompressor(&m.name, limited).map_err(|e| bad(format!("{}: {e}", m.name)))?;
            let md5s = extract(shared, &mut out, data, compute_md5, only).map_err(|e| match e {
                Failure::Io(ctx, err) => Error::Io {
                    context: format!("package '{}': {ctx}", out.name),
                    source: err,
                },
                Failure::Bad(why) => Error::Deb {
                    package: out.name.clone(),
                    why,
                },
                Failure::Interrupted => Error::Interrupted,
            })?;
            if compute_md5 && only.is_none() {
                write_info_file(shared, &out.info_name, "md5sums", 0o644, 0, md5s.as_bytes())?;
            }
            return Ok(out);
        } else {
            skip(&mut r, m.size + pad).map_err(|e| bad(e.to_string()))?;
        }
    }
}

/// Fill name, info name, conffiles, triggers from control.tar.
pub fn describe(out: &mut Unpacked, ctl: &ControlFiles, arch: &str) -> Result<(), String> {
    let text = ctl
        .get("control")
        .map(|(_, _, b)| String::from_utf8_lossy(b).into_owned())
        .ok_or("control.tar has no control file")?;
    let stanza = crate::control::parse(&text)
        .into_iter()
        .next()
        .ok_or("empty control file")?;
    out.name = stanza
        .get("Package")
        .ok_or("control file without Package")?
        .to_owned();
    let pkg_arch = stanza.get("Architecture").unwrap_or(arch);
    out.info_name = if stanza.get("Multi-Arch") == Some("same") {
        format!("{}:{pkg_arch}", out.name)
    } else {
        out.name.clone()
    };
    out.control = text;
    out.conffiles = ctl
        .get("conffiles")
        .map(|(_, _, b)| {
            String::from_utf8_lossy(b)
                .lines()
                .filter_map(|l| l.split_whitespace().last())
                .filter(|p| p.starts_with('/'))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    out.triggers = ctl
        .get("triggers")
        .map(|(_, _, b)| String::from_utf8_lossy(b).into_owned());
    out.has_preinst = ctl.contains_key("preinst");
    Ok(())
}

fn write_info_file(
    shared: &Shared,
    info_name: &str,
    member: &str,
    mode: u32,
    mtime: i64,
    data: &[u8],
) -> Result<()> {
    let rel = PathBuf::from(format!("var/lib/dpkg/info/{info_name}.{member}"));
    shared.root.write(&rel, data, mode).map_err(|e| {
        Error::io(
            format!(
                "cannot write {}",
                crate::error::quote(shared.root.host(&rel))
            ),
            e,
        )
    })?;
    if mtime > 0 {
        let (parent, name) = split(&rel);
        if let Ok(d) = shared
            .root
            .open_at(parent, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
        {
            let _ = sys::lutimensat(d.as_fd(), name, mtime);
        }
    }
    Ok(())
}

/// The control members dpkg keeps in `info/` (all but `control` itself).
fn write_info(shared: &Shared, out: &Unpacked, ctl: &ControlFiles) -> Result<()> {
    let mut names: Vec<&String> = ctl.keys().filter(|n| *n != "control").collect();
    names.sort();
    for name in names {
        let (mode, mtime, data) = &ctl[name];
        write_info_file(shared, &out.info_name, name, mode & 0o7777, *mtime, data)?;
    }
    Ok(())
}

enum Failure {
    Io(String, io::Error),
    Bad(String),
    Interrupted,
}

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// The directory `parent`, opened once per run of entries in it.
struct ParentCache {
    path: PathBuf,
    fd: Option<OwnedFd>,
}

impl ParentCache {
    fn get(&mut self, root: &Root, parent: &Path) -> io::Result<&OwnedFd> {
        if self.fd.is_none() || self.path != parent {
            self.fd = Some(root.dir(parent)?);
            self.path = parent.to_path_buf();
        }
        Ok(self.fd.as_ref().expect("set above"))
    }
}

fn extract(
    shared: &Shared,
    out: &mut Unpacked,
    data: Box<dyn Read + '_>,
    compute_md5: bool,
    only: Option<&HashSet<PathBuf>>,
) -> Result<String, Failure> {
    let root = &shared.root;
    let conffiles: HashSet<&str> = out.conffiles.iter().map(String::as_str).collect();
    let mut md5s = String::new();
    let mut cache = ParentCache {
        path: PathBuf::new(),
        fd: None,
    };
    let mut buf = vec![0u8; 256 << 10];
    let mut ar = tar::Archive::new(data);
    let entries = ar
        .entries()
        .map_err(|e| Failure::Bad(format!("data.tar: {e}")))?;
    let mut files = vec!["/.".to_owned()];
    for entry in entries {
        if signals::interrupted() {
            return Err(Failure::Interrupted);
        }
        let mut e = entry.map_err(|e| Failure::Bad(format!("data.tar: {e}")))?;
        let raw = e
            .path()
            .map_err(|e| Failure::Bad(format!("data.tar: {e}")))?
            .into_owned();
        let rel = root::normalize(&raw).ok_or_else(|| {
            Failure::Bad(format!(
                "unsafe path '{}' in data.tar (has '..')",
                raw.display()
            ))
        })?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let h = e.header().clone();
        let kind = h.entry_type();
        if matches!(
            kind,
            tar::EntryType::XHeader
                | tar::EntryType::XGlobalHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            continue;
        }
        let abs = format!("/{}", rel.display());
        files.push(abs.clone());
        if let Some(only) = only
            && !only.contains(&rel)
        {
            continue;
        }
        let ioe = |what: &str, err: io::Error| Failure::Io(format!("{what} '{abs}'"), err);
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let mtime = h.mtime().unwrap_or(0).cast_signed();
        if kind == tar::EntryType::Directory {
            {
                let mut dirs = shared.dirs.lock().expect("dirs");
                let meta = DirMeta {
                    order: out.order,
                    mode,
                    uid,
                    gid,
                };
                dirs.entry(rel.clone())
                    .and_modify(|m| {
                        if m.order > out.order {
                            *m = meta;
                        }
                    })
                    .or_insert(meta);
            }
            root.dir(&rel)
                .map_err(|err| ioe("cannot create directory", err))?;
            continue;
        }
        if only.is_none() {
            let mut owners = shared.owners.lock().expect("owners");
            if let Some(prev) = owners.insert(rel.clone(), out.order)
                && prev != out.order
            {
                shared.conflicts.lock().expect("conflicts").push((
                    rel.clone(),
                    prev.min(out.order),
                    prev.max(out.order),
                ));
            }
        }
        let (parent, name) = split(&rel);
        let pfd = cache
            .get(root, parent)
            .map_err(|err| ioe("cannot create the directory of", err))?;
        let pfd = pfd.as_fd();
        let replace = |make: &dyn Fn() -> nix::Result<()>, target: &OsString| -> io::Result<()> {
            match make() {
                Err(Errno::EEXIST) => {
                    sys::unlinkat(pfd, target, false).map_err(errno)?;
                    make().map_err(errno)
                }
                r => r.map_err(errno),
            }
        };
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                // A conffile is written twice: as NAME.dpkg-new, which dpkg's configure
                // step moves into place (the file being identical, silently), and as
                // NAME, so that the maintainer scripts that run before its package is
                // configured find it, as they do after debootstrap's first stage
                // (`pwconv` reads /etc/login.defs).
                let is_conffile = conffiles.contains(abs.as_str());
                let mut names = vec![name.to_os_string()];
                if is_conffile {
                    let mut n = name.to_os_string();
                    n.push(".dpkg-new");
                    names.push(n);
                }
                let mut files = Vec::with_capacity(names.len());
                for fname in &names {
                    let fd = match sys::create_at(pfd, fname, 0o600) {
                        Err(Errno::EEXIST) => {
                            sys::unlinkat(pfd, fname, false)
                                .map_err(|x| ioe("cannot replace", errno(x)))?;
                            sys::create_at(pfd, fname, 0o600)
                        }
                        r => r,
                    }
                    .map_err(|x| ioe("cannot create", errno(x)))?;
                    files.push(File::from(fd));
                }
                let mut md5 = compute_md5.then(Md5::new);
                loop {
                    let n = match e.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                            if signals::interrupted() {
                                return Err(Failure::Interrupted);
                            }
                            continue;
                        }
                        Err(err) => return Err(Failure::Bad(format!("data.tar: {err}"))),
                    };
                    for f in &mut files {
                        f.write_all(&buf[..n])
                            .map_err(|err| ioe("cannot write", err))?;
                    }
                    if let Some(m) = md5.as_mut() {
                        m.update(&buf[..n]);
                    }
                }
                for f in &files {
                    sys::fchown_fchmod(f.as_fd(), uid, gid, mode)
                        .and_then(|()| sys::futimens(f.as_fd(), mtime))
                        .map_err(|x| ioe("cannot set the owner and mode of", errno(x)))?;
                }
                if let Some(m) = md5
                    && !is_conffile
                {
                    md5s.push_str(&crate::release::hex(&m.finalize()));
                    md5s.push_str("  ");
                    md5s.push_str(&rel.to_string_lossy());
                    md5s.push('\n');
                }
            }
            tar::EntryType::Symlink => {
                let target = e
                    .link_name()
                    .map_err(|err| Failure::Bad(format!("data.tar: {err}")))?
                    .ok_or_else(|| Failure::Bad(format!("symlink '{abs}' without a target")))?
                    .into_owned();
                let name_os = name.to_os_string();
                replace(&|| sys::symlinkat(target.as_os_str(), pfd, name), &name_os)
                    .map_err(|err| ioe("cannot create symlink", err))?;
                sys::lchownat(pfd, name, uid, gid)
                    .and_then(|()| sys::lutimensat(pfd, name, mtime))
                    .map_err(|x| ioe("cannot set the owner of", errno(x)))?;
            }
            tar::EntryType::Link => {
                let target = e
                    .link_name()
                    .map_err(|err| Failure::Bad(format!("data.tar: {err}")))?
                    .ok_or_else(|| Failure::Bad(format!("hard link '{abs}' without a target")))?
                    .into_owned();
                let trel = root::normalize(&target).ok_or_else(|| {
                    Failure::Bad(format!(
                        "unsafe link target '{}' in data.tar",
                        target.display()
                    ))
                })?;
                let (tp, tn) = split(&trel);
                let tfd = root
                    .open_at(tp, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
                    .map_err(|err| ioe("cannot find the target of hard link", err))?;
                let name_os = name.to_os_string();
                replace(&|| sys::linkat(tfd.as_fd(), tn, pfd, name), &name_os)
                    .map_err(|err| ioe("cannot create hard link", err))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let sflag = match kind {
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    tar::EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let major = u64::from(h.device_major().ok().flatten().unwrap_or(0));
                let minor = u64::from(h.device_minor().ok().flatten().unwrap_or(0));
                let name_os = name.to_os_string();
                replace(
                    &|| sys::mknodat(pfd, name, sflag, mode, major, minor),
                    &name_os,
                )
                .map_err(|err| ioe("cannot create device", err))?;
                sys::lchownat(pfd, name, uid, gid)
                    .and_then(|()| sys::fchmodat(pfd, name, mode))
                    .map_err(|x| ioe("cannot set the owner and mode of", errno(x)))?;
            }
            other => {
                return Err(Failure::Bad(format!(
                    "unsupported entry type {other:?} for '{abs}' in data.tar"
                )));
            }
        }
    }
    // (The whole .deb was verified against its SHA-256 before: no truncation to detect.)
    out.files = files;
    Ok(md5s)
}
