//! `cargo xtask …`: the project's chores, so that a newcomer and CI run the same thing.
//!
//! - `test`: the suite in tiers (see `suite`): lints, cargo deny, the fast tier (unit and
//!   offline integration tests), the mirror tier, doc tests, the release binaries, the VM
//!   lane; `--fast` and `--mirror` run one tier. Root tests fail instead of skipping when
//!   INTEGRATION_REQUIRE_ROOT=1.
//! - `bench NAME`: build release binaries (of the packages the script names in a
//!   `# packages:` line) and run `bench/NAME.sh`, which times our tool and the one it
//!   replaces side by side and prints ratios; `bench all` runs every script and writes
//!   `docs/benchmarks.md` (`bench report`: the page again from the kept outputs).
//! - `demo`: build and run the course's lab with the tools (see README.md).
//! - `man`, `completions`: man pages and shell completions from the clap definitions the
//!   built binaries describe, in `target/man/` and `target/completions/`.
//! - `deb`: one Debian package per tool and one for the manager, in `target/debian/`.
//! - `fuzz [--time SECONDS] [--record] [--build] [TARGET…]`: the libFuzzer targets of
//!   `fuzz/`, built and run on the stable toolchain (see `fuzz`).
//! - `hardening`: the fault-injection, bad-input, hostile-mirror and load tests with their
//!   figures, and the fuzzing time, written to `docs/hardening.md`.
//! - `vm-test`, `vm-run`: the VM lane (pure cgroup v2, vlan) under qemu; see `vm`.

mod benchall;
mod clapdoc;
mod completions;
mod deb;
mod demo;
mod dist;
mod fuzz;
mod hardening;
mod man;
mod roff;
mod suite;
mod tools;
mod vm;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<()> {
    let root = workspace_root();
    env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("test") => suite::run(&root, &args[1..]),
        Some("bench") => bench(&root, &args[1..]),
        Some("demo") => demo::run(&root, &args[1..]),
        Some("man") => man::run(&root, &args[1..]),
        Some("completions") => completions::run(&root, &args[1..]),
        Some("deb") => deb::run(&root, &args[1..]),
        Some("fuzz") => fuzz::run(&root, &args[1..]),
        Some("hardening") => hardening::run(&root, &args[1..]),
        Some("vm-test") => vm::vm_test(&root),
        Some("vm-run") => vm::vm_run(&args[1..]),
        _ => bail!(
            "usage: cargo xtask test | bench NAME|all|report | demo | man | completions | deb | fuzz | hardening | vm-test | vm-run"
        ),
    }
}

/// The workspace root: xtask's manifest dir's parent.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Where downloads and built root filesystems are kept between runs.
pub fn cache_dir() -> PathBuf {
    env::var_os("TOOLKIT_CACHE").map_or_else(
        || PathBuf::from("/var/cache/container-toolkit"),
        PathBuf::from,
    )
}

/// What `program ARGS` prints, trimmed; `?` when it cannot run or fails.
pub fn capture(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "?".to_owned(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        )
}

/// When, from what and where a generated page was written: "on DATE, commit C, on
/// DISTRIBUTION (N CPUs, kernel K)".
pub fn stamp() -> String {
    format!(
        "on {}, commit {}, on {} ({} CPUs, kernel {})",
        capture("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        capture("git", &["rev-parse", "--short", "HEAD"]),
        capture("sh", &["-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        capture("uname", &["-r"]),
    )
}

/// Run a command, echoing it, and fail unless it succeeds.
pub fn sh(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: $ {}", display(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {}", display(cmd)))?;
    if !status.success() {
        bail!("{} failed ({status})", display(cmd));
    }
    Ok(())
}

fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The shell scripts of the repository (shellcheck's input): the entry points, the
/// manager and its front-ends, the examples, the benchmarks.
pub fn shell_scripts(root: &Path) -> Result<Vec<String>> {
    let mut v = vec!["lab".to_owned(), ".ci/run".to_owned()];
    for dir in ["ctn", "examples", "bench"] {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dir))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".md"))
            .map(|n| format!("{dir}/{n}"))
            .collect();
        names.sort();
        v.extend(names);
    }
    Ok(v)
}

fn bench(root: &Path, args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("all" | "report") => benchall::run(root, args, |a| bench_one(root, a)),
        Some(_) => bench_one(root, args).map(drop),
        None => {
            bail!("usage: cargo xtask bench NAME [ARGS] | all | report (NAME: one of bench/*.sh)")
        }
    }
}

/// Build what `bench/NAME.sh` times and run it, its output shown as it comes and kept in
/// `target/bench/NAME.txt` (what `bench report` reads); the output.
fn bench_one(root: &Path, args: &[String]) -> Result<String> {
    use std::io::{BufRead, BufReader};
    let name = &args[0];
    let script = root.join("bench").join(format!("{name}.sh"));
    if !script.is_file() {
        bail!("no benchmark {name}: {} does not exist", script.display());
    }
    // A script names the packages it times in a `# packages: a b` line; build only those.
    let text = std::fs::read_to_string(&script)?;
    let packages: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("# packages:"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    let bin_dir = dist::build(root, &packages)?;
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .args(&args[1..])
        .env("BIN_DIR", bin_dir)
        .env("TOOLKIT_CACHE", cache_dir())
        .stdout(std::process::Stdio::piped());
    eprintln!("xtask: $ {}", display(&cmd));
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", display(&cmd)))?;
    let mut out = String::new();
    for line in BufReader::new(child.stdout.take().context("stdout")?).lines() {
        let line = line?;
        println!("{line}");
        out.push_str(&line);
        out.push('\n');
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("{} failed ({status})", display(&cmd));
    }
    let kept = root.join("target/bench");
    std::fs::create_dir_all(&kept)?;
    std::fs::write(kept.join(format!("{name}.txt")), &out)?;
    Ok(out)
}
