//! `cargo xtask hardening`: run the fault-injection, bad-input, hostile-mirror and load
//! tests with their figures printed, and write them, with the fuzzing time recorded in
//! `fuzz/hours.tsv`, the machine and the date, to `docs/hardening.md`.
//!
//! Each test runs alone (`--exact`, `--nocapture`) so that its figures are its own; the
//! fault tests run more rounds than in the test command (`CTN_FAULT_RUNS`). A failing test
//! is reported in the page and fails the command: the page never shows figures of a run
//! that did not hold.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// One test whose output is figures.
struct Entry {
    /// The integration test binary (`integration/tests/NAME.rs`).
    binary: &'static str,
    /// The test function.
    test: &'static str,
    /// What it shows, one line.
    shows: &'static str,
}

const fn e(binary: &'static str, test: &'static str, shows: &'static str) -> Entry {
    Entry {
        binary,
        test,
        shows,
    }
}

/// The sections of the page: a title and its tests.
const SECTIONS: &[(&str, &[Entry])] = &[
    (
        "Interrupted commands (SIGINT, SIGTERM, SIGKILL at points spread over the run)",
        &[
            e(
                "cgctl_faults",
                "create_set_and_delete_stopped_anywhere_leave_nothing_unrecognisable",
                "cgctl create, set, delete",
            ),
            e(
                "netlink_faults",
                "connect_veth_on_a_bridge_killed_at_every_step",
                "netlink-tool connect --type veth --link BRIDGE",
            ),
            e(
                "netlink_faults",
                "connect_routed_killed_at_every_step",
                "netlink-tool connect (routed veth)",
            ),
            e(
                "netlink_faults",
                "connect_macvlan_killed_at_every_step",
                "netlink-tool connect --type macvlan",
            ),
            e(
                "netlink_faults",
                "disconnect_killed_at_every_step",
                "netlink-tool disconnect",
            ),
            e(
                "netlink_faults",
                "nat_killed_at_every_step",
                "netlink-tool nat",
            ),
            e(
                "unshare_faults",
                "persisted_namespaces_stopped_anywhere_leave_nothing_release_cannot_remove",
                "unshare-rs with persisted namespaces",
            ),
            e(
                "debootstrap_hardening",
                "killed_anywhere_leaves_no_process_no_mount_and_a_cache_a_rerun_completes_from",
                "debootstrap-rs (second stage included)",
            ),
            e(
                "ctn_faults",
                "create_start_and_destroy_stopped_anywhere_leave_nothing_cleanup_cannot_remove",
                "ctn create, start, destroy",
            ),
        ],
    ),
    (
        "Bad input, refused in one line before anything changes",
        &[
            e(
                "cgctl",
                "bad_input_is_refused_in_one_line_before_anything_changes",
                "cgctl",
            ),
            e(
                "netlink_tool",
                "bad_input_is_refused_before_anything_is_sent",
                "netlink-tool",
            ),
            e(
                "debootstrap_hardening",
                "bad_input_is_refused_in_one_line_and_leaves_nothing",
                "debootstrap-rs",
            ),
            e(
                "chroot",
                "bad_input_is_refused_in_one_line_and_leaves_nothing",
                "chroot-rs",
            ),
            e(
                "nsenter",
                "bad_input_is_refused_in_one_line_and_leaves_nothing",
                "unshare-rs and nsenter-rs",
            ),
            e("ctn", "bad_input_is_one_line_and_leaves_nothing", "ctn"),
        ],
    ),
    (
        "A hostile mirror, refused",
        &[
            e(
                "debootstrap",
                "modified_inrelease_is_refused",
                "a modified InRelease",
            ),
            e(
                "debootstrap",
                "inrelease_by_an_unknown_key_is_refused",
                "InRelease signed by an unknown key",
            ),
            e(
                "debootstrap",
                "inrelease_by_an_expired_subkey_is_refused",
                "signed by an expired subkey",
            ),
            e(
                "debootstrap",
                "inrelease_by_a_revoked_subkey_is_refused",
                "signed by a revoked subkey",
            ),
            e(
                "debootstrap",
                "inrelease_signed_with_a_weak_digest_is_refused",
                "signed with a weak digest",
            ),
            e(
                "debootstrap",
                "text_outside_the_signed_part_of_inrelease_is_refused",
                "text outside the signed part",
            ),
            e(
                "debootstrap",
                "expired_release_is_refused_unless_overridden",
                "an expired Release",
            ),
            e(
                "debootstrap",
                "modified_packages_index_is_refused",
                "a modified Packages index",
            ),
            e("debootstrap", "modified_deb_is_refused", "a modified .deb"),
            e(
                "debootstrap",
                "dotdot_entry_is_refused",
                "a '..' entry in a .deb",
            ),
            e(
                "debootstrap",
                "absolute_entry_lands_inside_target",
                "an absolute entry in a .deb",
            ),
            e(
                "debootstrap",
                "symlink_then_file_cannot_escape",
                "a symlink, then a file through it",
            ),
            e(
                "debootstrap",
                "hard_links_cannot_reach_outside",
                "hard links to outside",
            ),
            e(
                "debootstrap",
                "a_packaged_dev_symlink_cannot_chmod_a_file_outside",
                "a packaged /dev symlink",
            ),
            e(
                "debootstrap",
                "a_bundles_unsigned_manifest_chooses_neither_suites_nor_mirrors",
                "an unsigned bundle manifest",
            ),
        ],
    ),
    (
        "Load held",
        &[
            e(
                "cgctl",
                "one_of_thirty_concurrent_deletes_succeeds",
                "30 concurrent deletes of one group: one winner",
            ),
            e(
                "cgctl",
                "concurrent_creates_below_a_new_parent_all_succeed",
                "concurrent creates below a new parent",
            ),
            e(
                "netlink_tool",
                "batch_connects_many_containers_in_one_process",
                "many containers connected by one --batch",
            ),
        ],
    ),
];

/// Lines of a test run that are the harness's, not the test's.
fn harness_line(l: &str) -> bool {
    let t = l.trim();
    t.is_empty()
        || t.chars().all(|c| c == '.')
        || t.starts_with("running ")
        || t.starts_with("test ")
        || t.starts_with("test result:")
        || t.starts_with("successes:")
        || t.starts_with("failures:")
        || t.starts_with("---- ")
        || t.starts_with("Finished ")
        || t.starts_with("Running ")
        || t.starts_with("Compiling ")
        || t.starts_with("Blocking ")
}

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut only: Vec<&str> = Vec::new();
    for a in args {
        match a.as_str() {
            "-h" | "--help" => {
                println!(
                    "usage: cargo xtask hardening [BINARY…] | --fuzz-only\n\
                     Runs the hardening tests (all, or those of the integration test \
                     binaries named) and writes docs/hardening.md (only when all ran); \
                     --fuzz-only rewrites only its fuzzing section from fuzz/hours.tsv."
                );
                return Ok(());
            }
            "--fuzz-only" => {
                let path = root.join("docs/hardening.md");
                let page = fs::read_to_string(&path)
                    .context("docs/hardening.md: run cargo xtask hardening first")?;
                let head = page
                    .split_once("## Fuzzing")
                    .map_or(page.as_str(), |(h, _)| h);
                fs::write(&path, format!("{head}{}", fuzz_section(root)))?;
                eprintln!("xtask: hardening: the fuzzing section of docs/hardening.md rewritten");
                return Ok(());
            }
            s if s.starts_with('-') => bail!("hardening: unknown option {s}"),
            s => only.push(s),
        }
    }
    let mut build = crate::cargo();
    build
        .current_dir(root)
        .args(["build", "--workspace", "--bins", "--exclude", "xtask"]);
    crate::sh(&mut build)?;
    let mut tests = crate::cargo();
    tests
        .current_dir(root)
        .args(["test", "--no-run", "-p", "integration"]);
    crate::sh(&mut tests)?;

    let started = Instant::now();
    let mut page = String::new();
    let mut failed = Vec::new();
    for (title, entries) in SECTIONS {
        let _ = writeln!(page, "## {title}\n");
        for en in *entries {
            if !only.is_empty() && !only.contains(&en.binary) {
                continue;
            }
            eprintln!("xtask: hardening: {} {}", en.binary, en.test);
            let t = Instant::now();
            let out = Command::new(crate::cargo().get_program())
                .current_dir(root)
                .args(["test", "-q", "-p", "integration", "--test", en.binary, "--"])
                .args(["--exact", en.test, "--nocapture", "--test-threads=1"])
                .env("CTN_FAULT_RUNS", "51")
                .env("INTEGRATION_REQUIRE_ROOT", "1")
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("cannot run the test {}", en.test))?;
            let secs = t.elapsed().as_secs_f64();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let ok = out.status.success() && text.contains("1 passed");
            let figures: Vec<&str> = text.lines().filter(|l| !harness_line(l)).collect();
            let _ = writeln!(
                page,
                "- **{}** ({}, `{}::{}`, {secs:.1} s)",
                en.shows,
                if ok { "held" } else { "FAILED" },
                en.binary,
                en.test
            );
            if !figures.is_empty() {
                let _ = writeln!(page, "\n  ```text");
                for l in figures.iter().take(80) {
                    let _ = writeln!(page, "  {l}");
                }
                if figures.len() > 80 {
                    let _ = writeln!(page, "  … ({} lines more)", figures.len() - 80);
                }
                let _ = writeln!(page, "  ```\n");
            }
            if !ok {
                eprintln!("{text}");
                failed.push(format!("{}::{}", en.binary, en.test));
            }
        }
        page.push('\n');
    }
    page.push_str(&fuzz_section(root));
    if !failed.is_empty() {
        bail!("hardening: these tests failed: {}", failed.join(", "));
    }
    if !only.is_empty() {
        eprint!("{page}");
        eprintln!("xtask: hardening: a partial run; docs/hardening.md left as it was");
        return Ok(());
    }
    let head = format!(
        "# Hardening: the figures\n\n\
         Written by `cargo xtask hardening` {stamp}, cgroups {cgroups}; the run took \
         {mins:.0} min. \
         Each test below is in the test command too (with fewer fault-injection rounds); \
         this page is its output with the figures printed. Regenerate it after a change to \
         what a tool does on a signal, on bad input or on a hostile mirror.\n\n",
        stamp = crate::stamp(),
        cgroups = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            "v2"
        } else {
            "v1/hybrid"
        },
        mins = started.elapsed().as_secs_f64() / 60.0,
    );
    fs::write(root.join("docs/hardening.md"), head + &page)?;
    eprintln!("xtask: hardening: docs/hardening.md written");
    Ok(())
}

/// The fuzzing time recorded in fuzz/hours.tsv (`cargo xtask fuzz --record`: a header, then
/// target, seconds, runs, date of the last run).
fn fuzz_section(root: &Path) -> String {
    let mut s = String::from("## Fuzzing (libFuzzer, the time reached locally per target)\n\n");
    match fs::read_to_string(root.join("fuzz/hours.tsv")) {
        Err(_) => s.push_str("No fuzzing time recorded (`cargo xtask fuzz --record`).\n"),
        Ok(text) => {
            s.push_str(
                "Every crash found was fixed in the tool and its input kept as a regression \
                 test; the targets run for a few seconds each in the test command \
                 (`cargo xtask fuzz`).\n\n| target | time | runs | last run |\n|---|---|---|---|\n",
            );
            for l in text
                .lines()
                .filter(|l| !l.starts_with("target") && !l.trim().is_empty())
            {
                let f: Vec<&str> = l.split('\t').collect();
                let secs: f64 = f.get(1).and_then(|v| v.parse().ok()).unwrap_or(0.0);
                let _ = writeln!(
                    s,
                    "| {} | {:.1} min | {} | {} |",
                    f.first().unwrap_or(&"?"),
                    secs / 60.0,
                    f.get(2).unwrap_or(&"?"),
                    f.get(3).unwrap_or(&"?")
                );
            }
        }
    }
    s
}
