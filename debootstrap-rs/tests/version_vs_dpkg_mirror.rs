//! Differential test: debootstrap-rs's version order against `dpkg --compare-versions`,
//! over the versions of a real Packages index (the largest in the download cache
//! under `$TOOLKIT_CACHE/debootstrap-rs`, fetched through the library when missing):
//! neighbours in our sorted order (where a wrong order would show) and random pairs,
//! plus the corner cases of deb-version(7) (valid versions only: for one of bad syntax,
//! such as `1.0-` with an empty revision, dpkg answers neither "lt" nor "eq"). dpkg runs in one shell loop, one call per
//! pair (two when the first answer is "no"), a few seconds for the whole sample.
//!
//! The mirror tier of the suite (test binaries named `*_mirror`: `cargo xtask test
//! --mirror`, see README.md): without a cached index it fetches one from the mirror.

use std::cmp::Ordering;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use debootstrap_rs::version::compare;

fn cache() -> PathBuf {
    std::env::var_os("TOOLKIT_CACHE")
        .map_or_else(
            || PathBuf::from("/var/cache/container-toolkit"),
            PathBuf::from,
        )
        .join("debootstrap-rs")
}

/// The largest cached uncompressed Packages index (a Debian main index is ~50 MB); fetched
/// with `--print-debs bookworm` into the cache first if there is none.
fn packages_index() -> String {
    let find = || {
        std::fs::read_dir(cache().join("indexes"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().contains('.'))
            .max_by_key(|e| e.metadata().map_or(0, |m| m.len()))
            .filter(|e| e.metadata().is_ok_and(|m| m.len() > 10 << 20))
            .map(|e| e.path())
    };
    let path = find().unwrap_or_else(|| {
        assert!(
            std::env::var("TOOLKIT_OFFLINE").as_deref() != Ok("1"),
            "no Packages index in the cache and this is the offline tier (TOOLKIT_OFFLINE=1)"
        );
        let args: Vec<std::ffi::OsString> = ["-q", "--print-debs", "--cache-dir"]
            .iter()
            .map(Into::into)
            .chain([cache().into_os_string(), "bookworm".into()])
            .collect();
        let debootstrap_rs::cli::Parsed::Run(cfg) = debootstrap_rs::cli::parse(&args).unwrap()
        else {
            panic!("not a run")
        };
        debootstrap_rs::run(&cfg).expect("fetch the bookworm index into the cache");
        find().expect("a Packages index in the cache")
    });
    std::fs::read_to_string(path).unwrap()
}

/// dpkg's answer for each pair, from one shell loop.
fn dpkg_order(pairs: &[(String, String)]) -> Vec<Ordering> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(
            "while read a b; do \
               if dpkg --compare-versions \"$a\" lt \"$b\"; then echo '<'; \
               elif dpkg --compare-versions \"$a\" eq \"$b\"; then echo '='; \
               else echo '>'; fi; \
             done",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh and dpkg");
    let mut input = String::new();
    for (a, b) in pairs {
        input.push_str(&format!("{a} {b}\n"));
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| match l {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            _ => Ordering::Greater,
        })
        .collect()
}

#[test]
fn version_order_is_dpkgs() {
    // dpkg is the reference: without it the test would compare nothing.
    assert!(
        Command::new("dpkg").arg("--version").output().is_ok(),
        "dpkg is missing (a Debian host has it: package dpkg)"
    );
    let t = Instant::now();
    let index = packages_index();
    let mut versions: Vec<String> = index
        .lines()
        .filter_map(|l| l.strip_prefix("Version: "))
        .map(str::to_owned)
        .collect();
    versions.sort_by(|a, b| compare(a, b).then_with(|| a.cmp(b)));
    versions.dedup();
    assert!(versions.len() > 1000, "{} versions", versions.len());
    let mut pairs: Vec<(String, String)> = Vec::new();
    // Neighbours in our order, spread over the whole list.
    let step = (versions.len() / 2000).max(1);
    for i in (0..versions.len() - 1).step_by(step) {
        pairs.push((versions[i].clone(), versions[i + 1].clone()));
    }
    let neighbours = pairs.len();
    // Random pairs (a fixed LCG: the same sample every run).
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..1000 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let a = (x >> 33) as usize % versions.len();
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let b = (x >> 33) as usize % versions.len();
        pairs.push((versions[a].clone(), versions[b].clone()));
    }
    // deb-version(7)'s corners.
    for (a, b) in [
        ("1.0~rc1", "1.0"),
        ("1.0~~", "1.0~"),
        ("1.0", "1.0+b1"),
        ("1:0.1", "2.0"),
        ("0:1.0", "1.0"),
        ("1.0-1", "1.0-1.1"),
        ("1.0a", "1.0+"),
        ("1.0", "1.0.0"),
        ("1.001", "1.1"),
        ("2.30-1~bpo12+1", "2.30-1"),
        ("1.2-3-4", "1.2-3"),
        ("10", "9"),
        ("1.0-0", "1.0"),
        ("0.0", "~"),
    ] {
        pairs.push((a.to_owned(), b.to_owned()));
        pairs.push((b.to_owned(), a.to_owned()));
    }
    let theirs = dpkg_order(&pairs);
    assert_eq!(theirs.len(), pairs.len());
    let differ: Vec<String> = pairs
        .iter()
        .zip(&theirs)
        .filter(|((a, b), d)| compare(a, b) != **d)
        .map(|((a, b), d)| format!("{a} vs {b}: ours {:?}, dpkg {d:?}", compare(a, b)))
        .collect();
    eprintln!(
        "version order vs dpkg --compare-versions: {} pairs ({neighbours} neighbours of \
         {} distinct versions, 1000 random, {} corner cases), {} differ, {:.1}s",
        pairs.len(),
        versions.len(),
        pairs.len() - neighbours - 1000,
        differ.len(),
        t.elapsed().as_secs_f64()
    );
    assert!(differ.is_empty(), "{differ:#?}");
}
