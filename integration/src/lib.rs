//! The harness of the end-to-end tests in `tests/`: where the built tools are, the root
//! check that turns into a failure in CI, per-test temporary directories, a small static
//! root filesystem built from busybox, guards that clean up on panic, and running a
//! command with a time-out.
//!
//! The tools are built before the tests run (`cargo xtask test` does it); the tests find
//! them next to the test executable's target directory, or in `$TOOLKIT_BIN_DIR`.

pub mod cgroups;
pub mod container;
pub mod ctn;
pub mod debmirror;
pub mod guard;
pub mod netns;
pub mod proxy;
pub mod rootfs;
pub mod run;

use std::path::PathBuf;

pub use guard::Guard;
pub use rootfs::Rootfs;
pub use run::{Background, Output, cmd, run, run_with_timeout};

/// The path of one of the toolkit's binaries (`"chroot-rs"`).
///
/// Panics with a hint when it has not been built: a missing binary is a broken test
/// set-up, not a skip.
pub fn bin(name: &str) -> PathBuf {
    let dir = match std::env::var_os("TOOLKIT_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            // target/<profile>/deps/<test-exe> → target/<profile>
            let exe = std::env::current_exe().expect("current_exe");
            let mut dir = exe.parent().expect("exe dir").to_path_buf();
            if dir.ends_with("deps") {
                dir.pop();
            }
            dir
        }
    };
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace --bins` first (`cargo xtask test` does)",
        path.display()
    );
    path
}

/// True when this process may do what root tests need (uid 0 with CAP_SYS_ADMIN).
pub fn is_root() -> bool {
    if !nix::unistd::geteuid().is_root() {
        return false;
    }
    // CapEff in /proc/self/status: bit 21 is CAP_SYS_ADMIN.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

/// Decide whether a root test runs. As root: yes. Otherwise the test is reported as
/// skipped ([`skip`]) and this returns false, unless `INTEGRATION_REQUIRE_ROOT=1` (set
/// by CI), which makes it a failure.
///
/// ```ignore
/// if !integration::require_root("pivot_root") { return; }
/// ```
pub fn require_root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    let required = std::env::var("INTEGRATION_REQUIRE_ROOT").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{what}: needs root (CAP_SYS_ADMIN) and INTEGRATION_REQUIRE_ROOT=1 forbids skipping"
    );
    skip(what, "needs CAP_SYS_ADMIN (run as root)");
    false
}

/// Report the running test as skipped: it returns without testing anything, for `why`
/// (a host that lacks what it needs). The test harness can only count it as passed, so
/// the skip is printed (`SKIP: what: why`) and, when `INTEGRATION_SKIP_LOG` names a file
/// (`cargo xtask test` sets it), appended there as one line, `BINARY TEST\twhat: why`:
/// the test command reports those tests as skipped, not passed.
pub fn skip(what: &str, why: &str) {
    // Written to stderr directly, not through eprintln!, so that the test harness's
    // output capture does not swallow it: a skip must be seen.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIP: {what}: {why}");
    let Some(log) = std::env::var_os("INTEGRATION_SKIP_LOG") else {
        return;
    };
    let (binary, test) = current_test();
    // One write(2) of one line on an O_APPEND file: lines of tests running at the same
    // time in other processes do not interleave.
    let line = format!("{binary} {test}\t{what}: {why}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!(
            "cannot record the skip in {}: {e}",
            std::path::Path::new(&log).display()
        );
    }
}

/// The running test as (binary, test name): nextest says (`NEXTEST_BINARY_ID`,
/// `NEXTEST_TEST_NAME`); under `cargo test`, the executable's name without its hash and
/// the test thread's name (libtest names each test's thread after the test).
fn current_test() -> (String, String) {
    let binary = std::env::var("NEXTEST_BINARY_ID").unwrap_or_else(|_| {
        let exe = std::env::current_exe().unwrap_or_default();
        let stem = exe
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match stem.rsplit_once('-') {
            Some((name, hash)) if hash.bytes().all(|b| b.is_ascii_hexdigit()) => name.to_owned(),
            _ => stem,
        }
    });
    let test = std::env::var("NEXTEST_TEST_NAME").unwrap_or_else(|_| {
        std::thread::current()
            .name()
            .unwrap_or("(unnamed)")
            .to_owned()
    });
    (binary, test)
}

/// Panics when the run is offline (`TOOLKIT_OFFLINE=1`, which `cargo xtask test --fast`
/// sets): a test that needs the Debian mirror calls this first, so that one put in a
/// test binary of the offline tier fails loudly instead of reaching the network. Such a
/// test belongs in a binary named `*_mirror` (the mirror tier, see README.md).
pub fn require_mirror(what: &str) {
    assert!(
        std::env::var("TOOLKIT_OFFLINE").as_deref() != Ok("1"),
        "{what} needs the Debian mirror, but this is the offline tier (TOOLKIT_OFFLINE=1): \
         tests that need the mirror go in a test binary named *_mirror"
    );
}

/// A name unique to this process and call, for links, cgroups and namespace files:
/// `prefix` + pid + counter, short enough for an interface name when prefix ≤ 4 bytes.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id())
}

/// Where downloads and built root filesystems are kept between runs (`$TOOLKIT_CACHE`,
/// default /var/cache/container-toolkit), as `cargo xtask` keeps them.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("TOOLKIT_CACHE").map_or_else(
        || PathBuf::from("/var/cache/container-toolkit"),
        PathBuf::from,
    )
}

/// A temporary directory bound on itself with private propagation (what a mount namespace
/// file needs below it, as for util-linux), unmounted with everything below it by the
/// guard, panic or not.
pub fn private_dir() -> (tempfile::TempDir, Guard<impl FnOnce()>) {
    let dir = tempdir();
    let path = dir.path().to_owned();
    let guard = Guard::new(move || {
        let _ = run(cmd("umount").args(["-R", "-l"]).arg(&path));
    });
    run(cmd("mount").arg("--bind").arg(dir.path()).arg(dir.path())).ok();
    run(cmd("mount").arg("--make-private").arg(dir.path())).ok();
    (dir, guard)
}

/// The mount points of this mount namespace, but for the scratch directories of other
/// tests running at the same time (`tempdir`'s), except `ours`: what "a mount was left"
/// compares.
pub fn mount_points(ours: &std::path::Path) -> Vec<String> {
    let scratch = tempdir();
    let prefix = scratch
        .path()
        .to_string_lossy()
        .trim_end_matches(|c: char| c != '-')
        .to_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|m| !m.starts_with(&prefix) || std::path::Path::new(m).starts_with(ours))
        .collect()
}

/// A fresh temporary directory removed (with everything in it) when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("toolkit-it-")
        .tempdir()
        .expect("create a temporary directory")
}
