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

use std::collections::BTreeSet;
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

/// Remove `dir` and its subgroups, deepest first; failures are collected in `left`.
/// False when `dir` was gone already.
fn remove_tree(label: &str, dir: &Path, left: &mut Vec<String>) -> bool {
    if let Ok(sub) = sys::subdirs(dir) {
        for s in sub {
            remove_tree(label, &dir.join(s), left);
        }
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

/// The sub-groups of `dir` (relative, deepest first, `dir` itself last as ""), and
/// the processes found on the way: one listing serves the check and the removal.
fn walk(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>, procs: &mut BTreeSet<i32>) {
    procs.extend(procs_of(dir));
    if let Ok(sub) = sys::subdirs(dir) {
        for s in sub {
            walk(&dir.join(&s), &rel.join(&s), out, procs);
        }
    }
    out.push(rel.to_path_buf());
}

/// Remove the tree at `top` listed by [`walk`] (deepest first); a directory that will
/// not go (a group made since the walk, a process that joined, a mount) is listed
/// again and its own tree removed, and what still stays is collected in `left`.
/// False when `top` was gone already.
fn remove_walked(label: &str, top: &Path, tree: &[PathBuf], left: &mut Vec<String>) -> bool {
    let mut removed_top = true;
    for rel in tree {
        let d = if rel.as_os_str().is_empty() {
            top.to_path_buf()
        } else {
            top.join(rel)
        };
        match rmdir_wait(&d, Duration::from_secs(2)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if rel.as_os_str().is_empty() {
                    removed_top = false;
                }
            }
            Err(_) => {
                remove_tree(label, &d, left);
            }
        }
    }
    removed_top
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
pub fn scan(layout: &Layout, group: &Group, existing: &[(usize, PathBuf)]) -> Scan {
    let resolved: Vec<usize> = (0..layout.hierarchies.len())
        .filter(|i| group.dir(*i).is_some())
        .collect();
    let markers = staging::uses_markers(layout, group);
    let quick: Vec<usize> = resolved
        .iter()
        .copied()
        .enumerate()
        .filter(|(k, i)| *k == 0 || (markers && layout.hierarchies[*i].version == Version::V2))
        .map(|(_, i)| i)
        .collect();
    let found = scan_at(group, &quick);
    let partial = !existing.is_empty() && existing.len() != resolved.len();
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
        remove_tree(&layout.hierarchies[*i].label(), &m.path, &mut left);
    }
    for (i, d) in group.existing() {
        let h = &layout.hierarchies[i];
        if !populated(&d) {
            if h.version == Version::V2 {
                filter::remove(&d);
            }
            remove_tree(&h.label(), &d, &mut left);
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
struct Part<'a> {
    index: usize,
    version: Version,
    /// NAME's directory.
    dir: PathBuf,
    /// v1: where NAME was renamed to; v2: the marker beside NAME.
    mark: PathBuf,
    /// Its sub-groups, deepest first, and itself last.
    tree: &'a [PathBuf],
    /// v2: the marker was made (see `staging::uses_markers`).
    marked: bool,
}

/// Put the names back (an interrupted delete, or a failed rename).
fn put_back(parts: &[Part<'_>]) {
    for p in parts.iter().rev() {
        match p.version {
            Version::V1 => {
                let _ = sys::rename(&p.mark, &p.dir);
            }
            Version::V2 if p.marked => {
                let _ = rmdir_retry(&p.mark, Duration::from_millis(500));
            }
            Version::V2 => {}
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
    let mut existing = group.existing();
    let first = (0..layout.hierarchies.len()).find(|i| group.dir(*i).is_some());
    let first_there = first.is_some_and(|f| existing.iter().any(|(i, _)| *i == f));
    let found = scan(layout, group, &existing);
    if !first_there && !found.live.is_empty() {
        // Another cgctl has the name: it is deleting it (or has not made it yet).
        return Err(Error::NoSuchGroup(group.name.clone()));
    }
    if !found.dead.is_empty() {
        remove_leftovers(layout, group, &found.dead, note)?;
        existing = group.existing();
        if existing.is_empty() {
            return Ok(());
        }
    }
    if existing.is_empty() {
        return Err(Error::NoSuchGroup(group.name.clone()));
    }
    // One walk per hierarchy: the sub-groups to remove and the processes in them.
    let mut trees = Vec::new();
    let mut procs = BTreeSet::new();
    for (_, d) in &existing {
        let mut tree = Vec::new();
        walk(d, Path::new(""), &mut tree, &mut procs);
        trees.push(tree);
    }
    if let Some(timeout) = kill {
        if !procs.is_empty() {
            let target = Target {
                layout,
                group,
                check_devices: false,
            };
            control::kill(&target, Signal::SIGKILL, timeout)?;
        }
    } else if !procs.is_empty() {
        return Err(Error::Populated {
            name: group.name.clone(),
            count: procs.len(),
        });
    }
    // Retire the name everywhere; until the first rmdir, everything can be put back.
    let me = sys::getpid();
    let markers = staging::uses_markers(layout, group);
    let last = group.name.rsplit('/').next().unwrap_or(&group.name);
    let mut parts: Vec<Part> = Vec::new();
    for ((i, dir), tree) in existing.iter().zip(&trees) {
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
            Version::V2 if markers => sys::mkdir(&mark).map_err(|source| Error::Mkdir {
                path: mark.clone(),
                source,
            }),
            Version::V2 => Ok(()),
        };
        match done {
            Ok(()) => parts.push(Part {
                index: *i,
                version,
                dir: dir.clone(),
                mark,
                tree,
                marked: markers,
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
    // No way back from here: a signal now lets the delete finish. The first
    // hierarchy's part goes last: while it is there, another cgctl sees the name taken
    // (and after a SIGKILL, `delete` sees a leftover).
    let mut left = Vec::new();
    let pure_v2 = parts.iter().all(|p| p.version == Version::V2);
    for p in parts.iter().skip(1).chain(parts.first()) {
        let label = layout.hierarchies[p.index].label();
        match p.version {
            Version::V1 => {
                remove_walked(&label, &p.mark, p.tree, &mut left);
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
                // cgctl's device filter goes first (its sub-groups' go with them).
                filter::remove(&p.dir);
                let removed = remove_walked(&label, &p.dir, p.tree, &mut left);
                if p.marked {
                    let _ = rmdir_retry(&p.mark, Duration::from_millis(500));
                }
                if !removed && pure_v2 {
                    // Another cgctl removed it first (v2 has no rename to decide by).
                    return Err(Error::NoSuchGroup(group.name.clone()));
                }
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
