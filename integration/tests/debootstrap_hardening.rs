//! debootstrap-rs hardened: bad input refused in one line leaving nothing behind, a
//! mirror named by host name (resolved without NSS), and runs killed at points spread
//! over their whole length (SIGINT, SIGTERM, SIGKILL) leaving no process, no mount and a
//! cache a `--force` rerun completes from.
//!
//! Everything runs against a small archive signed with a throwaway key and served on
//! loopback (`integration::debmirror`); its `base` package is a stand-in system (busybox,
//! a `dpkg` that works for a while and leaves a child behind that ignores SIGTERM), so
//! that a whole run, second stage included, takes a second or two.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration::debmirror::{Archive, Behaviour, Key, Package, Server};
use integration::{Output, bin, cmd, require_root, run_with_timeout};
use nix::sys::signal::Signal;

fn tool() -> Command {
    cmd(bin("debootstrap-rs"))
}

struct Lab {
    dir: tempfile::TempDir,
    key: Key,
    archive: Archive,
    server: Server,
    cache: PathBuf,
}

impl Lab {
    /// `base` (the stand-in system: its dpkg works `work` seconds), `apt`, a few plain
    /// packages so that downloads overlap, and `huge` (claims 500 MB installed).
    fn new(work: f32) -> Self {
        let dir = integration::tempdir();
        let key = Key::new();
        let mut pkgs = vec![
            Package::fake_system("base", work, 60),
            Package::plain("apt", "important"),
            Package {
                fields: "Installed-Size: 500000\n".into(),
                ..Package::plain("huge", "optional")
            },
        ];
        for n in ["libone", "libtwo", "libthree", "libfour"] {
            pkgs.push(Package::plain(n, "required"));
        }
        let archive = Archive::build(&dir.path().join("archive"), &pkgs, &key, "");
        let server = Server::start(&archive.root);
        Self {
            cache: dir.path().join("cache"),
            dir,
            key,
            archive,
            server,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A full run (second stage included) into `target`.
    fn command(&self, target: &Path, extra: &[&str]) -> Command {
        let mut c = tool();
        c.args(["--variant=minbase", "--arch=amd64", "--keyring"])
            .arg(&self.key.keyring)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(extra)
            .arg("testsuite")
            .arg(target)
            .arg(self.server.url());
        c
    }

    /// Every file of the cache is what the signed chain promises, under its name. With
    /// `dead_partials`, the temporary file of a run killed by SIGKILL may be left (it
    /// has no trusted name and the next run removes it); otherwise none may.
    fn cache_is_valid(&self, dead_partials: bool) {
        let release = self.archive.release_text();
        let packages = fs::read_to_string(
            self.archive
                .root
                .join("dists/testsuite/main/binary-amd64/Packages"),
        )
        .unwrap();
        for sub in ["debs", "indexes"] {
            let Ok(rd) = fs::read_dir(self.cache.join(sub)) else {
                continue;
            };
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some((_, pid)) = n.rsplit_once(".partial.") {
                    assert!(
                        dead_partials && !Path::new("/proc").join(pid).exists(),
                        "partial file in the cache: {n}"
                    );
                    continue;
                }
                let got = integration::debmirror::sha256(&e.path());
                let promised = if sub == "debs" {
                    packages.contains(&format!("SHA256: {got}\n"))
                } else {
                    release.contains(&format!(" {got} ")) && n == got
                };
                assert!(promised, "{sub}/{n} is not what the signed chain says");
            }
        }
    }
}

/// Processes whose root directory is `root` or below it.
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

/// Mount points of this (the host's) mount namespace under `dir`.
fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|m| m.starts_with(&prefix))
        .collect()
}

/// Wait up to `limit` for no process to run in `root`; how long it took.
fn until_no_process(root: &Path, limit: Duration) -> Result<Duration, Vec<String>> {
    let t = Instant::now();
    loop {
        let left = processes_in(root);
        if left.is_empty() {
            return Ok(t.elapsed());
        }
        if t.elapsed() > limit {
            return Err(left);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The one-line rule: one message line `debootstrap-rs: …`, followed for a usage
/// error (exit 2 from the command line) by the usual `Try … --help` line only.
#[track_caller]
fn one_clear_line(o: &Output, code: i32, wanted: &str) {
    assert_eq!(o.code, code, "exit code; output:\n{o}");
    let lines: Vec<&str> = o.stderr.lines().collect();
    let msg = lines.first().copied().unwrap_or("");
    assert!(
        msg.starts_with("debootstrap-rs: ") && msg.contains(wanted),
        "wanted a line with {wanted:?}; output:\n{o}"
    );
    assert!(
        !msg.contains("Error {") && !msg.contains("Error(") && msg.len() < 600,
        "not a clear line: {msg}"
    );
    match &lines[1..] {
        [] => {}
        ["Try 'debootstrap-rs --help' for more information."] if code == 2 => {}
        rest => panic!("more than one line: {rest:?}; output:\n{o}"),
    }
    assert_eq!(o.stdout, "", "stdout is data only");
}

#[test]
fn bad_input_is_refused_in_one_line_and_leaves_nothing() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    let lab = Lab::new(0.0);
    let other_key = Key::new();
    let garbage = lab.path("garbage.gpg");
    fs::write(&garbage, b"this is no keyring\n").unwrap();
    let dead = {
        let d = integration::tempdir();
        Server::start(d.path()).url()
    };
    // A second archive whose InRelease has a second Release appended after the signature.
    let trailing = {
        let root = lab.path("trailing");
        let a = Archive::build(&root, &[Package::plain("base", "required")], &lab.key, "");
        let p = a.root.join("dists/testsuite/InRelease");
        let mut text = fs::read_to_string(&p).unwrap();
        text.push_str("\nSuite: testsuite\nSHA256:\n 00 1 main/binary-amd64/Packages\n");
        fs::write(&p, text).unwrap();
        Server::start(&root)
    };
    let keyring = lab.key.keyring.to_string_lossy().into_owned();
    let url = lab.server.url();
    let long_name = "x".repeat(300);
    let long_suite = "s".repeat(65);
    let bad_utf8 = OsString::from_vec(vec![b'b', 0xff, b'k']);
    let huge_target = format!("{}/{long_name}", lab.path("long").display());
    struct Case {
        args: Vec<OsString>,
        target: &'static str,
        code: i32,
        wanted: String,
    }
    let case = |args: &[&str], target: &'static str, code: i32, wanted: &str| Case {
        args: args.iter().map(OsString::from).collect(),
        target,
        code,
        wanted: wanted.to_owned(),
    };
    let mut cases = vec![
        // The command line (exit 2, nothing looked up).
        case(
            &["--variant=huge", "testsuite"],
            "t",
            2,
            "unsupported variant 'huge'",
        ),
        case(&[".."], "t", 2, "invalid suite '..'"),
        case(&["a/../b"], "t", 2, "invalid suite 'a/../b'"),
        case(&[&long_suite], "t", 2, "invalid suite"),
        case(
            &["--components=main,../x", "testsuite"],
            "t",
            2,
            "invalid component '../x'",
        ),
        case(
            &["--components=ma in", "testsuite"],
            "t",
            2,
            "invalid component",
        ),
        case(
            &["--arch=amd64/x", "testsuite"],
            "t",
            2,
            "invalid architecture",
        ),
        case(
            &["--include=../etc/passwd", "testsuite"],
            "t",
            2,
            "invalid package name",
        ),
        case(
            &["--exclude=Ünïcode", "testsuite"],
            "t",
            2,
            "invalid package name",
        ),
        case(
            &["--extra-suites=../x", "testsuite"],
            "t",
            2,
            "invalid suite '../x'",
        ),
        case(
            &["--image-size=600", "testsuite"],
            "t.img",
            2,
            "--image-size '600': no unit",
        ),
        case(
            &["--image-size=-5M", "testsuite"],
            "t.img",
            2,
            "--image-size: invalid size '-5M'",
        ),
        case(
            &["--image-size=1K", "testsuite"],
            "t.img",
            2,
            "too small for a root file system",
        ),
        case(&["--image-size=9E", "testsuite"], "t.img", 2, "too large"),
        case(
            &["--image-size=99999999E", "testsuite"],
            "t.img",
            2,
            "too large",
        ),
        case(
            &["--image-size=12Q", "testsuite"],
            "t.img",
            2,
            "unknown unit",
        ),
        case(
            &["--image-size=1G", "testsuite"],
            "t",
            2,
            "--image-size applies to an ext4 image",
        ),
        case(
            &["--jobs=0", "testsuite"],
            "t",
            2,
            "--jobs must be between 1 and 64",
        ),
        case(
            &["--jobs=100000", "testsuite"],
            "t",
            2,
            "--jobs must be between 1 and 64",
        ),
        case(&["--jobs=-3", "testsuite"], "t", 2, "'-3'"),
        case(
            &["--format=zip", "testsuite"],
            "t",
            2,
            "unknown format 'zip'",
        ),
        case(
            &["--no-such-option", "testsuite"],
            "t",
            2,
            "unrecognized option '--no-such-option'",
        ),
    ];
    for bad in [
        "http://",
        "ftp://mirror.example/debian",
        "http://127.0.0.1:99999/",
        "http://a b/",
        "http://[::1/",
        "file://relative/path",
        "http://user@127.0.0.1/",
    ] {
        cases.push(case(&["testsuite", "TARGET", bad], "t", 2, "MIRROR '"));
    }
    let mut suite_utf8 = case(&[], "t", 2, "invalid suite");
    suite_utf8.args.push(bad_utf8);
    cases.push(suite_utf8);
    // Found once the mirror answers (exit 1), or the image size once the package set is
    // known (exit 2).
    cases.extend([
        case(
            &["--keyring", &keyring, "nosuchsuite", "TARGET", &url],
            "t",
            1,
            "dists/nosuchsuite/InRelease': HTTP status 404",
        ),
        case(
            &["--keyring", &keyring, "testsuite", "TARGET", &dead],
            "t",
            1,
            "Connection refused",
        ),
        case(
            &["--keyring=/nonexistent/k.gpg", "testsuite", "TARGET", &url],
            "t",
            1,
            "keyring '/nonexistent/k.gpg': No such file or directory",
        ),
        case(
            &[
                "--keyring",
                &garbage.to_string_lossy(),
                "testsuite",
                "TARGET",
                &url,
            ],
            "t",
            1,
            "keyring '",
        ),
        case(
            &[
                "--keyring",
                &other_key.keyring.to_string_lossy(),
                "testsuite",
                "TARGET",
                &url,
            ],
            "t",
            1,
            "no such key in the keyring",
        ),
        case(
            &[
                "--keyring",
                &keyring,
                "--components=nosuch",
                "testsuite",
                "TARGET",
                &url,
            ],
            "t",
            1,
            "lists no Packages index for nosuch/binary-amd64",
        ),
        case(
            &[
                "--keyring",
                &keyring,
                "--include=nosuchpackage",
                "testsuite",
                "TARGET",
                &url,
            ],
            "t",
            1,
            "cannot resolve the package set",
        ),
        case(
            &[
                "--keyring",
                &keyring,
                "testsuite",
                "TARGET",
                &trailing.url(),
            ],
            "t",
            1,
            "not a clearsigned file (text after '-----END PGP SIGNATURE-----')",
        ),
        case(
            &[
                "--keyring",
                &keyring,
                "--include=huge",
                "--image-size=100M",
                "testsuite",
                "TARGET",
                &url,
            ],
            "t.img",
            2,
            "--image-size 100M is too small: the 7 packages install 489M",
        ),
        case(
            &[
                "--keyring",
                &keyring,
                "--image-size=20T",
                "testsuite",
                "TARGET",
                &url,
            ],
            "t.img",
            1,
            "20T large: File too large",
        ),
    ]);
    let mut long = case(
        &["--keyring", &keyring, "testsuite"],
        "t",
        1,
        "File name too long",
    );
    long.args = [
        "--keyring",
        &keyring,
        "--variant=minbase",
        "testsuite",
        &huge_target,
        &url,
    ]
    .iter()
    .map(OsString::from)
    .collect();
    cases.push(long);

    for (n, c) in cases.iter().enumerate() {
        let parent = lab.path(&format!("case{n}"));
        fs::create_dir(&parent).unwrap();
        // A directory TARGET (and its parent) is made by the run; a tarball or image
        // goes into an existing directory.
        let target = if c.target.contains('.') {
            parent.join(c.target)
        } else {
            parent.join("sub").join(c.target)
        };
        let mut args: Vec<OsString> = Vec::new();
        let mut placed = false;
        for a in &c.args {
            if a == "TARGET" {
                args.push(target.clone().into_os_string());
                placed = true;
            } else {
                args.push(a.clone());
            }
        }
        if !placed
            && !c
                .args
                .iter()
                .any(|a| a.to_string_lossy().contains(&long_name))
        {
            args.push(target.clone().into_os_string());
        }
        let o = run_with_timeout(
            tool()
                .args(["-q", "--cache-dir"])
                .arg(lab.path(&format!("cache{n}")))
                .args(&args),
            Duration::from_secs(60),
        );
        eprintln!(
            "case {n}: {:?} -> {} {}",
            c.args,
            o.code,
            o.stderr.lines().next().unwrap_or("")
        );
        one_clear_line(&o, c.code, &c.wanted);
        // Nothing left: no TARGET (nor the parent it would have made), no partial file,
        // no scratch directory.
        let left: Vec<_> = fs::read_dir(&parent)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "case {n} {:?} left {left:?}", c.args);
        assert!(
            !lab.path("long").exists(),
            "case {n} left the long TARGET's parent"
        );
    }
    eprintln!(
        "{} bad inputs refused, each in one line, nothing left",
        cases.len()
    );
}

#[test]
fn a_mirror_named_by_host_name_is_resolved_without_nss() {
    if !require_root("an /etc/hosts of a private mount namespace") {
        return;
    }
    // The name exists only in the /etc/hosts of this run's own mount namespace (the
    // host's file is not touched); `localhost` is RFC 6761's.
    let lab = Lab::new(0.0);
    let port = lab.server.url().rsplit(':').next().unwrap().to_owned();
    let hosts = lab.path("hosts");
    fs::write(
        &hosts,
        "127.0.0.1 localhost\n127.0.0.1 debootstrap-rs-lab-mirror.test\n",
    )
    .unwrap();
    for host in ["debootstrap-rs-lab-mirror.test", "localhost"] {
        let target = lab.path(&format!("t-{host}"));
        let mirror = format!("http://{host}:{port}");
        let o = run_with_timeout(
            Command::new("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg("mount --bind \"$1\" /etc/hosts && shift && exec \"$@\"")
                .arg("sh")
                .arg(&hosts)
                .arg(bin("debootstrap-rs"))
                .args([
                    "-v",
                    "--foreign",
                    "--variant=minbase",
                    "--arch=amd64",
                    "--keyring",
                ])
                .arg(&lab.key.keyring)
                .arg("testsuite")
                .arg(&target)
                .arg(&mirror)
                .stdin(Stdio::null()),
            Duration::from_secs(60),
        );
        o.ok();
        assert!(target.join("usr/share/apt/hello").is_file(), "{o}");
        assert!(
            o.stderr
                .contains(&format!("GET {mirror}/dists/testsuite/InRelease = 200")),
            "{o}"
        );
        if host != "localhost" {
            assert!(
                o.stderr
                    .contains(&format!("/etc/hosts: {host} = [127.0.0.1]")),
                "{o}"
            );
        }
        let sources =
            fs::read_to_string(target.join("etc/apt/sources.list.d/debian.sources")).unwrap();
        assert!(sources.contains(&format!("URIs: {mirror}\n")), "{sources}");
    }
}

#[test]
fn a_finished_run_leaves_no_process_in_the_target() {
    if !require_root("debootstrap-rs with a second stage") {
        return;
    }
    // The stand-in dpkg leaves a child that ignores SIGTERM: it dies with the second
    // stage's PID namespace, before debootstrap-rs exits.
    let lab = Lab::new(0.2);
    let t = lab.path("target");
    run_with_timeout(&mut lab.command(&t, &["-q"]), Duration::from_secs(60)).ok();
    assert!(t.join("var/lib/dpkg/fake-configured").is_file());
    assert_eq!(processes_in(&t), Vec::<String>::new());
    assert_eq!(mounts_under(lab.dir.path()), Vec::<String>::new());
}

/// One run killed with `sig` after `delay`: what phase it was in, its exit code, how
/// long until no process ran in TARGET, and whether a `--force` rerun completed.
struct Kill {
    sig: Signal,
    delay: Duration,
    phase: String,
    code: Option<i32>,
    gone_after: Duration,
    rerun: Duration,
}

#[test]
fn killed_anywhere_leaves_no_process_no_mount_and_a_cache_a_rerun_completes_from() {
    if !require_root("debootstrap-rs with a second stage") {
        return;
    }
    let lab = Lab::new(0.8);
    // Every request answered 150 ms late: the fetch phases last long enough to be hit.
    lab.server.set(Behaviour::Delay(Duration::from_millis(150)));
    let t = lab.path("target");
    // The run's length, once with a cold cache (what the kills are spread over) and
    // the stand-in second stage.
    let start = Instant::now();
    run_with_timeout(&mut lab.command(&t, &[]), Duration::from_secs(60)).ok();
    let length = start.elapsed();
    fs::remove_dir_all(&lab.cache).unwrap();
    let mut kills = Vec::new();
    let points = 4u32;
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL] {
        for i in 0..points {
            // Spread over the run: (i + 0.5) / points of its length; the cache is emptied
            // before each so that the early phases (downloads) are there to be hit.
            let _ = fs::remove_dir_all(&lab.cache);
            let delay = length.mul_f64((f64::from(i) + 0.5) / f64::from(points));
            let mut child = lab
                .command(&t, &["--force"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut err = child.stderr.take().unwrap();
            let reader = std::thread::spawn(move || {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut err, &mut s);
                s
            });
            std::thread::sleep(delay);
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id().cast_signed()), sig);
            let status = child.wait().unwrap();
            // From debootstrap-rs's exit: how long until nothing runs in TARGET.
            let gone = until_no_process(&t, Duration::from_secs(5));
            let stderr = reader.join().unwrap();
            let phase = stderr
                .lines()
                .rfind(|l| !l.contains("interrupted"))
                .unwrap_or("(start)")
                .trim_start_matches("debootstrap-rs: ")
                .to_owned();
            let gone_after = gone.unwrap_or_else(|left| {
                panic!("{sig} after {delay:?} ({phase}): still running in TARGET: {left:?}")
            });
            let out = std::process::Output {
                status,
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
            match (sig, out.status.code()) {
                (Signal::SIGKILL, None) | (_, Some(0)) => {}
                // Stopped by the signal: 128+N, and the message names it.
                (_, Some(code)) if code == 128 + sig as i32 => assert!(
                    stderr.ends_with(&format!(
                        "debootstrap-rs: interrupted by {}\n",
                        sig.as_str()
                    )),
                    "{stderr}"
                ),
                (_, other) => panic!("{sig} after {delay:?} ({phase}): exit {other:?}: {stderr}"),
            }
            assert_eq!(
                mounts_under(lab.dir.path()),
                Vec::<String>::new(),
                "{sig} {phase}"
            );
            lab.cache_is_valid(sig == Signal::SIGKILL);
            let r = Instant::now();
            let o = run_with_timeout(
                &mut lab.command(&t, &["-q", "--force"]),
                Duration::from_secs(60),
            );
            assert_eq!(
                o.code, 0,
                "the rerun after {sig} at {delay:?} ({phase}) failed:\n{o}"
            );
            let rerun = r.elapsed();
            assert!(t.join("var/lib/dpkg/fake-configured").is_file());
            assert_eq!(processes_in(&t), Vec::<String>::new());
            lab.cache_is_valid(false);
            kills.push(Kill {
                sig,
                delay,
                phase,
                code: out.status.code(),
                gone_after,
                rerun,
            });
        }
    }
    eprintln!(
        "fault injection: a run lasts {:.2}s with a cold cache; {} kills",
        length.as_secs_f64(),
        kills.len()
    );
    for k in &kills {
        eprintln!(
            "  {:<7} at {:>5.2}s  exit {:<4} no process in TARGET {:>4} ms after exit, rerun {:.2}s ok  [{}]",
            k.sig.as_str(),
            k.delay.as_secs_f64(),
            k.code.map_or_else(|| "kill".to_owned(), |c| c.to_string()),
            k.gone_after.as_millis(),
            k.rerun.as_secs_f64(),
            k.phase
        );
    }
    let phases: std::collections::BTreeSet<&str> = kills
        .iter()
        .map(|k| k.phase.split(' ').next().unwrap_or(""))
        .collect();
    eprintln!("  phases hit (first word of the last progress line): {phases:?}");
}

#[test]
fn the_binary_resolves_names_without_nss() {
    // The release binary is static, where glibc's getaddrinfo would load the host's NSS
    // modules (unsafe). The test build is dynamic: were any NSS look-up linked in, it
    // would be an undefined symbol here.
    let o = integration::run(
        Command::new("nm")
            .args(["-D", "--undefined-only"])
            .arg(bin("debootstrap-rs")),
    );
    o.ok();
    let nss: Vec<&str> = o
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| {
            [
                "getaddrinfo",
                "gethostbyname",
                "getnameinfo",
                "getpwnam",
                "getgrnam",
            ]
            .iter()
            .any(|f| s.starts_with(f))
        })
        .collect();
    assert!(
        nss.is_empty(),
        "NSS look-ups linked into debootstrap-rs: {nss:?}"
    );
}

/// The entries named like a scratch directory in `dir`.
fn scratch_dirs(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".debootstrap-rs-"))
        .collect()
}

#[test]
fn a_rerun_removes_the_scratch_directories_of_a_killed_run() {
    if !require_root("debootstrap-rs against a local archive") {
        return;
    }
    // Without --cache-dir the downloads go to a scratch directory in TARGET (for a
    // directory) or beside it (a tarball, whose tree is built there too). SIGKILL
    // leaves it; the rerun removes it.
    let lab = Lab::new(0.0);
    lab.server.set(Behaviour::Stall(
        "base_1.0_all.deb".into(),
        Duration::from_secs(30),
    ));
    let out_dir = lab.path("out");
    fs::create_dir(&out_dir).unwrap();
    for (target, scratch_in) in [
        (lab.path("target"), lab.path("target")),
        (out_dir.join("t.tar"), out_dir.clone()),
    ] {
        lab.server.set(Behaviour::Stall(
            "base_1.0_all.deb".into(),
            Duration::from_secs(30),
        ));
        let mut c = tool();
        c.args(["-q", "--variant=minbase", "--keyring"])
            .arg(&lab.key.keyring)
            .arg("testsuite")
            .arg(&target)
            .arg(lab.server.url())
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let t = Instant::now();
        while scratch_dirs(&scratch_in).is_empty() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            scratch_dirs(&scratch_in).len(),
            1,
            "the killed run's scratch"
        );
        lab.server.set(Behaviour::Normal);
        let mut c = tool();
        c.args(["-q", "--force", "--variant=minbase", "--keyring"])
            .arg(&lab.key.keyring)
            .arg("testsuite")
            .arg(&target)
            .arg(lab.server.url());
        run_with_timeout(&mut c, Duration::from_secs(60)).ok();
        assert_eq!(
            scratch_dirs(&scratch_in),
            Vec::<String>::new(),
            "{}",
            target.display()
        );
        assert_eq!(processes_in(&lab.path("target")), Vec::<String>::new());
    }
    assert!(out_dir.join("t.tar").is_file());
}
