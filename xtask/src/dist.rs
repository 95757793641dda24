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
pub const DYNAMIC: &[&str] = &["chroot-rs", "netlink-tool"];

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

/// Workspace packages whose binaries are not shipped: the chores and the tests' helpers.
const NOT_SHIPPED: &[&str] = &["xtask", "integration"];

/// A release binary in `target/dist/`.
#[derive(Debug)]
pub struct Built {
    /// Its path in `target/dist/`.
    pub path: PathBuf,
    /// The package that builds it.
    pub package: String,
    /// Whether it was linked statically.
    pub static_link: bool,
}

/// Build `packages` (all shipped binaries when empty: not xtask's, nor the test helpers of
/// `integration`) in release mode and collect the
/// executables in `target/dist/`, which is returned.
pub fn build(root: &Path, packages: &[&str]) -> Result<PathBuf> {
    build_listed(root, packages)?;
    Ok(root.join("target/dist"))
}

/// As [`build`], and say what was built.
pub fn build_listed(root: &Path, packages: &[&str]) -> Result<Vec<Built>> {
    let mut built = Vec::new();
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
            for d in present.iter().chain(NOT_SHIPPED) {
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
                // "path+file:///…/chroot-rs#0.1.0" (or "…#name@0.1.0"): the package name.
                let id = msg["package_id"].as_str().unwrap_or_default();
                let tail = id.rsplit_once('#').map_or(id, |(_, t)| t);
                let package = match tail.split_once('@') {
                    Some((name, _)) => name.to_owned(),
                    None => id
                        .rsplit_once('#')
                        .map_or(id, |(p, _)| p)
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                };
                built.push(Built {
                    path: dest,
                    package,
                    static_link,
                });
            }
        }
    }
    Ok(built)
}

/// Whether an ELF executable names a program interpreter (PT_INTERP): a dynamically
/// linked one does, a static(-pie) one does not. None when `elf` is not a 64-bit
/// little-endian ELF file.
pub fn has_interpreter(elf: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    let mut interp = false;
    for i in 0..phnum {
        interp |= u32_at(phoff + i * phentsize)? == PT_INTERP;
    }
    Some(interp)
}

/// glibc's NSS look-ups: users, groups, host names.
const NSS: &[&str] = &[
    "getpwnam",
    "getpwuid",
    "getpwent",
    "getgrnam",
    "getgrgid",
    "getgrent",
    "getgrouplist",
    "initgroups",
    "getspnam",
    "getaddrinfo",
    "getnameinfo",
    "gethostbyname",
    "gethostbyaddr",
];

/// The glibc NSS look-ups (users, groups, host names) that `binary` defines, read from
/// its symbol table: in a static binary each of them would load the host's NSS modules
/// at run time.
pub fn nss_symbols(binary: &Path) -> Result<Vec<String>> {
    let out = Command::new("nm")
        .arg("--defined-only")
        .arg(binary)
        .output()
        .context("cannot run nm (binutils)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.trim().is_empty() {
        bail!(
            "nm read no symbols from {} (stripped?): {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(nss_in(&text))
}

/// The NSS look-ups among the symbols of `nm` output (`ADDRESS TYPE NAME` lines): each
/// function of [`NSS`] and its reentrant `_r` form.
fn nss_in(nm: &str) -> Vec<String> {
    let mut found: Vec<String> = nm
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|s| {
            NSS.iter()
                .any(|f| s.strip_prefix(f).is_some_and(|r| r.is_empty() || r == "_r"))
        })
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interpreter_is_read_from_the_program_headers() {
        // This test binary is built dynamically (no +crt-static for tests).
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(has_interpreter(&me), Some(true));
        assert_eq!(has_interpreter(b"#!/bin/sh\n"), None);
        // A minimal static ELF header: no program headers at all.
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        assert_eq!(has_interpreter(&elf), Some(false));
    }

    #[test]
    fn nss_look_ups_are_found_by_name() {
        let nm = "0000000000401000 T main\n\
                  0000000000402000 T getaddrinfo\n\
                  0000000000403000 T getpwnam_r\n\
                  0000000000404000 t getpwnam_internal_helper\n\
                  0000000000405000 T initgroups\n\
                  0000000000405000 T initgroups\n\
                  0000000000406000 T my_getaddrinfo\n";
        assert_eq!(nss_in(nm), ["getaddrinfo", "getpwnam_r", "initgroups"]);
        assert_eq!(nss_in("0000000000401000 T main\n"), Vec::<String>::new());
    }
}
