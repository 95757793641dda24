//! Pidfiles: the PID and a newline, written atomically (a temporary file in the same
//! directory, then rename(2)), so a reader never sees a partial or empty file; removed
//! again only if nobody replaced them since. unshare-rs, nsenter-rs and ptyhold write and
//! read them the same way.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;

use crate::trace;

/// The PID in a pidfile's text: the first line, trimmed, a positive number.
pub fn parse(text: &str) -> Option<Pid> {
    let first = text.lines().next()?.trim();
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    first
        .parse::<i32>()
        .ok()
        .filter(|n| *n > 0)
        .map(Pid::from_raw)
}

/// Why a pidfile could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The file could not be read.
    Io(io::Error),
    /// It holds no PID.
    NoPid,
}

/// Read the PID in `path`.
pub fn read(path: &Path) -> Result<Pid, ReadError> {
    let text = std::fs::read_to_string(path).map_err(ReadError::Io)?;
    parse(&text).ok_or(ReadError::NoPid)
}

/// A pidfile we wrote, to remove again when its process has ended (or never started).
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    pid: Pid,
}

/// Whether `path` may become our pidfile: absent, empty (a `mktemp` made for it), or a
/// stale pidfile whose process has ended. Anything else was not ours to overwrite, and
/// removing it at exit would destroy it: a file that holds something other than a PID,
/// something that is not a regular file, or a pidfile naming a running process.
/// Checked before anything is made, so the refusal changes nothing.
pub fn check_free(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    if !meta.file_type().is_file() {
        return Err(io::Error::other(
            "it exists and is not a regular file (left as it is)",
        ));
    }
    let text = std::fs::read(path)?;
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let pid = std::str::from_utf8(&text)
        .ok()
        .and_then(parse)
        .ok_or_else(|| io::Error::other("it exists and holds no PID (left as it is)"))?;
    match nix::sys::signal::kill(pid, None) {
        Err(nix::errno::Errno::ESRCH) => Ok(()),
        _ => Err(io::Error::other(format!(
            "it names process {pid}, which is running (left as it is)"
        ))),
    }
}

/// Write `pid` to `path` atomically.
pub fn write(path: &Path, pid: Pid) -> io::Result<Pidfile> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EISDIR))?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| f.write_all(format!("{pid}\n").as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, path));
    trace::syscall(
        format_args!("write pidfile {:?} ({pid}, via rename)", path.as_os_str()),
        &r,
    );
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(Pidfile {
        path: path.to_owned(),
        pid,
    })
}

impl Pidfile {
    /// Remove the file, unless someone has since replaced it with another PID.
    pub fn remove(&self) {
        if std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| parse(&t))
            == Some(self.pid)
        {
            let r = std::fs::remove_file(&self.path);
            trace::syscall(format_args!("unlink({:?})", self.path.as_os_str()), &r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_first_line() {
        assert_eq!(parse("42\n"), Some(Pid::from_raw(42)));
        assert_eq!(parse("  42  \nextra"), Some(Pid::from_raw(42)));
        assert_eq!(parse("42"), Some(Pid::from_raw(42)));
        for bad in ["", "\n42\n", "0\n", "-1\n", "x\n", "4 2\n", "99999999999\n"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_free_or_stale_files_are_taken() {
        let dir = std::env::temp_dir().join(format!("common-pidfree-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pid");
        assert!(check_free(&path).is_ok(), "absent");
        std::fs::write(&path, "").unwrap();
        assert!(check_free(&path).is_ok(), "empty, as mktemp makes it");
        // PID_MAX_LIMIT is 2^22: a PID above it cannot be running
        std::fs::write(&path, "4194305\n").unwrap();
        assert!(check_free(&path).is_ok(), "stale");
        std::fs::write(&path, format!("{}\n", std::process::id())).unwrap();
        let e = check_free(&path).unwrap_err().to_string();
        assert!(e.contains("which is running"), "{e}");
        std::fs::write(&path, "precious notes\n").unwrap();
        let e = check_free(&path).unwrap_err().to_string();
        assert!(e.contains("holds no PID"), "{e}");
        std::fs::remove_file(&path).unwrap();
        let e = check_free(&dir).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn written_atomically_and_removed_only_if_still_ours() {
        let dir = std::env::temp_dir().join(format!("common-pidfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pid");
        let p = write(&path, Pid::from_raw(42)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "42\n");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        std::fs::write(&path, "43\n").unwrap();
        p.remove();
        assert!(path.exists(), "replaced since: kept");
        let p = write(&path, Pid::from_raw(44)).unwrap();
        p.remove();
        assert!(!path.exists());
        std::fs::remove_dir(&dir).unwrap();
    }
}
