//! Pidfiles: the PID and a newline, written atomically (a temporary file in the same
//! directory, then rename(2)), so a reader never sees a partial or empty file.

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

/// Read the PID in `path`.
pub fn read(path: &Path) -> Result<Pid, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadPidfile {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).ok_or_else(|| Error::BadPidfile(path.to_owned()))
}

/// A pidfile we wrote, to remove again when its process has ended (or never started).
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    pid: Pid,
}

/// Write `pid` to `path` atomically.
pub fn write(path: &Path, pid: Pid) -> Result<Pidfile, Error> {
    let err = |source: io::Error| Error::WritePidfile {
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
        return Err(err(e.into()));
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
        assert_eq!(parse("42"), Some(Pid::from_raw(42)));
        for bad in ["", "\n42\n", "0\n", "-1\n", "x\n", "4 2\n", "99999999999\n"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn written_atomically_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        let pf = write(&path, Pid::from_raw(1234)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1234\n");
        assert_eq!(read(&path).unwrap(), Pid::from_raw(1234));
        // No temporary is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Overwriting works (rename replaces).
        let pf2 = write(&path, Pid::from_raw(99)).unwrap();
        // The first writer's remove leaves a file that is no longer its own.
        pf.remove();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "99\n");
        pf2.remove();
        assert!(!path.exists());
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope/x.pid");
        let e = write(&missing, Pid::from_raw(1)).unwrap_err();
        assert_eq!(
            common::exit::message(&e),
            format!(
                "cannot write pidfile '{}': No such file or directory",
                missing.display()
            )
        );
        let e = read(&dir.path().join("absent")).unwrap_err();
        assert!(matches!(e, Error::ReadPidfile { .. }));
        std::fs::write(dir.path().join("bad"), "hello\n").unwrap();
        let e = read(&dir.path().join("bad")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "invalid pidfile '{}': no PID in it",
                dir.path().join("bad").display()
            )
        );
    }
}
