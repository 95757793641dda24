//! Release binaries as we ship them, all in `target/dist/`, linked three ways:
//!
//! - **static against musl** ([`MUSL`]): the small tools a container's start runs in a
//!   chain (cgctl, nsenter-rs and unshare-rs, ptyhold), when Rust's musl target is
//!   installed (`./lab` adds it). A static glibc's own start-up costs 0.35 ms of CPU per
//!   exec on the course's VMs (it probes the CPU's caches with `cpuid`, which traps to the
//!   hypervisor, and self-relocates): a static musl binary starts in 0.12 ms against
//!   0.49 ms for glibc (an empty `main`, `perf stat`, this machine kind). Without the
//!   target they are built against glibc as below, and the build says so.
//! - **static-pie against glibc** (`+crt-static`): the others, which saves the dynamic
//!   loader's work on every exec (≈0.3 ms more) and lets a binary run in any root
//!   filesystem or in the VM lane's initramfs without copying libraries;
//! - **dynamic** ([`DYNAMIC`]): packages that link a C library Debian ships only as a
//!   shared object, and those that look up users and groups through NSS, which a static
//!   glibc does by dlopen()ing modules of whatever root it is in (it crashed inside a
//!   busybox root).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::cargo;

/// Packages that stay dynamic: netlink-tool (libmnl has no .a), chroot-rs (NSS).
pub const DYNAMIC: &[&str] = &["chroot-rs", "netlink-tool"];

/// Packages linked statically against musl where its target is installed: those exec'd
/// in a container's start chain, whose work is small next to a glibc start-up. (Not
/// debootstrap-rs: its run is long, and glibc's allocator and copies are faster.)
pub const MUSL: &[&str] = &["cgctl", "nsenter-rs", "ptyhold"];

/// How a binary is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Against the system's shared libraries.
    Dynamic,
    /// Static-pie, glibc linked in.
    Glibc,
    /// Static(-pie), musl linked in.
    Musl,
}

impl Link {
    /// Whether the binary needs no shared library.
    pub fn is_static(self) -> bool {
        self != Link::Dynamic
    }
}

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

/// The musl target beside a `*-linux-gnu` host: `x86_64-unknown-linux-musl`.
pub fn musl_twin(host: &str) -> Option<String> {
    host.strip_suffix("-gnu").map(|stem| format!("{stem}-musl"))
}

/// Whether the toolchain has `target`'s standard library.
fn target_installed(target: &str) -> bool {
    Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .is_ok_and(|out| {
            let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            Path::new(&sysroot)
                .join("lib/rustlib")
                .join(target)
                .join("lib")
                .is_dir()
        })
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
    /// How it was linked.
    pub link: Link,
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
    let twin = musl_twin(&triple);
    let musl = twin.clone().filter(|t| target_installed(t));
    // The packages this checkout has, of those linked dynamically and against musl.
    let present = |list: &[&'static str]| -> Vec<&'static str> {
        list.iter()
            .copied()
            .filter(|d| root.join(d).join("Cargo.toml").is_file())
            .collect()
    };
    let dynamic_all = present(DYNAMIC);
    let mut musl_all = present(MUSL);
    let wanted = |p: &&str| packages.is_empty() || packages.contains(p);
    if musl.is_none() && musl_all.iter().any(wanted) {
        eprintln!(
            "xtask: Rust's musl target is not installed (`rustup target add {}`, or \
             ./lab deps): {} built against glibc, which starts slower",
            twin.as_deref().unwrap_or("…-musl"),
            musl_all.join(", ")
        );
        musl_all.clear();
    }
    let mut runs: Vec<(Vec<&str>, Link)> = Vec::new();
    if packages.is_empty() {
        // Everything: the workspace against glibc statically, less the other two kinds,
        // then those.
        runs.push((Vec::new(), Link::Glibc));
    } else {
        let glibc: Vec<&str> = packages
            .iter()
            .copied()
            .filter(|p| !DYNAMIC.contains(p) && !musl_all.contains(p))
            .collect();
        if !glibc.is_empty() {
            runs.push((glibc, Link::Glibc));
        }
    }
    for (list, link) in [(&musl_all, Link::Musl), (&dynamic_all, Link::Dynamic)] {
        let pkgs: Vec<&str> = list.iter().copied().filter(wanted).collect();
        if !pkgs.is_empty() {
            runs.push((pkgs, link));
        }
    }
    for (pkgs, link) in runs {
        let mut cmd = cargo();
        cmd.args([
            "build",
            "--release",
            "--bins",
            "--message-format=json-render-diagnostics",
        ]);
        if pkgs.is_empty() {
            cmd.arg("--workspace");
            for d in dynamic_all.iter().chain(&musl_all).chain(NOT_SHIPPED) {
                cmd.args(["--exclude", d]);
            }
        }
        for p in &pkgs {
            cmd.args(["-p", p]);
        }
        if link.is_static() {
            // With an explicit --target, RUSTFLAGS reach only target artifacts, not the
            // build scripts and proc macros (which must stay dynamic). (musl's target is
            // static by default; said all the same.)
            let target = match link {
                Link::Musl => musl.as_deref().unwrap_or(&triple),
                _ => &triple,
            };
            cmd.args(["--target", target]);
            cmd.env("RUSTFLAGS", "-C target-feature=+crt-static");
        }
        eprintln!(
            "xtask: building {} release binaries{}",
            match link {
                Link::Dynamic => "dynamic",
                Link::Glibc => "static (glibc)",
                Link::Musl => "static (musl)",
            },
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
                    link,
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

/// How an ELF executable is linked: dynamic when it names a program interpreter, else
/// static with glibc (its ABI note) or musl in it. None when `elf` is not a 64-bit
/// little-endian ELF file or its headers are cut short.
pub fn link_of(elf: &[u8]) -> Option<Link> {
    Some(if has_interpreter(elf)? {
        Link::Dynamic
    } else if has_gnu_abi_tag(elf)? {
        Link::Glibc
    } else {
        Link::Musl
    })
}

/// Whether an ELF executable carries the note glibc's start-up file (crt1.o) adds, `GNU`
/// NT_GNU_ABI_TAG (file(1)'s "for GNU/Linux 3.2.0"): a static binary with it has glibc
/// linked in, one without has musl. None when `elf` is not a 64-bit little-endian ELF
/// file or its notes are cut short.
pub fn has_gnu_abi_tag(elf: &[u8]) -> Option<bool> {
    const PT_NOTE: u32 = 4;
    const NT_GNU_ABI_TAG: u32 = 1;
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o + 4)?.try_into().ok()?));
    let u64_at =
        |o: usize| usize::try_from(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?)).ok();
    let phoff = u64_at(0x20)?;
    let phentsize = usize::from(u16_at(0x36)?);
    for i in 0..usize::from(u16_at(0x38)?) {
        let ph = phoff + i * phentsize;
        if u32_at(ph)? != PT_NOTE {
            continue;
        }
        let (start, size, align) = (u64_at(ph + 8)?, u64_at(ph + 32)?, u64_at(ph + 48)?.max(4));
        let pad = |n: usize| n.div_ceil(align) * align;
        let mut at = start;
        while at + 12 <= start + size {
            let namesz = usize::try_from(u32_at(at)?).ok()?;
            let descsz = usize::try_from(u32_at(at + 4)?).ok()?;
            let name = elf.get(at + 12..at + 12 + namesz)?;
            if u32_at(at + 8)? == NT_GNU_ABI_TAG && name == b"GNU\0" {
                return Some(true);
            }
            at += 12 + pad(namesz) + pad(descsz);
        }
    }
    Some(false)
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
    fn glibc_is_known_by_its_abi_note() {
        // This test binary is linked against glibc, whose crt1.o adds the note.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(has_gnu_abi_tag(&me), Some(true));
        assert_eq!(link_of(&me), Some(Link::Dynamic));
        assert_eq!(has_gnu_abi_tag(b"#!/bin/sh\n"), None);
        // A header with one PT_NOTE segment holding a build-id note only (as musl's).
        let mut elf = vec![0u8; 64 + 56 + 24];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        elf[64..68].copy_from_slice(&4u32.to_le_bytes()); // PT_NOTE
        elf[64 + 8..64 + 16].copy_from_slice(&120u64.to_le_bytes()); // p_offset
        elf[64 + 32..64 + 40].copy_from_slice(&24u64.to_le_bytes()); // p_filesz
        elf[64 + 48..64 + 56].copy_from_slice(&4u64.to_le_bytes()); // p_align
        let note = |elf: &mut Vec<u8>, kind: u32| {
            elf[120..124].copy_from_slice(&4u32.to_le_bytes());
            elf[124..128].copy_from_slice(&8u32.to_le_bytes());
            elf[128..132].copy_from_slice(&kind.to_le_bytes());
            elf[132..136].copy_from_slice(b"GNU\0");
        };
        note(&mut elf, 3); // NT_GNU_BUILD_ID
        assert_eq!(has_gnu_abi_tag(&elf), Some(false));
        assert_eq!(link_of(&elf), Some(Link::Musl));
        note(&mut elf, 1); // NT_GNU_ABI_TAG
        assert_eq!(has_gnu_abi_tag(&elf), Some(true));
        assert_eq!(link_of(&elf), Some(Link::Glibc));
        // A note that runs past the end of the file.
        elf.truncate(130);
        assert_eq!(has_gnu_abi_tag(&elf), None);
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
