//! cgroup helpers for the tests: this process's own group in each mounted hierarchy (the
//! only place tests create groups), the directory of a test group per controller with
//! its version (so a test asserts v1 files on a v1 or hybrid host and v2 files on a v2
//! one), and a guard that removes a group, its subgroups and its processes, panic or not.
//!
//! The parsing here is deliberately independent of cgctl's: the tests check cgctl
//! against the kernel's own files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

/// cgroup v1 or v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// A v1 hierarchy.
    V1,
    /// The unified hierarchy.
    V2,
}

/// One mounted hierarchy and this process's group in it.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// v1 or v2.
    pub version: Version,
    /// v1: controllers (or `name=x`); v2: the root's cgroup.controllers.
    pub controllers: Vec<String>,
    /// The directory of this process's own group.
    pub own: PathBuf,
}

/// The hierarchies of this host (v1 first, the unified one last).
pub fn hierarchies() -> Vec<Hierarchy> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let own = fs::read_to_string("/proc/self/cgroup").expect("/proc/self/cgroup");
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    let mut devs = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if devs.contains(&pre[2].to_owned()) || pre[3] != "/" {
            continue;
        }
        let mount = PathBuf::from(pre[4]);
        match post[0] {
            "cgroup" => {
                let ctrls: Vec<String> = post[2]
                    .split(',')
                    .filter(|o| {
                        !matches!(
                            *o,
                            "rw" | "ro"
                                | "noprefix"
                                | "clone_children"
                                | "xattr"
                                | "cpuset_v2_mode"
                        ) && !o.starts_with("release_agent")
                    })
                    .map(str::to_owned)
                    .collect();
                let path = own.lines().find_map(|l| {
                    let mut p = l.splitn(3, ':');
                    let (_, c, path) = (p.next()?, p.next()?, p.next()?);
                    let set: Vec<&str> = c.split(',').collect();
                    ctrls
                        .iter()
                        .all(|x| set.contains(&x.as_str()))
                        .then(|| path.to_owned())
                });
                let Some(path) = path else { continue };
                devs.push(pre[2].to_owned());
                v1.push(Hierarchy {
                    version: Version::V1,
                    own: mount.join(path.trim_start_matches('/')),
                    controllers: ctrls,
                });
            }
            "cgroup2" if v2.is_empty() => {
                let path = own
                    .lines()
                    .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
                    .unwrap_or_else(|| "/".to_owned());
                devs.push(pre[2].to_owned());
                let controllers = fs::read_to_string(mount.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                v2.push(Hierarchy {
                    version: Version::V2,
                    own: mount.join(path.trim_start_matches('/')),
                    controllers,
                });
            }
            _ => {}
        }
    }
    v1.extend(v2);
    v1
}

/// The directory of test group `name` (below this process's own group) that holds
/// `controller`, with its version: the v1 hierarchy that mounts it, else the unified one
/// when it offers it. `freezer` falls back to the unified core (`cgroup.freeze`).
pub fn controller_dir(name: &str, controller: &str) -> Option<(Version, PathBuf)> {
    let hs = hierarchies();
    let v1name = if controller == "io" {
        "blkio"
    } else {
        controller
    };
    if let Some(h) = hs
        .iter()
        .find(|h| h.version == Version::V1 && h.controllers.iter().any(|c| c == v1name))
    {
        return Some((Version::V1, h.own.join(name)));
    }
    hs.iter()
        .find(|h| {
            h.version == Version::V2
                && (controller == "freezer" || h.controllers.iter().any(|c| c == controller))
        })
        .map(|h| (Version::V2, h.own.join(name)))
}

/// The directories of group `name` in every hierarchy.
pub fn group_dirs(name: &str) -> Vec<PathBuf> {
    hierarchies().iter().map(|h| h.own.join(name)).collect()
}

/// The directories of group `name` that exist.
pub fn existing(name: &str) -> Vec<PathBuf> {
    group_dirs(name)
        .into_iter()
        .filter(|d| d.exists())
        .collect()
}

/// Read a control file, trimmed.
pub fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// A `cgctl` command with `CGCTL_PARENT=self`.
pub fn cgctl() -> Command {
    let mut c = crate::cmd(crate::bin("cgctl"));
    c.env("CGCTL_PARENT", "self");
    c
}

/// True when this host is pure v2 (no v1 controller hierarchy).
pub fn is_v2() -> bool {
    hierarchies().iter().all(|h| h.version == Version::V2)
}

/// Every pid below `dir`.
fn procs_below(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(t) = fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(t.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                procs_below(&e.path(), out);
            }
        }
    }
}

fn rmdir_below(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_below(&e.path());
            }
        }
    }
    for _ in 0..100 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The directories of group `name` and of what cgctl stages or marks beside it
/// (`.NAME.cgctl-PID`), in every hierarchy, that exist.
fn with_staging(name: &str) -> Vec<PathBuf> {
    let marker = format!(".{name}.cgctl-");
    let mut out = existing(name);
    for h in hierarchies() {
        let parent = h.own.join(name);
        let Some(parent) = parent.parent() else {
            continue;
        };
        if let Ok(rd) = fs::read_dir(parent) {
            out.extend(
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&marker))
                    .map(|e| e.path()),
            );
        }
    }
    out
}

/// Remove group `name` everywhere without cgctl: SIGKILL its processes (only those in
/// its directories), then rmdir deepest first; cgctl's staging and marker directories
/// of the name too.
pub fn force_remove(name: &str) {
    for _ in 0..50 {
        let mut pids = Vec::new();
        for d in with_staging(name) {
            procs_below(&d, &mut pids);
        }
        if pids.is_empty() {
            break;
        }
        for p in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    for d in with_staging(name) {
        rmdir_below(&d);
    }
}

/// A test group's guard: on drop, `cgctl delete --kill`, then whatever is left is
/// killed and removed by hand.
#[derive(Debug)]
pub struct Group {
    /// The NAME below this process's own group.
    pub name: String,
}

impl Group {
    /// A fresh unique name (`cgt<pid>x<n>`); nothing is created.
    pub fn new() -> Self {
        Group {
            name: crate::unique_name("cgt"),
        }
    }
}

impl Default for Group {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !with_staging(&self.name).is_empty() {
            let _ = cgctl().args(["delete", "--kill", &self.name]).output();
        }
        force_remove(&self.name);
    }
}

/// The limit and delegation files a [`snapshot`] records, where a group has them.
const SNAPSHOT_FILES: &[&str] = &[
    "memory.limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "memory.max",
    "memory.high",
    "memory.swap.max",
    "pids.max",
    "cpu.max",
    "cpu.cfs_quota_us",
    "cpu.cfs_period_us",
    "cpu.shares",
    "cpu.weight",
    "cpuset.cpus",
    "devices.list",
    "freezer.state",
    "cgroup.freeze",
    "cgroup.subtree_control",
];

fn snapshot_dir(label: &str, rel: &str, dir: &Path, out: &mut Vec<String>) {
    use std::os::unix::fs::MetadataExt;
    let owner =
        fs::metadata(dir).map_or_else(|_| "?".to_owned(), |m| format!("{}:{}", m.uid(), m.gid()));
    out.push(format!("{label} {rel}/ owner={owner}"));
    for f in SNAPSHOT_FILES {
        if let Ok(v) = fs::read_to_string(dir.join(f)) {
            out.push(format!("{label} {rel}/{f}={}", v.trim().replace('\n', "|")));
        }
    }
    let mut subs: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    subs.sort();
    for s in subs {
        snapshot_dir(label, &format!("{rel}/{s}"), &dir.join(&s), out);
    }
}

/// What the kernel shows of test group `name` (a single component below this
/// process's own group) in every hierarchy: its directory tree, the staging and marker
/// directories cgctl may leave beside it (`.NAME.cgctl-PID`), the owner of each and its
/// limit files. Two equal snapshots mean nothing changed; an empty one, nothing is there.
pub fn snapshot(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let marker = format!(".{name}.cgctl-");
    for h in hierarchies() {
        let label = h.controllers.join(",");
        let label = if label.is_empty() {
            "unified".to_owned()
        } else {
            label
        };
        let Ok(rd) = fs::read_dir(&h.own) else {
            continue;
        };
        let mut entries: Vec<String> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|e| e == name || e.starts_with(&marker))
            .collect();
        entries.sort();
        for e in entries {
            snapshot_dir(&label, &e, &h.own.join(&e), &mut out);
        }
    }
    out
}

/// The `cgroup.subtree_control` of this process's own group in the unified hierarchy
/// (None without one).
pub fn own_subtree_control() -> Option<String> {
    hierarchies()
        .iter()
        .find(|h| h.version == Version::V2)
        .map(|h| read(&h.own.join("cgroup.subtree_control")))
}

pub use crate::run::Interrupted;

/// Run `cgctl -v ARGS` and send it `signal` when its `after`-th trace line appears on
/// standard error (a point within the run: the line is printed right after its call).
///
/// With `pinned`, cgctl runs at nice 19 on the CPU this thread is pinned to
/// (`taskset`, `nice`), so that the reader, woken by each line, gets the CPU back at once
/// and the signal lands right after that line's call rather than some calls later.
pub fn run_interrupted(
    args: &[&str],
    after: usize,
    signal: nix::sys::signal::Signal,
    pinned: bool,
) -> Interrupted {
    let mut command = if pinned {
        let cpu = pin_to_one_cpu();
        let mut c = crate::cmd("taskset");
        c.args(["-c", &cpu.to_string(), "nice", "-n", "19"])
            .arg(crate::bin("cgctl"))
            .env("CGCTL_PARENT", "self");
        c
    } else {
        cgctl()
    };
    command.arg("-v").args(args);
    crate::run::interrupt_at_line(command, after, signal)
}

/// Pin the calling thread to the first CPU it may run on; that CPU.
fn pin_to_one_cpu() -> usize {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;
    let mine = sched_getaffinity(Pid::from_raw(0)).expect("sched_getaffinity");
    let cpu = (0..CpuSet::count())
        .find(|c| mine.is_set(*c).unwrap_or(false))
        .expect("a CPU");
    let mut one = CpuSet::new();
    one.set(cpu).expect("CpuSet::set");
    sched_setaffinity(Pid::from_raw(0), &one).expect("sched_setaffinity");
    cpu
}

/// The directories of test group `name` that lack the limit they should have: a
/// `memory` or `pids` directory under the final name whose `memory.limit_in_bytes` /
/// `memory.max` or `pids.max` is not `memory`/`pids`, with no `.NAME.cgctl-PID` marker
/// beside it. What cgctl must never leave: a group that looks finished without its limits.
pub fn without_limits(name: &str, memory: &str, pids: &str) -> Vec<PathBuf> {
    let marker = format!(".{name}.cgctl-");
    let mut out = Vec::new();
    for h in hierarchies() {
        let dir = h.own.join(name);
        if !dir.exists() {
            continue;
        }
        let marked = fs::read_dir(&h.own).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(&marker))
        });
        if marked {
            continue;
        }
        for (file, want) in [
            ("memory.limit_in_bytes", memory),
            ("memory.max", memory),
            ("pids.max", pids),
        ] {
            if let Ok(v) = fs::read_to_string(dir.join(file))
                && v.trim() != want
            {
                out.push(dir.join(file));
            }
        }
    }
    out
}
