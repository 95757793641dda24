//! The console log (`--log FILE --log-size SIZE`): every byte tty 0 shows is appended to
//! FILE as it is read (written through, nothing kept in memory). When FILE would pass
//! SIZE it is renamed to `FILE.1` (replacing the older copy) and a new FILE begins, so
//! FILE and FILE.1 together never hold more than 2×SIZE, and FILE.1 followed by FILE is
//! the latest output without a gap.
//!
//! A rotation happens after the last newline that fits, so lines mostly stay whole. When
//! none fits: if FILE ends at the end of a line, the new line starts the next FILE;
//! otherwise (a line longer than SIZE, or one whose start was written with an earlier
//! read of the pty) it is cut where FILE is full. The output is a byte stream read in
//! chunks, so FILE.1 may begin in the middle of a line. A FILE left larger than SIZE by
//! an earlier run with a larger SIZE is rotated as it is at the start.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::sys;

/// An open console log.
#[derive(Debug)]
pub struct Log {
    path: PathBuf,
    old: PathBuf,
    fd: OwnedFd,
    size: u64,
    limit: u64,
    /// FILE is empty or ends with a newline.
    at_line_start: bool,
}

/// The rotated copy's name: `FILE.1`.
pub fn rotated_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// Where to cut `data` when only `room` bytes fit in the current file: after the last
/// newline within the room; without one, nowhere (0: the line starts the next file) when
/// the file is not empty and ends with a newline, else at `room`.
pub fn split_point(data: &[u8], room: usize, file_empty: bool, at_line_start: bool) -> usize {
    let room = room.min(data.len());
    match data[..room].iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None if !file_empty && at_line_start => 0,
        None => room,
    }
}

impl Log {
    /// Open (create) FILE for appending, mode 0600.
    pub fn open(path: &Path, limit: u64) -> Result<Self, Error> {
        let err = |source: io::Error| Error::Log {
            path: path.to_owned(),
            source,
        };
        let (fd, size) = open(path).map_err(err)?;
        let mut log = Self {
            path: path.to_owned(),
            old: rotated_name(path),
            fd,
            size,
            limit: limit.max(1),
            // Unknown for an existing file: as if a line were open (cut when full).
            at_line_start: size == 0,
        };
        if log.size > log.limit {
            log.rotate().map_err(err)?;
        }
        Ok(log)
    }

    /// FILE's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `data`, rotating as often as needed.
    pub fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let room = self.limit.saturating_sub(self.size);
            if data.len() as u64 <= room {
                self.append(data)?;
                return Ok(());
            }
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            let cut = split_point(data, room, self.size == 0, self.at_line_start);
            if cut > 0 {
                self.append(&data[..cut])?;
            }
            self.rotate()?;
            data = &data[cut..];
        }
        Ok(())
    }

    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        sys::write_all(self.fd.as_fd(), data)?;
        self.size += data.len() as u64;
        if let Some(&last) = data.last() {
            self.at_line_start = last == b'\n';
        }
        Ok(())
    }

    /// FILE → FILE.1, and a new FILE.
    fn rotate(&mut self) -> io::Result<()> {
        sys::rename(&self.path, &self.old)?;
        let (fd, size) = open(&self.path)?;
        self.fd = fd;
        self.size = size;
        self.at_line_start = size == 0;
        Ok(())
    }
}

fn open(path: &Path) -> io::Result<(OwnedFd, u64)> {
    let fd = sys::open_append(path)?;
    let size = sys::file_size(fd.as_fd())?;
    Ok((fd, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_after_the_last_newline_that_fits() {
        assert_eq!(split_point(b"ab\ncd\nef", 7, false, true), 6);
        assert_eq!(split_point(b"ab\ncd\nef", 5, false, false), 3);
        // No newline in the room: nothing when the file ends with a whole line …
        assert_eq!(split_point(b"abcdef\n", 4, false, true), 0);
        // … at the room when it is empty, or ends inside a line.
        assert_eq!(split_point(b"abcdef\n", 4, true, true), 4);
        assert_eq!(split_point(b"abcdef\n", 4, false, false), 4);
        assert_eq!(split_point(b"abc", 10, true, true), 3);
    }

    fn read(p: &Path) -> Vec<u8> {
        std::fs::read(p).unwrap_or_default()
    }

    #[test]
    fn rotation_keeps_both_files_within_the_limit_and_the_tail_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let mut log = Log::open(&path, 64).unwrap();
        let mut all = Vec::new();
        for i in 0..200 {
            let line = format!("line {i:03} of the console\n");
            all.extend(line.as_bytes());
            log.write(line.as_bytes()).unwrap();
            let (now, old) = (read(&path), read(&rotated_name(&path)));
            assert!(now.len() <= 64, "FILE has {} bytes", now.len());
            assert!(old.len() <= 64, "FILE.1 has {} bytes", old.len());
            // FILE.1 then FILE is the end of everything written, lines whole.
            let tail = [old, now].concat();
            assert!(all.ends_with(&tail));
            assert!(tail.is_empty() || tail.starts_with(b"line "));
        }
        assert!(read(&path).ends_with(b"line 199 of the console\n"));
        // Only the two files.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_line_begun_in_an_earlier_chunk_is_cut_where_the_file_is_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = Log::open(&path, 12).unwrap();
        log.write(b"one\ntw").unwrap();
        log.write(b"o-and-more\nthree\n").unwrap();
        assert_eq!(read(&rotated_name(&path)), b"one\ntwo-and-");
        assert_eq!(read(&path), b"more\nthree\n");
    }

    #[test]
    fn a_chunk_larger_than_the_limit_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = Log::open(&path, 10).unwrap();
        log.write(b"0123456789abcdefghij-XYZ").unwrap();
        assert_eq!(read(&rotated_name(&path)), b"abcdefghij");
        assert_eq!(read(&path), b"-XYZ");
    }

    #[test]
    fn appends_to_an_existing_log_and_rotates_an_oversized_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"old\n").unwrap();
        let mut log = Log::open(&path, 100).unwrap();
        log.write(b"new\n").unwrap();
        assert_eq!(read(&path), b"old\nnew\n");
        drop(log);
        let log = Log::open(&path, 4).unwrap();
        assert_eq!(read(&rotated_name(&path)), b"old\nnew\n");
        assert_eq!(read(&path), b"");
        assert_eq!(log.path(), path);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/log");
        let e = Log::open(&path, 10).unwrap_err();
        assert_eq!(
            common::exit::message(&e),
            format!(
                "cannot open log '{}': No such file or directory",
                path.display()
            )
        );
    }
}
