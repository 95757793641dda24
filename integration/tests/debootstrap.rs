//! debootstrap-rs end to end.
//!
//! Against the real mirror (from the host's apt sources; downloads cached under
//! `$TOOLKIT_CACHE/debootstrap-rs`): bookworm and trixie minbase with debootstrap's package
//! set, clean `dpkg --audit`/`--verify`, apt and figlet working inside, a bit-identical
//! tarball, an ext4 image that mounts, --foreign/--second-stage, security updates from
//! --extra-suites.
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

/// The download cache shared by runs (CI keeps it between runs).
fn cache() -> PathBuf {
    std::env::var_os("TOOLKIT_CACHE")
        .map_or_else(
            || PathBuf::from("/var/cache/container-toolkit"),
            PathBuf::from,
        )
        .join("debootstrap-rs")
}

/// The Debian mirror of the host's apt sources (never a built-in host name).
fn host_mirror() -> String {
    let mut texts = Vec::new();
    if let Ok(t) = fs::read_to_string("/etc/apt/sources.list") {
        texts.push(t);
    }
    if let Ok(rd) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        texts.extend(files.iter().filter_map(|f| fs::read_to_string(f).ok()));
    }
    for t in &texts {
        for l in t.lines() {
            let l = l.trim();
            if let Some(u) = l.strip_prefix("URIs:") {
                let u = u.trim();
                if !u.contains("security") {
                    return u.trim_end_matches('/').to_owned();
                }
            }
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.first() == Some(&"deb")
                && w.len() >= 3
                && !w[1].starts_with('[')
                && !w[1].contains("security")
            {
                return w[1].trim_end_matches('/').to_owned();
            }
        }
    }
    panic!("the host's apt sources name no Debian mirror");
}

const LONG: Duration = Duration::from_secs(900);

fn build(args: &[&str], target: &Path) -> Output {
    let o = run_with_timeout(
        tool()
            .arg("-q")
            .arg("--cache-dir")
            .arg(cache())
            .args(args)
            .arg(target),
        LONG,
    );
    o.ok();
    o
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

fn installed(root: &Path) -> Vec<String> {
    let o = run(Command::new("dpkg-query")
        .arg(format!("--admindir={}/var/lib/dpkg", root.display()))
        .args(["-W", "-f=${Package} ${Status}\n"]));
    o.ok();
    let mut v: Vec<String> = o
        .stdout
        .lines()
        .map(|l| {
            assert!(l.ends_with(" install ok installed"), "not installed: {l}");
            l.split(' ').next().unwrap().to_owned()
        })
        .collect();
    v.sort();
    v
}

fn debootstrap_print_debs(suite: &str) -> Vec<String> {
    let dir = integration::tempdir();
    let o = run_with_timeout(
        Command::new("debootstrap")
            .args(["--print-debs", "--variant=minbase", suite])
            .arg(dir.path().join("t"))
            .arg(host_mirror()),
        LONG,
    );
    o.ok();
    let mut v: Vec<String> = o.stdout.split_whitespace().map(str::to_owned).collect();
    v.sort();
    v
}

fn our_print_debs(suite: &str) -> Vec<String> {
    let o = run_with_timeout(
        tool()
            .args(["-q", "--print-debs", "--variant=minbase", "--cache-dir"])
            .arg(cache())
            .arg(suite),
        LONG,
    );
    o.ok();
    o.stdout.lines().map(str::to_owned).collect()
}

/// A template carries nothing of the machine that built it: no /etc/hostname, no
/// /etc/resolv.conf (each container gets its own from its manager), an empty
/// /etc/machine-id (made at first boot), no D-Bus machine ID, no SSH host keys.
fn assert_no_host_identity(root: &Path) {
    assert!(
        fs::symlink_metadata(root.join("etc/hostname")).is_err(),
        "/etc/hostname in the tree"
    );
    assert!(
        fs::symlink_metadata(root.join("etc/resolv.conf")).is_err(),
        "/etc/resolv.conf in the tree"
    );
    assert_eq!(fs::read(root.join("etc/machine-id")).unwrap(), b"");
    if let Ok(md) = fs::symlink_metadata(root.join("var/lib/dbus/machine-id")) {
        assert!(md.file_type().is_symlink(), "a D-Bus machine ID of its own");
    }
    let keys: Vec<_> = fs::read_dir(root.join("etc/ssh"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with("ssh_host_"))
        .collect();
    assert!(keys.is_empty(), "SSH host keys in the tree: {keys:?}");
}

/// debootstrap's own bookworm minbase tree, made once and kept in the cache (a minute's
/// work): its `status` and `available`, made again whenever the package versions of
/// `ours` differ from those it was made with (the mirror moved on).
fn debootstraps_dpkg_database(ours: &Path) -> (String, String) {
    let dir = cache().join("debootstrap-reference/bookworm-minbase");
    let versions = |status: &str| -> Vec<String> {
        let mut v: Vec<String> = status
            .split("\n\n")
            .filter_map(|st| {
                let f = |k: &str| {
                    st.lines()
                        .find_map(|l| l.strip_prefix(k).map(str::to_owned))
                };
                Some(format!("{} {}", f("Package: ")?, f("Version: ")?))
            })
            .collect();
        v.sort();
        v
    };
    let ours_status = fs::read_to_string(ours.join("var/lib/dpkg/status")).unwrap();
    if let (Ok(status), Ok(available)) = (
        fs::read_to_string(dir.join("status")),
        fs::read_to_string(dir.join("available")),
    ) && versions(&status) == versions(&ours_status)
    {
        return (status, available);
    }
    let work = integration::tempdir();
    let t = work.path().join("debootstrap");
    run_with_timeout(
        Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&t)
            .arg(host_mirror()),
        LONG,
    )
    .ok();
    fs::create_dir_all(&dir).unwrap();
    for f in ["status", "available"] {
        fs::copy(t.join("var/lib/dpkg").join(f), dir.join(f)).unwrap();
    }
    (
        fs::read_to_string(dir.join("status")).unwrap(),
        fs::read_to_string(dir.join("available")).unwrap(),
    )
}

/// dpkg's database as debootstrap leaves it: `status` byte for byte (the archive's
/// priorities, not the packages' own), and `available` with the index stanzas.
fn dpkg_database_is_debootstraps(ours: &Path) {
    let (status, available) = debootstraps_dpkg_database(ours);
    let ours_status = fs::read_to_string(ours.join("var/lib/dpkg/status")).unwrap();
    let stanzas = |s: &str| -> Vec<String> { s.split("\n\n").map(str::to_owned).collect() };
    let differ: Vec<(String, String)> = stanzas(&status)
        .into_iter()
        .zip(stanzas(&ours_status))
        .filter(|(a, b)| a != b)
        .collect();
    assert!(
        differ.is_empty(),
        "status stanzas differ from debootstrap's: {differ:#?}"
    );
    assert_eq!(ours_status, status, "status differs from debootstrap's");
    let ours_available = fs::read_to_string(ours.join("var/lib/dpkg/available")).unwrap();
    assert!(ours_available.len() > 10_000, "an empty available");
    assert!(
        ours_available == available,
        "available differs from debootstrap's"
    );
}

fn audit_and_verify(root: &Path) {
    let o = run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .arg("--audit"));
    o.ok();
    assert_eq!(o.stdout, "", "dpkg --audit reports problems");
    let o = run_with_timeout(
        Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .arg("--verify"),
        LONG,
    );
    o.ok();
    assert_eq!(o.stdout, "", "dpkg --verify reports changed files");
}

// ---- the real mirror ----

#[test]
fn bookworm_minbase_has_debootstraps_set_is_clean_and_runs_apt_and_figlet() {
    if !require_root("debootstrap-rs bookworm minbase") {
        return;
    }
    let dir = integration::tempdir();
    let t = dir.path().join("rootfs");
    build(&["--variant=minbase", "bookworm"], &t);

    let want = debootstrap_print_debs("bookworm");
    // 88 packages when this was written; usr-is-merged, not usrmerge and perl.
    assert!(want.len() > 60, "debootstrap's bookworm minbase: {want:?}");
    assert!(want.contains(&"usr-is-merged".to_owned()));
    assert!(!want.contains(&"usrmerge".to_owned()) && !want.contains(&"perl".to_owned()));
    assert_eq!(our_print_debs("bookworm"), want);
    assert_eq!(installed(&t), want);
    audit_and_verify(&t);
    dpkg_database_is_debootstraps(&t);

    // Ownership, setuid/setgid bits and hard links as the archives have them.
    use std::os::unix::fs::MetadataExt;
    let passwd = fs::metadata(t.join("usr/bin/passwd")).unwrap();
    assert_eq!((passwd.mode() & 0o7777, passwd.uid()), (0o4755, 0));
    let chage = fs::metadata(t.join("usr/bin/chage")).unwrap();
    assert_eq!(
        (chage.mode() & 0o7777, chage.gid()),
        (0o2755, 42),
        "root:shadow"
    );
    let (perl, perl_v) = (
        fs::metadata(t.join("usr/bin/perl")).unwrap(),
        fs::metadata(t.join("usr/bin/perl5.36.0")).unwrap(),
    );
    assert_eq!(perl.ino(), perl_v.ino(), "perl-base's hard link");

    // Merged /usr, apt sources with signed-by, nothing left behind, nothing mounted.
    assert_eq!(fs::read_link(t.join("bin")).unwrap(), Path::new("usr/bin"));
    let sources = fs::read_to_string(t.join("etc/apt/sources.list.d/debian.sources")).unwrap();
    assert!(sources.contains("Suites: bookworm\n"), "{sources}");
    assert!(
        sources.contains("Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"),
        "{sources}"
    );
    assert!(!t.join("usr/sbin/policy-rc.d").exists());
    assert!(!t.join("debootstrap").exists());
    let lists: Vec<_> = fs::read_dir(t.join("var/lib/apt/lists"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        lists.iter().all(|n| n == "partial" || n == "lock"),
        "{lists:?}"
    );
    let debs = fs::read_dir(t.join("var/cache/apt/archives"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "deb"))
        .count();
    assert_eq!(debs, 0);
    let scratch = fs::read_dir(&t)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".debootstrap-rs")
        })
        .count();
    assert_eq!(scratch, 0);
    assert_eq!(mounts_under(dir.path()), Vec::<String>::new());

    // No identity of the build host: no hostname, no resolver config, an empty
    // machine-id.
    assert_no_host_identity(&t);

    // The course's `vzctl exec 105 apt-get install figlet` (name servers from the host,
    // for this container only: the tree has none of its own).
    let o = run_with_timeout(
        cmd(bin("chroot-rs"))
            .args(["--api-fs", "--resolv-conf"])
            .arg(&t)
            .args([
                "/bin/sh",
                "-c",
                "apt-get update -qq && apt-get install -y -qq figlet >/dev/null && figlet ok",
            ]),
        LONG,
    );
    o.ok();
    assert!(o.stdout.contains(r"| (_) |"), "figlet output:\n{o}");
    assert_eq!(mounts_under(dir.path()), Vec::<String>::new());
}

#[test]
fn trixie_minbase_has_debootstraps_set_and_is_clean() {
    if !require_root("debootstrap-rs trixie minbase") {
        return;
    }
    let dir = integration::tempdir();
    let t = dir.path().join("rootfs");
    build(&["--variant=minbase", "trixie"], &t);
    let want = debootstrap_print_debs("trixie");
    assert!(!want.contains(&"usrmerge".to_owned()));
    assert_eq!(installed(&t), want);
    audit_and_verify(&t);
}

#[test]
fn tarball_is_bit_identical_with_source_date_epoch() {
    if !require_root("debootstrap-rs tarball") {
        return;
    }
    let dir = integration::tempdir();
    let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    // With openssh-server, whose postinst generates host keys: they are removed (each
    // container gets its own), and the tarball is still the same bytes twice.
    for t in [&a, &b] {
        let o = run_with_timeout(
            tool()
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .args([
                    "-q",
                    "--variant=minbase",
                    "--include=openssh-server",
                    "--cache-dir",
                ])
                .arg(cache())
                .arg("bookworm")
                .arg(t),
            LONG,
        );
        o.ok();
    }
    let (ba, bb) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
    assert!(ba.len() > 50 << 20, "a whole system: {} bytes", ba.len());
    assert!(ba == bb, "the two tarballs differ");
    let o = run(Command::new("tar").arg("-tvf").arg(&a));
    o.ok();
    assert!(
        o.stdout
            .lines()
            .any(|l| l.ends_with("./usr/bin/apt") || l.ends_with(" usr/bin/apt")),
        "apt in the tarball"
    );
    // No identity of the build host in the template.
    let entry = |name: &str| {
        o.stdout
            .lines()
            .find(|l| l.ends_with(&format!(" ./{name}")) || l.ends_with(&format!(" {name}")))
    };
    assert!(
        entry("usr/sbin/sshd").is_some(),
        "openssh-server in the tarball"
    );
    for gone in ["etc/hostname", "etc/resolv.conf"] {
        assert!(entry(gone).is_none(), "{gone} in the tarball");
    }
    let machine_id = entry("etc/machine-id").expect("an /etc/machine-id");
    assert_eq!(
        machine_id.split_whitespace().nth(2),
        Some("0"),
        "{machine_id}"
    );
    let keys: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.contains("etc/ssh/ssh_host_"))
        .collect();
    assert!(keys.is_empty(), "SSH host keys in the tarball: {keys:?}");
    // Clamped modification times: nothing after SOURCE_DATE_EPOCH (2023-11-14 22:13 UTC;
    // the listing is in local time, so allow the next day).
    let late: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(3).is_none_or(|d| d > "2023-11-15"))
        .collect();
    assert!(late.is_empty(), "unclamped mtimes: {late:?}");
    // No scratch directory left beside the output.
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn ext4_image_mounts_and_holds_the_tree() {
    if !require_root("debootstrap-rs ext4 image") {
        return;
    }
    let dir = integration::tempdir();
    let img = dir.path().join("rootfs.img");
    build(
        &["--variant=minbase", "--image-size=600M", "bookworm"],
        &img,
    );
    assert_eq!(fs::metadata(&img).unwrap().len(), 600 << 20);
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    // Mounted in a private mount namespace only; the loop device detaches on umount.
    let o = run_with_timeout(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount -o loop,ro \"$1\" \"$2\" && test -x \"$2\"/usr/bin/apt && dpkg --root=\"$2\" --audit \
                  && test ! -e \"$2\"/etc/hostname && test ! -e \"$2\"/etc/resolv.conf \
                  && test -f \"$2\"/etc/machine-id && test ! -s \"$2\"/etc/machine-id \
                  && dpkg-query --admindir=\"$2\"/var/lib/dpkg -W | wc -l; umount \"$2\"")
            .arg("sh")
            .arg(&img)
            .arg(&mnt),
        LONG,
    );
    o.ok();
    assert_eq!(
        o.stdout.trim(),
        our_print_debs("bookworm").len().to_string()
    );
    assert_eq!(mounts_under(dir.path()), Vec::<String>::new());
    let loops = run(Command::new("losetup").arg("-j").arg(&img));
    assert_eq!(loops.stdout, "");
}

#[test]
fn foreign_then_second_stage_inside_with_security_updates() {
    if !require_root("debootstrap-rs --foreign / --second-stage") {
        return;
    }
    let dir = integration::tempdir();
    let t = dir.path().join("rootfs");
    build(
        &[
            "--foreign",
            "--variant=minbase",
            "--extra-suites=bookworm-updates,bookworm-security",
            "bookworm",
        ],
        &t,
    );
    assert!(t.join("debootstrap/state.json").is_file());
    assert!(t.join("debootstrap/debootstrap-rs").is_file());
    let status = fs::read_to_string(t.join("var/lib/dpkg/status")).unwrap();
    assert!(status.contains("Status: install ok unpacked\n"));
    // The second stage from inside, with the API filesystems chroot-rs mounts.
    let o = run_with_timeout(
        cmd(bin("chroot-rs")).arg("--api-fs").arg(&t).args([
            "/debootstrap/debootstrap-rs",
            "-q",
            "--second-stage",
        ]),
        LONG,
    );
    o.ok();
    assert!(!t.join("debootstrap").exists());
    audit_and_verify(&t);
    let sources = fs::read_to_string(t.join("etc/apt/sources.list.d/debian.sources")).unwrap();
    assert!(
        sources.contains("Suites: bookworm bookworm-updates\n"),
        "{sources}"
    );
    assert!(sources.contains("Suites: bookworm-security\n"), "{sources}");
    // Up to date with the security and updates suites: apt has nothing to upgrade.
    let o = run_with_timeout(
        cmd(bin("chroot-rs"))
            .args(["--api-fs", "--resolv-conf"])
            .arg(&t)
            .args(["/bin/sh", "-c", "apt-get update -qq && apt-get -s upgrade"]),
        LONG,
    );
    o.ok();
    assert!(o.stdout.contains("0 upgraded, 0 newly installed"), "{o}");
    assert_eq!(mounts_under(dir.path()), Vec::<String>::new());
}

#[test]
fn sigint_in_the_second_stage_leaves_nothing_mounted() {
    if !require_root("debootstrap-rs interrupted in the second stage") {
        return;
    }
    let dir = integration::tempdir();
    let t = dir.path().join("rootfs");
    let child = tool()
        .args(["-q", "--variant=minbase", "--cache-dir"])
        .arg(cache())
        .arg("bookworm")
        .arg(&t)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The second stage opens its log first thing; interrupt it then.
    let log = t.join("var/log/bootstrap.log");
    for _ in 0..6000 {
        if log.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(log.exists(), "the second stage did not start");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id().cast_signed()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(stderr, "debootstrap-rs: interrupted\n");
    assert_eq!(mounts_under(dir.path()), Vec::<String>::new());
    assert!(!t.join("usr/sbin/policy-rc.d").exists());
    // dpkg and the maintainer scripts died with the run, before it exited.
    assert_eq!(processes_in(&t), Vec::<String>::new());
}

/// The processes whose root directory is `root` (or below it): what still runs in a
/// target.
fn processes_in(root: &Path) -> Vec<String> {
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| fs::read_link(e.path().join("root")).is_ok_and(|r| r.starts_with(&root)))
        .map(|e| {
            let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
            format!(
                "{} {}",
                e.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            )
        })
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
    assert_eq!(stderr, "debootstrap-rs: interrupted\n");
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
