//! Every call cgctl makes to the kernel, one small function each, traced through
//! `common::trace`: level 1 (`-v`) shows what changes state (writes, mkdir, rmdir, kill,
//! exec), level 2 (`-vv`) adds the reads behind each decision. No `unsafe`: exec and
//! the other shared calls are `common`'s.
//!
//! cgroup files are written with one `write(2)` of the whole value and never created:
//! a missing control file is an error (ENOENT), not a new regular file.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use common::trace;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

fn q(p: &Path) -> String {
    format!("{:?}", p.as_os_str())
}

/// Read a whole (small) file. Traced at level 2.
pub fn read(path: &Path) -> io::Result<String> {
    let mut s = String::new();
    let r = read_into(path, &mut s).map(|()| s);
    if trace::enabled(2) {
        let shown: Result<String, io::Error> = match &r {
            Ok(s) => Ok(format!("{:?}", s.trim_end())),
            Err(e) => Err(io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(0))),
        };
        trace::syscall_at(2, format_args!("read({})", q(path)), &shown);
    }
    r
}

/// Read a whole file into `buf` (cleared first), untraced: the fast path of `list`.
pub fn read_into(path: &Path, buf: &mut String) -> io::Result<()> {
    buf.clear();
    fs::File::open(path)?.read_to_string(buf)?;
    Ok(())
}

/// Write `value` to an existing control file in one write(2). Traced at level 1.
pub fn write(path: &Path, value: &str) -> io::Result<()> {
    let r = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    trace::syscall(format_args!("write({}, {value:?})", q(path)), &r);
    r
}

/// mkdir(2) with mode 0755.
pub fn mkdir(path: &Path) -> io::Result<()> {
    let r = fs::DirBuilder::new().mode(0o755).create(path);
    trace::syscall(format_args!("mkdir({}, 0755)", q(path)), &r);
    r
}

/// rmdir(2).
pub fn rmdir(path: &Path) -> io::Result<()> {
    let r = fs::remove_dir(path);
    trace::syscall(format_args!("rmdir({})", q(path)), &r);
    r
}

/// True when `path` exists (any type). Not traced: a stat behind a decision shows
/// as the read or write that follows.
pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// The names of the subdirectories of `path` (child cgroups), sorted.
pub fn subdirs(path: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    trace::line(
        2,
        format_args!("getdents({}) = {} subdirectories", q(path), out.len()),
    );
    Ok(out)
}

/// kill(2).
pub fn kill(pid: i32, signal: Signal) -> nix::Result<()> {
    let r = nix::sys::signal::kill(Pid::from_raw(pid), signal);
    trace::syscall(format_args!("kill({pid}, {})", signal.as_str()), &r);
    r
}

/// This process's id.
pub fn getpid() -> i32 {
    nix::unistd::getpid().as_raw()
}

/// Read a gzip-compressed text file (`/proc/config.gz`). Traced at level 2.
pub fn read_gz(path: &Path) -> io::Result<String> {
    let r = fs::read(path).and_then(|b| gunzip(&b));
    trace::line(
        2,
        format_args!(
            "read({}) = {}",
            q(path),
            match &r {
                Ok(s) => format!("{} bytes unpacked", s.len()),
                Err(e) => e.to_string(),
            }
        ),
    );
    r
}

/// Decompress gzip bytes into text.
fn gunzip(bytes: &[u8]) -> io::Result<String> {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut s)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_files_are_read_unpacked() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("config.gz");
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"CONFIG_A=y\n").unwrap();
        fs::write(&p, e.finish().unwrap()).unwrap();
        assert_eq!(read_gz(&p).unwrap(), "CONFIG_A=y\n");
        assert!(read_gz(&t.path().join("none")).is_err());
    }
}
