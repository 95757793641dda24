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

/// Decide whether a root test runs. As root: yes. Otherwise print a loud SKIP and
/// return false, unless `INTEGRATION_REQUIRE_ROOT=1` (set by CI), which makes it a failure.
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
    // Written to stderr directly, not through eprintln!, so that the test harness's
    // output capture does not swallow it: a skip must be seen.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIP: {what}: needs CAP_SYS_ADMIN (run as root)"
    );
    false
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

/// A fresh temporary directory removed (with everything in it) when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("toolkit-it-")
        .tempdir()
        .expect("create a temporary directory")
}
