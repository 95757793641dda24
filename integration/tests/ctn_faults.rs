//! The manager under fault injection: `ctn create`, `ctn start` and `ctn destroy` of a
//! busybox container stopped by SIGINT (to its process group, as Ctrl-C sends it),
//! SIGTERM and SIGKILL (to ctn alone, as `kill` sends them) at moments spread over their
//! measured run, and what they leave compared with what they found and with what a
//! complete run leaves:
//!
//! - SIGINT and SIGTERM: the command rolls back (exit 130/143, the state as before) or
//!   completes; never a part;
//! - SIGKILL: whatever is left never looks like a finished container (create and destroy
//!   work under a staging name), and the documented cleanup (`ctn destroy -f NAME` after
//!   a create or a destroy, `ctn stop -k NAME` after a start) leaves the state as before
//!   (or, for a destroy, as after);
//! - then the command runs again and succeeds.
//!
//! The figures are printed; the goal is no leftover after cleanup and no failed rerun.
//! `CTN_FAULT_RUNS` sets the runs per command (default 15; `cargo xtask hardening` asks
//! for more).

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration::ctn::Lab;
use integration::{Output, require_root};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

#[track_caller]
fn ok(o: &Output) -> &Output {
    assert_eq!(o.code, 0, "{o}");
    o
}

fn runs() -> usize {
    std::env::var("CTN_FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15)
}

/// What the lab holds of container `name`: the entries of its containers' directory
/// (`NAME`, or a staging `.NAME.new`), whether NAME has a config and a root filesystem,
/// its run state, its cgroup, whether it runs.
fn state(lab: &Lab, name: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(lab.root())
        .map(|d| {
            d.flatten()
                .map(|e| format!("dir {}", e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    let dir = lab.root().join(name);
    if dir.join("config").is_file() {
        v.push("config".into());
    }
    if dir.join("rootfs/bin/busybox").exists() {
        v.push("rootfs".into());
    }
    if lab.run_dir().join(name).exists() {
        v.push("run state".into());
    }
    if !integration::cgroups::existing(&lab.cgroup(name)).is_empty() {
        v.push("cgroup".into());
    }
    let info = lab.run("ctn", &["info", name]);
    if info.stdout.contains("RUNNING") {
        v.push("running".into());
    }
    v
}

/// Wait until no process of the lab's is left but those of a running container (its
/// monitor, its console holder and the chain that holds its init), and no start is under
/// way: the children of a killed ctn finish on their own. (A start is made by `ctn start`
/// itself: once that is killed, a STARTING state stays for the cleanup to clear.)
fn settle(lab: &Lab) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let starting = std::fs::read_dir(lab.run_dir())
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_to_string(e.path().join("state"))
                    .is_ok_and(|s| s.starts_with("STARTING"))
            })
            && lab.processes().iter().any(|p| p.contains("ctn start "));
        if starting {
            assert!(Instant::now() < until, "a start never ended");
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let busy: Vec<String> = lab
            .processes()
            .into_iter()
            .filter(|p| {
                !["__monitor", "ptyhold", "unshare-rs", "chroot-rs", "cgctl"]
                    .iter()
                    .any(|c| p.contains(c))
            })
            .collect();
        if busy.is_empty() {
            return;
        }
        assert!(Instant::now() < until, "still running: {busy:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run `ctn ARGS` in a process group of its own and send `sig` after `delay`: SIGINT to
/// the group (a terminal's Ctrl-C), the others to ctn alone. Its exit status (128+N).
fn interrupt(lab: &Lab, args: &[&str], delay: Duration, sig: Signal) -> i32 {
    let mut c: Command = lab.command("ctn");
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = c.spawn().expect("spawn ctn");
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    std::thread::sleep(delay);
    let _ = if sig == Signal::SIGINT {
        killpg(pid, sig)
    } else {
        kill(pid, sig)
    };
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
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

/// One command stopped `runs()` times: `prepare` brings the lab to the state before,
/// `cleanup` is the documented cleanup after a SIGKILL.
fn inject(
    lab: &Lab,
    what: &str,
    op: &[&str],
    prepare: &dyn Fn(),
    cleanup: &[&str],
    name: &str,
) -> Figures {
    prepare();
    let before = state(lab, name);
    let start = Instant::now();
    ok(&lab.run("ctn", op));
    let took = start.elapsed();
    let after = state(lab, name);
    assert_ne!(before, after, "{what} changes nothing");
    let mut f = Figures::default();
    let signals = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL];
    let n = runs();
    for r in 0..n {
        prepare();
        assert_eq!(state(lab, name), before, "{what}: set-up");
        let sig = signals[r % 3];
        let delay = took.mul_f64((r as f64 + 0.5) / n as f64);
        let code = interrupt(lab, op, delay, sig);
        settle(lab);
        let now = state(lab, name);
        let here = format!("{what} stopped by {sig} after {delay:?} of {took:?}");
        f.runs += 1;
        if code == 0 {
            assert_eq!(now, after, "{here}: exit 0 but not complete");
            f.completed += 1;
        } else if sig != Signal::SIGKILL {
            assert_eq!(code, 128 + sig as i32, "{here}");
            if now == after {
                // stopped on its way out, the work done
                f.completed += 1;
            } else {
                assert_eq!(now, before, "{here}: neither rolled back nor complete");
                f.rolled_back += 1;
            }
        } else {
            f.killed += 1;
            if now != before && now != after {
                f.leftovers_before_cleanup += 1;
                eprintln!("{here}: left {now:?}");
                let _ = lab.run("ctn", cleanup);
                settle(lab);
                // (the cleanup of a destroy is a destroy: it may finish the work)
                let cleaned = state(lab, name);
                if cleaned != before && cleaned != after {
                    f.leftovers_after_cleanup += 1;
                    eprintln!("{here}: after {cleanup:?}: {cleaned:?}");
                }
            }
        }
        // Whatever happened, from the state before the command runs again and succeeds.
        if state(lab, name) != before {
            if state(lab, name) != after {
                let _ = lab.run("ctn", cleanup);
                settle(lab);
            }
            prepare();
        }
        if state(lab, name) == before {
            let o = lab.run("ctn", op);
            if o.code != 0 || state(lab, name) != after {
                f.reruns_failed += 1;
                eprintln!("{here}: rerun: {o}");
            }
        } else {
            f.reruns_failed += 1;
            eprintln!("{here}: cannot come back to the state before");
        }
    }
    eprintln!("ctn {what}, stopped anywhere: {f:?}");
    f
}

#[test]
fn create_start_and_destroy_stopped_anywhere_leave_nothing_cleanup_cannot_remove() {
    if !require_root("containers") {
        return;
    }
    let lab = Lab::new();
    let t = lab.busybox_template();
    let t = t.to_str().unwrap().to_owned();
    let name = "f1";
    let destroy = |lab: &Lab| {
        let _ = lab.run("ctn", &["destroy", "-f", name]);
    };
    let create = |lab: &Lab| {
        if !lab.root().join(name).join("config").exists() {
            destroy(lab);
            ok(&lab.run("ctn", &["create", name, "--from", &t]));
        }
    };
    let stop = |lab: &Lab| {
        let _ = lab.run("ctn", &["stop", name, "-k"]);
        settle(lab);
    };

    let mut all = Vec::new();
    all.push(inject(
        &lab,
        "create",
        &["create", name, "--from", &t],
        &|| destroy(&lab),
        &["destroy", "-f", name],
        name,
    ));
    all.push(inject(
        &lab,
        "start",
        &["start", name],
        &|| {
            create(&lab);
            stop(&lab);
        },
        &["stop", name, "-k"],
        name,
    ));
    all.push(inject(
        &lab,
        "destroy",
        &["destroy", name],
        &|| {
            stop(&lab);
            create(&lab);
        },
        &["destroy", "-f", name],
        name,
    ));
    destroy(&lab);
    for f in &all {
        assert_eq!(f.leftovers_after_cleanup, 0, "{all:?}");
        assert_eq!(f.reruns_failed, 0, "{all:?}");
    }
}
