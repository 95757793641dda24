//! Outputs beyond a directory: a tarball (plain, gzip, xz, zstd), bit-identical between
//! runs when SOURCE_DATE_EPOCH is set (entries sorted by name, numeric owners only,
//! modification times clamped, no compressor timestamps); and an ext4 image of a given
//! size, built by `mkfs.ext4 -d` from e2fsprogs.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result, quote};
use crate::http::create_fresh;

/// How the tarball is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `.tar`
    None,
    /// `.tar.gz`, `.tgz`
    Gzip,
    /// `.tar.xz`, `.txz`
    Xz,
    /// `.tar.zst`, `.tzst`
    Zstd,
}

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A directory.
    Dir,
    /// A tarball.
    Tar(Compression),
    /// An ext4 image.
    Ext4,
}

impl Format {
    /// The format a TARGET name implies.
    pub fn from_name(name: &Path) -> Self {
        let n = name.to_string_lossy();
        match () {
            () if n.ends_with(".tar") => Self::Tar(Compression::None),
            () if n.ends_with(".tar.gz") || n.ends_with(".tgz") => Self::Tar(Compression::Gzip),
            () if n.ends_with(".tar.xz") || n.ends_with(".txz") => Self::Tar(Compression::Xz),
            () if n.ends_with(".tar.zst") || n.ends_with(".tzst") => Self::Tar(Compression::Zstd),
            () if n.ends_with(".img") || n.ends_with(".ext4") => Self::Ext4,
            () => Self::Dir,
        }
    }

    /// Parse `--format`; a tarball's compression comes from the name.
    pub fn parse(s: &str, name: &Path) -> Option<Self> {
        Some(match s {
            "dir" | "directory" => Self::Dir,
            "tar" => match Self::from_name(name) {
                f @ Self::Tar(_) => f,
                _ => Self::Tar(Compression::None),
            },
            "ext4" => Self::Ext4,
            _ => return None,
        })
    }
}

fn compressor(file: File, c: Compression) -> io::Result<Box<dyn Write>> {
    let w = BufWriter::with_capacity(1 << 20, file);
    Ok(match c {
        Compression::None => Box::new(w),
        Compression::Gzip => Box::new(
            flate2::GzBuilder::new()
                .mtime(0)
                .write(w, flate2::Compression::default()),
        ),
        Compression::Xz => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
            let stream = liblzma::stream::MtStreamBuilder::new()
                .preset(6)
                .threads(threads)
                .check(liblzma::stream::Check::Crc64)
                .encoder()
                .map_err(io::Error::other)?;
            Box::new(liblzma::write::XzEncoder::new_stream(w, stream))
        }
        Compression::Zstd => Box::new(zstd::Encoder::new(w, 3)?.auto_finish()),
    })
}

/// Write the tree at `dir` as a tarball `out`, entries named `./…` in byte order.
pub fn write_tar(dir: &Path, out: &Path, c: Compression, clamp: Option<i64>) -> Result<()> {
    let ctx = |e: io::Error| Error::io(format!("cannot write {}", quote(out)), e);
    let file = create_fresh(out).map_err(ctx)?;
    let w = compressor(file, c).map_err(ctx)?;
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut stack = vec![PathBuf::new()];
    // Depth first, children in byte order: the order GNU tar gives with --sort=name.
    let mut order = Vec::new();
    while let Some(rel) = stack.pop() {
        order.push(rel.clone());
        let full = dir.join(&rel);
        let md = fs::symlink_metadata(&full).map_err(ctx)?;
        if md.is_dir() {
            let mut kids: Vec<PathBuf> = fs::read_dir(&full)
                .map_err(ctx)?
                .map(|e| e.map(|e| rel.join(e.file_name())))
                .collect::<io::Result<_>>()
                .map_err(ctx)?;
            kids.sort();
            kids.reverse();
            stack.extend(kids);
        }
    }
    for rel in order {
        if crate::signals::interrupted() {
            return Err(Error::Interrupted);
        }
        let full = dir.join(&rel);
        let md = fs::symlink_metadata(&full).map_err(ctx)?;
        let name = if rel.as_os_str().is_empty() {
            PathBuf::from("./")
        } else {
            Path::new(".").join(&rel)
        };
        let mut h = tar::Header::new_gnu();
        h.set_mode(md.mode() & 0o7777);
        h.set_uid(u64::from(md.uid()));
        h.set_gid(u64::from(md.gid()));
        let mtime = clamp.map_or(md.mtime(), |c| md.mtime().min(c)).max(0);
        h.set_mtime(mtime as u64);
        let ft = md.file_type();
        if let Some(cap) = crate::sys::capability_xattr(&full) {
            b.append_pax_extensions([("SCHILY.xattr.security.capability", cap.as_slice())])
                .map_err(ctx)?;
        }
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            let mut n = name.into_os_string();
            if n != "./" {
                n.push("/");
            }
            b.append_data(&mut h, PathBuf::from(n), io::empty())
                .map_err(ctx)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&full).map_err(ctx)?;
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, &name, &target).map_err(ctx)?;
        } else if ft.is_file() {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = links.get(&key) {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    b.append_link(&mut h, &name, first).map_err(ctx)?;
                    continue;
                }
                links.insert(key, name.clone());
            }
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(md.len());
            let f = File::open(&full).map_err(ctx)?;
            b.append_data(&mut h, &name, f).map_err(ctx)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            h.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            });
            h.set_size(0);
            let rdev = md.rdev();
            h.set_device_major(nix::sys::stat::major(rdev) as u32)
                .map_err(ctx)?;
            h.set_device_minor(nix::sys::stat::minor(rdev) as u32)
                .map_err(ctx)?;
            b.append_data(&mut h, &name, io::empty()).map_err(ctx)?;
        }
        // Sockets are not archived (none in a bootstrapped tree).
    }
    let mut w = b.into_inner().map_err(ctx)?;
    w.flush().map_err(ctx)?;
    drop(w);
    Ok(())
}

/// Bytes the tree at `dir` occupies (allocated blocks).
fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            total += md.blocks() * 512;
            if md.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

/// The default image size for a tree: its size plus a quarter and 64 MiB, in MiB.
pub fn auto_size(dir: &Path) -> u64 {
    let need = tree_size(dir);
    (need + need / 4 + (64 << 20)).div_ceil(1 << 20) << 20
}

/// The smallest `--image-size` accepted before anything is fetched: below it mkfs.ext4
/// could not even hold a journal and dpkg's database.
pub const MIN_IMAGE_SIZE: u64 = 32 << 20;

/// Refuse, before anything is downloaded, an image too small for the chosen packages:
/// `installed` bytes (the sum of their Installed-Size) plus a little for ext4's own
/// tables. Suggests the size the default would give.
pub fn check_image_size(size: u64, installed: u64, packages: usize) -> Result<()> {
    let floor = installed + installed / 20 + (8 << 20);
    if size >= floor {
        return Ok(());
    }
    let suggest = (installed + installed / 4 + (64 << 20)).div_ceil(1 << 20) << 20;
    Err(Error::ImageTooSmall(format!(
        "--image-size {} is too small: the {packages} packages install {}; give at least {} \
         (or leave --image-size out to size the image from the tree)",
        common::units::format_size(size),
        common::units::format_size(installed.div_ceil(1 << 20) << 20),
        common::units::format_size(suggest)
    )))
}

/// Can a file of `size` bytes be made at `out`? (A sparse test file, removed again: a
/// size the file system refuses, such as 1P on ext4, fails now rather than after the
/// whole bootstrap.)
pub fn probe_image_file(out: &Path, size: u64) -> Result<()> {
    let tmp = crate::http::partial_name(out);
    let r = create_fresh(&tmp).and_then(|f| f.set_len(size));
    let _ = fs::remove_file(&tmp);
    r.map_err(|e| {
        Error::io(
            format!(
                "cannot make {} {} large",
                quote(out),
                common::units::format_size(size)
            ),
            e,
        )
    })
}

/// Make an ext4 image of `size` bytes holding the tree at `dir`.
pub fn write_ext4(dir: &Path, out: &Path, size: u64, clamp: Option<i64>) -> Result<()> {
    let ctx = |e: io::Error| Error::io(format!("cannot write {}", quote(out)), e);
    let f = create_fresh(out).map_err(ctx)?;
    f.set_len(size).map_err(ctx)?;
    drop(f);
    let mut cmd = Command::new("mkfs.ext4");
    cmd.args(["-q", "-F", "-t", "ext4", "-L", "rootfs", "-d"])
        .arg(dir)
        .arg(out);
    if let Some(t) = clamp {
        // e2fsprogs takes its clock from E2FSPROGS_FAKE_TIME; a fixed UUID and hash seed.
        cmd.env("E2FSPROGS_FAKE_TIME", t.to_string());
        let uuid = "6f7c6c1e-8d2b-4a1e-9c3d-0123456789ab";
        cmd.args(["-U", uuid, "-E", &format!("hash_seed={uuid}")]);
    }
    common::trace::line(1, format_args!("running {cmd:?}"));
    let o = cmd
        .output()
        .map_err(|e| Error::io("cannot run mkfs.ext4 (install e2fsprogs)", e))?;
    if !o.status.success() {
        let _ = fs::remove_file(out);
        let msg = String::from_utf8_lossy(&o.stderr);
        let last = msg
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        return Err(Error::Command {
            what: format!("mkfs.ext4 of {} ({last})", quote(out)),
            status: o.status.code(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names() {
        assert_eq!(Format::from_name(Path::new("/x/rootfs")), Format::Dir);
        assert_eq!(
            Format::from_name(Path::new("t.tar")),
            Format::Tar(Compression::None)
        );
        assert_eq!(
            Format::from_name(Path::new("t.tgz")),
            Format::Tar(Compression::Gzip)
        );
        assert_eq!(
            Format::from_name(Path::new("t.tar.xz")),
            Format::Tar(Compression::Xz)
        );
        assert_eq!(
            Format::from_name(Path::new("t.tar.zst")),
            Format::Tar(Compression::Zstd)
        );
        assert_eq!(Format::from_name(Path::new("t.img")), Format::Ext4);
        assert_eq!(
            Format::parse("tar", Path::new("x")),
            Some(Format::Tar(Compression::None))
        );
        assert_eq!(Format::parse("ext4", Path::new("x")), Some(Format::Ext4));
        assert_eq!(Format::parse("zip", Path::new("x")), None);
    }

    #[test]
    fn image_sizes_are_checked_against_the_packages() {
        assert!(check_image_size(600 << 20, 300 << 20, 88).is_ok());
        let e = check_image_size(100 << 20, 300 << 20, 88).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().starts_with(
                "--image-size 100M is too small: the 88 packages install 300M; give at least 439M"
            ),
            "{e}"
        );
    }

    #[test]
    fn tarballs_are_reproducible() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("tree");
        fs::create_dir_all(t.join("b/c")).unwrap();
        fs::write(t.join("b/c/f"), b"data").unwrap();
        fs::hard_link(t.join("b/c/f"), t.join("a-link")).unwrap();
        std::os::unix::fs::symlink("b/c/f", t.join("s")).unwrap();
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Xz,
        ] {
            let one = d.path().join("1.tar");
            let two = d.path().join("2.tar");
            write_tar(&t, &one, c, Some(1_000)).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
            write_tar(&t, &two, c, Some(1_000)).unwrap();
            assert_eq!(fs::read(&one).unwrap(), fs::read(&two).unwrap(), "{c:?}");
        }
        let plain = d.path().join("p.tar");
        write_tar(&t, &plain, Compression::None, Some(1_000)).unwrap();
        let mut ar = tar::Archive::new(File::open(&plain).unwrap());
        let names: Vec<(String, tar::EntryType, u64)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().entry_type(),
                    e.header().mtime().unwrap(),
                )
            })
            .collect();
        let only: Vec<&str> = names.iter().map(|n| n.0.as_str()).collect();
        assert_eq!(only, ["./", "a-link", "b/", "b/c/", "b/c/f", "s"]);
        assert_eq!(
            names[4].1,
            tar::EntryType::Link,
            "the second name is the link"
        );
        assert!(names.iter().all(|n| n.2 <= 1_000));
    }
}
