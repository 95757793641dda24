//! A writer of the "newc" cpio format the kernel unpacks as an initramfs: directories,
//! regular files, symlinks and device nodes, without needing root or a cpio binary.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::Path;

/// An archive being written.
pub struct Cpio<W: Write> {
    out: W,
    ino: u32,
    dirs: BTreeSet<String>,
}

fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

impl<W: Write> Cpio<W> {
    /// Start an archive on `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            ino: 1,
            dirs: BTreeSet::new(),
        }
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8], rdev: (u32, u32)) -> io::Result<()> {
        let name = name.trim_start_matches('/');
        let namesize = name.len() + 1;
        self.ino += 1;
        write!(
            self.out,
            "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            rdev.0,
            rdev.1,
            namesize,
            0
        )?;
        self.out.write_all(name.as_bytes())?;
        self.out.write_all(&[0])?;
        self.out.write_all(&[0; 4][..pad4(110 + namesize)])?;
        self.out.write_all(data)?;
        self.out.write_all(&[0; 4][..pad4(data.len())])
    }

    /// A directory and its missing parents.
    pub fn dir(&mut self, path: &str) -> io::Result<()> {
        let path = path.trim_matches('/');
        let mut prefix = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if self.dirs.insert(prefix.clone()) {
                let p = prefix.clone();
                self.entry(&p, 0o040_755, &[], (0, 0))?;
            }
        }
        Ok(())
    }

    fn parent(&mut self, path: &str) -> io::Result<()> {
        if let Some(parent) = Path::new(path.trim_start_matches('/')).parent() {
            self.dir(&parent.to_string_lossy())?;
        }
        Ok(())
    }

    /// A regular file with `mode` permission bits.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        self.parent(path)?;
        self.entry(path, 0o100_000 | mode, data, (0, 0))
    }

    /// A symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.parent(path)?;
        self.entry(path, 0o120_777, target.as_bytes(), (0, 0))
    }

    /// A character device node.
    pub fn char_dev(&mut self, path: &str, major: u32, minor: u32) -> io::Result<()> {
        self.parent(path)?;
        self.entry(path, 0o020_600, &[], (major, minor))
    }

    /// Write the trailer and return the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.entry("TRAILER!!!", 0, &[], (0, 0))?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_aligned_and_terminated() {
        let mut c = Cpio::new(Vec::new());
        c.file("/a/b/init", 0o755, b"#!/bin/sh\n").unwrap();
        c.symlink("/bin/sh", "busybox").unwrap();
        c.char_dev("/dev/console", 5, 1).unwrap();
        let out = c.finish().unwrap();
        assert_eq!(out.len() % 4, 0);
        let text = String::from_utf8_lossy(&out);
        // parents first, each once
        let a = text.find("a\0").unwrap();
        let ab = text.find("a/b\0").unwrap();
        let init = text.find("a/b/init\0").unwrap();
        assert!(a < ab && ab < init);
        assert_eq!(text.matches("070701").count(), 8); // a, a/b, init, bin, sh, dev, console, trailer
        // the trailer is the last entry: its name, NUL, padding to 4
        let trailer = text.rfind("TRAILER!!!\0").unwrap();
        assert!(out[trailer + 11..].iter().all(|&b| b == 0));
        assert!(out.len() - trailer <= 11 + 3);
    }
}
