//! `--image FILE`: a filesystem image (ext4 or squashfs) loop-mounted as the new root,
//! the course's fixed-size disk per container.
//!
//! The loop device is configured with LO_FLAGS_AUTOCLEAR in one LOOP_CONFIGURE call, so
//! it detaches by itself when its mount goes away: with the private mount namespace, when
//! the command exits. Nothing to clean up, even after a crash.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::error::Error;
use crate::sys;

/// A filesystem type chroot-rs mounts images of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsType {
    /// ext2, ext3 or ext4 (mounted by the ext4 driver).
    Ext4,
    /// squashfs (always read-only).
    Squashfs,
}

impl FsType {
    fn name(self) -> &'static str {
        match self {
            FsType::Ext4 => "ext4",
            FsType::Squashfs => "squashfs",
        }
    }
}

/// Recognise an image by its superblock magic: squashfs `hsqs` at byte 0, ext's 0xEF53
/// at byte 1080.
pub fn detect(head: &[u8]) -> Option<FsType> {
    if head.len() >= 4 && &head[..4] == b"hsqs" {
        return Some(FsType::Squashfs);
    }
    if head.len() >= 1082 && head[1080] == 0x53 && head[1081] == 0xEF {
        return Some(FsType::Ext4);
    }
    None
}

/// An image file checked to hold a filesystem we can mount.
#[derive(Debug)]
pub struct Image {
    path: PathBuf,
    file: File,
    fstype: FsType,
    read_only: bool,
}

impl Image {
    /// Open and check `path` (before anything changes). Opened read-write unless
    /// `read_only`, the image is squashfs, or the file is not writable.
    pub fn open(path: &Path, read_only: bool) -> Result<Self, Error> {
        let access = |source: std::io::Error| Error::Access {
            path: path.to_owned(),
            source,
        };
        let mut file = sys::open_file(path, false).map_err(|e| access(e.into()))?;
        let mut head = [0u8; 2048];
        let mut got = 0;
        while got < head.len() {
            match file.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(access(e)),
            }
        }
        let fstype = detect(&head[..got]).ok_or_else(|| Error::NotAnImage(path.to_owned()))?;
        let mut read_only = read_only || fstype == FsType::Squashfs;
        if !read_only {
            match sys::open_file(path, true) {
                Ok(rw) => file = rw,
                Err(Errno::EACCES | Errno::EROFS | Errno::EPERM) => read_only = true,
                Err(e) => return Err(access(e.into())),
            }
        }
        // Two writers of one ext4 image corrupt it: one writer or many readers at a time.
        match sys::flock(&file, !read_only) {
            Ok(()) => {}
            Err(Errno::EWOULDBLOCK) => return Err(Error::ImageBusy(path.to_owned())),
            Err(e) => return Err(access(e.into())),
        }
        Ok(Self {
            path: path.to_owned(),
            file,
            fstype,
            read_only,
        })
    }

    /// Attach a loop device and mount the image on `target`.
    pub fn mount_on(&self, target: &Path) -> Result<(), Error> {
        let loop_err = |source| Error::Loop {
            path: self.path.clone(),
            source,
        };
        let control = sys::open_file(Path::new("/dev/loop-control"), true).map_err(loop_err)?;
        let mut flags = sys::LO_FLAGS_AUTOCLEAR;
        if self.read_only {
            flags |= sys::LO_FLAGS_READ_ONLY;
        }
        // Another process may take the free device between GET_FREE and CONFIGURE: retry.
        let mut attempts = 0;
        let (device, dev_path) = loop {
            attempts += 1;
            let n = sys::loop_get_free(&control).map_err(loop_err)?;
            let dev_path = PathBuf::from(format!("/dev/loop{n}"));
            let device = open_loop(&dev_path, !self.read_only).map_err(loop_err)?;
            match sys::loop_configure(&device, &dev_path, &self.file, flags) {
                Ok(()) => break (device, dev_path),
                Err(Errno::EBUSY) if attempts < 20 => continue,
                Err(e) => return Err(loop_err(e)),
            }
        };
        let mut mflags = MsFlags::empty();
        if self.read_only {
            mflags |= MsFlags::MS_RDONLY;
        }
        let source = dev_path.to_string_lossy().into_owned();
        let r = sys::mount(
            Some(&source),
            target,
            target,
            Some(self.fstype.name()),
            mflags,
            None,
        );
        // Closing our descriptor leaves the mount as the device's only user; with
        // AUTOCLEAR a failed mount therefore detaches it right here.
        drop(device);
        r.map_err(|source| Error::Mount {
            what: format!(
                "{} image {}",
                self.fstype.name(),
                crate::error::quote(&self.path)
            ),
            target: target.to_owned(),
            source,
        })
    }
}

/// Open a loop device node, waiting briefly for devtmpfs to create a new one.
fn open_loop(path: &Path, write: bool) -> nix::Result<File> {
    for _ in 0..50 {
        match sys::open_file(path, write) {
            Err(Errno::ENOENT) => thread::sleep(Duration::from_millis(2)),
            other => return other,
        }
    }
    sys::open_file(path, write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        let mut ext = vec![0u8; 2048];
        ext[1080] = 0x53;
        ext[1081] = 0xEF;
        assert_eq!(detect(&ext), Some(FsType::Ext4));
        let mut sq = vec![0u8; 2048];
        sq[..4].copy_from_slice(b"hsqs");
        assert_eq!(detect(&sq), Some(FsType::Squashfs));
        assert_eq!(detect(&[0u8; 2048]), None);
        assert_eq!(detect(b"hsq"), None);
        assert_eq!(detect(&[]), None);
    }
}
