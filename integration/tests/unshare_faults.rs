//! unshare-rs with persisted namespaces under fault injection: `unshare-rs -v --fork
//! --net=F --uts=F --ipc=F --mount=F true` is stopped by SIGINT, SIGTERM and SIGKILL at
//! points spread over its run (when its Nth `-v` trace line appears, N from the first line
//! to the last), and the files it was given are compared with what they were before and
//! with what a complete run leaves (each one a bound namespace):
//!
//! - SIGINT and SIGTERM: signals are held from the start, so the run either leaves the
//!   files as they were (exit 130/143) or completes them (the signal then reaches the
//!   command); never a part;
//! - SIGKILL: whatever is left (an empty placeholder, some namespaces bound) is removed by
//!   the documented cleanup, `unshare-rs --release FILE` on each file;
//! - afterwards a rerun succeeds.
//!
//! The figures are printed; the goal is no leftover after cleanup and no failed rerun.

use std::fs;
use std::path::{Path, PathBuf};

use integration::run::interrupt_at_line;
use integration::{bin, cmd, private_dir, require_root, run};
use nix::sys::signal::Signal;

const RUNS: usize = 51;
const FILES: [(&str, &str); 4] = [
    ("net", "--net"),
    ("uts", "--uts"),
    ("ipc", "--ipc"),
    ("mnt", "--mount"),
];

/// The files in `dir`, each with whether a namespace is bound on it: `net:bound`,
/// `uts:empty`, `ipc:file` (sorted).
fn snapshot(dir: &Path) -> Vec<String> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let path = e.path();
            let mount_point = format!(" {} ", path.display());
            let bound = mountinfo
                .lines()
                .any(|l| l.contains(&mount_point) && l.contains(" nsfs "));
            let name = e.file_name().to_string_lossy().into_owned();
            let len = fs::symlink_metadata(&path).map_or(0, |m| m.len());
            match (bound, len) {
                (true, _) => format!("{name}:bound"),
                (false, 0) => format!("{name}:empty"),
                (false, _) => format!("{name}:file"),
            }
        })
        .collect();
    v.sort();
    v
}

fn command(dir: &Path) -> std::process::Command {
    let mut c = cmd(bin("unshare-rs"));
    c.args(["-v", "--fork"]);
    for (file, flag) in FILES {
        c.arg(format!("{flag}={}", dir.join(file).display()));
    }
    c.arg("true");
    c
}

/// The documented cleanup: `unshare-rs --release` on each file left; true when it
/// succeeded for every one.
fn release_all(dir: &Path) -> bool {
    let files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let mut ok = true;
    for f in files {
        let o = run(cmd(bin("unshare-rs")).arg("--release").arg(&f));
        if o.code != 0 {
            eprintln!("release {}: {o}", f.display());
            ok = false;
        }
    }
    ok
}

#[derive(Debug, Default)]
struct Figures {
    runs: usize,
    rolled_back: usize,
    completed: usize,
    killed: usize,
    leftovers_before_cleanup: usize,
    leftovers_after_cleanup: usize,
    reruns_failed: usize,
}

#[test]
fn persisted_namespaces_stopped_anywhere_leave_nothing_release_cannot_remove() {
    if !require_root("mount(2) and namespaces") {
        return;
    }
    let (dir, _guard) = private_dir();
    let dir = dir.path();
    let before = snapshot(dir);
    assert!(before.is_empty());

    // A complete run: its trace's length and what it leaves.
    let o = run(&mut command(dir));
    o.ok();
    let lines = o.stderr.lines().filter(|l| l.contains(") = ")).count();
    let after = snapshot(dir);
    assert_eq!(
        after,
        ["ipc:bound", "mnt:bound", "net:bound", "uts:bound"],
        "{o}"
    );
    assert!(release_all(dir));
    assert_eq!(snapshot(dir), before);

    let mut f = Figures::default();
    let signals = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL];
    for r in 0..RUNS {
        let sig = signals[r % 3];
        let at = 1 + r * lines / RUNS;
        let res = interrupt_at_line(command(dir), at, sig);
        let state = snapshot(dir);
        let here = format!("unshare-rs stopped by {sig} at line {at}/{lines}");
        f.runs += 1;
        if sig == Signal::SIGKILL {
            f.killed += 1;
            if state != before && state != after {
                f.leftovers_before_cleanup += 1;
            }
        } else if state == before {
            assert_eq!(res.code, 128 + sig as i32, "{here}: {}", res.stderr);
            f.rolled_back += 1;
        } else {
            assert_eq!(state, after, "{here}: half made\n{}", res.stderr);
            assert!(
                res.code == 0 || res.code == 128 + sig as i32,
                "{here}: {}",
                res.stderr
            );
            f.completed += 1;
        }
        if !release_all(dir) || snapshot(dir) != before {
            f.leftovers_after_cleanup += 1;
            eprintln!("{here}: left after --release: {:?}", snapshot(dir));
            let _ = run(cmd("umount").args(["-R", "-l"]).arg(dir));
            run(cmd("mount").arg("--bind").arg(dir).arg(dir)).ok();
            run(cmd("mount").arg("--make-private").arg(dir)).ok();
            for e in fs::read_dir(dir).unwrap() {
                let _ = fs::remove_file(e.unwrap().path());
            }
        }
        // A rerun succeeds, and is released again.
        let o = run(&mut command(dir));
        if o.code != 0 || snapshot(dir) != after {
            f.reruns_failed += 1;
            eprintln!("{here}: rerun: {o}");
        }
        assert!(release_all(dir), "{here}");
        assert_eq!(snapshot(dir), before, "{here}");
    }
    eprintln!("unshare-rs with persisted namespaces, stopped anywhere: {f:?}");
    assert_eq!(f.leftovers_after_cleanup, 0, "{f:?}");
    assert_eq!(f.reruns_failed, 0, "{f:?}");
    assert!(f.rolled_back + f.completed + f.killed == RUNS);
}
