//! debootstrap-rs end to end against the real Debian mirror: the mirror tier of the suite
//! (test binaries named `*_mirror`; `cargo xtask test --mirror`, see README.md).
//!
//! The mirror is the host's (its apt sources); downloads are cached under
//! `$TOOLKIT_CACHE/debootstrap-rs`. bookworm and trixie minbase with debootstrap's package
//! set, clean `dpkg --audit`/`--verify`, apt and figlet working inside, a bit-identical
//! tarball, an ext4 image that mounts, --foreign/--second-stage, security updates from
//! --extra-suites, SIGINT in the second stage.
//!
//! What needs no mirror (a small signed archive served on loopback) is in debootstrap.rs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use integration::{Output, bin, cmd, require_root, run, run_with_timeout};

/// A test of this file runs as root, with the mirror: false (a skip) when not root.
fn mirror_test(what: &str) -> bool {
    integration::require_mirror(what);
    require_root(what)
}

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

/// The mirror of the host's apt sources, named as they name it (usually a host name),
/// resolved by debootstrap-rs itself (/etc/hosts, then DNS: no NSS, see resolver.rs).
/// `cargo xtask test` runs this against the static release binary too
/// (`TOOLKIT_BIN_DIR=target/dist`). A fresh cache: InRelease and the Packages index are
/// downloaded, not read back.
#[test]
fn the_host_mirror_is_reached_by_the_name_in_the_apt_sources() {
    integration::require_mirror("debootstrap-rs --print-debs from the host's mirror");
    let mirror = host_mirror();
    let host = mirror
        .split_once("://")
        .map_or(mirror.as_str(), |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']')
            .next()
            .unwrap_or(host)
            .trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or(host)
    };
    let dir = integration::tempdir();
    let o = run_with_timeout(
        tool()
            .args(["-v", "--print-debs", "--variant=minbase", "--cache-dir"])
            .arg(dir.path())
            .arg("bookworm")
            .arg(dir.path().join("target"))
            .arg(&mirror),
        LONG,
    );
    o.ok();
    let debs: Vec<&str> = o.stdout.lines().collect();
    for p in ["base-files", "dpkg", "libc6", "apt"] {
        assert!(debs.contains(&p), "{p} not in --print-debs: {o}");
    }
    assert!(
        o.stderr
            .contains(&format!("GET {mirror}/dists/bookworm/InRelease = 200")),
        "{o}"
    );
    if name.parse::<std::net::IpAddr>().is_err() {
        // Resolved by the tool's own resolver: a DNS answer or an /etc/hosts line.
        assert!(
            o.stderr.contains(&format!("dns: {name}"))
                || o.stderr.contains(&format!("/etc/hosts: {name} =")),
            "{name} was not resolved by debootstrap-rs's resolver: {o}"
        );
    }
}

#[test]
fn bookworm_minbase_has_debootstraps_set_is_clean_and_runs_apt_and_figlet() {
    if !mirror_test("debootstrap-rs bookworm minbase") {
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
    if !mirror_test("debootstrap-rs trixie minbase") {
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
    if !mirror_test("debootstrap-rs tarball") {
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
    if !mirror_test("debootstrap-rs ext4 image") {
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
    if !mirror_test("debootstrap-rs --foreign / --second-stage") {
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
    if !mirror_test("debootstrap-rs interrupted in the second stage") {
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
    assert_eq!(stderr, "debootstrap-rs: interrupted by SIGINT\n");
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
