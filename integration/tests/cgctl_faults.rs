//! cgctl under fault injection: `create`, `set` and `delete` are stopped by SIGINT,
//! SIGTERM and SIGKILL at points spread over their run (when their Nth `-v` trace line
//! appears, N from the first line to the last), and the kernel's view of the group is
//! compared with what it was before and what a complete run makes:
//!
//! - SIGINT and SIGTERM: the run rolls back (exit 130/143, the group as before) or, when
//!   the signal came after its point of no return, finishes (exit 0, the group as a
//!   complete run leaves it); then a rerun succeeds;
//! - SIGKILL: whatever is left is cgctl's (a `.NAME.cgctl-PID` staging or marker
//!   directory, or a group beside one) and never a group without its limits that looks
//!   finished; the documented cleanup (`cgctl delete NAME`, or for `set` the same `set`
//!   again) leaves nothing else; then a rerun succeeds.
//!
//! The figures are printed. Runs on the host's own layout (hybrid here); the smaller
//! `interrupted_commands_roll_back_or_finish` in cgctl.rs runs in the VM lane too.

use std::io::Write as _;

use integration::cgroups::{self, Group, cgctl, run_interrupted, snapshot, without_limits};
use integration::{require_root, run};
use nix::sys::signal::Signal;

const RUNS: usize = 51;

/// One command under test.
struct Case {
    what: &'static str,
    /// Commands that make the state before (run as they are).
    setup: Vec<Vec<String>>,
    /// The command stopped.
    op: Vec<String>,
}

#[derive(Debug, Default)]
struct Figures {
    runs: usize,
    rolled_back: usize,
    completed: usize,
    killed: usize,
    leftovers_before_cleanup: usize,
    leftovers_after_cleanup: usize,
    without_limits: usize,
    reruns_failed: usize,
}

fn cgctl_ok(args: &[String]) {
    let o = run(cgctl().args(args));
    o.ok();
}

/// Remove the group with cgctl's documented cleanup (a delete that finds nothing is fine).
fn delete(name: &str) {
    let o = run(cgctl().args(["delete", "--kill", name]));
    assert!(
        o.code == 0 || o.stderr == format!("cgctl: no such cgroup '{name}'\n"),
        "{o}"
    );
}

fn inject(case: &Case, name: &str) -> Figures {
    // A complete run: the trace's length and the state before and after.
    for s in &case.setup {
        cgctl_ok(s);
    }
    let before = snapshot(name);
    let o = run(cgctl().arg("-v").args(&case.op));
    o.ok();
    let lines = o.stderr.lines().filter(|l| l.contains(") = ")).count();
    let after = snapshot(name);
    assert_ne!(before, after, "{}: the command changes nothing", case.what);
    delete(name);
    assert_eq!(snapshot(name), Vec::<String>::new());

    let mut f = Figures::default();
    let signals = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL];
    let op: Vec<&str> = case.op.iter().map(String::as_str).collect();
    for r in 0..RUNS {
        let sig = signals[r % 3];
        let at = 1 + r * lines / RUNS;
        for s in &case.setup {
            cgctl_ok(s);
        }
        assert_eq!(snapshot(name), before, "{}: set-up", case.what);
        let res = run_interrupted(&op, at, sig, true);
        let state = snapshot(name);
        let here = format!("{} stopped by {sig} at line {at}/{lines}", case.what);
        f.runs += 1;
        if case.what != "set" {
            // (a set stopped half-way mixes old and new limits: it never removes one)
            f.without_limits += without_limits(name, "67108864", "10").len();
        }
        let rerun = if res.code == 0 {
            f.completed += 1;
            assert_eq!(
                state, after,
                "{here}: exit 0 but not complete\n{}",
                res.stderr
            );
            false
        } else if sig != Signal::SIGKILL {
            assert_eq!(res.code, 128 + sig as i32, "{here}: {}", res.stderr);
            assert!(
                res.stderr.ends_with(&format!(
                    "cgctl: interrupted by {}; what this run had changed was undone\n",
                    sig.as_str()
                )),
                "{here}: {}",
                res.stderr
            );
            assert_eq!(state, before, "{here}: not rolled back\n{}", res.stderr);
            f.rolled_back += 1;
            true
        } else {
            assert_eq!(res.code, 137, "{here}: {}", res.stderr);
            f.killed += 1;
            if state != before && state != after {
                f.leftovers_before_cleanup += 1;
                // The documented cleanup: `delete` (for `set`: the same set again).
                if case.what == "set" {
                    cgctl_ok(&case.op);
                    if snapshot(name) != after {
                        f.leftovers_after_cleanup += 1;
                    }
                } else {
                    delete(name);
                    if !snapshot(name).is_empty() {
                        f.leftovers_after_cleanup += 1;
                    }
                    for s in &case.setup {
                        cgctl_ok(s);
                    }
                }
            }
            snapshot(name) == before
        };
        // A rerun of the command succeeds.
        if rerun {
            let o = run(cgctl().args(&case.op));
            if o.code != 0 || snapshot(name) != after {
                f.reruns_failed += 1;
                eprintln!("{here}: rerun: {o}");
            }
        }
        delete(name);
        assert_eq!(snapshot(name), Vec::<String>::new(), "{here}");
    }
    f
}

#[test]
fn create_set_and_delete_stopped_anywhere_leave_nothing_unrecognisable() {
    if !require_root("cgctl fault injection") {
        return;
    }
    let g = Group::new();
    let n = g.name.clone();
    let v = |s: &[&str]| s.iter().map(|a| (*a).to_owned()).collect::<Vec<String>>();
    let create = v(&["create", &n, "--memory", "64M", "--pids", "10"]);
    let cases = [
        Case {
            what: "create",
            setup: vec![],
            op: create.clone(),
        },
        Case {
            what: "set",
            setup: vec![create.clone()],
            op: v(&[
                "set",
                &n,
                "--memory",
                "128M",
                "--pids",
                "20",
                "--cpu-weight",
                "200",
            ]),
        },
        Case {
            what: "delete",
            setup: vec![
                create.clone(),
                v(&["create", &format!("{n}/sub"), "--pids", "5"]),
            ],
            op: v(&["delete", &n]),
        },
    ];
    let start = std::time::Instant::now();
    let mut table = vec![format!(
        "fault injection on a {} host ({:?}): kind, runs, rolled back (130/143), completed (0), \
         SIGKILLed, leftovers before cleanup, after cleanup, limitless groups looking finished, \
         failed reruns",
        if cgroups::is_v2() { "v2" } else { "v1/hybrid" },
        "SIGINT/SIGTERM/SIGKILL in turn"
    )];
    let mut bad = Vec::new();
    for case in &cases {
        let f = inject(case, &n);
        table.push(format!(
            "  {:<7} {:>3} {:>3} {:>3} {:>3} {:>3} {:>3} {:>3} {:>3}",
            case.what,
            f.runs,
            f.rolled_back,
            f.completed,
            f.killed,
            f.leftovers_before_cleanup,
            f.leftovers_after_cleanup,
            f.without_limits,
            f.reruns_failed
        ));
        if f.leftovers_after_cleanup + f.without_limits + f.reruns_failed > 0 {
            bad.push(format!("{}: {f:?}", case.what));
        }
    }
    table.push(format!("  ({:.1} s)", start.elapsed().as_secs_f64()));
    // The figures are printed whether the test passes or not (stderr itself, not the
    // harness's captured eprintln).
    let _ = writeln!(std::io::stderr(), "{}", table.join("\n"));
    assert!(bad.is_empty(), "{bad:?}");
}
