//! Release binaries as we ship them: static-pie (glibc linked in, `+crt-static`), which
//! saves the dynamic loader's work on every exec (≈0.3 ms per start on the course's VMs;
//! these tools are exec'd in chains) and lets a binary run in any root filesystem or in
//! the VM lane's initramfs without copying libraries. Two kinds of package stay dynamic
//! (listed in DYNAMIC): those that link a C library Debian ships only as a shared object,
//! and those that look up users and groups through NSS, which a static glibc does by
//! dlopen()ing modules of whatever root it is in (it crashed inside a busybox root).
//!
//! All binaries end up in `target/dist/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::cargo;

/// Packages that stay dynamic: netlink-tool (libmnl has no .a), chroot-rs (NSS).
const DYNAMIC: &[&str] = &["chroot-rs", "netlink-tool"];

pub fn host_triple() -> Result<String> {
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV printed no host triple")
}

/// Build `packages` (all workspace binaries when empty) in release mode and collect the
/// executables in `target/dist/`, which is returned.
pub fn build(root: &Path, packages: &[&str]) -> Result<PathBuf> {
    let dist = root.join("target/dist");
    std::fs::create_dir_all(&dist)?;
    let triple = host_triple()?;
    let (dynamic, static_): (Vec<&str>, Vec<&str>) =
        packages.iter().partition(|p| DYNAMIC.contains(p));
    // The dynamic packages this checkout has.
    let present: Vec<&str> = DYNAMIC
        .iter()
        .copied()
        .filter(|d| root.join(d).join("Cargo.toml").is_file())
        .collect();
    let mut runs: Vec<(Vec<&str>, bool)> = Vec::new();
    if packages.is_empty() {
        // Everything: the workspace statically, less the dynamic packages, then those.
        runs.push((Vec::new(), true));
        if !present.is_empty() {
            runs.push((present.clone(), false));
        }
    } else {
        if !static_.is_empty() {
            runs.push((static_, true));
        }
        if !dynamic.is_empty() {
            runs.push((dynamic, false));
        }
    }
    for (pkgs, static_link) in runs {
        let mut cmd = cargo();
        cmd.args([
            "build",
            "--release",
            "--bins",
            "--message-format=json-render-diagnostics",
        ]);
        if pkgs.is_empty() {
            cmd.arg("--workspace");
            for d in &present {
                cmd.args(["--exclude", d]);
            }
        }
        for p in &pkgs {
            cmd.args(["-p", p]);
        }
        if static_link {
            // With an explicit --target, RUSTFLAGS reach only target artifacts, not the
            // build scripts and proc macros (which must stay dynamic).
            cmd.args(["--target", &triple]);
            cmd.env("RUSTFLAGS", "-C target-feature=+crt-static");
        }
        eprintln!(
            "xtask: building {} release binaries{}",
            if static_link { "static" } else { "dynamic" },
            if pkgs.is_empty() {
                String::new()
            } else {
                format!(" of {}", pkgs.join(", "))
            }
        );
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run cargo build")?;
        if !out.status.success() {
            bail!("cargo build --release failed ({})", out.status);
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(exe) = msg.get("executable").and_then(|e| e.as_str()) {
                let exe = Path::new(exe);
                let dest = dist.join(exe.file_name().context("executable without a name")?);
                // Replace atomically: a running binary may be the old one.
                let tmp = dest.with_extension("new");
                std::fs::copy(exe, &tmp).with_context(|| format!("copy {}", exe.display()))?;
                std::fs::rename(&tmp, &dest)?;
            }
        }
    }
    Ok(dist)
}
