//! The first stage's own files, as debootstrap leaves them: merged /usr, /etc (fstab
//! placeholder, apt sources with signed-by; unlike debootstrap, not the host's
//! resolv.conf and hostname), the static device nodes, and the state `--foreign` leaves
//! for the second stage.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::cli::Config;
use crate::error::{Error, Result, quote};
use crate::indexes::{self, Source};
use crate::progress::Progress;
use crate::root::Root;
use crate::stage2::Plan;

/// debootstrap's merge_usr: top-level bin, sbin, lib* that packages made as real
/// directories move into /usr and become symlinks.
pub(crate) fn merge_usr(root: &Root) -> Result<()> {
    for d in ["bin", "lib", "lib32", "lib64", "libo32", "libx32", "sbin"] {
        let p = Path::new(d);
        let Ok(st) = root.lstat(p) else { continue };
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            continue;
        }
        let usr = Path::new("usr").join(d);
        let err = |e| Error::io(format!("cannot merge {} into /usr", quote(root.host(p))), e);
        if !root.exists(&usr) {
            root.rename(p, &usr).map_err(err)?;
        } else {
            let names: Vec<_> = fs::read_dir(root.host(p))
                .map_err(err)?
                .flatten()
                .map(|e| e.file_name())
                .collect();
            for n in names {
                let to = usr.join(&n);
                if root.exists(&to) {
                    return Err(Error::io(
                        format!("cannot merge {} into /usr", quote(root.host(&p.join(&n)))),
                        io::Error::from_raw_os_error(libc::EEXIST),
                    ));
                }
                root.rename(&p.join(&n), &to).map_err(err)?;
            }
            root.remove_tree(p, true).map_err(err)?;
        }
        root.symlink(&usr, p).map_err(err)?;
    }
    Ok(())
}

pub(crate) fn write_file(root: &Root, rel: &str, data: &[u8], mode: u32) -> Result<()> {
    root.write(Path::new(rel), data, mode).map_err(|e| {
        Error::io(
            format!("cannot write {}", quote(root.host(Path::new(rel)))),
            e,
        )
    })
}

/// /etc as debootstrap leaves it: fstab placeholder and apt sources (deb822) with
/// signed-by; none of the host's identity.
pub(crate) fn setup_etc(root: &Root, cfg: &Config, sources: &[Source]) -> Result<()> {
    if !root.exists(Path::new("etc/fstab")) {
        write_file(
            root,
            "etc/fstab",
            b"# UNCONFIGURED FSTAB FOR BASE SYSTEM\n",
            0o644,
        )?;
    }
    // No /etc/hostname and no /etc/resolv.conf: debootstrap copies the host's, which
    // puts the build machine's name and name servers into every container made from the
    // tree. Each container gets its own from its manager (`chroot-rs --resolv-conf`,
    // ctn); nothing in the second stage needs them.
    let signed_by = if !cfg.check_gpg {
        None
    } else {
        match &cfg.keyring {
            None => Some(indexes::DEBIAN_KEYRING.to_owned()),
            Some(k) => {
                let data =
                    fs::read(k).map_err(|e| Error::io(format!("cannot read {}", quote(k)), e))?;
                let ext = if data.starts_with(b"-----BEGIN") {
                    "asc"
                } else {
                    "gpg"
                };
                let rel = format!("etc/apt/keyrings/debootstrap-rs.{ext}");
                write_file(root, &rel, &data, 0o644)?;
                Some(format!("/{rel}"))
            }
        }
    };
    let mut text = String::new();
    let mut mirrors: Vec<&str> = Vec::new();
    for s in sources {
        if !mirrors.contains(&s.mirror.as_str()) {
            mirrors.push(&s.mirror);
        }
    }
    for m in mirrors {
        let suites: Vec<&str> = sources
            .iter()
            .filter(|s| s.mirror == m)
            .map(|s| s.suite.as_str())
            .collect();
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(
            "Types: deb\nURIs: {m}\nSuites: {}\nComponents: {}\n",
            suites.join(" "),
            cfg.components.join(" ")
        ));
        if let Some(k) = &signed_by {
            text.push_str(&format!("Signed-By: {k}\n"));
        }
    }
    write_file(
        root,
        "etc/apt/sources.list.d/debian.sources",
        text.as_bytes(),
        0o644,
    )
}

/// The static device nodes debootstrap creates (setup_devices_simple).
pub(crate) fn setup_devices(root: &Root, progress: &Progress) -> Result<()> {
    let nodes: [(&str, u64, u64); 8] = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
        ("console", 5, 1),
        ("ptmx", 5, 2),
    ];
    for (name, major, minor) in nodes {
        let rel = PathBuf::from("dev").join(name);
        if let Err(e) = root.mknod_char(&rel, 0o666, major, minor) {
            if e.raw_os_error() == Some(libc::EPERM) {
                progress.phase(format_args!(
                    "cannot create /dev/{name} here (not permitted): skipped"
                ));
                continue;
            }
            return Err(Error::io(
                format!("cannot create {}", quote(root.host(&rel))),
                e,
            ));
        }
    }
    for d in ["dev/pts", "dev/shm"] {
        root.dir(Path::new(d)).map_err(|e| {
            Error::io(
                format!("cannot create {}", quote(root.host(Path::new(d)))),
                e,
            )
        })?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let rel = PathBuf::from("dev").join(name);
        root.symlink(Path::new(target), &rel)
            .map_err(|e| Error::io(format!("cannot create {}", quote(root.host(&rel))), e))?;
    }
    Ok(())
}

pub(crate) const STATE: &str = "debootstrap/state.json";

/// `--foreign`: save what the second stage needs, and a copy of this program.
pub(crate) fn save_first_stage(root: &Root, plan: &Plan) -> Result<()> {
    let json = serde_json::to_vec_pretty(plan)
        .map_err(|e| Error::io("cannot encode the plan", io::Error::other(e)))?;
    write_file(root, STATE, &json, 0o644)?;
    let rel = Path::new("debootstrap/debootstrap-rs");
    root.copy_in(Path::new("/proc/self/exe"), rel, 0o755)
        .map_err(|e| {
            Error::io(
                format!("cannot copy this program to {}", quote(root.host(rel))),
                e,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_usr_moves_real_directories_and_links_them() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path();
        fs::create_dir_all(t.join("usr/bin")).unwrap();
        fs::create_dir_all(t.join("bin")).unwrap();
        fs::write(t.join("bin/sh"), b"x").unwrap();
        fs::create_dir_all(t.join("lib64")).unwrap();
        fs::write(t.join("lib64/ld.so"), b"y").unwrap();
        std::os::unix::fs::symlink("usr/sbin", t.join("sbin")).unwrap();
        let root = Root::open(t).unwrap();
        merge_usr(&root).unwrap();
        assert_eq!(fs::read_link(t.join("bin")).unwrap(), Path::new("usr/bin"));
        assert_eq!(
            fs::read_link(t.join("lib64")).unwrap(),
            Path::new("usr/lib64")
        );
        assert_eq!(
            fs::read_link(t.join("sbin")).unwrap(),
            Path::new("usr/sbin")
        );
        assert_eq!(fs::read(t.join("usr/bin/sh")).unwrap(), b"x");
        assert_eq!(fs::read(t.join("usr/lib64/ld.so")).unwrap(), b"y");
        assert!(!t.join("lib32").exists());
        // A file in both places is an error, as in debootstrap.
        fs::remove_file(t.join("bin")).unwrap();
        fs::create_dir(t.join("bin")).unwrap();
        fs::write(t.join("bin/sh"), b"z").unwrap();
        let e = merge_usr(&root).unwrap_err();
        assert!(e.to_string().starts_with("cannot merge"), "{e}");
    }
}
