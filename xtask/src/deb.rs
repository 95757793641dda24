//! `cargo xtask deb [--bin-dir DIR] [--out DIR]`: one Debian package per tool and one for
//! the manager (`ctn`: ctn, the lxc-* front-ends, vzctl, vzlist), in `target/debian/`.
//!
//! Each package is a tree staged here and written by `dpkg-deb --build`: the binaries
//! (the release binaries of `dist`, static where they can be, unless `--bin-dir`
//! names others), their man pages and bash, zsh and fish completions, and in
//! `/usr/share/doc/PKG` the copyright file (the workspace's licence, and the licence of
//! each crate linked in), the Debian changelog made from CHANGELOG.md's entries for the
//! package, and its README. `Depends` is what dpkg-shlibdeps finds the binaries linked
//! to (nothing for a static binary), with the package's `[package.metadata.deb]`
//! `depends` taking precedence for the same package; the summary, section and priority
//! come from that table too. The manager's package is described in [`ctn_package`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::completions::{self, SHELLS};
use crate::man::{self, LXC_FRONTENDS};
use crate::tools::{self, Opts, TOOLS};
use crate::{cargo, dist};

/// Who answers for the packages: the project's own identity, as its history names it.
pub const MAINTAINER: &str =
    "container-toolkit maintainers <maintainers@users.noreply.r-seed-b59c20fe.example>";

/// The copyright holder of the workspace's code.
const COPYRIGHT: &str = "2026 container-toolkit maintainers";

/// One package to build.
#[derive(Debug)]
struct Package {
    name: String,
    version: String,
    /// `amd64`…, or `all`.
    arch: String,
    section: String,
    priority: String,
    summary: String,
    description: String,
    depends: Vec<String>,
    conflicts: Vec<String>,
    /// `Built-Using`: the source packages whose code is linked in (glibc, for a
    /// static-pie binary against it; musl comes with the Rust toolchain, not a package).
    built_using: Vec<String>,
    /// Files: (path in the package, bytes, mode).
    files: Vec<(String, Vec<u8>, u32)>,
    /// Symbolic links: (path in the package, target).
    links: Vec<(String, String)>,
}

/// Run a command, feeding it `input`, and return its stdout; fail unless it succeeds.
fn pipe(cmd: &mut Command, input: &[u8]) -> Result<Vec<u8>> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    writer.join().expect("writer thread")?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// gzip -9n: no name, no time stamp, the same bytes every time.
fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    pipe(Command::new("gzip").args(["-9n", "-c"]), data)
}

fn host_arch() -> Result<String> {
    let out = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .context("cannot run dpkg --print-architecture")?;
    ensure!(out.status.success(), "dpkg --print-architecture failed");
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// The `Depends` dpkg-shlibdeps finds for `binaries`: (package name, relation) pairs.
fn shlib_depends(binaries: &[PathBuf]) -> Result<Vec<(String, String)>> {
    let dir = tempfile_dir("shlibdeps")?;
    std::fs::create_dir_all(dir.join("debian"))?;
    std::fs::write(
        dir.join("debian/control"),
        "Source: toolkit\n\nPackage: toolkit\nArchitecture: any\n",
    )?;
    let out = Command::new("dpkg-shlibdeps")
        .arg("-O")
        .args(binaries)
        .current_dir(&dir)
        .output()
        .context("cannot run dpkg-shlibdeps (dpkg-dev)")?;
    let _ = std::fs::remove_dir_all(&dir);
    ensure!(
        out.status.success(),
        "dpkg-shlibdeps failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let text = String::from_utf8(out.stdout)?;
    let list = text
        .lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .unwrap_or("");
    Ok(split_relations(list))
}

/// `a (>= 1), b | c` into (first package name, relation) pairs.
fn split_relations(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let name = r
                .split(|c: char| c.is_whitespace() || c == '(' || c == '|')
                .next()
                .unwrap_or(r);
            (name.to_owned(), r.to_owned())
        })
        .collect()
}

/// `found`, with `declared` replacing an entry for the same package and added otherwise.
fn merge_depends(found: Vec<(String, String)>, declared: &str) -> Vec<String> {
    let declared = split_relations(declared);
    let mut out: Vec<String> = found
        .into_iter()
        .filter(|(n, _)| !declared.iter().any(|(d, _)| d == n))
        .map(|(_, r)| r)
        .collect();
    out.extend(declared.into_iter().map(|(_, r)| r));
    out
}

fn tempfile_dir(what: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("xtask-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A Debian description's extended part: lines of at most 79 columns, each begun with a
/// space, paragraphs separated by " .".
fn extended(text: &str) -> String {
    text.split("\n\n")
        .map(|p| {
            wrap(
                &p.split_whitespace().collect::<Vec<_>>().join(" "),
                78,
                " ",
                " ",
            )
        })
        .collect::<Vec<_>>()
        .join("\n .\n")
}

/// `text` in lines of at most `width` columns, the first prefixed with `first`, the
/// others with `rest`.
fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = first.to_owned();
    let mut empty = true;
    for w in text.split_whitespace() {
        if !empty && cur.chars().count() + 1 + w.chars().count() > width {
            lines.push(std::mem::replace(&mut cur, rest.to_owned()));
            empty = true;
        }
        if !empty {
            cur.push(' ');
        }
        cur.push_str(w);
        empty = false;
    }
    lines.push(cur);
    lines.join("\n")
}

/// One release of CHANGELOG.md: version, date, and (package, entry) pairs.
pub type Release = (String, String, Vec<(String, String)>);

/// CHANGELOG.md's releases, newest first. An entry is `- text` under `### PACKAGE` (and
/// a `#### Added` kind of heading, which prefixes its entries).
pub fn changelog_releases(root: &Path) -> Result<Vec<Release>> {
    let text = std::fs::read_to_string(root.join("CHANGELOG.md")).context("CHANGELOG.md")?;
    let mut out: Vec<Release> = Vec::new();
    let mut package = String::new();
    let mut kind = String::new();
    let mut in_release = false;
    for l in text.lines() {
        if let Some(h) = l.strip_prefix("## ") {
            in_release = false;
            // ## [0.2.0] - 2026-12-06
            if let Some((v, d)) = h.split_once(" - ") {
                let v = v.trim_matches(|c| c == '[' || c == ']');
                if v != "Unreleased" {
                    out.push((v.to_owned(), d.trim().to_owned(), Vec::new()));
                    in_release = true;
                }
            }
            package.clear();
        } else if let Some(p) = l.strip_prefix("### ") {
            package = p.trim().to_owned();
            kind.clear();
        } else if let Some(k) = l.strip_prefix("#### ") {
            kind = k.trim().to_owned();
        } else if in_release && let Some(e) = l.strip_prefix("- ") {
            let entry = if kind.is_empty() {
                e.to_owned()
            } else {
                format!("{kind}: {e}")
            };
            out.last_mut()
                .expect("in a release")
                .2
                .push((package.clone(), entry));
        } else if in_release && l.starts_with("  ") && !l.trim().is_empty() {
            // A continuation line of the last entry.
            if let Some(last) = out.last_mut().and_then(|r| r.2.last_mut()) {
                last.1.push(' ');
                last.1.push_str(l.trim());
            }
        }
    }
    Ok(out)
}

/// The Debian changelog of `package` (entries of CHANGELOG.md under its heading and
/// under "All tools"), newest release first; the newest must be `version`.
fn debian_changelog(root: &Path, package: &str, version: &str) -> Result<String> {
    let releases = changelog_releases(root)?;
    ensure!(
        releases.first().is_some_and(|r| r.0 == version),
        "CHANGELOG.md has no section for {version} (the workspace's version) as its latest release"
    );
    let mut out = String::new();
    for (v, date, entries) in &releases {
        let mine: Vec<&String> = entries
            .iter()
            .filter(|(p, _)| p == package || p == "All tools")
            .map(|(_, e)| e)
            .collect();
        if mine.is_empty() && v != version {
            continue;
        }
        let stamp = Command::new("date")
            .args(["-u", "-R", "-d", &format!("{date} 00:00:00")])
            .output()
            .context("date")?;
        ensure!(stamp.status.success(), "CHANGELOG.md: bad date '{date}'");
        out.push_str(&format!("{package} ({v}) unstable; urgency=medium\n\n"));
        if mine.is_empty() {
            out.push_str(&format!(
                "  * No change to {package}: built with the workspace's {v}.\n"
            ));
        }
        for e in mine {
            out.push_str(&wrap(&e.replace('`', ""), 78, "  * ", "    "));
            out.push('\n');
        }
        out.push_str(&format!(
            "\n -- {MAINTAINER}  {}\n\n",
            String::from_utf8(stamp.stdout)?.trim()
        ));
    }
    Ok(out.trim_end().to_owned() + "\n")
}

/// The crates linked into `package`'s binaries (its normal dependencies, transitively)
/// and their licences, from `cargo metadata`.
fn linked_crates(metadata: &Value, package: &str) -> Result<Vec<(String, String, String)>> {
    let packages = metadata["packages"]
        .as_array()
        .context("metadata packages")?;
    let by_id: BTreeMap<&str, &Value> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .context("metadata resolve")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let start = packages
        .iter()
        .find(|p| p["name"] == package && p["source"].is_null())
        .and_then(|p| p["id"].as_str())
        .with_context(|| format!("{package} is not in the workspace"))?;
    // A procedural macro runs in the compiler: neither it nor what it uses is linked.
    let proc_macro = |id: &str| {
        by_id[id]["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| {
                t["kind"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k == "proc-macro")
            })
    };
    let mut seen = BTreeSet::new();
    let mut todo = vec![start];
    while let Some(id) = todo.pop() {
        if proc_macro(id) || !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            if normal && let Some(d) = dep["pkg"].as_str() {
                todo.push(d);
            }
        }
    }
    let mut out: Vec<(String, String, String)> = seen
        .into_iter()
        .filter(|id| by_id[id]["source"].is_string())
        .map(|id| {
            let p = by_id[id];
            (
                p["name"].as_str().unwrap_or("?").to_owned(),
                p["version"].as_str().unwrap_or("?").to_owned(),
                p["license"].as_str().unwrap_or("see the crate").to_owned(),
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

/// /usr/share/doc/PKG/copyright in the machine-readable format.
fn copyright(
    root: &Path,
    crates: &[(String, String, String)],
    links: &[dist::Link],
) -> Result<String> {
    let mit = std::fs::read_to_string(root.join("LICENSE-MIT")).context("LICENSE-MIT")?;
    let mut s = String::from(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
Upstream-Name: container-toolkit\n",
    );
    s.push_str(&format!("Upstream-Contact: {MAINTAINER}\n"));
    // One Comment field: what is linked in besides the workspace's code.
    let mut comment: Vec<String> = Vec::new();
    if links.contains(&dist::Link::Glibc) {
        comment.push(
            "The GNU C Library (glibc, LGPL-2.1+, /usr/share/common-licenses/LGPL-2.1) is"
                .to_owned(),
        );
        comment.push(
            "linked in statically (static-pie): its source is the glibc Built-Using names."
                .to_owned(),
        );
    }
    if links.contains(&dist::Link::Musl) {
        if !comment.is_empty() {
            comment.push(".".to_owned());
        }
        comment.push(
            "The musl C library (MIT) is linked in statically (static-pie), from the".to_owned(),
        );
        comment.push("self-contained musl target of the Rust toolchain.".to_owned());
    }
    if !crates.is_empty() {
        if !comment.is_empty() {
            comment.push(".".to_owned());
        }
        comment.push(
            "The binaries link these Rust crates statically (crate version: licence):".to_owned(),
        );
        comment.extend(crates.iter().map(|(n, v, l)| format!("{n} {v}: {l}")));
    }
    if let Some((first, rest)) = comment.split_first() {
        s.push_str(&format!("Comment: {first}\n"));
        for l in rest {
            s.push_str(&format!(" {l}\n"));
        }
    }
    s.push_str(&format!(
        "\nFiles: *\nCopyright: {COPYRIGHT}\nLicense: MIT or Apache-2.0\n\nLicense: MIT\n"
    ));
    for l in mit.lines().skip_while(|l| !l.starts_with("Permission")) {
        if l.trim().is_empty() {
            s.push_str(" .\n");
        } else {
            s.push_str(&format!(" {}\n", l.trim_end()));
        }
    }
    s.push_str(
        "\nLicense: Apache-2.0\n Licensed under the Apache License, Version 2.0 (the \"License\"); you may not\n \
use this software except in compliance with the License. Unless required by\n \
applicable law or agreed to in writing, software distributed under the License\n \
is distributed on an \"AS IS\" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY\n \
KIND, either express or implied.\n .\n \
On Debian systems, the complete text of the Apache License, Version 2.0 can be\n \
found in \"/usr/share/common-licenses/Apache-2.0\".\n",
    );
    Ok(s)
}

/// The doc files every package has: copyright, changelog.gz, README.
fn doc_files(
    pkg: &mut Package,
    root: &Path,
    crates: &[(String, String, String)],
    links: &[dist::Link],
    readme: &Path,
) -> Result<()> {
    let doc = format!("usr/share/doc/{}", pkg.name);
    pkg.files.push((
        format!("{doc}/copyright"),
        copyright(root, crates, links)?.into_bytes(),
        0o644,
    ));
    let changelog = debian_changelog(root, &pkg.name, &pkg.version)?;
    pkg.files.push((
        format!("{doc}/changelog.gz"),
        gzip(changelog.as_bytes())?,
        0o644,
    ));
    let readme_text = std::fs::read(readme).with_context(|| readme.display().to_string())?;
    if readme_text.len() > 4096 {
        pkg.files
            .push((format!("{doc}/README.md.gz"), gzip(&readme_text)?, 0o644));
    } else {
        pkg.files
            .push((format!("{doc}/README.md"), readme_text, 0o644));
    }
    Ok(())
}

/// The pages and completions of `bins`, staged for a package.
fn man_and_completions(
    pkg: &mut Package,
    pages: &[(String, String, String)],
    bins_dir: &Path,
    names: &[&str],
) -> Result<()> {
    for (sect, file, text) in pages {
        let stem = file.rsplit_once('.').map_or(file.as_str(), |(s, _)| s);
        if names.contains(&stem) {
            pkg.files.push((
                format!("usr/share/man/man{sect}/{file}.gz"),
                gzip(text.as_bytes())?,
                0o644,
            ));
        }
    }
    for bin in names {
        for (shell, dir) in SHELLS {
            let path = match *dir {
                "bash" => "usr/share/bash-completion/completions",
                "zsh" => "usr/share/zsh/vendor-completions",
                _ => "usr/share/fish/vendor_completions.d",
            };
            pkg.files.push((
                format!("{path}/{}", completions::file_name(dir, bin)),
                completions::generate(bins_dir, bin, *shell)?,
                0o644,
            ));
        }
    }
    Ok(())
}

/// The binary at `path` without symbols and debugging information, as Debian ships
/// binaries (the debug build's too: its symbols are most of its size).
fn stripped(path: &Path) -> Result<Vec<u8>> {
    let dir = tempfile_dir("strip")?;
    let out = dir.join("bin");
    let status = Command::new("strip")
        .args([
            "--strip-unneeded",
            "--remove-section=.comment",
            "--remove-section=.note",
            "-o",
        ])
        .arg(&out)
        .arg(path)
        .status()
        .context("cannot run strip (binutils)")?;
    ensure!(status.success(), "strip {} failed", path.display());
    let bytes = std::fs::read(&out)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(bytes)
}

/// `cargo metadata` as linked against each C library.
#[derive(Clone, Copy)]
struct Metadata<'a> {
    glibc: &'a Value,
    musl: &'a Value,
}

/// A tool's package: its binaries from `bins_dir`, metadata from Cargo.
fn tool_package(
    root: &Path,
    metadata: Metadata<'_>,
    tool: &tools::Tool,
    bins_dir: &Path,
    pages: &[(String, String, String)],
    arch: &str,
) -> Result<Package> {
    let p = metadata.glibc["packages"]
        .as_array()
        .and_then(|ps| {
            ps.iter()
                .find(|p| p["name"] == tool.package && p["source"].is_null())
        })
        .with_context(|| format!("no package {} in cargo metadata", tool.package))?;
    let deb = &p["metadata"]["deb"];
    let field = |k: &str| deb[k].as_str().map(str::to_owned);
    let summary = field("summary")
        .with_context(|| format!("{}: no [package.metadata.deb] summary", tool.package))?;
    let binaries: Vec<PathBuf> = tool.bins.iter().map(|b| bins_dir.join(b)).collect();
    let mut pkg = Package {
        name: tool.package.to_owned(),
        version: p["version"].as_str().context("version")?.to_owned(),
        arch: arch.to_owned(),
        section: field("section").unwrap_or_else(|| "admin".to_owned()),
        priority: field("priority").unwrap_or_else(|| "optional".to_owned()),
        summary,
        description: p["description"].as_str().unwrap_or("").to_owned(),
        depends: merge_depends(
            shlib_depends(&binaries)?,
            &field("depends").unwrap_or_default(),
        ),
        conflicts: Vec::new(),
        built_using: Vec::new(),
        files: Vec::new(),
        links: Vec::new(),
    };
    let links = binaries
        .iter()
        .map(|p| linked(p))
        .collect::<Result<Vec<_>>>()?;
    if links.contains(&dist::Link::Glibc) {
        pkg.built_using.push(static_libc_source()?);
    }
    let mut overrides = String::new();
    for ((bin, path), link) in tool.bins.iter().zip(&binaries).zip(&links) {
        pkg.files
            .push((format!("usr/bin/{bin}"), stripped(path)?, 0o755));
        if link.is_static() {
            overrides.push_str(&format!(
                "# static-pie: a position-independent executable that needs no shared library\n\
{}: shared-library-lacks-prerequisites [usr/bin/{bin}]\n",
                tool.package
            ));
        }
    }
    if tool.package == "debootstrap-rs" {
        overrides.push_str(
            "# It writes the dpkg database of the root it builds, as debootstrap does.\n\
debootstrap-rs: uses-dpkg-database-directly [usr/bin/debootstrap-rs]\n",
        );
    }
    if !overrides.is_empty() {
        pkg.files.push((
            format!("usr/share/lintian/overrides/{}", tool.package),
            overrides.into_bytes(),
            0o644,
        ));
    }
    man_and_completions(&mut pkg, pages, bins_dir, tool.bins)?;
    let graph = if links.contains(&dist::Link::Musl) {
        metadata.musl
    } else {
        metadata.glibc
    };
    let crates = linked_crates(graph, tool.package)?;
    doc_files(
        &mut pkg,
        root,
        &crates,
        &links,
        &root.join(tool.package).join("README.md"),
    )?;
    Ok(pkg)
}

/// How a binary is linked ([`dist::link_of`]).
fn linked(path: &Path) -> Result<dist::Link> {
    let elf = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    dist::link_of(&elf).with_context(|| format!("{}: not a 64-bit ELF executable", path.display()))
}

/// The source package of the static C library linked in: `glibc (= VERSION)`.
fn static_libc_source() -> Result<String> {
    let out = Command::new("dpkg-query")
        .args([
            "-W",
            "-f=${source:Package} (= ${source:Version})",
            "libc6-dev",
        ])
        .output()
        .context("cannot run dpkg-query")?;
    ensure!(
        out.status.success(),
        "libc6-dev is not installed: it is what static binaries link"
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// The manager's package: POSIX shell scripts (architecture all) over the tools' packages
/// of the same version. The lxc-* names are links to one script, installed in
/// /usr/libexec/ctn: it finds ctn beside the name it is called by (/usr/bin). It
/// conflicts with LXC's own package, which ships the same command names.
fn ctn_package(root: &Path, version: &str, pages: &[(String, String, String)]) -> Result<Package> {
    let mut depends: Vec<String> = TOOLS
        .iter()
        .map(|t| format!("{} (= {version})", t.package))
        .collect();
    // column (bsdextrautils), tar --zstd (zstd), a disk of its own (mkfs.ext4, resize2fs,
    // e2fsck and dumpe2fs in e2fsprogs; mount and losetup in mount); flock, setsid and
    // the rest are in essential packages (util-linux, coreutils, tar, sed, grep, dpkg),
    // awk is de facto essential (lintian: needlessly-depends-on-awk).
    depends.extend(["bsdextrautils", "zstd", "e2fsprogs", "mount"].map(str::to_owned));
    let mut pkg = Package {
        name: "ctn".to_owned(),
        version: version.to_owned(),
        arch: "all".to_owned(),
        section: "admin".to_owned(),
        priority: "optional".to_owned(),
        summary: "container manager with LXC's and OpenVZ's command lines".to_owned(),
        description: "ctn is the container manager a container course teaches with, \
made only of the toolkit's tools: debootstrap-rs builds the root filesystem, cgctl \
the cgroup, unshare-rs the namespaces, chroot-rs the root, netlink-tool the network, \
ptyhold the console and nsenter-rs attach. It is a POSIX shell program meant to be \
read, and ctn -x prints every tool call.\n\nThe package also installs LXC's commands \
(lxc-create, lxc-start, lxc-console, lxc-attach, lxc-stop, lxc-destroy and others) \
and OpenVZ's vzctl and vzlist as front-ends of ctn. Containers are unprivileged by \
default."
            .to_owned(),
        depends,
        conflicts: vec!["lxc".to_owned()],
        built_using: Vec::new(),
        files: Vec::new(),
        links: Vec::new(),
    };
    for script in ["ctn", "vzctl", "vzlist"] {
        pkg.files.push((
            format!("usr/bin/{script}"),
            std::fs::read(root.join("ctn").join(script))?,
            0o755,
        ));
    }
    pkg.files.push((
        "usr/libexec/ctn/lxc".to_owned(),
        std::fs::read(root.join("ctn/lxc"))?,
        0o755,
    ));
    for fe in LXC_FRONTENDS {
        pkg.links
            .push((format!("usr/bin/{fe}"), "../libexec/ctn/lxc".to_owned()));
        pkg.links.push((
            format!("usr/share/man/man8/{fe}.8.gz"),
            "ctn-lxc.8.gz".to_owned(),
        ));
    }
    for (sect, file, text) in pages {
        if ["ctn.8", "ctn.conf.5", "ctn-lxc.8", "vzctl.8", "vzlist.8"].contains(&file.as_str()) {
            pkg.files.push((
                format!("usr/share/man/man{sect}/{file}.gz"),
                gzip(text.as_bytes())?,
                0o644,
            ));
        }
    }
    pkg.files.push((
        "usr/share/bash-completion/completions/ctn".to_owned(),
        std::fs::read(root.join("completions/ctn.bash"))?,
        0o644,
    ));
    for name in completions::manager_commands().filter(|n| *n != "ctn") {
        pkg.links.push((
            format!("usr/share/bash-completion/completions/{name}"),
            "ctn".to_owned(),
        ));
    }
    doc_files(&mut pkg, root, &[], &[], &root.join("ctn/README.md"))?;
    Ok(pkg)
}

/// The time stamp of every staged file: SOURCE_DATE_EPOCH, else the last commit's.
fn epoch(root: &Path) -> String {
    if let Ok(e) = std::env::var("SOURCE_DATE_EPOCH") {
        return e;
    }
    Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "0".to_owned(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        )
}

/// Stage `pkg` under `stage` and write `out/NAME_VERSION_ARCH.deb`.
fn build(pkg: &Package, stage: &Path, out: &Path, epoch: &str) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(stage);
    std::fs::create_dir_all(stage.join("DEBIAN"))?;
    let mut size_kib = 0u64;
    let mut md5 = Vec::new();
    for (path, bytes, mode) in &pkg.files {
        let dest = stage.join(path);
        std::fs::create_dir_all(dest.parent().expect("a file in a directory"))?;
        std::fs::write(&dest, bytes)?;
        std::fs::set_permissions(
            &dest,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(*mode),
        )?;
        size_kib += (bytes.len() as u64).div_ceil(1024);
        md5.push(path.clone());
    }
    for (path, target) in &pkg.links {
        let dest = stage.join(path);
        std::fs::create_dir_all(dest.parent().expect("a link in a directory"))?;
        std::os::unix::fs::symlink(target, &dest)?;
        size_kib += 1;
    }
    let sums = Command::new("md5sum")
        .args(&md5)
        .current_dir(stage)
        .output()
        .context("md5sum")?;
    ensure!(sums.status.success(), "md5sum failed");
    std::fs::write(stage.join("DEBIAN/md5sums"), sums.stdout)?;
    let mut control = format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: {MAINTAINER}\nInstalled-Size: {size_kib}\n",
        pkg.name, pkg.version, pkg.arch
    );
    if !pkg.depends.is_empty() {
        control.push_str(&format!("Depends: {}\n", pkg.depends.join(", ")));
    }
    if !pkg.conflicts.is_empty() {
        control.push_str(&format!("Conflicts: {}\n", pkg.conflicts.join(", ")));
    }
    if !pkg.built_using.is_empty() {
        control.push_str(&format!("Built-Using: {}\n", pkg.built_using.join(", ")));
    }
    control.push_str(&format!(
        "Section: {}\nPriority: {}\nDescription: {}\n{}\n",
        pkg.section,
        pkg.priority,
        pkg.summary,
        extended(&pkg.description)
    ));
    std::fs::write(stage.join("DEBIAN/control"), control)?;
    // One time stamp for every path, so that two builds of one tree are identical.
    let touch = Command::new("find")
        .arg(stage)
        .args([
            "-exec",
            "touch",
            "-h",
            "-d",
            &format!("@{epoch}"),
            "{}",
            "+",
        ])
        .status()
        .context("find -exec touch")?;
    ensure!(touch.success(), "cannot set the staged files' time stamps");
    std::fs::create_dir_all(out)?;
    let deb = out.join(format!("{}_{}_{}.deb", pkg.name, pkg.version, pkg.arch));
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(stage)
        .arg(&deb)
        .env("SOURCE_DATE_EPOCH", epoch)
        .stdout(Stdio::null())
        .status()
        .context("cannot run dpkg-deb")?;
    ensure!(status.success(), "dpkg-deb --build {} failed", pkg.name);
    let _ = std::fs::remove_dir_all(stage);
    Ok(deb)
}

/// Every package, written to `out`, from the binaries in `bins`. Returns their paths.
pub fn write(root: &Path, bins: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    // The dependency graph as linked for the host (glibc), and for its musl twin (a
    // binary built against musl links the crates of that target, its allocator among
    // them): each package's copyright lists what its binaries have in them.
    let host = dist::host_triple()?;
    let metadata = |triple: &str| -> Result<Value> {
        let o = cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--locked",
                "--filter-platform",
                triple,
            ])
            .current_dir(root)
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run cargo metadata")?;
        ensure!(
            o.status.success(),
            "cargo metadata --filter-platform {triple} failed"
        );
        Ok(serde_json::from_slice(&o.stdout)?)
    };
    let glibc = metadata(&host)?;
    let musl = match dist::musl_twin(&host) {
        Some(twin) => metadata(&twin)?,
        None => glibc.clone(),
    };
    let metadata = Metadata {
        glibc: &glibc,
        musl: &musl,
    };
    let pages = man::all(root, bins)?;
    let arch = host_arch()?;
    let version = man::workspace_version(root)?;
    let epoch = epoch(root);
    let mut packages = Vec::new();
    for tool in TOOLS {
        let pkg = tool_package(root, metadata, tool, bins, &pages, &arch)?;
        ensure!(
            pkg.version == version,
            "{} is at {}, the workspace at {version}",
            pkg.name,
            pkg.version
        );
        packages.push(pkg);
    }
    packages.push(ctn_package(root, &version, &pages)?);
    let mut debs = Vec::new();
    for pkg in &packages {
        let deb = build(pkg, &out.join(format!(".stage-{}", pkg.name)), out, &epoch)?;
        eprintln!("xtask: wrote {}", deb.display());
        debs.push(deb);
    }
    Ok(debs)
}

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let opts = Opts::parse(args, "cargo xtask deb [--bin-dir DIR] [--out DIR]")?;
    let bins = match &opts.bin_dir {
        Some(_) => tools::bin_dir(&opts)?,
        None => {
            let packages: Vec<&str> = TOOLS.iter().map(|t| t.package).collect();
            dist::build(root, &packages)?
        }
    };
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/debian"));
    write(root, &bins, &out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_merge_by_package() {
        let found = split_relations("libc6 (>= 2.34), libnftnl11 (>= 1.1.2)");
        assert_eq!(found[1].0, "libnftnl11");
        assert_eq!(
            merge_depends(found, "libnftnl11 (>= 1.2.4)"),
            ["libc6 (>= 2.34)", "libnftnl11 (>= 1.2.4)"]
        );
        assert_eq!(split_relations("mawk | awk")[0].0, "mawk");
    }

    #[test]
    fn descriptions_wrap_in_debian_form() {
        let e = extended(&format!("{}\n\nSecond.", "word ".repeat(40)));
        assert!(
            e.lines().all(|l| l.starts_with(' ') && l.len() <= 79),
            "{e}"
        );
        assert!(e.contains("\n .\n Second."), "{e}");
    }

    #[test]
    fn changelog_has_the_workspace_version_first() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let v = man::workspace_version(&root).unwrap();
        let releases = changelog_releases(&root).unwrap();
        assert_eq!(releases[0].0, v);
        for t in TOOLS {
            let c = debian_changelog(&root, t.package, &v).unwrap();
            assert!(
                c.starts_with(&format!(
                    "{} ({v}) unstable; urgency=medium\n\n  * ",
                    t.package
                )),
                "{c}"
            );
            // Entries wrap at 80 columns (the trailer's width is the maintainer's).
            assert!(
                c.lines()
                    .filter(|l| !l.starts_with(" -- "))
                    .all(|l| l.chars().count() <= 80),
                "{c}"
            );
        }
    }
}
