//! debootstrap-rs end to end, without the Debian mirror (the tests against the real
//! mirror are in debootstrap_mirror.rs).
//!
//! Against a small archive signed with a throwaway key and served on loopback: modified
//! InRelease, Packages or .deb refused; expired Release refused; crafted .debs (`..`,
//! absolute paths, a symlink followed by a file through it) write nothing outside TARGET;
//! a mirror that is down, a truncated download, SIGINT and a full disk end with a clear
//! error and a cache that a rerun completes from.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use integration::debmirror::{Archive, Behaviour, Entry, Key, Package, Server};
use integration::{Output, bin, cmd, require_root, run, run_with_timeout};

fn tool() -> Command {
    cmd(bin("debootstrap-rs"))
}

/// Mounts of this (the host's) mount namespace under `dir`.
fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|m| m.starts_with(&prefix))
        .collect()
}

// ---- command line, no network ----

#[test]
fn usage_errors_exit_2() {
    let o = run(tool().args(["--variant=huge", "bookworm", "/nonexistent"]));
    o.expect_code(2);
    assert_eq!(
        o.stderr,
        "debootstrap-rs: unsupported variant 'huge' (use minbase, buildd, fakechroot or -)\n\
         Try 'debootstrap-rs --help' for more information.\n"
    );
    let o = run(tool().arg("bookworm"));
    o.expect_code(2);
    assert_eq!(
        o.stderr,
        "debootstrap-rs: missing TARGET\nTry 'debootstrap-rs --help' for more information.\n"
    );
    let o = run(tool().arg("--help"));
    o.ok();
    assert!(
        o.stdout
            .contains("debootstrap-rs [OPTION]... SUITE TARGET [MIRROR]")
    );
}

#[test]
fn non_empty_target_is_refused() {
    let dir = integration::tempdir();
    fs::write(dir.path().join("x"), b"x").unwrap();
    let o = run(tool()
        .args(["-q", "bookworm"])
        .arg(dir.path())
        .arg("http://127.0.0.1:9/debian"));
    o.expect_code(1);
    assert_eq!(
        o.stderr,
        format!(
            "debootstrap-rs: target '{}' exists and is not empty (use --force to build into it anyway)\n",
            dir.path().display()
        )
    );
}

#[test]
fn without_mirror_and_host_sources_it_asks_for_one() {
    if !require_root("an empty /etc/apt in a private mount namespace") {
        return;
    }
    let dir = integration::tempdir();
    let o = run(Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs tmpfs /etc/apt && exec \"$1\" -q --print-debs bookworm")
        .arg("sh")
        .arg(bin("debootstrap-rs"))
        .current_dir(dir.path()));
    o.expect_code(1);
    assert_eq!(
        o.stderr,
        "debootstrap-rs: no MIRROR given and the host's apt sources name no mirror for 'bookworm': give MIRROR (e.g. http://<mirror>/debian)\n"
    );
}

// ---- a signed archive on loopback ----

struct Lab {
    _dir: tempfile::TempDir,
    key: Key,
    archive: Archive,
    server: Server,
    target: PathBuf,
    cache: PathBuf,
    outside: PathBuf,
}

impl Lab {
    fn new(extra: Vec<Package>, release_fields: &str) -> Self {
        Self::with(|_| extra, release_fields)
    }

    /// A lab whose extra packages may name its `outside` directory.
    fn with(extra: impl FnOnce(&Path) -> Vec<Package>, release_fields: &str) -> Self {
        let dir = integration::tempdir();
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let key = Key::new();
        let mut pkgs = vec![
            Package::plain("base", "required"),
            Package::plain("apt", "important"),
        ];
        pkgs.extend(extra(&outside));
        let archive = Archive::build(&dir.path().join("archive"), &pkgs, &key, release_fields);
        let server = Server::start(&archive.root);
        Self {
            target: dir.path().join("target"),
            cache: dir.path().join("cache"),
            outside,
            _dir: dir,
            key,
            archive,
            server,
        }
    }

    /// debootstrap-rs --foreign (first stage only: nothing runs in the target).
    fn run(&self, extra: &[&str]) -> Output {
        run_with_timeout(
            tool()
                .args([
                    "-q",
                    "--foreign",
                    "--variant=minbase",
                    "--arch=amd64",
                    "--keyring",
                ])
                .arg(&self.key.keyring)
                .arg("--cache-dir")
                .arg(&self.cache)
                .args(extra)
                .arg("testsuite")
                .arg(&self.target)
                .arg(self.server.url()),
            Duration::from_secs(120),
        )
    }

    /// debootstrap-rs --make-tarball BUNDLE (its scratch target beside `target`).
    fn make_bundle(&self, bundle: &Path) -> Output {
        run_with_timeout(
            tool()
                .args(["-q", "--variant=minbase", "--arch=amd64", "--keyring"])
                .arg(&self.key.keyring)
                .arg("--make-tarball")
                .arg(bundle)
                .arg("testsuite")
                .arg(self.target.with_extension("work"))
                .arg(self.server.url()),
            Duration::from_secs(120),
        )
    }

    /// debootstrap-rs --foreign --unpack-tarball BUNDLE into `target`, checked against
    /// `keyring` (the lab's, whose server may be gone). Nothing is fetched; MIRROR (a
    /// closed port) is only what the target's apt sources name.
    fn unpack_bundle(keyring: &Path, bundle: &Path, target: &Path) -> Output {
        run_with_timeout(
            tool()
                .args([
                    "-q",
                    "--foreign",
                    "--variant=minbase",
                    "--arch=amd64",
                    "--keyring",
                ])
                .arg(keyring)
                .arg("--unpack-tarball")
                .arg(bundle)
                .arg("testsuite")
                .arg(target)
                .arg("http://127.0.0.1:9/debian"),
            Duration::from_secs(120),
        )
    }

    fn outside_is_untouched(&self) {
        let left: Vec<_> = fs::read_dir(&self.outside)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "written outside TARGET: {left:?}");
    }

    /// Every file in the cache is, under its name, what the signed chain promises: no
    /// partial file, no truncated or modified .deb, no index but the signed one.
    fn cache_holds_only_verified_files(&self) {
        // The hashes the signed Release gives the index, and the index gives each .deb.
        let release = self.archive.release_text();
        let index_sha = release
            .lines()
            .find(|l| l.ends_with(" main/binary-amd64/Packages"))
            .and_then(|l| l.split_whitespace().next())
            .expect("the Release lists Packages")
            .to_owned();
        let packages = fs::read_to_string(
            self.archive
                .root
                .join("dists/testsuite/main/binary-amd64/Packages"),
        )
        .unwrap();
        let deb_sha = |file: &str| {
            packages.split("\n\n").find_map(|st| {
                st.lines()
                    .any(|l| l == format!("Filename: pool/main/{file}"))
                    .then(|| {
                        st.lines()
                            .find_map(|l| l.strip_prefix("SHA256: "))
                            .map(str::to_owned)
                    })
                    .flatten()
            })
        };
        for sub in ["debs", "indexes"] {
            let Ok(rd) = fs::read_dir(self.cache.join(sub)) else {
                continue;
            };
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                assert!(
                    !n.contains(".partial"),
                    "partial file left in the cache: {n}"
                );
                let got = integration::debmirror::sha256(&e.path());
                let want = if sub == "debs" {
                    deb_sha(&n).unwrap_or_else(|| panic!("{n} is in no Packages entry"))
                } else {
                    assert_eq!(n, index_sha, "the cached index is not the signed one");
                    index_sha.clone()
                };
                assert_eq!(got, want, "{sub}/{n} is not what the signed chain says");
            }
        }
    }
}

#[test]
fn signed_local_archive_unpacks() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    lab.run(&[]).ok();
    assert_eq!(
        fs::read(lab.target.join("usr/share/base/hello")).unwrap(),
        b"hello\n"
    );
    let status = fs::read_to_string(lab.target.join("var/lib/dpkg/status")).unwrap();
    assert!(
        status.contains("Package: base\nStatus: install ok unpacked\n"),
        "{status}"
    );
    assert!(lab.target.join("var/lib/dpkg/info/apt.list").is_file());
    let sources =
        fs::read_to_string(lab.target.join("etc/apt/sources.list.d/debian.sources")).unwrap();
    assert!(
        sources.contains("Signed-By: /etc/apt/keyrings/debootstrap-rs.gpg\n"),
        "{sources}"
    );
    // A bundle of the same run, unpacked elsewhere with nothing fetched.
    let bundle = lab.target.with_extension("tar");
    lab.make_bundle(&bundle).ok();
    drop(lab.server);
    let second = lab.target.with_extension("second");
    Lab::unpack_bundle(&lab.key.keyring, &bundle, &second).ok();
    assert_eq!(
        fs::read(second.join("usr/share/apt/hello")).unwrap(),
        b"hello\n"
    );
}

#[test]
fn modified_inrelease_is_refused() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    let p = lab.archive.root.join("dists/testsuite/InRelease");
    let text = fs::read_to_string(&p)
        .unwrap()
        .replace("Label: Test", "Label: Evil");
    fs::write(&p, text).unwrap();
    let o = lab.run(&[]);
    o.expect_code(1);
    let url = format!("{}/dists/testsuite/InRelease", lab.server.url());
    assert!(
        o.stderr.starts_with(&format!(
            "debootstrap-rs: testsuite: InRelease from '{url}': no good signature from a trusted key ("
        )),
        "{o}"
    );
    assert!(
        o.stderr
            .ends_with(": BAD signature (the file was modified))\n"),
        "{o}"
    );
    assert!(!lab.target.join("var/lib/dpkg/status").exists());
}

#[test]
fn no_check_gpg_accepts_a_modified_inrelease_and_says_so() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    let p = lab.archive.root.join("dists/testsuite/InRelease");
    let text = fs::read_to_string(&p)
        .unwrap()
        .replace("Label: Test", "Label: Evil");
    fs::write(&p, text).unwrap();
    let o = lab.run(&["--no-check-gpg"]);
    o.ok();
    assert_eq!(
        o.stderr,
        "debootstrap-rs: WARNING: --no-check-gpg: InRelease signatures are NOT checked; \
         whoever controls the mirror or the network decides what is installed\n"
    );
    // Hashes are still checked: the index and the .debs are those the Release lists.
    assert!(lab.target.join("usr/share/base/hello").is_file());
    let sources =
        fs::read_to_string(lab.target.join("etc/apt/sources.list.d/debian.sources")).unwrap();
    assert!(!sources.contains("Signed-By"), "{sources}");
}

#[test]
fn inrelease_by_an_unknown_key_is_refused() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    let o = run(tool()
        .args([
            "-q",
            "--foreign",
            "--variant=minbase",
            "--arch=amd64",
            "--cache-dir",
        ])
        .arg(&lab.cache)
        .arg("testsuite")
        .arg(&lab.target)
        .arg(lab.server.url()));
    o.expect_code(1);
    assert!(o.stderr.ends_with(": no such key in the keyring)\n"), "{o}");
}

#[test]
fn inrelease_by_an_expired_subkey_is_refused() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let dir = integration::tempdir();
    let key = Key::expired();
    let archive = Archive::build(
        &dir.path().join("archive"),
        &[
            Package::plain("base", "required"),
            Package::plain("apt", "important"),
        ],
        &key,
        "",
    );
    let server = Server::start(&archive.root);
    let o = run(tool()
        .args(["-q", "--foreign", "--variant=minbase", "--keyring"])
        .arg(&key.keyring)
        .arg("testsuite")
        .arg(dir.path().join("target"))
        .arg(server.url()));
    o.expect_code(1);
    assert!(o.stderr.ends_with(": subkey expired)\n"), "{o}");
}

#[test]
fn inrelease_by_a_revoked_subkey_is_refused() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    lab.key.revoke_signing_subkey();
    let o = lab.run(&[]);
    o.expect_code(1);
    assert!(o.stderr.ends_with(": subkey revoked)\n"), "{o}");
}

#[test]
fn expired_release_is_refused_unless_overridden() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "Valid-Until: Fri, 02 Jan 2026 00:00:00 UTC\n");
    let o = lab.run(&[]);
    o.expect_code(1);
    assert_eq!(
        o.stderr,
        format!(
            "debootstrap-rs: testsuite: Release file from '{}/dists/testsuite/InRelease': it expired on Fri, 02 Jan 2026 00:00:00 UTC (Valid-Until); use --no-check-valid-until for a snapshot mirror\n",
            lab.server.url()
        )
    );
    lab.run(&["--no-check-valid-until"]).ok();
}

#[test]
fn modified_packages_index_is_refused() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    let p = lab
        .archive
        .root
        .join("dists/testsuite/main/binary-amd64/Packages");
    let text = fs::read_to_string(&p)
        .unwrap()
        .replace("Description: test package", "Description: evil package");
    fs::write(&p, text).unwrap();
    let o = lab.run(&[]);
    o.expect_code(1);
    assert!(
        o.stderr.starts_with(&format!(
            "debootstrap-rs: {}/dists/testsuite/main/binary-amd64/Packages: SHA256 ",
            lab.server.url()
        )),
        "{o}"
    );
    assert!(
        o.stderr
            .ends_with(", expected by the signed Release of testsuite\n"),
        "{o}"
    );
    lab.cache_holds_only_verified_files();
}

#[test]
fn modified_deb_is_refused() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    let p = lab.archive.deb_path("base");
    let mut bytes = fs::read(&p).unwrap();
    let at = bytes.len() - 600;
    bytes[at] ^= 0xff;
    fs::write(&p, bytes).unwrap();
    let o = lab.run(&[]);
    o.expect_code(1);
    assert!(
        o.stderr.starts_with(&format!(
            "debootstrap-rs: {}/pool/main/base_1.0_all.deb: SHA256 ",
            lab.server.url()
        )),
        "{o}"
    );
    assert!(
        o.stderr
            .ends_with(", expected by the Packages index of testsuite\n"),
        "{o}"
    );
    assert!(!lab.target.join("usr/share/base/hello").exists());
    lab.cache_holds_only_verified_files();
}

fn evil(name: &str, entries: Vec<Entry>) -> Package {
    Package {
        name: name.to_owned(),
        priority: "optional",
        entries,
        fields: String::new(),
    }
}

#[test]
fn a_file_in_two_packages_goes_to_the_one_that_replaces_the_other() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let shared = |name: &str, fields: &str| Package {
        fields: fields.to_owned(),
        ..evil(
            name,
            vec![
                Entry::Dir("./"),
                Entry::Dir("./usr/"),
                Entry::Dir("./usr/share/"),
                Entry::Dir("./usr/share/shared/"),
                Entry::File("./usr/share/shared/f".into(), name.as_bytes().to_vec()),
            ],
        )
    };
    // aaa comes first in install order, but it Replaces zzz: it keeps the file.
    let lab = Lab::new(
        vec![shared("aaa", "Replaces: zzz\n"), shared("zzz", "")],
        "",
    );
    let o = lab.run(&["--include=aaa,zzz"]);
    o.ok();
    assert_eq!(
        fs::read(lab.target.join("usr/share/shared/f")).unwrap(),
        b"aaa"
    );
    let list = |p: &str| {
        fs::read_to_string(lab.target.join(format!("var/lib/dpkg/info/{p}.list"))).unwrap()
    };
    assert!(list("aaa").lines().any(|l| l == "/usr/share/shared/f"));
    assert!(!list("zzz").lines().any(|l| l == "/usr/share/shared/f"));
}

#[test]
fn dotdot_entry_is_refused() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(
        vec![evil(
            "evil",
            vec![
                Entry::Dir("./"),
                Entry::File("./../outside/escape".into(), b"x".to_vec()),
            ],
        )],
        "",
    );
    let o = lab.run(&["--include=evil"]);
    o.expect_code(1);
    assert_eq!(
        o.stderr,
        "debootstrap-rs: package 'evil': unsafe path './../outside/escape' in data.tar (has '..')\n"
    );
    lab.outside_is_untouched();
}

#[test]
fn absolute_entry_lands_inside_target() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let probe = format!("debootstrap-rs-abs-probe-{}", std::process::id());
    let lab = Lab::new(
        vec![evil(
            "evil",
            vec![Entry::File(format!("/tmp/{probe}"), b"x".to_vec())],
        )],
        "",
    );
    lab.run(&["--include=evil"]).ok();
    assert!(lab.target.join("tmp").join(&probe).is_file());
    assert!(!Path::new("/tmp").join(&probe).exists());
}

#[test]
fn symlink_then_file_cannot_escape() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::with(
        |outside| {
            let outside = outside.to_string_lossy().into_owned();
            let up = format!("../../../../../../../../../..{outside}");
            vec![evil(
                "evil",
                vec![
                    Entry::Dir("./"),
                    Entry::Dir("./tmp/"),
                    Entry::Symlink("./abs".into(), outside),
                    Entry::Symlink("./tmplink".into(), "/tmp".into()),
                    Entry::Symlink("./up".into(), up),
                    Entry::File(
                        "./tmplink/debootstrap-rs-through-symlink".into(),
                        b"x".to_vec(),
                    ),
                    Entry::File("./up/pwned".into(), b"x".to_vec()),
                    Entry::File("./abs/pwned".into(), b"x".to_vec()),
                ],
            )]
        },
        "",
    );
    // The outside directory of this lab: the symlinks name it by its absolute path.
    let o = lab.run(&["--include=evil"]);
    // Whatever the outcome, nothing is written outside TARGET: the file through
    // `tmplink` lands in TARGET/tmp, and the others cannot be created at all.
    assert!(!Path::new("/tmp/debootstrap-rs-through-symlink").exists());
    lab.outside_is_untouched();
    o.expect_code(1);
    assert!(
        lab.target
            .join("tmp/debootstrap-rs-through-symlink")
            .is_file()
    );
    assert!(
        o.stderr.starts_with(
            "debootstrap-rs: package 'evil': cannot create the directory of '/up/pwned'"
        ),
        "{o}"
    );
}

#[test]
fn mirror_down_is_a_clear_error() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    // A port nothing listens on any more.
    let dead = {
        let dir = integration::tempdir();
        Server::start(dir.path()).url()
    };
    let o = run(tool()
        .args(["-q", "--foreign", "--keyring"])
        .arg(&lab.key.keyring)
        .arg("testsuite")
        .arg(&lab.target)
        .arg(&dead));
    o.expect_code(1);
    assert_eq!(
        o.stderr,
        format!(
            "debootstrap-rs: cannot fetch '{dead}/dists/testsuite/InRelease': Connection refused\n"
        )
    );
}

#[test]
fn truncated_download_fails_and_a_rerun_completes() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    lab.server
        .set(Behaviour::Truncate("base_1.0_all.deb".into()));
    let o = lab.run(&[]);
    o.expect_code(1);
    assert!(
        o.stderr.starts_with(&format!(
            "debootstrap-rs: cannot fetch '{}/pool/main/base_1.0_all.deb': ",
            lab.server.url()
        )),
        "{o}"
    );
    lab.cache_holds_only_verified_files();
    lab.server.set(Behaviour::Normal);
    lab.run(&["--force"]).ok();
    assert!(lab.target.join("usr/share/base/hello").is_file());
}

#[test]
fn sigint_stops_cleanly_and_a_rerun_completes() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    lab.server.set(Behaviour::Delay(Duration::from_secs(2)));
    let child = tool()
        .args([
            "-q",
            "--foreign",
            "--variant=minbase",
            "--arch=amd64",
            "--keyring",
        ])
        .arg(&lab.key.keyring)
        .arg("--cache-dir")
        .arg(&lab.cache)
        .arg("testsuite")
        .arg(&lab.target)
        .arg(lab.server.url())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id().cast_signed()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(stderr, "debootstrap-rs: interrupted by SIGINT\n");
    lab.cache_holds_only_verified_files();
    lab.server.set(Behaviour::Normal);
    lab.run(&["--force"]).ok();
    assert!(lab.target.join("usr/share/base/hello").is_file());
}

#[test]
fn sigkill_mid_download_leaves_a_cache_a_rerun_completes_from() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    lab.server.set(Behaviour::Stall(
        "base_1.0_all.deb".into(),
        Duration::from_secs(30),
    ));
    let mut child = lab_command(&lab).spawn().unwrap();
    // Wait until the stalled download's temporary file exists, then SIGKILL.
    let debs = lab.cache.join("debs");
    let partial = || {
        fs::read_dir(&debs)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".partial."))
    };
    for _ in 0..200 {
        if partial() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(partial(), "the download did not start");
    child.kill().unwrap();
    child.wait().unwrap();
    // The rerun removes the dead run's temporary file and completes.
    lab.server.set(Behaviour::Normal);
    lab.run(&["--force"]).ok();
    assert!(lab.target.join("usr/share/base/hello").is_file());
    lab.cache_holds_only_verified_files();
}

fn lab_command(lab: &Lab) -> Command {
    let mut c = tool();
    c.args([
        "-q",
        "--foreign",
        "--variant=minbase",
        "--arch=amd64",
        "--keyring",
    ])
    .arg(&lab.key.keyring)
    .arg("--cache-dir")
    .arg(&lab.cache)
    .arg("testsuite")
    .arg(&lab.target)
    .arg(lab.server.url())
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    c
}

#[test]
fn full_disk_is_a_clear_error() {
    if !require_root("a small tmpfs in a private mount namespace") {
        return;
    }
    let big: Vec<u8> = (0..3 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let lab = Lab::new(
        vec![evil(
            "big",
            vec![Entry::Dir("./"), Entry::File("./big".into(), big)],
        )],
        "",
    );
    fs::create_dir(&lab.target).unwrap();
    let o = run_with_timeout(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs -o size=1m tmpfs \"$1\" && shift && exec \"$@\"")
            .arg("sh")
            .arg(&lab.target)
            .arg(bin("debootstrap-rs"))
            .args([
                "-q",
                "--foreign",
                "--variant=minbase",
                "--arch=amd64",
                "--include=big",
                "--force",
                "--keyring",
            ])
            .arg(&lab.key.keyring)
            .arg("--cache-dir")
            .arg(&lab.cache)
            .arg("testsuite")
            .arg(&lab.target)
            .arg(lab.server.url()),
        Duration::from_secs(120),
    );
    o.expect_code(1);
    assert!(o.stderr.ends_with(": No space left on device\n"), "{o}");
    assert_eq!(mounts_under(&lab.target), Vec::<String>::new());
    lab.cache_holds_only_verified_files();
}

#[test]
fn a_packaged_dev_symlink_cannot_chmod_a_file_outside() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // A package ships /dev/null as a symlink to a file outside TARGET; the static device
    // nodes made afterwards must not follow it (chmod 0666 of the host's file).
    let lab = Lab::with(
        |outside| {
            let victim = outside.join("victim").to_string_lossy().into_owned();
            vec![evil(
                "evil",
                vec![
                    Entry::Dir("./"),
                    Entry::Dir("./dev/"),
                    Entry::Symlink("./dev/null".into(), victim),
                ],
            )]
        },
        "",
    );
    let victim = lab.outside.join("victim");
    fs::write(&victim, b"secret").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    let o = lab.run(&["--include=evil"]);
    let mode = fs::metadata(&victim).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        mode, 0o600,
        "a file outside TARGET was chmod-ed through /dev/null\n{o}"
    );
    o.ok();
    // Left as the package made it, as debootstrap leaves an existing /dev/null.
    assert!(
        fs::symlink_metadata(lab.target.join("dev/null"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn inrelease_signed_with_a_weak_digest_is_refused() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    // apt and gpgv refuse SHA-1 (and MD5) signatures on InRelease: collisions are cheap.
    let lab = Lab::new(vec![], "");
    let text = lab.archive.release_text();
    lab.archive.resign(&text, &lab.key, "SHA1");
    let o = lab.run(&[]);
    o.expect_code(1);
    assert!(o.stderr.ends_with(": weak digest algorithm SHA1)\n"), "{o}");
    assert!(!lab.target.join("var/lib/dpkg/status").exists());
    // The same text signed with SHA-512 is fine (the text round-trips).
    lab.archive.resign(&text, &lab.key, "SHA512");
    lab.run(&["--force"]).ok();
}

#[test]
fn text_outside_the_signed_part_of_inrelease_is_refused() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    // Only the signed text may be parsed: a second Release appended after the signature,
    // or one put before the signed part, makes the file invalid, not a source of fields.
    let lab = Lab::new(vec![], "");
    let p = lab.archive.root.join("dists/testsuite/InRelease");
    let good = fs::read_to_string(&p).unwrap();
    let evil_release =
        "Suite: testsuite\nCodename: testsuite\nSHA256:\n 00 1 main/binary-amd64/Packages\n";
    for bad in [
        format!("{good}\n{evil_release}"),
        format!("{evil_release}\n{good}"),
        format!("{good}{good}"),
    ] {
        fs::write(&p, &bad).unwrap();
        let o = lab.run(&[]);
        o.expect_code(1);
        assert!(o.stderr.contains(": not a clearsigned file ("), "{o}");
        assert!(!lab.target.join("var/lib/dpkg/status").exists());
    }
}

#[test]
fn a_bundles_unsigned_manifest_chooses_neither_suites_nor_mirrors() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(vec![], "");
    let bundle = lab.target.with_extension("tar");
    lab.make_bundle(&bundle).ok();
    // Someone rewrites manifest.json (it is not signed): another mirror, another suite.
    let tamper = |manifest: &str| {
        let dir = lab.target.with_extension("repack");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        run(Command::new("tar")
            .arg("-xf")
            .arg(&bundle)
            .arg("-C")
            .arg(&dir))
        .ok();
        fs::write(dir.join("manifest.json"), manifest).unwrap();
        let out = lab.target.with_extension(format!("{}.tar", manifest.len()));
        run(Command::new("tar")
            .arg("-cf")
            .arg(&out)
            .arg("-C")
            .arg(&dir)
            .arg("."))
        .ok();
        out
    };
    let unpack = |file: &Path, target: &Path| Lab::unpack_bundle(&lab.key.keyring, file, target);
    let evil_mirror = tamper(r#"{"sources":[["testsuite","http://evil.invalid/debian"]]}"#);
    let t = lab.target.with_extension("one");
    unpack(&evil_mirror, &t).ok();
    let sources = fs::read_to_string(t.join("etc/apt/sources.list.d/debian.sources")).unwrap();
    assert!(
        sources.contains("URIs: http://127.0.0.1:9/debian\n") && !sources.contains("evil"),
        "{sources}"
    );
    let extra_suite = tamper(
        r#"{"sources":[["testsuite","http://127.0.0.1:9/debian"],["experimental","http://127.0.0.1:9/debian"]]}"#,
    );
    let o = unpack(&extra_suite, &lab.target.with_extension("two"));
    o.expect_code(2);
    assert_eq!(
        o.stderr,
        "debootstrap-rs: the tarball holds suite(s) 'testsuite experimental', the command line asks for 'testsuite' (SUITE, then --extra-suites)\n\
         Try 'debootstrap-rs --help' for more information.\n"
    );
}

#[test]
fn hard_links_cannot_reach_outside() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    // A symlink to the outside directory, then a hard link through it: linking the host's
    // file into TARGET would hand it to whatever the tree does next (chmod, chown, a later
    // write). The link's target resolves inside TARGET instead, where it does not exist.
    let lab = Lab::with(
        |outside| {
            let o = outside.to_string_lossy().into_owned();
            vec![evil(
                "evil",
                vec![
                    Entry::Dir("./"),
                    Entry::Symlink("./abs".into(), o),
                    Entry::HardLink("./stolen".into(), "./abs/secret".into()),
                ],
            )]
        },
        "",
    );
    let secret = lab.outside.join("secret");
    fs::write(&secret, b"secret").unwrap();
    let o = lab.run(&["--include=evil"]);
    o.expect_code(1);
    assert!(
        o.stderr.starts_with(
            "debootstrap-rs: package 'evil': cannot find the target of hard link '/stolen': "
        ),
        "{o}"
    );
    assert_eq!(
        fs::metadata(&secret).unwrap().nlink(),
        1,
        "linked into TARGET"
    );
    assert!(!lab.target.join("stolen").exists());
}
