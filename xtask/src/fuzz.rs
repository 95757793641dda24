//! `cargo xtask fuzz [--time SECONDS] [--record] [--build] [TARGET…]`: the fuzz targets of
//! `fuzz/` (libFuzzer through libfuzzer-sys), on the stable toolchain.
//!
//! - Build: a plain `cargo build --release` of `fuzz/` (its own workspace) for the host's
//!   target triple, with the instrumentation cargo-fuzz passes for `--sanitizer none`
//!   (rustc's `sancov-module` pass: 8-bit counters, PC table, comparisons, stack depth;
//!   `--cfg fuzzing`; debug assertions and overflow checks on), into
//!   `target/fuzz/`. Neither nightly nor cargo-fuzz is needed. The explicit `--target`
//!   keeps the flags off build scripts and proc macros, which are not linked with
//!   libFuzzer.
//! - Run: each TARGET (all by default) in turn, one process on one core, for SECONDS
//!   (default 10) of `-max_total_time`, on a work corpus under the cache directory
//!   (`$TOOLKIT_CACHE/fuzz/TARGET/corpus`, the seeds of `fuzz/corpus/TARGET` copied in;
//!   what the fuzzer finds stays there for the next run, and `fuzz/corpus` is never
//!   written). libFuzzer's output goes to `…/TARGET/last.log`; a crash, a time-out (an
//!   input that runs 10 s) or running out of memory leaves the input in
//!   `…/TARGET/artifacts/`.
//! - Report: per target the inputs run, the seconds, the corpus size and the crashes; the
//!   run fails if any target crashed, naming the input and how to reproduce it.
//! - `--record`: add each target's seconds and runs to `fuzz/hours.tsv` (target, total
//!   seconds, total runs, date of the last run), the cumulative local fuzzing time the
//!   docs quote. Not for CI.
//! - `--build`: build only.

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{cache_dir, cargo, sh};

const USAGE: &str = "usage: cargo xtask fuzz [--time SECONDS] [--record] [--build] [TARGET...]";

/// The instrumentation (cargo-fuzz's flags for `--sanitizer none`, all stable).
const RUSTFLAGS: &[&str] = &[
    "--cfg",
    "fuzzing",
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "-Cllvm-args=-sanitizer-coverage-stack-depth",
    "-Cdebug-assertions",
    "-Coverflow-checks",
];

/// Seconds one input may take before libFuzzer calls it a time-out (a failure).
const INPUT_TIMEOUT: u32 = 10;

#[derive(Debug)]
struct Opts {
    seconds: u64,
    record: bool,
    build_only: bool,
    targets: Vec<String>,
}

fn parse(args: &[String], known: &[String]) -> Result<Opts> {
    let mut o = Opts {
        seconds: 10,
        record: false,
        build_only: false,
        targets: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--time" => {
                let v = it
                    .next()
                    .context(format!("--time needs SECONDS\n{USAGE}"))?;
                o.seconds = seconds(v)?;
            }
            s if s.starts_with("--time=") => o.seconds = seconds(&s["--time=".len()..])?,
            "--record" => o.record = true,
            "--build" => o.build_only = true,
            s if s.starts_with('-') => bail!("unknown option {s}\n{USAGE}"),
            t => {
                if !known.iter().any(|k| k == t) {
                    bail!("no fuzz target {t} (there are: {})", known.join(", "));
                }
                if !o.targets.iter().any(|x| x == t) {
                    o.targets.push(t.to_owned());
                }
            }
        }
    }
    if o.targets.is_empty() {
        o.targets = known.to_vec();
    }
    Ok(o)
}

fn seconds(v: &str) -> Result<u64> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("--time takes a whole number of seconds above 0, not '{v}'\n{USAGE}"),
    }
}

/// The targets: the `[[bin]]` names of fuzz/Cargo.toml, in file order.
fn targets(root: &Path) -> Result<Vec<String>> {
    let manifest = root.join("fuzz/Cargo.toml");
    let text = fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let mut out = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin
            && let Some(v) = line.strip_prefix("name")
            && let Some(v) = v.trim_start().strip_prefix('=')
        {
            out.push(v.trim().trim_matches('"').to_owned());
        }
    }
    if out.is_empty() {
        bail!("{} lists no [[bin]] target", manifest.display());
    }
    Ok(out)
}

/// The host's target triple (`rustc -vV`).
fn host_triple() -> Result<String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host triple")
}

/// Build the fuzz targets; returns the directory of the binaries.
pub fn build(root: &Path, targets: &[String]) -> Result<PathBuf> {
    let triple = host_triple()?;
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("fuzz");
    let mut cmd = cargo();
    cmd.current_dir(root.join("fuzz"))
        .env("RUSTFLAGS", RUSTFLAGS.join(" "))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        // Not --locked: fuzz/Cargo.lock follows the tools' dependencies as they change.
        .args(["build", "--release", "--target", &triple])
        .arg("--target-dir")
        .arg(&target_dir);
    for t in targets {
        cmd.args(["--bin", t]);
    }
    let started = Instant::now();
    sh(&mut cmd)?;
    eprintln!(
        "xtask: fuzz targets built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(target_dir.join(triple).join("release"))
}

/// What one target's run did.
#[derive(Debug, Default)]
struct Outcome {
    runs: u64,
    seconds: f64,
    corpus: usize,
    /// Inputs that crashed it (panic, abort, time-out, out of memory).
    crashes: Vec<PathBuf>,
    /// libFuzzer failed without leaving an input (it could not start, say).
    failed: Option<String>,
}

/// `cargo xtask fuzz [OPTIONS] [TARGET…]`
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let known = targets(root)?;
    let opts = parse(args, &known)?;
    let bin_dir = build(root, &opts.targets)?;
    if opts.build_only {
        return Ok(());
    }
    let work = cache_dir().join("fuzz");
    let mut results = Vec::new();
    for t in &opts.targets {
        eprintln!("xtask: fuzzing {t} for {} s", opts.seconds);
        let r = fuzz_one(root, &bin_dir, &work, t, opts.seconds)?;
        eprintln!(
            "xtask: {t}: {} runs in {:.0} s, corpus {}, {} crash(es){}",
            r.runs,
            r.seconds,
            r.corpus,
            r.crashes.len(),
            r.failed
                .as_deref()
                .map(|f| format!("; {f}"))
                .unwrap_or_default()
        );
        results.push((t.clone(), r));
    }
    eprintln!();
    println!(
        "{:<24} {:>12} {:>8} {:>9} {:>7}",
        "target", "runs", "seconds", "runs/s", "crashes"
    );
    for (t, r) in &results {
        println!(
            "{t:<24} {:>12} {:>8.0} {:>9.0} {:>7}",
            r.runs,
            r.seconds,
            if r.seconds > 0.0 {
                r.runs as f64 / r.seconds
            } else {
                0.0
            },
            r.crashes.len()
        );
    }
    if opts.record {
        record(&root.join("fuzz/hours.tsv"), &results)?;
    }
    let mut problems = Vec::new();
    for (t, r) in &results {
        for c in &r.crashes {
            problems.push(format!(
                "{t} crashed on {} (reproduce: {} {})",
                c.display(),
                bin_dir.join(t).display(),
                c.display()
            ));
        }
        if let Some(f) = &r.failed {
            problems.push(format!("{t}: {f}"));
        }
    }
    if !problems.is_empty() {
        bail!("fuzzing found problems:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

/// Copy the regular files of `from` into `to` (made if missing); returns how many.
fn copy_seeds(from: &Path, to: &Path) -> Result<usize> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut n = 0;
    let entries = match fs::read_dir(from) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", from.display())),
    };
    for e in entries {
        let e = e?;
        if e.file_type()?.is_file() {
            fs::copy(e.path(), to.join(e.file_name()))
                .with_context(|| format!("cannot copy {}", e.path().display()))?;
            n += 1;
        }
    }
    Ok(n)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn fuzz_one(root: &Path, bin_dir: &Path, work: &Path, target: &str, secs: u64) -> Result<Outcome> {
    let dir = work.join(target);
    let corpus = dir.join("corpus");
    let artifacts = dir.join("artifacts");
    copy_seeds(&root.join("fuzz/corpus").join(target), &corpus)?;
    fs::create_dir_all(&artifacts)?;
    let before = files_in(&artifacts);
    let log_path = dir.join("last.log");
    let log = fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut prefix = artifacts.clone().into_os_string();
    prefix.push("/");
    let mut arg_prefix = std::ffi::OsString::from("-artifact_prefix=");
    arg_prefix.push(&prefix);
    let bin = bin_dir.join(target);
    let started = Instant::now();
    let status = Command::new(&bin)
        .current_dir(&dir)
        .arg(format!("-max_total_time={secs}"))
        .arg(format!("-timeout={INPUT_TIMEOUT}"))
        .arg("-print_final_stats=1")
        .arg(arg_prefix)
        .arg(&corpus)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    let stat = |name: &str| -> Option<u64> {
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .and_then(|v| v.trim().parse().ok())
    };
    let crashes: Vec<PathBuf> = files_in(&artifacts)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let failed = (!status.success() && crashes.is_empty()).then(|| {
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        format!(
            "libFuzzer exited with {status} without an input ({}): {}",
            log_path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )
    });
    if !status.success() {
        // The fuzzer's own account of the crash (the panic message, the stack).
        let from = text
            .lines()
            .position(|l| l.contains("panicked at") || l.starts_with("=="))
            .unwrap_or(0);
        for l in text.lines().skip(from).take(40) {
            eprintln!("  | {l}");
        }
    }
    Ok(Outcome {
        runs: stat("number_of_executed_units").unwrap_or(0),
        seconds,
        corpus: files_in(&corpus).len(),
        crashes,
        failed,
    })
}

/// One row of fuzz/hours.tsv.
#[derive(Debug, Clone, Default, PartialEq)]
struct Total {
    seconds: u64,
    runs: u64,
    date: String,
}

const HEADER: &str = "target\tseconds\truns\tlast run";

fn read_totals(text: &str) -> BTreeMap<String, Total> {
    text.lines()
        .filter(|l| !l.is_empty() && *l != HEADER && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [t, s, r, d] = f[..] else { return None };
            Some((
                t.to_owned(),
                Total {
                    seconds: s.parse().ok()?,
                    runs: r.parse().ok()?,
                    date: d.to_owned(),
                },
            ))
        })
        .collect()
}

fn write_totals(totals: &BTreeMap<String, Total>) -> String {
    let mut s = format!("{HEADER}\n");
    for (t, v) in totals {
        s.push_str(&format!("{t}\t{}\t{}\t{}\n", v.seconds, v.runs, v.date));
    }
    s
}

/// Today, as `date -u +%F` prints it.
fn today() -> String {
    crate::capture("date", &["-u", "+%Y-%m-%d"])
}

fn record(path: &Path, results: &[(String, Outcome)]) -> Result<()> {
    let mut totals = read_totals(&fs::read_to_string(path).unwrap_or_default());
    let date = today();
    for (t, r) in results {
        let e = totals.entry(t.clone()).or_default();
        // Whole seconds, rounded: a run of SECONDS ends a moment after it.
        e.seconds += r.seconds.round() as u64;
        e.runs += r.runs;
        e.date.clone_from(&date);
    }
    fs::write(path, write_totals(&totals))
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("xtask: recorded in {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn options_and_targets() {
        let known = strings(&["a", "b"]);
        let o = parse(&strings(&["--time", "30", "--record", "b"]), &known).unwrap();
        assert_eq!(
            (o.seconds, o.record, o.targets),
            (30, true, strings(&["b"]))
        );
        let o = parse(&[], &known).unwrap();
        assert_eq!((o.seconds, o.record, o.targets), (10, false, known.clone()));
        assert_eq!(parse(&strings(&["--time=5"]), &known).unwrap().seconds, 5);
        for bad in [&["c"][..], &["--time", "0"], &["--time"], &["--fast"]] {
            assert!(parse(&strings(bad), &known).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn targets_are_the_bins_of_the_fuzz_manifest() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let t = targets(root).unwrap();
        assert!(t.iter().any(|n| n == "common_values"), "{t:?}");
        for n in &t {
            assert!(
                root.join("fuzz/fuzz_targets")
                    .join(format!("{n}.rs"))
                    .is_file()
            );
            assert!(
                root.join("fuzz/corpus").join(n).is_dir(),
                "no seeds for {n}"
            );
        }
    }

    #[test]
    fn totals_add_up() {
        let text = format!("{HEADER}\nx\t600\t1000\t2026-01-01\nbad line\n");
        let mut t = read_totals(&text);
        assert_eq!(t["x"].seconds, 600);
        t.get_mut("x").unwrap().seconds += 5;
        let again = read_totals(&write_totals(&t));
        assert_eq!(again["x"].seconds, 605);
        assert_eq!(again.len(), 1);
        assert_eq!(today().len(), 10);
    }
}
