//! `cargo xtask demo`: the course's lab, run with the toolkit's tools.
//!
//! Today: build the tools, make a small busybox root filesystem (cached), and enter it
//! with chroot-rs, first as plain chroot, then pivoted with its own API filesystems.

use std::io::IsTerminal;
use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::{cache_dir, sh};

pub fn run(root: &Path, _args: &[String]) -> Result<()> {
    let bin = crate::dist::build(root, &["chroot-rs"])?;
    let rootfs = cache_dir().join("demo-busybox-rootfs");
    if !rootfs.join("bin/busybox").is_file() {
        eprintln!(
            "xtask: building a busybox root filesystem in {}",
            rootfs.display()
        );
        integration::rootfs::build(&rootfs);
    }
    let chroot = bin.join("chroot-rs");

    eprintln!("\n== plain chroot (GNU compatible): the guest's files, the host's /proc");
    sh(Command::new(&chroot)
        .arg(&rootfs)
        .args(["/bin/sh", "-c", "cat /etc/hostname; ls /"]))?;

    eprintln!(
        "\n== pivoted, with API filesystems: the host is unreachable, ps shows only the guest"
    );
    sh(Command::new(&chroot)
        .args(["-v", "--pivot", "--api-fs"])
        .arg(&rootfs)
        .args([
            "/bin/sh",
            "-c",
            "ps; ls /dev; cat /proc/1/cmdline | tr '\\0' ' '; echo",
        ]))?;

    if std::io::stdin().is_terminal() {
        eprintln!("\n== an interactive shell in the pivoted guest (exit to leave)");
        sh(Command::new(&chroot)
            .args(["--pivot", "--api-fs"])
            .arg(&rootfs))?;
    }
    Ok(())
}
