//! `cargo xtask demo`: the course's container lab, run with the toolkit's tools and the
//! shell scripts in `examples/` (the LXC session: create, start, attach, info, ls, stop,
//! destroy).
//!
//! It leaves the machine as it found it: the "host" side of the containers' network is
//! a network namespace the demo makes (`CTN_HOST_NS`), the cgroups live below the demo's
//! own (`CGCTL_PARENT=self`), the containers' state is in a temporary directory, and
//! everything is destroyed at the end, also when a step fails. Only the Debian template
//! (built once by debootstrap-rs) stays, in the cache, for the next run.
//!
//! `DEMO_ROOTFS=busybox` uses a busybox root filesystem instead of Debian (no network).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::{cache_dir, sh};

/// The Debian packages added to minbase, so that the lab has ps, ip and ping.
const INCLUDE: &str = "procps,iproute2,iputils-ping";

struct Lab<'a> {
    bin: PathBuf,
    examples: PathBuf,
    /// The containers' state (a fresh temporary directory that outlives the Lab, so that
    /// its Drop can still destroy what is in it).
    state: &'a Path,
    host_ns: String,
    template: Option<PathBuf>,
    rootfs: Option<PathBuf>,
    created: Vec<&'static str>,
}

impl Lab<'_> {
    /// Run one example script, echoing it like a shell session.
    fn example(&self, script: &str, args: &[&str]) -> Result<()> {
        let mut cmd = Command::new(self.examples.join(script));
        cmd.args(args)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.bin.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("CTN_ROOT", self.state.join("lib"))
            .env("CTN_RUN", self.state.join("run"))
            .env("CTN_HOST_NS", &self.host_ns)
            .env("CGCTL_PARENT", "self");
        if let Some(t) = &self.template {
            cmd.env("CTN_TEMPLATE", t);
        }
        if let Some(r) = &self.rootfs {
            cmd.env("CTN_ROOTFS_FROM", r);
        }
        eprintln!("\n$ examples/{script} {}", shell_words(args));
        let status = cmd
            .status()
            .with_context(|| format!("cannot run examples/{script}"))?;
        anyhow::ensure!(status.success(), "examples/{script} failed ({status})");
        Ok(())
    }

    fn tool(&self, tool: &str, args: &[&str]) -> Result<()> {
        eprintln!("\n$ {tool} {}", args.join(" "));
        sh(Command::new(self.bin.join(tool))
            .args(args)
            .env("CGCTL_PARENT", "self"))
    }
}

impl Drop for Lab<'_> {
    fn drop(&mut self) {
        for name in self.created.clone() {
            let _ = self.example("ctn-destroy", &[name]);
        }
        let _ = Command::new(self.bin.join("netlink-tool"))
            .args(["netns", "del", &self.host_ns])
            .status();
    }
}

/// Arguments as a shell would need them typed: words with spaces or quotes quoted.
fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$;|&<>()".contains(c))
            {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                (*a).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn section(title: &str) {
    eprintln!("\n== {title}");
}

/// The Debian template: built once with debootstrap-rs, a reproducible tarball.
fn debian_template(bin: &Path) -> Result<PathBuf> {
    let dir = cache_dir().join("demo");
    std::fs::create_dir_all(&dir)?;
    let template = dir.join("bookworm-minbase.tar.zst");
    if !template.is_file() {
        section(
            "a Debian template, once: debootstrap-rs (signed mirror from the host's apt sources)",
        );
        let partial = dir.join("bookworm-minbase.partial.tar.zst");
        sh(Command::new(bin.join("debootstrap-rs"))
            .args([
                "--variant=minbase",
                &format!("--include={INCLUDE}"),
                "--cache-dir",
            ])
            .arg(dir.join("debs"))
            .arg("bookworm")
            .arg(&partial))?;
        std::fs::rename(&partial, &template)?;
    }
    Ok(template)
}

pub fn run(root: &Path, _args: &[String]) -> Result<()> {
    section("building the tools");
    let bin = crate::dist::build(root, &[])?;
    let busybox = std::env::var("DEMO_ROOTFS").is_ok_and(|v| v == "busybox");
    let (template, rootfs) = if busybox {
        let r = cache_dir().join("demo-busybox-rootfs");
        if !r.join("bin/busybox").is_file() {
            integration::rootfs::build(&r);
        }
        (None, Some(r))
    } else {
        (Some(debian_template(&bin)?), None)
    };
    // A fresh, unpredictable name (the demo runs as root; a fixed /tmp name could be
    // made in advance by someone else).
    let state = integration::tempdir();
    let mut lab = Lab {
        examples: root.join("examples"),
        state: state.path(),
        host_ns: format!("labhost{}", std::process::id()),
        bin,
        template,
        rootfs,
        created: Vec::new(),
    };

    section("a network namespace that plays the host (the machine's own is left alone)");
    lab.tool("netlink-tool", &["netns", "add", &lab.host_ns])?;

    section("create two containers: rootfs, cgroup with limits, netns, veth on a bridge");
    for (name, n) in [("web", "2"), ("db", "3")] {
        lab.created.push(name);
        lab.example("ctn-create", &[name, n])?;
    }
    section(
        "start them: cgctl exec -> nsenter-rs --net -> unshare-rs --fork --pid … -> chroot-rs --pivot --api-fs",
    );
    lab.example("ctn-start", &["web"])?;
    lab.example("ctn-start", &["db"])?;
    lab.example("ctn-ls", &[])?;

    section("inside web: its hostname, its processes only, its own root, the network");
    lab.example("ctn-attach", &["web", "hostname"])?;
    lab.example("ctn-attach", &["web", "ps", "-e", "-o", "pid,comm"])?;
    lab.example(
        "ctn-attach",
        &[
            "web",
            "sh",
            "-c",
            "head -1 /etc/os-release 2>/dev/null; ip addr show eth0",
        ],
    )?;
    lab.example("ctn-attach", &["web", "ping", "-c", "2", "10.0.3.3"])?;

    section("accounting and limits, the same words on cgroup v1 and v2");
    lab.example("ctn-info", &["web"])?;
    lab.tool("cgctl", &["set", "web", "memory.limit_in_bytes=268435456"])?;
    lab.tool(
        "cgctl",
        &["get", "web", "memory.max", "memory.limit_in_bytes"],
    )?;
    lab.tool("cgctl", &["freeze", "web"])?;
    lab.tool("cgctl", &["thaw", "web"])?;

    if std::io::stdin().is_terminal() {
        section("a shell in web (exit to go on)");
        lab.example("ctn-attach", &["web"])?;
    }

    section("stop and destroy: nothing is left");
    lab.example("ctn-stop", &["web"])?;
    lab.example("ctn-ls", &[])?;
    // One at a time, each forgotten once gone: if one fails, Drop still tries the rest.
    while let Some(&name) = lab.created.first() {
        lab.example("ctn-destroy", &[name])?;
        lab.created.remove(0);
    }
    lab.example("ctn-ls", &[])?;
    Ok(())
}
