//! `cargo xtask test`: the test suite, in the tiers a newcomer sees in the README.
//!
//! | step     | what                                                            | flag       |
//! | -------- | --------------------------------------------------------------- | ---------- |
//! | lint     | `cargo fmt --check`, shellcheck, clippy `-D warnings`           | `--no-lint` |
//! | deny     | `cargo deny check` (licences, duplicates, sources; advisories when the database can be had) | `--no-lint` |
//! | fast     | unit tests and offline integration tests (nextest's default profile) | `--fast` runs only this |
//! | mirror   | the tests that need the Debian mirror (test binaries `*_mirror`) | `--mirror` runs only this, `--no-mirror` |
//! | doc      | doc tests (nextest does not run them)                           |            |
//! | fuzz     | every fuzz target of `fuzz/` for 10 s (`cargo xtask fuzz`), on the stable toolchain | `--no-fuzz` |
//! | dist     | the release binaries as shipped: static where they should be, no NSS in a static one, and the host-name mirror and CLI tests run against them | `--no-dist` |
//! | vm       | the VM lane (`cargo xtask vm-test`)                             | `--no-vm`  |
//!
//! With no flag, every step runs (what `./lab test` and CI run). Arguments after `--` go
//! to nextest (`cargo xtask test --fast -- -E 'test(pivot)'`).
//!
//! Tests run under cargo-nextest (`.config/nextest.toml`): each in its own process, with
//! a time-out that kills a hung test and fails it by name. A test that cannot run here
//! (a root test as another user, a host without the hierarchy it needs) returns early
//! through `integration::skip`, which nextest can only count as a pass; each such test
//! writes a line to `INTEGRATION_SKIP_LOG`, and this reports it as skipped.

use std::collections::BTreeSet;
use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cache_dir, cargo, dist, sh, vm};

/// The steps, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Lint,
    Deny,
    Fast,
    Mirror,
    Doc,
    Fuzz,
    Dist,
    Vm,
}

const ALL: [Step; 8] = [
    Step::Lint,
    Step::Deny,
    Step::Fast,
    Step::Mirror,
    Step::Doc,
    Step::Fuzz,
    Step::Dist,
    Step::Vm,
];

/// Seconds each fuzz target runs in the test command.
const FUZZ_SECONDS: &str = "10";

const USAGE: &str = "usage: cargo xtask test [--fast | --mirror] [--no-lint] [--no-mirror] \
                     [--no-fuzz] [--no-dist] [--no-vm] [-- NEXTEST-ARGS...]";

#[derive(Debug)]
struct Opts {
    steps: BTreeSet<Step>,
    nextest_args: Vec<String>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let (ours, nextest_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (args, Vec::new()),
    };
    let mut steps: BTreeSet<Step> = ALL.into_iter().collect();
    let mut only = None;
    for a in ours {
        match a.as_str() {
            "--fast" | "--mirror" => {
                let s = if a == "--fast" {
                    Step::Fast
                } else {
                    Step::Mirror
                };
                if only.replace(s).is_some_and(|o| o != s) {
                    bail!("--fast and --mirror are two tiers: run one at a time\n{USAGE}");
                }
            }
            "--no-lint" => {
                steps.remove(&Step::Lint);
                steps.remove(&Step::Deny);
            }
            "--no-mirror" => {
                steps.remove(&Step::Mirror);
            }
            "--no-fuzz" => {
                steps.remove(&Step::Fuzz);
            }
            "--no-dist" => {
                steps.remove(&Step::Dist);
            }
            "--no-vm" => {
                steps.remove(&Step::Vm);
            }
            _ => bail!("unknown option {a}\n{USAGE}"),
        }
    }
    if let Some(s) = only {
        steps = [s].into_iter().collect();
    }
    Ok(Opts {
        steps,
        nextest_args,
    })
}

/// What a tier's run counted.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    passed: u64,
    failed: u64,
    skipped: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Self) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.skipped += o.skipped;
    }
}

/// `cargo xtask test [OPTIONS]`
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    let has = |s: Step| opts.steps.contains(&s);
    // The test runner first: a missing tool is a set-up error, before any build.
    if has(Step::Fast) || has(Step::Mirror) || has(Step::Dist) {
        require_tool("cargo-nextest", "nextest")?;
    }
    if has(Step::Deny) {
        require_tool("cargo-deny", "deny")?;
    }
    if has(Step::Lint) {
        sh(cargo().args(["fmt", "--all", "--", "--check"]))?;
        sh(Command::new("shellcheck")
            .current_dir(root)
            .args(crate::shell_scripts(root)?))?;
        sh(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    if has(Step::Deny) {
        deny()?;
    }
    // The integration tests run the built binaries.
    sh(cargo().args(["build", "--workspace", "--bins"]))?;

    let mut total = Counts::default();
    let mut failures: Vec<String> = Vec::new();
    let extra = &opts.nextest_args;
    if has(Step::Fast) {
        let run = nextest(root, &Tier::FAST, None, extra);
        tally(run, Tier::FAST.name, &mut total, &mut failures);
    }
    if has(Step::Mirror) {
        let run = nextest(root, &Tier::MIRROR, None, extra);
        tally(run, Tier::MIRROR.name, &mut total, &mut failures);
    }
    if has(Step::Dist) {
        // With the mirror step, the static debootstrap-rs also reaches the real mirror by
        // the name in the apt sources (DNS through its own resolver).
        let tier = if has(Step::Mirror) {
            &Tier::DIST_MIRROR
        } else {
            &Tier::DIST
        };
        // Its own filter only: the arguments after `--` are for the tiers.
        let run = dist_check(root).and_then(|dir| nextest(root, tier, Some(&dir), &[]));
        tally(run, tier.name, &mut total, &mut failures);
    }
    if has(Step::Doc)
        && let Err(e) = sh(cargo().args(["test", "--workspace", "--doc"]))
    {
        failures.push(format!("doc tests: {e:#}"));
    }
    if has(Step::Fuzz)
        && let Err(e) = crate::fuzz::run(root, &["--time".to_owned(), FUZZ_SECONDS.to_owned()])
    {
        failures.push(format!("fuzzing: {e:#}"));
    }
    if has(Step::Vm) {
        if vm::has_work(root)
            && let Err(e) = vm::vm_test(root)
        {
            failures.push(format!("VM lane: {e:#}"));
        }
    } else if opts.steps.len() > 1 {
        eprintln!("xtask: --no-vm: the VM lane is skipped");
    }
    // The closing line, in the plain form CI reads.
    eprintln!();
    println!(
        "tests: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.skipped
    );
    if !failures.is_empty() {
        bail!("the test run failed: {}", failures.join("; "));
    }
    Ok(())
}

/// One nextest run.
#[derive(Debug)]
struct Tier {
    name: &'static str,
    /// The profile of `.config/nextest.toml`: its filter, time-outs and report.
    profile: &'static str,
    /// A filterset in place of the profile's default filter.
    filter: Option<&'static str>,
    /// No test may reach the mirror (`TOOLKIT_OFFLINE=1`).
    offline: bool,
}

impl Tier {
    const FAST: Self = Self {
        name: "fast tier",
        profile: "default",
        filter: None,
        offline: true,
    };
    const MIRROR: Self = Self {
        name: "mirror tier",
        profile: "mirror",
        filter: None,
        offline: false,
    };
    /// Tests run again against the release binaries (`target/dist`): every tool's
    /// `--help`/`--version` and write errors, debootstrap-rs resolving a mirror's host name
    /// (from a private /etc/hosts) without NSS.
    const DIST: Self = Self {
        name: "release binaries",
        profile: "default",
        filter: Some(
            "binary_id(integration::cli) | (binary_id(integration::debootstrap_hardening) \
             & test(=a_mirror_named_by_host_name_is_resolved_without_nss))",
        ),
        offline: true,
    };
    /// As DIST, and the real mirror by the host name of the apt sources (DNS).
    const DIST_MIRROR: Self = Self {
        name: "release binaries",
        profile: "all",
        filter: Some(
            "binary_id(integration::cli) | (binary_id(integration::debootstrap_hardening) \
             & test(=a_mirror_named_by_host_name_is_resolved_without_nss)) \
             | (binary_id(integration::debootstrap_mirror) \
             & test(=the_host_mirror_is_reached_by_the_name_in_the_apt_sources))",
        ),
        offline: false,
    };
}

/// One nextest run of `tier`, with the binaries of `bin_dir` when given. Returns the
/// counts, skips taken out of the passes.
fn nextest(root: &Path, tier: &Tier, bin_dir: Option<&Path>, extra: &[String]) -> Result<Counts> {
    let Tier {
        name,
        profile,
        filter,
        offline,
    } = *tier;
    // nextest's store: `[store] dir` of its config, under the target directory.
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let store = target.join("nextest");
    std::fs::create_dir_all(&store)?;
    let skip_log = store.join(format!("skipped-{profile}.log"));
    let junit = store.join(profile).join("junit.xml");
    for f in [&skip_log, &junit] {
        match std::fs::remove_file(f) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("remove {}", f.display()));
            }
            _ => {}
        }
    }
    eprintln!("xtask: {name}");
    let mut cmd = cargo();
    cmd.env("PATH", tools_path())
        .env("INTEGRATION_SKIP_LOG", &skip_log)
        .args(["nextest", "run", "--workspace", "--profile", profile]);
    if offline {
        // A test that reaches for the mirror from this tier fails.
        cmd.env("TOOLKIT_OFFLINE", "1");
    }
    if let Some(f) = filter {
        cmd.args(["-E", f]);
    }
    if let Some(d) = bin_dir {
        cmd.env("TOOLKIT_BIN_DIR", d);
    }
    cmd.args(extra);
    // nextest's own status says whether a test failed; the counts come from its report.
    let ran = sh(&mut cmd);
    let text = std::fs::read_to_string(&junit)
        .with_context(|| format!("nextest wrote no report ({})", junit.display()));
    let (tests, failed) = match (text, &ran) {
        (Ok(t), _) => junit_counts(&t)?,
        (Err(e), Err(r)) => return Err(anyhow::anyhow!("{r:#}")).context(format!("{e:#}")),
        (Err(e), Ok(())) => return Err(e),
    };
    let skips = std::fs::read_to_string(&skip_log).unwrap_or_default();
    let mut skipped: Vec<&str> = skips.lines().collect();
    skipped.sort_unstable();
    skipped.dedup();
    // A test that skips at several points (helpers) is one skipped test.
    let skipped_tests: BTreeSet<&str> = skipped
        .iter()
        .map(|l| l.split_once('\t').map_or(*l, |(t, _)| t))
        .collect();
    for l in &skipped {
        let (test, why) = l.split_once('\t').unwrap_or((l, ""));
        eprintln!("        SKIP {test}: {why}");
    }
    let skipped = skipped_tests.len() as u64;
    let counts = Counts {
        passed: tests.saturating_sub(failed).saturating_sub(skipped),
        failed,
        skipped,
    };
    eprintln!(
        "xtask: {name}: {} passed, {} failed, {} skipped{}",
        counts.passed,
        counts.failed,
        counts.skipped,
        if skipped > 0 {
            " (returned early without testing: nextest counted them as passed)"
        } else {
            ""
        }
    );
    if failed == 0
        && let Err(e) = ran
    {
        // nextest failed without a failed test (a build error, a bad filter).
        return Err(e);
    }
    Ok(counts)
}

/// Add a run's counts to the total, and its failure to the list.
fn tally(run: Result<Counts>, name: &str, total: &mut Counts, failures: &mut Vec<String>) {
    match run {
        Ok(c) => {
            if c.failed > 0 {
                failures.push(format!("{name}: {} failed", c.failed));
            }
            *total += c;
        }
        Err(e) => failures.push(format!("{name}: {e:#}")),
    }
}

/// (tests run, tests failed) from the root element of nextest's JUnit report.
fn junit_counts(xml: &str) -> Result<(u64, u64)> {
    let start = xml
        .find("<testsuites")
        .context("no <testsuites> in nextest's report")?;
    let tag = &xml[start..start + xml[start..].find('>').context("unclosed <testsuites")?];
    let attr = |name: &str| -> Result<u64> {
        let key = format!(" {name}=\"");
        let i = tag
            .find(&key)
            .with_context(|| format!("no {name} in <testsuites>"))?
            + key.len();
        let v = &tag[i..i + tag[i..].find('"').context("unclosed attribute")?];
        v.parse()
            .with_context(|| format!("{name}=\"{v}\" in <testsuites>"))
    };
    Ok((attr("tests")?, attr("failures")? + attr("errors")?))
}

/// `cargo deny check`: licences, bans (duplicates) and sources always (offline: they
/// read Cargo.lock and the local registry); advisories when the RustSec database can be
/// fetched (a git clone from GitHub) or a copy of it is already on this machine.
fn deny() -> Result<()> {
    let deny = || {
        let mut c = cargo();
        c.env("PATH", tools_path()).arg("deny");
        c
    };
    sh(deny().args(["check", "licenses", "bans", "sources"]))?;
    let fetched = deny()
        .args(["fetch", "db"])
        .output()
        .context("cannot run cargo deny fetch")?;
    // cargo-deny 0.20 logs a failed fetch and still exits 0: read what it said.
    let said = String::from_utf8_lossy(&fetched.stderr).into_owned();
    let fetch_failed = !fetched.status.success() || said.contains("failed to fetch");
    let db = advisory_db();
    if fetch_failed && db.is_none() {
        eprintln!(
            "xtask: NOTE: advisories NOT checked: the RustSec advisory database cannot be \
             fetched from here (it is a git repository on GitHub) and no copy is on this \
             machine; run `cargo deny check advisories` where GitHub is reachable"
        );
        return Ok(());
    }
    if fetch_failed && let Some(db) = &db {
        eprintln!(
            "xtask: NOTE: the advisory database could not be updated; checking against the \
             copy in {}",
            db.display()
        );
    }
    sh(deny().args(["check", "--disable-fetch", "advisories"]))
}

/// cargo-deny's local copy of the advisory database, if there is one.
fn advisory_db() -> Option<PathBuf> {
    let home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    std::fs::read_dir(home.join("advisory-dbs"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("crates").is_dir())
}

/// Where `./lab` installs the cargo tools it builds (`cargo install --root`).
pub fn tools_dir() -> PathBuf {
    cache_dir().join("tools")
}

/// `PATH` with [`tools_dir`]'s `bin` first.
fn tools_path() -> OsString {
    let mut dirs = vec![tools_dir().join("bin")];
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    env::join_paths(dirs).unwrap_or_default()
}

/// Fail with the way to install `crate_name` unless `cargo SUBCOMMAND` runs.
fn require_tool(crate_name: &str, subcommand: &str) -> Result<()> {
    let ok = cargo()
        .env("PATH", tools_path())
        .args([subcommand, "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        bail!(
            "{crate_name} is missing: `./lab deps` installs it (into {}), or `cargo install \
             --locked {crate_name}`",
            tools_dir().display()
        );
    }
    Ok(())
}

/// Build the release binaries and check them as shipped: each one that should be static
/// is, and each is linked as it was built ([`dist::link_of`]: a program interpreter, or
/// glibc's ABI note for a static glibc one), and no glibc static one links a glibc NSS
/// look-up (a static glibc loads the host's NSS
/// modules at run time: unsafe; musl reads the files and loads nothing). Returns
/// `target/dist`.
fn dist_check(root: &Path) -> Result<PathBuf> {
    use dist::Link;
    let built = dist::build_listed(root, &[])?;
    let mut problems = Vec::new();
    for b in &built {
        let name = b.path.display();
        let elf = std::fs::read(&b.path)?;
        let found =
            dist::link_of(&elf).with_context(|| format!("{name}: not a 64-bit ELF executable"))?;
        let want_static = !dist::DYNAMIC.contains(&b.package.as_str());
        if want_static != b.link.is_static() || found != b.link {
            problems.push(format!(
                "{name} ({}) is {found:?}, built as {:?}; it should be {}",
                b.package,
                b.link,
                if want_static { "static" } else { "dynamic" }
            ));
        }
        if b.link == Link::Glibc {
            let nss = dist::nss_symbols(&b.path)?;
            if !nss.is_empty() {
                problems.push(format!(
                    "{name} is static and links NSS look-ups: {}",
                    nss.join(", ")
                ));
            }
        }
    }
    if built.is_empty() {
        bail!("the release build made no binary");
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    eprintln!(
        "xtask: {} release binaries linked as shipped ({} against musl), no NSS look-up in \
         a static glibc one",
        built.len(),
        built.iter().filter(|b| b.link == Link::Musl).count()
    );
    Ok(root.join("target/dist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_choose_steps() {
        let all = parse(&[]).unwrap();
        assert_eq!(all.steps, ALL.into_iter().collect());
        let fast = parse(&strings(&["--fast", "--", "-E", "test(x)"])).unwrap();
        assert_eq!(fast.steps, [Step::Fast].into_iter().collect());
        assert_eq!(fast.nextest_args, strings(&["-E", "test(x)"]));
        let mirror = parse(&strings(&["--mirror"])).unwrap();
        assert_eq!(mirror.steps, [Step::Mirror].into_iter().collect());
        let local = parse(&strings(&["--no-lint", "--no-vm", "--no-dist"])).unwrap();
        assert_eq!(
            local.steps,
            [Step::Fast, Step::Mirror, Step::Doc, Step::Fuzz]
                .into_iter()
                .collect()
        );
        let no_fuzz = parse(&strings(&["--no-fuzz"])).unwrap();
        assert!(!no_fuzz.steps.contains(&Step::Fuzz));
        assert!(parse(&strings(&["--fast", "--mirror"])).is_err());
        assert!(parse(&strings(&["--fats"])).is_err());
    }

    #[test]
    fn junit_counts_read_the_root_element() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="12" skipped="0" failures="2" errors="1" uuid="x">
    <testsuite name="a" tests="12" skipped="0" errors="1" failures="2"/>
</testsuites>"#;
        assert_eq!(junit_counts(xml).unwrap(), (12, 3));
        assert!(junit_counts("<testsuite tests=\"1\">").is_err());
    }
}
