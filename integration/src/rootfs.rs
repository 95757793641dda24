//! A small static root filesystem for the tests: busybox-static (Debian's package) with
//! its applets as symlinks, a passwd and group file with known users, and the empty
//! directories API filesystems are mounted on. About 2 MB; built per test in a temp dir.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Users of the test rootfs's /etc/passwd: (name, uid, gid).
pub const USERS: &[(&str, u32, u32)] = &[
    ("root", 0, 0),
    ("student", 1234, 1234),
    ("nobody", 65534, 65534),
];

/// Groups of the test rootfs's /etc/group: (name, gid, members).
pub const GROUPS: &[(&str, u32, &str)] = &[
    ("root", 0, ""),
    ("students", 1234, "student"),
    ("lab", 1235, "student"),
    ("nogroup", 65534, ""),
];

/// A root filesystem in a temporary directory, removed on drop.
#[derive(Debug)]
pub struct Rootfs {
    dir: tempfile::TempDir,
    root: PathBuf,
}

/// The busybox binary used: `$BUSYBOX`, or Debian's busybox-static.
pub fn busybox() -> PathBuf {
    std::env::var_os("BUSYBOX").map_or_else(|| PathBuf::from("/bin/busybox"), PathBuf::from)
}

impl Rootfs {
    /// Build a fresh rootfs.
    pub fn new() -> Self {
        let dir = crate::tempdir();
        let root = dir.path().join("root");
        build(&root);
        Self { dir, root }
    }

    /// The root directory (NEWROOT for chroot-rs).
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Copy a host binary (and the shared libraries `ldd` lists for it) into the
    /// root at the same paths, so that it runs inside. Returns its path inside.
    pub fn add_binary(&self, host: &Path) -> PathBuf {
        add_binary(&self.root, host)
    }

    /// The temporary directory that holds the root, for files beside it (images, logs).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for Rootfs {
    fn default() -> Self {
        Self::new()
    }
}

/// Lay out a busybox rootfs at `root` (created if missing).
pub fn build(root: &Path) {
    for d in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "proc",
        "sys",
        "dev",
        "run",
        "root",
        "home/student",
        "mnt",
    ] {
        fs::create_dir_all(root.join(d)).expect("mkdir in rootfs");
    }
    let tmp = root.join("tmp");
    fs::create_dir_all(&tmp).expect("mkdir tmp");
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).expect("chmod tmp");

    let bb = busybox();
    fs::copy(&bb, root.join("bin/busybox")).unwrap_or_else(|e| {
        panic!(
            "copy {}: {e} (install busybox-static: ./lab deps)",
            bb.display()
        )
    });
    let list = Command::new(&bb)
        .arg("--list-full")
        .output()
        .expect("busybox --list-full");
    assert!(list.status.success(), "busybox --list-full failed");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = root.join(applet);
        if link.exists() || applet == "bin/busybox" {
            continue;
        }
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent).expect("mkdir applet dir");
        }
        symlink("/bin/busybox", &link).expect("applet symlink");
    }

    let passwd: String = USERS
        .iter()
        .map(|(n, u, g)| {
            let home = if *u == 0 {
                "/root".to_owned()
            } else {
                format!("/home/{n}")
            };
            format!("{n}:x:{u}:{g}:{n}:{home}:/bin/sh\n")
        })
        .collect();
    fs::write(root.join("etc/passwd"), passwd).expect("write passwd");
    let group: String = GROUPS
        .iter()
        .map(|(n, g, m)| format!("{n}:x:{g}:{m}\n"))
        .collect();
    fs::write(root.join("etc/group"), group).expect("write group");
    fs::write(root.join("etc/hostname"), "rootfs\n").expect("write hostname");
}

/// Copy `host` (a binary) and its shared libraries into `root` at the same paths.
pub fn add_binary(root: &Path, host: &Path) -> PathBuf {
    let out = Command::new("ldd").arg(host).output().expect("run ldd");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut files: Vec<PathBuf> = vec![host.to_path_buf()];
    for line in text.lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            files.push(PathBuf::from(p));
        }
    }
    for f in &files {
        let dest = root.join(f.strip_prefix("/").expect("absolute path"));
        if dest.symlink_metadata().is_ok() {
            // Already there (a library of an earlier binary, or a merged-/usr symlink).
            continue;
        }
        fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir for binary");
        fs::copy(f, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", f.display()));
    }
    PathBuf::from("/").join(host.strip_prefix("/").expect("absolute path"))
}
