//! The shipped tools: which package builds which binaries, and where the chores that
//! read the binaries (man, completions, deb) find them.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::cargo;

/// A Cargo package and the binaries it ships.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub package: &'static str,
    pub bins: &'static [&'static str],
}

/// Every tool, in the order the pages and packages are made.
pub const TOOLS: &[Tool] = &[
    Tool {
        package: "chroot-rs",
        bins: &["chroot-rs"],
    },
    Tool {
        package: "debootstrap-rs",
        bins: &["debootstrap-rs"],
    },
    Tool {
        package: "nsenter-rs",
        bins: &["nsenter-rs", "unshare-rs"],
    },
    Tool {
        package: "cgctl",
        bins: &["cgctl"],
    },
    Tool {
        package: "netlink-tool",
        bins: &["netlink-tool"],
    },
    Tool {
        package: "ptyhold",
        bins: &["ptyhold"],
    },
];

/// Every binary of every tool.
pub fn all_bins() -> impl Iterator<Item = &'static str> {
    TOOLS.iter().flat_map(|t| t.bins.iter().copied())
}

/// The options the man, completions and deb chores share.
#[derive(Debug, Default)]
pub struct Opts {
    /// `--bin-dir DIR`: the built binaries (nothing is built).
    pub bin_dir: Option<PathBuf>,
    /// `--out DIR`: where to write.
    pub out: Option<PathBuf>,
}

impl Opts {
    pub fn parse(args: &[String], usage: &str) -> Result<Opts> {
        let mut o = Opts::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let value = |it: &mut std::slice::Iter<String>| -> Result<PathBuf> {
                it.next()
                    .map(PathBuf::from)
                    .with_context(|| format!("{a} needs a directory; usage: {usage}"))
            };
            match a.as_str() {
                "--bin-dir" => o.bin_dir = Some(absolute(&value(&mut it)?)?),
                "--out" => o.out = Some(absolute(&value(&mut it)?)?),
                _ => bail!("unexpected '{a}'; usage: {usage}"),
            }
        }
        Ok(o)
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// The directory of the tools' binaries: `--bin-dir`, or a debug build of the tools'
/// packages (what the test run builds too, so usually nothing to do).
pub fn bin_dir(opts: &Opts) -> Result<PathBuf> {
    if let Some(d) = &opts.bin_dir {
        for b in all_bins() {
            if !d.join(b).is_file() {
                bail!("{} has no {b}", d.display());
            }
        }
        return Ok(d.clone());
    }
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--bins",
        "--message-format=json-render-diagnostics",
    ]);
    for t in TOOLS {
        cmd.args(["-p", t.package]);
    }
    eprintln!("xtask: building the tools' binaries");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo build")?;
    if !out.status.success() {
        bail!("cargo build failed ({})", out.status);
    }
    let mut dir = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(exe) = msg.get("executable").and_then(|e| e.as_str()) {
            dir = Path::new(exe).parent().map(Path::to_path_buf);
        }
    }
    dir.context("cargo build named no executable")
}
