//! qemu for the VM lane: the installed `qemu-system-x86_64` when there is one (a plain
//! Debian machine can `apt-get install qemu-system-x86`), otherwise Debian's packages
//! fetched with `apt-get download` and unpacked into the cache with `dpkg-deb -x`, with
//! the shared libraries the host lacks unpacked beside them. Nothing is installed: on the
//! course's machines a backports qemu-utils conflicts with qemu-system-x86.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::sh;

/// How to run qemu.
#[derive(Debug)]
pub struct Qemu {
    /// The qemu-system-x86_64 binary.
    pub bin: PathBuf,
    /// Extra library directories (LD_LIBRARY_PATH) for an unpacked qemu.
    pub lib_dirs: Vec<PathBuf>,
    /// Firmware directories (`-L`) for an unpacked qemu.
    pub data_dirs: Vec<PathBuf>,
}

impl Qemu {
    /// A command running qemu with its libraries and firmware found.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        if !self.lib_dirs.is_empty() {
            let joined = std::env::join_paths(&self.lib_dirs).expect("paths without ':'");
            cmd.env("LD_LIBRARY_PATH", joined);
        }
        for d in &self.data_dirs {
            cmd.arg("-L").arg(d);
        }
        cmd
    }
}

const ROOTS: &[&str] = &[
    "qemu-system-x86",
    "qemu-system-common",
    "qemu-system-data",
    "seabios",
    "ipxe-qemu",
];

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("install ok installed"))
}

/// The packages `package` depends on (first of each set of alternatives).
fn depends(package: &str) -> Result<Vec<String>> {
    let out = Command::new("apt-cache")
        .args([
            "depends",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            package,
        ])
        .output()
        .context("cannot run apt-cache")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim_start().trim_start_matches('|');
            // Alternatives ("|Depends:" before the last) are all taken: fetching one
            // too many is cheaper than guessing which the host lacks.
            l.strip_prefix("Depends: ")
                .or_else(|| l.strip_prefix("PreDepends: "))
        })
        .filter(|p| !p.starts_with('<')) // virtual packages
        .map(|p| p.split(':').next().unwrap_or(p).to_owned())
        .collect())
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Find or unpack qemu.
pub fn ensure(cache: &Path) -> Result<Qemu> {
    if let Some(bin) = std::env::var_os("QEMU")
        .map(PathBuf::from)
        .or_else(|| on_path("qemu-system-x86_64"))
    {
        return Ok(Qemu {
            bin,
            lib_dirs: Vec::new(),
            data_dirs: Vec::new(),
        });
    }
    let dir = cache.join("qemu");
    let ready = dir.join(".ready");
    if !ready.is_file() {
        // The qemu packages, and every dependency not installed on the host, a few levels down.
        let mut wanted: BTreeSet<String> = ROOTS.iter().map(|s| (*s).to_owned()).collect();
        let mut frontier: Vec<String> = wanted.iter().cloned().collect();
        for _ in 0..4 {
            let mut next = Vec::new();
            for p in &frontier {
                for d in depends(p)? {
                    if !installed(&d) && wanted.insert(d.clone()) {
                        next.push(d);
                    }
                }
            }
            frontier = next;
        }
        let work = cache.join("qemu-download");
        let _ = fs::remove_dir_all(&work);
        fs::create_dir_all(&work)?;
        eprintln!(
            "xtask: fetching qemu (once; unpacked in {}): {}",
            dir.display(),
            wanted.iter().cloned().collect::<Vec<_>>().join(" ")
        );
        sh(Command::new("apt-get")
            .arg("download")
            .arg("-q")
            .args(&wanted)
            .current_dir(&work))?;
        let _ = fs::remove_dir_all(&dir);
        for deb in fs::read_dir(&work)? {
            let deb = deb?.path();
            if deb.extension().is_some_and(|x| x == "deb") {
                sh(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&dir))?;
            }
        }
        fs::remove_dir_all(&work)?;
        fs::write(&ready, "")?;
    }
    let q = Qemu {
        bin: dir.join("usr/bin/qemu-system-x86_64"),
        lib_dirs: vec![
            dir.join("usr/lib/x86_64-linux-gnu"),
            dir.join("lib/x86_64-linux-gnu"),
        ],
        data_dirs: vec![
            dir.join("usr/share/seabios"),
            dir.join("usr/share/qemu"),
            dir.join("usr/lib/ipxe/qemu"),
        ],
    };
    // Every library must resolve, or qemu fails later with a less clear message.
    let mut ldd = Command::new("ldd");
    ldd.arg(&q.bin)
        .env("LD_LIBRARY_PATH", std::env::join_paths(&q.lib_dirs)?);
    let out = ldd.output().context("cannot run ldd")?;
    let missing: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("not found"))
        .map(|l| l.trim().to_owned())
        .collect();
    if !missing.is_empty() {
        bail!("the unpacked qemu lacks libraries: {}", missing.join("; "));
    }
    Ok(q)
}
