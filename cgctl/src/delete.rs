//! Removing a group: every hierarchy, sub-groups deepest first, or a failure that says
//! what is left — and never half a group that passes for a whole one.
//!
//! [`delete`] refuses before it changes anything (processes in the subtree without
//! `--kill`; another cgctl at work on the name), kills the subtree with `--kill`, then
//! retires the name in every hierarchy: v1 renames NAME to `.NAME.cgctl-PID`, v2 makes
//! the marker `.NAME.cgctl-PID` beside it (see `staging`). Up to there SIGINT, SIGTERM
//! or SIGHUP put everything back. Then the directories go, deepest first. Of several
//! cgctl deleting one group at once, the one whose rename (v1) or rmdir (v2) of NAME in
//! the first hierarchy succeeds deletes it; the others find it gone.
//!
//! Leftovers of an interrupted create or delete (a `.NAME.cgctl-PID` whose cgctl no
//! longer runs, and what it marks) are removed by [`remove_leftovers`], which `delete`
//! and `create` call first.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::error::{Error, quote};
use crate::group::{Group, procs_of};
use crate::layout::{Layout, Version};
use crate::staging::{self, Mark};
use crate::target::Target;
use crate::{control, filter, sys};

/// rmdir, retrying while the kernel still reports the group busy (tasks that have just
/// exited are released asynchronously); a directory already gone is not an error.
pub fn rmdir_retry(dir: &Path, patience: Duration) -> std::io::Result<()> {
    match rmdir_wait(dir, patience) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// rmdir, retrying while the kernel reports the group busy.
fn rmdir_wait(dir: &Path, patience: Duration) -> std::io::Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match sys::rmdir(dir) {
            Ok(()) => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY)
                    && start.elapsed() < patience
                    && !is_mount_point(dir) =>
            {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// True when something is mounted on `dir` (its device differs from its parent's):
/// the EBUSY of rmdir is then not transient.
fn is_mount_point(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let parent = dir.parent().unwrap_or(dir);
    match (dir.metadata(), parent.metadata()) {
        (Ok(a), Ok(b)) => a.dev() != b.dev(),
        _ => false,
    }
}

/// Remove `dir` and its subgroups, deepest first (v2: cgctl's device filters detached
/// first); failures are collected in `left`. Ok(false) when `dir` was gone already.
fn remove_tree(label: &str, dir: &Path, version: Version, left: &mut Vec<String>) -> bool {
    if let Ok(sub) = sys::subdirs(dir) {
        for s in sub {
            remove_tree(label, &dir.join(s), version, left);
        }
    }
    if version == Version::V2 {
        filter::remove(dir);
    }
    match rmdir_wait(dir, Duration::from_secs(2)) {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(e) => {
            left.push(format!(
                "{label} {}: {}",
                quote(dir),
                common::exit::message(&e)
            ));
            true
        }
    }
}

/// True when a process is in `dir` or below.
fn populated(dir: &Path) -> bool {
    if !procs_of(dir).is_empty() {
        return true;
    }
    sys::subdirs(dir).is_ok_and(|s| s.iter().any(|c| populated(&dir.join(c))))
}

/// The marks beside a group, per hierarchy index.
#[derive(Debug, Default)]
pub struct Scan {
    /// Of a cgctl still running: it is creating or deleting the name now.
    pub live: Vec<(usize, Mark)>,
    /// Left by a cgctl that was stopped.
    pub dead: Vec<(usize, Mark)>,
}

/// The marks of `group`'s name (this process's own excluded). Every hierarchy's parent
/// is read only when the first hierarchy's or a v2 one's shows a mark, or the group is
/// missing from some hierarchy: what a stopped cgctl leaves always shows there (it
/// stages or retires the name in layout order, and renames only after staging
/// everywhere), so a create or delete in a parent of many groups reads one or two
/// directories, not one per hierarchy.
pub fn scan(layout: &Layout, group: &Group) -> Scan {
    let resolved: Vec<usize> = (0..layout.hierarchies.len())
        .filter(|i| group.dir(*i).is_some())
        .collect();
    let quick: Vec<usize> = resolved
        .iter()
        .copied()
        .enumerate()
        .filter(|(k, i)| *k == 0 || layout.hierarchies[*i].version == Version::V2)
        .map(|(_, i)| i)
        .collect();
    let found = scan_at(group, &quick);
    let there = resolved
        .iter()
        .filter(|i| group.dir(**i).is_some_and(sys::exists))
        .count();
    let partial = there != 0 && there != resolved.len();
    if partial || !found.live.is_empty() || !found.dead.is_empty() {
        scan_at(group, &resolved)
    } else {
        found
    }
}

/// The marks beside the group in the hierarchies `indexes`.
fn scan_at(group: &Group, indexes: &[usize]) -> Scan {
    let last = group.name.rsplit('/').next().unwrap_or(&group.name);
    let mut out = Scan::default();
    for &i in indexes {
        let Some(parent) = group.dir(i).and_then(Path::parent) else {
            continue;
        };
        for m in staging::marks(parent, last) {
            if m.alive {
                out.live.push((i, m));
            } else {
                out.dead.push((i, m));
            }
        }
    }
    out
}

/// Remove what a stopped cgctl left of `group`: its staging directories and markers
/// (`dead`), and then the group itself wherever it is (half made or half removed),
/// unless a process is in it. Reported through `note`.
pub fn remove_leftovers(
    layout: &Layout,
    group: &Group,
    dead: &[(usize, Mark)],
    note: &dyn Fn(&str),
) -> Result<(), Error> {
    let mut left = Vec::new();
    for (i, m) in dead {
        let h = &layout.hierarchies[*i];
        remove_tree(&h.label(), &m.path, h.version, &mut left);
    }
    for (i, d) in group.existing() {
        let h = &layout.hierarchies[i];
        if !populated(&d) {
            remove_tree(&h.label(), &d, h.version, &mut left);
        }
    }
    let mut pids: Vec<String> = dead.iter().map(|(_, m)| m.pid.to_string()).collect();
    pids.dedup();
    note(&format!(
        "removed what a stopped cgctl (pid {}) left of {}",
        pids.join(", "),
        quote(&group.name)
    ));
    if left.is_empty() {
        Ok(())
    } else {
        Err(Error::Leftover {
            name: group.name.clone(),
            left,
        })
    }
}

/// One hierarchy's share of a delete.
#[derive(Debug)]
struct Part {
    index: usize,
    version: Version,
    /// NAME's directory.
    dir: PathBuf,
    /// v1: where NAME was renamed to; v2: the marker beside NAME.
    mark: PathBuf,
}

/// Put the names back (an interrupted delete, or a failed rename).
fn put_back(parts: &[Part]) {
    for p in parts.iter().rev() {
        match p.version {
            Version::V1 => {
                let _ = sys::rename(&p.mark, &p.dir);
            }
            Version::V2 => {
                let _ = rmdir_retry(&p.mark, Duration::from_millis(500));
            }
        }
    }
}

/// Delete `group` and its sub-groups from every hierarchy (see the module's
/// description). With `kill` (a time-out), every process of the subtree is killed
/// first; without it, a group with processes is refused.
pub fn delete(
    layout: &Layout,
    group: &Group,
    kill: Option<Duration>,
    note: &dyn Fn(&str),
) -> Result<(), Error> {
    // The first hierarchy decides between concurrent deletes: each renames NAME there
    // first (v2: removes it), and the one that finds it gone stops.
    let first = (0..layout.hierarchies.len()).find(|i| group.dir(*i).is_some());
    let first_there = first.and_then(|f| group.dir(f)).is_some_and(sys::exists);
    let found = scan(layout, group);
    if !first_there && !found.live.is_empty() {
        // Another cgctl has the name: it is deleting it (or has not made it yet).
        return Err(Error::NoSuchGroup(group.name.clone()));
    }
    if !found.dead.is_empty() {
        remove_leftovers(layout, group, &found.dead, note)?;
        if group.existing().is_empty() {
            return Ok(());
        }
    }
    let mut existing = group.existing();
    if first_there
        && let Some(f) = first
        && existing.first().map(|(i, _)| *i) != first
    {
        // Renamed away since: the rename below finds it gone.
        existing.insert(
            0,
            (f, group.dir(f).map(Path::to_path_buf).unwrap_or_default()),
        );
    }
    if existing.is_empty() {
        return Err(Error::NoSuchGroup(group.name.clone()));
    }
    if let Some(timeout) = kill {
        let target = Target {
            layout,
            group,
            check_devices: false,
        };
        control::kill(&target, Signal::SIGKILL, timeout)?;
    } else {
        let procs = group.procs();
        if !procs.is_empty() {
            return Err(Error::Populated {
                name: group.name.clone(),
                count: procs.len(),
            });
        }
    }
    // Retire the name everywhere; until the first rmdir, everything can be put back.
    let me = sys::getpid();
    let last = group.name.rsplit('/').next().unwrap_or(&group.name);
    let mut parts: Vec<Part> = Vec::new();
    for (i, dir) in &existing {
        if let Some(sig) = sys::interrupted() {
            put_back(&parts);
            return Err(Error::Interrupted(sig));
        }
        let version = layout.hierarchies[*i].version;
        let mark = dir.with_file_name(staging::name(last, me));
        let done = match version {
            Version::V1 => sys::rename(dir, &mark).map_err(|source| Error::Rename {
                from: dir.clone(),
                to: mark.clone(),
                source,
            }),
            Version::V2 => sys::mkdir(&mark).map_err(|source| Error::Mkdir {
                path: mark.clone(),
                source,
            }),
        };
        match done {
            Ok(()) => parts.push(Part {
                index: *i,
                version,
                dir: dir.clone(),
                mark,
            }),
            Err(Error::Rename { source, .. }) if source.kind() == ErrorKind::NotFound => {
                // Another cgctl renamed it first: it deletes the group, not this one.
                if parts.is_empty() {
                    return Err(Error::NoSuchGroup(group.name.clone()));
                }
            }
            Err(Error::Mkdir { source, .. })
                if source.kind() == ErrorKind::NotFound && parts.is_empty() =>
            {
                return Err(Error::NoSuchGroup(group.name.clone()));
            }
            Err(e) => {
                put_back(&parts);
                return Err(e);
            }
        }
    }
    // No way back from here: a signal now lets the delete finish.
    let mut left = Vec::new();
    let mut removed_any = false;
    for p in &parts {
        let label = layout.hierarchies[p.index].label();
        match p.version {
            Version::V1 => {
                removed_any |= remove_tree(&label, &p.mark, p.version, &mut left);
                if sys::exists(&p.mark) {
                    // Something stays (a process joined, a mount): under its own name.
                    let _ = sys::rename(&p.mark, &p.dir);
                    left = left
                        .into_iter()
                        .map(|l| l.replace(&*p.mark.to_string_lossy(), &p.dir.to_string_lossy()))
                        .collect();
                }
            }
            Version::V2 => {
                let removed = remove_tree(&label, &p.dir, p.version, &mut left);
                let _ = rmdir_retry(&p.mark, Duration::from_millis(500));
                if !removed && !removed_any {
                    // Another cgctl removed it first (v2 has no rename to decide by).
                    return Err(Error::NoSuchGroup(group.name.clone()));
                }
                removed_any |= removed;
            }
        }
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(Error::Leftover {
            name: group.name.clone(),
            left,
        })
    }
}
