//! `--pidfile`: the command's PID and a newline, written atomically (a temporary file in
//! the same directory, then rename(2)), so a reader never sees a partial or empty file;
//! removed at exit unless someone has replaced it since.
//!
//! The same format and rules as nsenter-rs's pidfiles (its `pidfile.rs`).

use std::ffi::OsString;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;

use crate::error::Error;
use crate::sys;

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

/// A pidfile we wrote, removed by [`Pidfile::remove`].
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    pid: Pid,
}

/// Write `pid` to `path` atomically.
pub fn write(path: &Path, pid: Pid) -> Result<Pidfile, Error> {
    let err = |source: io::Error| Error::Pidfile {
        path: path.to_owned(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| err(io::Error::from_raw_os_error(libc::EISDIR)))?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", sys::getpid()));
    let tmp = path.with_file_name(tmp_name);
    let fd = sys::create_excl(&tmp, 0o644).map_err(|e| err(e.into()))?;
    let written = sys::write_all(fd.as_fd(), format!("{pid}\n").as_bytes())
        .and_then(|()| sys::rename(&tmp, path));
    drop(fd);
    if let Err(e) = written {
        let _ = sys::unlink(&tmp);
        return Err(err(e));
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
            let _ = sys::unlink(&self.path);
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
        for bad in ["", "\n42\n", "0\n", "-1\n", "x\n", "4 2\n", "99999999999\n"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn written_atomically_and_removed_only_when_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pid");
        let pf = write(&path, Pid::from_raw(1234)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1234\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let pf2 = write(&path, Pid::from_raw(99)).unwrap();
        pf.remove();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "99\n");
        pf2.remove();
        assert!(!path.exists());
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope/c.pid");
        let e = write(&missing, Pid::from_raw(1)).unwrap_err();
        assert_eq!(
            common::exit::message(&e),
            format!(
                "cannot write pidfile '{}': No such file or directory",
                missing.display()
            )
        );
    }
}
