//! The Debian packages of `cargo xtask deb`, made from the binaries this test run uses:
//! each is well formed (control fields, man pages, completions, copyright, a changelog
//! dpkg can parse), installs with `dpkg --root … -i` into a fresh Debian 12 root made by
//! debootstrap-rs, and its binaries run there: `--version`, and one real command each.
//!
//! `TOOLKIT_DEB_DIR=DIR` tests the packages in DIR instead (`cargo xtask deb`'s
//! `target/debian`, with the static release binaries).
//!
//! The root is a bookworm minbase with the packages' dependencies outside the toolkit
//! (what apt would install first), built once from the mirror of the host's apt sources
//! and kept as a tarball under `$TOOLKIT_CACHE/packaging`; every run unpacks a fresh copy
//! in a temporary directory. The binaries run in it through chroot-rs --pivot (a private
//! mount namespace: nothing shows on the host); networking only in a namespace made
//! there; a cgroup only below the test's own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration::debmirror::{Archive, Key, Package, Server};
use integration::{Output, bin, cmd, require_root, run, run_with_timeout};

/// The packages, in the order they install (ctn depends on the others).
const PACKAGES: &[(&str, &[&str])] = &[
    ("chroot-rs", &["chroot-rs"]),
    ("debootstrap-rs", &["debootstrap-rs"]),
    ("nsenter-rs", &["nsenter-rs", "unshare-rs"]),
    ("cgctl", &["cgctl"]),
    ("netlink-tool", &["netlink-tool"]),
    ("ptyhold", &["ptyhold"]),
    ("ctn", &["ctn", "vzctl", "vzlist"]),
];

const LONG: Duration = Duration::from_secs(900);

fn version() -> String {
    let cargo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"))
            .unwrap();
    cargo
        .split("[workspace.package]")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("version = ")))
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

fn field(deb: &Path, name: &str) -> String {
    let o = run(Command::new("dpkg-deb").arg("--field").arg(deb).arg(name));
    o.ok();
    o.stdout.trim().to_owned()
}

fn contents(deb: &Path) -> Vec<String> {
    let o = run(Command::new("dpkg-deb").arg("--contents").arg(deb));
    o.ok();
    o.stdout
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .nth(5)
                .map(|p| p.trim_start_matches('.').to_owned())
        })
        .collect()
}

/// A bookworm minbase with `include`, as a tarball in the cache (built when missing).
fn debian_root(include: &BTreeSet<String>) -> PathBuf {
    let list: Vec<&str> = include.iter().map(String::as_str).collect();
    let list = list.join(",");
    // FNV-1a of the package list: a different list is another root.
    let key = list.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let dir = integration::cache_dir().join("packaging");
    std::fs::create_dir_all(&dir).unwrap();
    let tarball = dir.join(format!("bookworm-minbase-{key:016x}.tar.zst"));
    if tarball.is_file() {
        return tarball;
    }
    let part = dir.join(format!(".part-{}-{key:016x}.tar.zst", std::process::id()));
    let o = run_with_timeout(
        cmd(bin("debootstrap-rs"))
            .args(["-q", "--variant=minbase"])
            .arg(format!("--include={list}"))
            .arg("--cache-dir")
            .arg(integration::cache_dir().join("debootstrap-rs"))
            .arg("bookworm")
            .arg(&part)
            .env("SOURCE_DATE_EPOCH", "1700000000"),
        LONG,
    );
    if o.code != 0 {
        let _ = std::fs::remove_file(&part);
        panic!("debootstrap-rs could not build the root: {o}");
    }
    std::fs::rename(&part, &tarball).unwrap();
    tarball
}

/// Run `script` with sh inside `root`, pivoted into it with /proc, /sys, /dev and the
/// cgroup filesystem (the workspace's chroot-rs: the one under test is inside).
fn inside(root: &Path, script: &str) -> Output {
    run(cmd(bin("chroot-rs"))
        .args(["--pivot", "--api-fs", "--cgroup-fs"])
        .arg(root)
        .args(["/bin/sh", "-c", script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root"))
}

#[track_caller]
fn inside_ok(root: &Path, script: &str) -> String {
    let o = inside(root, script);
    assert_eq!(o.code, 0, "in the root: {script}\n{o}");
    o.stdout
}

#[test]
fn each_package_installs_into_a_fresh_debian_12_and_runs() {
    if !require_root("dpkg --root into a Debian root, chroot-rs --pivot") {
        return;
    }
    let version = version();
    let work = integration::tempdir();
    let debs = match std::env::var_os("TOOLKIT_DEB_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let debs = work.path().join("debs");
            let bins = bin("cgctl").parent().unwrap().to_path_buf();
            run_with_timeout(
                cmd(bin("xtask"))
                    .args(["deb", "--bin-dir"])
                    .arg(&bins)
                    .arg("--out")
                    .arg(&debs),
                LONG,
            )
            .ok();
            debs
        }
    };

    // ---- each package, as dpkg-deb reads it
    let mut include = BTreeSet::new();
    let mut files = Vec::new();
    for (pkg, commands) in PACKAGES {
        let arch = if *pkg == "ctn" {
            "all".to_owned()
        } else {
            run(Command::new("dpkg").arg("--print-architecture"))
                .stdout
                .trim()
                .to_owned()
        };
        let deb = debs.join(format!("{pkg}_{version}_{arch}.deb"));
        assert!(deb.is_file(), "no {}", deb.display());
        assert_eq!(field(&deb, "Package"), *pkg);
        assert_eq!(field(&deb, "Version"), version);
        assert_eq!(field(&deb, "Section"), "admin");
        let summary = field(&deb, "Description");
        assert!(
            summary.lines().next().unwrap().len() < 80,
            "{pkg}: {summary}"
        );
        let depends = field(&deb, "Depends");
        for dep in depends.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let name = dep.split([' ', '|']).next().unwrap();
            if !PACKAGES.iter().any(|(p, _)| *p == name) {
                include.insert(name.to_owned());
            }
        }
        let listing = contents(&deb);
        for c in *commands {
            assert!(
                listing.contains(&format!("/usr/bin/{c}")),
                "{pkg}: no /usr/bin/{c}"
            );
            assert!(
                listing.contains(&format!("/usr/share/man/man8/{c}.8.gz")),
                "{pkg}: no man page of {c}"
            );
            assert!(
                listing.contains(&format!("/usr/share/bash-completion/completions/{c}")),
                "{pkg}: no bash completion of {c}"
            );
        }
        for doc in ["copyright", "changelog.gz"] {
            assert!(
                listing.contains(&format!("/usr/share/doc/{pkg}/{doc}")),
                "{pkg}: no {doc}"
            );
        }
        if *pkg != "ctn" {
            for c in *commands {
                for f in [
                    format!("/usr/share/zsh/vendor-completions/_{c}"),
                    format!("/usr/share/fish/vendor_completions.d/{c}.fish"),
                ] {
                    assert!(listing.contains(&f), "{pkg}: no {f}");
                }
            }
        } else {
            assert!(listing.contains(&"/usr/share/man/man5/ctn.conf.5.gz".to_owned()));
            assert!(listing.contains(&"/usr/libexec/ctn/lxc".to_owned()));
            assert_eq!(field(&deb, "Conflicts"), "lxc");
            for tool in PACKAGES.iter().map(|(p, _)| *p).filter(|p| *p != "ctn") {
                assert!(
                    depends.contains(&format!("{tool} (= {version})")),
                    "ctn: {depends}"
                );
            }
        }
        if *pkg == "netlink-tool" && depends.contains("libc6") {
            // A dynamic binary: libnftnl (which brings libmnl) at the version it needs.
            assert!(depends.contains("libnftnl11 (>= 1.2.4)"), "{depends}");
        }
        // The Debian changelog parses, and its latest entry is this version.
        let x = work.path().join(format!("x-{pkg}"));
        std::fs::create_dir(&x).unwrap();
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x)).ok();
        let changelog = run(Command::new("sh").arg("-c").arg(format!(
            "zcat {}/usr/share/doc/{pkg}/changelog.gz > {}/changelog",
            x.display(),
            x.display()
        )));
        changelog.ok();
        let o = run(Command::new("dpkg-parsechangelog")
            .arg("-l")
            .arg(x.join("changelog"))
            .args(["-S", "Version"]));
        o.ok();
        assert_eq!(o.stdout.trim(), version, "{pkg}'s changelog");
        let copyright =
            std::fs::read_to_string(x.join(format!("usr/share/doc/{pkg}/copyright"))).unwrap();
        assert!(copyright.starts_with(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
        ));
        assert!(
            copyright.contains("License: MIT or Apache-2.0"),
            "{copyright}"
        );
        if *pkg != "ctn" && !depends.contains("libc6") {
            // Static binaries: the C library in each is declared, glibc (its ABI note,
            // from crt1.o) as Built-Using, musl (no such note) in the copyright file.
            for c in *commands {
                let notes = run(Command::new("readelf")
                    .arg("-n")
                    .arg(x.join(format!("usr/bin/{c}"))));
                notes.ok();
                if notes.stdout.contains("NT_GNU_ABI_TAG") {
                    assert!(
                        field(&deb, "Built-Using").starts_with("glibc (= "),
                        "{pkg}: static against glibc, without Built-Using"
                    );
                } else {
                    assert!(
                        copyright.contains("The musl C library (MIT) is linked in"),
                        "{pkg}: static against musl, not said: {copyright}"
                    );
                }
            }
        }
        files.push(deb);
    }
    // libmnl0 comes with libnftnl11; awk is de facto essential.
    assert!(
        include.contains("zstd") && include.contains("bsdextrautils"),
        "{include:?}"
    );

    // ---- a fresh Debian 12 with the dependencies, then each package with dpkg -i
    let tarball = debian_root(&include);
    let root = work.path().join("root");
    std::fs::create_dir(&root).unwrap();
    run_with_timeout(
        Command::new("tar")
            .args(["--zstd", "-x", "-p", "--numeric-owner", "-C"])
            .arg(&root)
            .arg("-f")
            .arg(&tarball),
        LONG,
    )
    .ok();
    assert!(
        std::fs::read_to_string(root.join("etc/debian_version"))
            .unwrap()
            .starts_with("12."),
        "not a Debian 12 root"
    );
    let dpkg_root = format!("--root={}", root.display());
    for deb in &files {
        let o = run(Command::new("dpkg").arg(&dpkg_root).arg("-i").arg(deb));
        assert_eq!(o.code, 0, "dpkg -i {}: {o}", deb.display());
    }
    let o = run(Command::new("dpkg").arg(&dpkg_root).arg("--audit"));
    o.ok();
    assert_eq!(o.stdout, "", "dpkg --audit");
    for (pkg, _) in PACKAGES {
        let o = run(Command::new("dpkg-query")
            .arg(format!("--admindir={}/var/lib/dpkg", root.display()))
            .args(["-W", "-f=${Status} ${Version}", pkg]));
        o.ok();
        assert_eq!(o.stdout, format!("install ok installed {version}"));
    }

    // ---- every command: --version (vzlist has none: OpenVZ's takes no such option)
    for (pkg, commands) in PACKAGES {
        for c in commands.iter().filter(|c| **c != "vzlist") {
            let out = inside_ok(&root, &format!("{c} --version"));
            let want = if *pkg == "ctn" {
                format!("ctn {version}\n")
            } else {
                format!("{c} {version} (")
            };
            assert!(out.starts_with(&want), "{c} --version: {out}");
        }
    }
    let out = inside_ok(&root, "lxc-start --version");
    assert_eq!(out, format!("ctn {version}\n"));

    // ---- and one real command each
    // chroot-rs: a user of the root, by its own NSS.
    assert_eq!(
        inside_ok(&root, "chroot-rs --userspec=nobody:nogroup / id -un"),
        "nobody\n"
    );
    // unshare-rs and nsenter-rs: a hostname in a new UTS namespace, read by entering it.
    assert_eq!(
        inside_ok(
            &root,
            "unshare-rs --uts --fork sh -c 'hostname pkgtest; nsenter-rs -t $$ --uts hostname'"
        ),
        "pkgtest\n"
    );
    // cgctl: a group below the test's own cgroup, limited, then removed.
    let group = integration::unique_name("pkg");
    let out = inside_ok(
        &root,
        &format!(
            "cgctl --parent self create {group} --pids 16 && cgctl --parent self get {group} pids && cgctl --parent self delete {group}"
        ),
    );
    assert!(out.contains("16"), "{out}");
    // netlink-tool (and libnftnl): a namespace of its own, loopback up, a NAT rule.
    let out = inside_ok(
        &root,
        "unshare-rs --net -- sh -c 'netlink-tool link set lo up && netlink-tool -4 addr show dev lo && netlink-tool nat masquerade --source 10.99.0.0/24 && netlink-tool nat list'",
    );
    assert!(
        out.contains("127.0.0.1") && out.contains("10.99.0.0/24"),
        "{out}"
    );
    // ptyhold: a command on a held console, its output in the log.
    let out = inside_ok(
        &root,
        "ptyhold --log /tmp/console.log -- sh -c 'echo held on a pty; tty' && cat /tmp/console.log",
    );
    assert!(
        out.contains("held on a pty") && out.contains("/dev/pts/"),
        "{out}"
    );
    // debootstrap-rs: a first stage from a signed archive served on loopback.
    let key = Key::new();
    let archive = Archive::build(
        &work.path().join("archive"),
        &[
            Package::plain("base", "required"),
            Package::plain("apt", "important"),
        ],
        &key,
        "",
    );
    let server = Server::start(&archive.root);
    std::fs::copy(&key.keyring, root.join("tmp/keyring.gpg")).unwrap();
    let out = inside_ok(
        &root,
        &format!(
            "debootstrap-rs -q --foreign --variant=minbase --arch=amd64 --keyring /tmp/keyring.gpg testsuite /tmp/target {} && cat /tmp/target/usr/share/base/hello",
            server.url()
        ),
    );
    assert_eq!(out, "hello\n");
    // ctn and its front-ends: a template imported and listed, the (empty) lists, the
    // kernel's report through cgctl beside it, vzctl's status of a container it lacks.
    let out = inside_ok(
        &root,
        "export CTN_ROOT=/tmp/ctn && mkdir -p /tmp/src && tar -C /tmp/src -cf /tmp/base.tar . && \
         ctn template import /tmp/base.tar mybase && ctn template list && ctn ls -1 && lxc-ls && \
         vzlist -a && vzctl status 105 && lxc-checkconfig",
    );
    for want in [
        "mybase\n",
        "CTID      NPROC STATUS",
        "CTID 105 deleted unmounted down",
        "--- Namespaces ---",
        "Cgroup layout:",
    ] {
        assert!(out.contains(want), "{want:?} missing:\n{out}");
    }
    // The pages are where man looks, and render.
    for (pkg, commands) in PACKAGES {
        for c in *commands {
            let page = root.join(format!("usr/share/man/man8/{c}.8.gz"));
            let o = run(Command::new("sh").arg("-c").arg(format!(
                "zcat {} | groff -ww -z -man -Tutf8",
                page.display()
            )));
            assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{pkg}: {c}.8");
        }
    }
    let lxc_page = root.join("usr/share/man/man8/lxc-attach.8.gz");
    assert!(
        lxc_page.exists(),
        "lxc-attach.8.gz does not lead to ctn-lxc.8.gz"
    );
}
