//! A cgroup by name: its directory in every hierarchy, the checks on NAME and --parent,
//! and the life cycle — `create` (all hierarchies or none, v1 cpuset filled from the
//! parent, v2 controllers enabled in the ancestors that lack them) and `delete` (every
//! hierarchy, or a failure that lists what is left).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Cause, Error};
use crate::layout::{Layout, Version};
use crate::sys;

/// Where NAMEs are rooted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// The root of each hierarchy.
    Root,
    /// The calling process's own group in each hierarchy (`--parent self`).
    Own,
    /// The same absolute cgroup path in each hierarchy.
    Path(String),
}

impl Parent {
    /// Parse `--parent`: `self`, or an absolute cgroup path without `..`.
    pub fn parse(s: &str) -> Result<Parent, Error> {
        if s == "self" {
            return Ok(Parent::Own);
        }
        let bad = |why| Error::BadName {
            name: s.to_owned(),
            why,
        };
        if !s.starts_with('/') {
            return Err(bad("--parent must be 'self' or an absolute cgroup path"));
        }
        if s.split('/').any(|c| c == ".." || c == ".") {
            return Err(bad("'.' and '..' are not allowed"));
        }
        if s.chars().any(char::is_control) {
            return Err(bad("control characters are not allowed"));
        }
        let t = s.trim_end_matches('/');
        Ok(if t.is_empty() {
            Parent::Root
        } else {
            Parent::Path(t.to_owned())
        })
    }
}

/// Prefixes of cgroup control files: a NAME component must not look like one.
const FILE_PREFIXES: &[&str] = &[
    "cgroup",
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "io",
    "blkio",
    "pids",
    "freezer",
    "devices",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
    "dmem",
    "irq",
];

/// Check a NAME and split it into components: relative, no `.`/`..`, no component that
/// looks like a control file (`memory.max`, `tasks`), no control characters.
pub fn components(name: &str) -> Result<Vec<&str>, Error> {
    let bad = |why| Error::BadName {
        name: name.to_owned(),
        why,
    };
    if name.starts_with('/') {
        return Err(bad(
            "NAME is relative to the parent (use --parent for absolute paths)",
        ));
    }
    let parts: Vec<&str> = name.split('/').filter(|c| !c.is_empty()).collect();
    if parts.is_empty() {
        return Err(bad("empty"));
    }
    for c in &parts {
        if *c == "." || *c == ".." {
            return Err(bad("'.' and '..' are not allowed"));
        }
        if c.chars().any(char::is_control) {
            return Err(bad("control characters are not allowed"));
        }
        if c.len() > 255 {
            return Err(bad("a component is longer than 255 bytes"));
        }
        let looks_like_file = matches!(*c, "tasks" | "notify_on_release" | "release_agent")
            || c.split_once('.')
                .is_some_and(|(p, _)| FILE_PREFIXES.contains(&p));
        if looks_like_file {
            return Err(bad("a component looks like a control file"));
        }
    }
    Ok(parts)
}

/// A cgroup: its name and its directory in each hierarchy of the layout.
#[derive(Debug, Clone)]
pub struct Group {
    /// The NAME, normalised (`a/b`).
    pub name: String,
    /// The parent's directory per hierarchy (None: the process's own group is unknown
    /// there, or the path lies outside the mount).
    pub parents: Vec<Option<PathBuf>>,
    /// The group's directory per hierarchy.
    pub dirs: Vec<Option<PathBuf>>,
}

impl Group {
    /// Resolve NAME below `parent` in every hierarchy.
    pub fn resolve(layout: &Layout, parent: &Parent, name: &str) -> Result<Group, Error> {
        let parts = components(name)?;
        let rel = parts.join("/");
        let parents = parent_dirs(layout, parent);
        let dirs = parents
            .iter()
            .map(|p| p.as_ref().map(|p| p.join(&rel)))
            .collect();
        Ok(Group {
            name: rel,
            parents,
            dirs,
        })
    }

    /// The directory in hierarchy `i`, if the hierarchy is used.
    pub fn dir(&self, i: usize) -> Option<&Path> {
        self.dirs.get(i).and_then(Option::as_deref)
    }

    /// The (index, directory) pairs that exist.
    pub fn existing(&self) -> Vec<(usize, PathBuf)> {
        self.dirs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                d.as_ref()
                    .filter(|d| sys::exists(d))
                    .map(|d| (i, d.clone()))
            })
            .collect()
    }

    /// Fail unless the group exists in every hierarchy it is resolved in.
    pub fn require(&self, layout: &Layout) -> Result<(), Error> {
        let mut missing = Vec::new();
        let mut found = false;
        for (i, d) in self.dirs.iter().enumerate() {
            if let Some(d) = d {
                if sys::exists(d) {
                    found = true;
                } else {
                    missing.push(layout.hierarchies[i].label());
                }
            }
        }
        if !found {
            return Err(Error::NoSuchGroup(self.name.clone()));
        }
        if !missing.is_empty() {
            return Err(Error::Incomplete {
                name: self.name.clone(),
                missing,
            });
        }
        Ok(())
    }

    /// Every pid in the group and its descendants, in every hierarchy (deduplicated).
    pub fn procs(&self) -> Vec<i32> {
        let mut all = BTreeSet::new();
        for (_, d) in self.existing() {
            procs_below(&d, &mut all);
        }
        all.into_iter().collect()
    }

    /// Child group names, in any hierarchy.
    pub fn children(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        for (_, d) in self.existing() {
            if let Ok(sub) = sys::subdirs(&d) {
                names.extend(sub);
            }
        }
        names.into_iter().collect()
    }
}

/// The parent directory in each hierarchy.
pub fn parent_dirs(layout: &Layout, parent: &Parent) -> Vec<Option<PathBuf>> {
    layout
        .hierarchies
        .iter()
        .map(|h| match parent {
            Parent::Root => Some(h.mount.clone()),
            Parent::Own => h.self_path.as_deref().and_then(|p| h.dir_of(p)),
            Parent::Path(p) => h.dir_of(p),
        })
        .collect()
}

/// The pids in `cgroup.procs` of `dir`.
pub fn procs_of(dir: &Path) -> Vec<i32> {
    sys::read(&dir.join("cgroup.procs"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

fn procs_below(dir: &Path, out: &mut BTreeSet<i32>) {
    out.extend(procs_of(dir));
    if let Ok(sub) = sys::subdirs(dir) {
        for s in sub {
            procs_below(&dir.join(s), out);
        }
    }
}

/// Controllers listed in a v2 `cgroup.controllers`/`cgroup.subtree_control` file.
fn words(path: &Path) -> Vec<String> {
    sys::read(path)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// One write to a v2 ancestor's `cgroup.subtree_control`: `+c` for each controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enable {
    /// The ancestor's directory.
    pub dir: PathBuf,
    /// The controllers to enable in it.
    pub controllers: Vec<String>,
}

/// True when `dir` is the root of its v2 hierarchy: the kernel gives every other group
/// a `cgroup.type` file, and only the root may hold processes and enable controllers.
fn is_v2_root(dir: &Path) -> bool {
    !sys::exists(&dir.join("cgroup.type"))
}

/// v2: the writes that make `controllers` available in `dir` — `+c` in the
/// `cgroup.subtree_control` of every ancestor from `top` down to dir's parent that lacks
/// it — checked before anything is written: each controller must be offered by `top`,
/// and no ancestor that needs a write may hold processes of its own (the
/// no-internal-process rule; the kernel would answer EBUSY for memory and io, and for
/// cpu, pids and cpuset it would accept the write but then refuse every new process in
/// that group). Ancestors that do not exist yet (components `create` will make) need
/// the write too.
pub fn plan_enable(top: &Path, dir: &Path, controllers: &[&str]) -> Result<Vec<Enable>, Error> {
    if controllers.is_empty() {
        return Ok(Vec::new());
    }
    let Ok(rel) = dir.strip_prefix(top) else {
        return Ok(Vec::new());
    };
    let mut ancestors = vec![top.to_path_buf()];
    let comps: Vec<_> = rel.components().collect();
    let mut cur = top.to_path_buf();
    for c in comps.iter().take(comps.len().saturating_sub(1)) {
        cur.push(c);
        ancestors.push(cur.clone());
    }
    let offered = words(&top.join("cgroup.controllers"));
    if let Some(c) = controllers
        .iter()
        .find(|c| !offered.iter().any(|o| o == *c))
    {
        return Err(Error::Unavailable {
            what: format!("the {c} controller"),
            name: top.display().to_string(),
            why: "it is not in cgroup.controllers (bound to a v1 hierarchy, or disabled)"
                .to_owned(),
        });
    }
    let mut out = Vec::new();
    for a in ancestors {
        let enabled = words(&a.join("cgroup.subtree_control"));
        let missing: Vec<String> = controllers
            .iter()
            .filter(|c| !enabled.iter().any(|e| e == *c))
            .map(|c| (*c).to_owned())
            .collect();
        if missing.is_empty() {
            continue;
        }
        if sys::exists(&a) && !is_v2_root(&a) {
            let procs = procs_of(&a);
            if !procs.is_empty() {
                return Err(Error::InternalProcesses {
                    controllers: missing.join(" "),
                    dir: a,
                    count: procs.len(),
                    ours: procs.contains(&sys::getpid()),
                });
            }
        }
        out.push(Enable {
            dir: a,
            controllers: missing,
        });
    }
    Ok(out)
}

/// Perform planned enables, top down, reporting each through `note`.
pub fn enable(plan: &[Enable], note: &dyn Fn(&str)) -> Result<(), Error> {
    for e in plan {
        let file = e.dir.join("cgroup.subtree_control");
        let value: Vec<String> = e.controllers.iter().map(|c| format!("+{c}")).collect();
        let value = value.join(" ");
        sys::write(&file, &value).map_err(|err| {
            // A process may have joined since the check.
            let busy = err.raw_os_error() == Some(libc::EBUSY);
            Error::Write {
                path: file.clone(),
                value: value.clone(),
                source: Cause {
                    error: err,
                    hint: busy.then(|| {
                        "the group has processes of its own and cgroup v2 lets only groups \
                         without processes enable controllers for their children; use a \
                         --parent without processes"
                            .to_owned()
                    }),
                },
                note: String::new(),
            }
        })?;
        note(&format!(
            "enabled {} in {}",
            e.controllers.join(" "),
            crate::error::quote(&file)
        ));
    }
    Ok(())
}

/// v2: make `controllers` available in the existing group `dir` (see [`plan_enable`]).
pub fn enable_controllers(
    top: &Path,
    dir: &Path,
    controllers: &[&str],
    note: &dyn Fn(&str),
) -> Result<(), Error> {
    enable(&plan_enable(top, dir, controllers)?, note)
}

/// Copy a v1 cpuset parent's `cpus` and `mems` into a new group: a new v1 cpuset group
/// starts empty and refuses tasks until both are set.
pub fn fill_cpuset(dir: &Path) -> Result<(), Error> {
    let parent = dir.parent().unwrap_or(dir);
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let src = parent.join(f);
        let v = sys::read(&src).map_err(|source| Error::Read {
            path: src.clone(),
            source,
        })?;
        let v = v.trim();
        let dst = dir.join(f);
        sys::write(&dst, v).map_err(|e| Error::Write {
            path: dst.clone(),
            value: v.to_owned(),
            source: Cause::plain(e),
            note: String::new(),
        })?;
    }
    Ok(())
}

/// What `create` made, so that a failure can take it back.
#[derive(Debug, Default)]
pub struct Created {
    dirs: Vec<PathBuf>,
}

impl Created {
    /// Remove what was created, newest first (best effort: this runs on an error path).
    pub fn undo(&mut self) {
        for d in self.dirs.drain(..).rev() {
            let _ = rmdir_retry(&d, Duration::from_millis(500));
        }
    }

    /// Keep what was created.
    pub fn keep(mut self) {
        self.dirs.clear();
    }
}

impl Drop for Created {
    fn drop(&mut self) {
        self.undo();
    }
}

/// Create the group's directory in every hierarchy (with missing intermediate
/// components), v1 cpusets filled from their parents, v2 controllers `v2_controllers`
/// enabled above it. Everything that can be checked is checked before the first change
/// (the parents exist, the v2 controllers can be enabled); then all or nothing: the
/// returned guard removes the directories unless kept (controllers enabled in ancestors
/// stay: another group may already use them).
pub fn create(
    layout: &Layout,
    group: &Group,
    v2_controllers: &[&str],
    note: &dyn Fn(&str),
) -> Result<Created, Error> {
    let existing = group.existing();
    if !existing.is_empty() {
        return Err(Error::Exists(group.name.clone()));
    }
    let mut todo = Vec::new();
    for (i, h) in layout.hierarchies.iter().enumerate() {
        let (Some(parent), Some(dir)) = (group.parents[i].as_ref(), group.dirs[i].as_ref()) else {
            continue;
        };
        if !sys::exists(parent) {
            return Err(Error::NoParent(parent.clone()));
        }
        let enables = if h.version == Version::V2 {
            plan_enable(&h.mount, dir, v2_controllers)?
        } else {
            Vec::new()
        };
        todo.push((h, parent, dir, enables));
    }
    let mut created = Created::default();
    for (h, parent, dir, enables) in todo {
        let is_cpuset = h.version == Version::V1 && h.has("cpuset");
        let rel = dir.strip_prefix(parent).unwrap_or(dir);
        let mut cur = parent.clone();
        let n = rel.components().count();
        for (k, c) in rel.components().enumerate() {
            cur.push(c);
            let last = k + 1 == n;
            if !last && sys::exists(&cur) {
                continue;
            }
            match sys::mkdir(&cur) {
                Ok(()) => created.dirs.push(cur.clone()),
                // A concurrent cgctl made the same intermediate component: not ours.
                Err(e) if !last && e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(Error::Exists(group.name.clone()));
                }
                Err(source) => {
                    return Err(Error::Mkdir {
                        path: cur.clone(),
                        source,
                    });
                }
            }
            if is_cpuset {
                fill_cpuset(&cur)?;
            }
        }
        enable(&enables, note)?;
    }
    Ok(created)
}

/// rmdir, retrying while the kernel still reports the group busy (tasks that have just
/// exited are released asynchronously).
pub fn rmdir_retry(dir: &Path, patience: Duration) -> std::io::Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match sys::rmdir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
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
fn remove_tree(label: &str, dir: &Path, left: &mut Vec<String>) {
    if let Ok(sub) = sys::subdirs(dir) {
        for s in sub {
            remove_tree(label, &dir.join(s), left);
        }
    }
    if let Err(e) = rmdir_retry(dir, Duration::from_secs(2)) {
        left.push(format!(
            "{label} {}: {}",
            crate::error::quote(dir),
            common::exit::message(&e)
        ));
    }
}

/// Remove the group (and, when `recursive`, its subgroups) from every hierarchy.
/// Refuses before removing anything when the group has processes or children it may
/// not touch; afterwards, anything that could not be removed is reported.
pub fn remove(layout: &Layout, group: &Group, recursive: bool) -> Result<(), Error> {
    let existing = group.existing();
    if existing.is_empty() {
        return Err(Error::NoSuchGroup(group.name.clone()));
    }
    // One directory listing per hierarchy serves the checks and the removal.
    let subs: Vec<Vec<String>> = existing
        .iter()
        .map(|(_, d)| sys::subdirs(d).unwrap_or_default())
        .collect();
    let children: BTreeSet<&String> = subs.iter().flatten().collect();
    if !recursive && !children.is_empty() {
        return Err(Error::HasChildren {
            name: group.name.clone(),
            children: children.into_iter().cloned().collect(),
        });
    }
    let procs = if children.is_empty() {
        let mut all = BTreeSet::new();
        for (_, d) in &existing {
            all.extend(procs_of(d));
        }
        all.into_iter().collect()
    } else {
        group.procs()
    };
    if !procs.is_empty() {
        return Err(Error::Populated {
            name: group.name.clone(),
            count: procs.len(),
        });
    }
    let mut left = Vec::new();
    for ((i, d), sub) in existing.iter().zip(&subs) {
        let label = layout.hierarchies[*i].label();
        for s in sub {
            remove_tree(&label, &d.join(s), &mut left);
        }
        if let Err(e) = rmdir_retry(d, Duration::from_secs(2)) {
            left.push(format!(
                "{label} {}: {}",
                crate::error::quote(d),
                common::exit::message(&e)
            ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fake_layout;
    use std::fs;

    #[test]
    fn names() {
        assert_eq!(components("a/b/").unwrap(), ["a", "b"]);
        for bad in [
            "",
            "/",
            "/abs",
            "a/../b",
            "..",
            ".",
            "memory.max",
            "a/cgroup.procs",
            "tasks",
            "x\ny",
        ] {
            assert!(components(bad).is_err(), "{bad:?} accepted");
        }
        assert!(components("web.1").is_ok());
        assert_eq!(Parent::parse("self").unwrap(), Parent::Own);
        assert_eq!(Parent::parse("/").unwrap(), Parent::Root);
        assert_eq!(Parent::parse("/a/b/").unwrap(), Parent::Path("/a/b".into()));
        assert!(Parent::parse("a").is_err());
        assert!(Parent::parse("/a/../b").is_err());
    }

    #[test]
    fn resolve_per_hierarchy() {
        let t = tempfile::tempdir().unwrap();
        let mut l = fake_layout(t.path(), &[]);
        l.hierarchies[2].self_path = Some("/sess/1".into());
        l.hierarchies[3].self_path = None;
        let g = Group::resolve(&l, &Parent::Own, "web/a").unwrap();
        assert_eq!(g.name, "web/a");
        assert_eq!(g.dir(0).unwrap(), t.path().join("cpu/web/a"));
        assert_eq!(g.dir(2).unwrap(), t.path().join("memory/sess/1/web/a"));
        assert_eq!(g.dir(3), None);
        let g = Group::resolve(&l, &Parent::Path("/p".into()), "x").unwrap();
        assert_eq!(g.dir(1).unwrap(), t.path().join("cpuset/p/x"));
    }

    #[test]
    fn create_is_all_or_nothing() {
        let t = tempfile::tempdir().unwrap();
        let l = fake_layout(t.path(), &[]);
        let g = Group::resolve(&l, &Parent::Root, "a").unwrap();
        // Block the pids hierarchy with a file where the directory would go.
        fs::write(t.path().join("pids/a"), "").unwrap();
        assert!(matches!(
            create(&l, &g, &[], &|_| {}),
            Err(Error::Exists(_))
        ));
        fs::remove_file(t.path().join("pids/a")).unwrap();
        // A fake cpuset group has no files: fill_cpuset fails after mkdir → undone.
        let err = create(&l, &g, &[], &|_| {}).unwrap_err();
        assert!(matches!(err, Error::Write { .. }), "{err:?}");
        assert!(g.existing().is_empty(), "{:?}", g.existing());
    }

    #[test]
    fn enabling_v2_controllers_is_minimal_and_reported() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path();
        fs::write(top.join("cgroup.controllers"), "cpu memory pids").unwrap();
        fs::write(top.join("cgroup.subtree_control"), "memory").unwrap();
        fs::create_dir(top.join("a")).unwrap();
        fs::write(top.join("a/cgroup.controllers"), "memory").unwrap();
        fs::write(top.join("a/cgroup.subtree_control"), "").unwrap();
        let notes = std::cell::RefCell::new(Vec::new());
        let note = |s: &str| notes.borrow_mut().push(s.to_owned());
        enable_controllers(top, &top.join("a/b"), &["memory"], &note).unwrap();
        assert_eq!(
            fs::read_to_string(top.join("cgroup.subtree_control")).unwrap(),
            "memory"
        );
        assert_eq!(
            fs::read_to_string(top.join("a/cgroup.subtree_control")).unwrap(),
            "+memory"
        );
        assert_eq!(notes.borrow().len(), 1);
        assert!(notes.borrow()[0].starts_with("enabled memory in '"));
        // A controller the root does not offer: refused before any write.
        let err = enable_controllers(top, &top.join("a/b"), &["pids", "io"], &note).unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
        assert_eq!(notes.borrow().len(), 1);
    }

    #[test]
    fn no_controller_is_enabled_in_a_group_with_processes() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path();
        // The root may hold processes (it has no cgroup.type); `p` below it may not.
        fs::write(top.join("cgroup.controllers"), "cpu memory pids").unwrap();
        fs::write(top.join("cgroup.subtree_control"), "").unwrap();
        fs::write(top.join("cgroup.procs"), "1\n").unwrap();
        fs::create_dir(top.join("p")).unwrap();
        fs::write(top.join("p/cgroup.type"), "domain\n").unwrap();
        fs::write(top.join("p/cgroup.controllers"), "").unwrap();
        fs::write(top.join("p/cgroup.subtree_control"), "").unwrap();
        fs::write(top.join("p/cgroup.procs"), "4242\n4243\n").unwrap();
        for c in ["memory", "pids"] {
            let err = enable_controllers(top, &top.join("p/x/y"), &[c], &|_| {}).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "cannot enable {c} in '{}': the group holds 2 processes of its own, and \
                     cgroup v2 lets only a group without processes enable controllers for \
                     its children (the no-internal-process rule); use a --parent without \
                     processes, or move them into a child group first",
                    top.join("p").display()
                )
            );
        }
        // Nothing was written, not even in the root above.
        assert_eq!(
            fs::read_to_string(top.join("cgroup.subtree_control")).unwrap(),
            ""
        );
        // A group that already hands the controller down needs no write, processes or
        // not; the root itself is exempt from the rule.
        fs::write(top.join("p/cgroup.subtree_control"), "pids\n").unwrap();
        let plan = plan_enable(top, &top.join("p/x"), &["pids"]).unwrap();
        assert_eq!(
            plan,
            [Enable {
                dir: top.to_path_buf(),
                controllers: vec!["pids".into()]
            }]
        );
        // Components not made yet need the write too (create makes them first).
        let plan = plan_enable(top, &top.join("p/new/x"), &["pids"]).unwrap();
        let dirs: Vec<&Path> = plan.iter().map(|e| e.dir.as_path()).collect();
        assert_eq!(dirs, [top, &top.join("p/new")]);
    }

    #[test]
    fn v2_create_enables_controllers_in_every_ancestor() {
        let t = tempfile::tempdir().unwrap();
        let mut layout = fake_layout(t.path(), &["cpu", "memory", "pids"]);
        layout.hierarchies.retain(|h| h.version == Version::V2);
        let u = t.path().join("unified");
        fs::create_dir(u.join("p")).unwrap();
        fs::write(u.join("p/cgroup.controllers"), "cpu memory pids").unwrap();
        fs::write(u.join("p/cgroup.subtree_control"), "pids").unwrap();
        let group = Group::resolve(&layout, &Parent::Path("/p".into()), "x").unwrap();
        let notes = std::cell::RefCell::new(Vec::new());
        let created = crate::group::create(&layout, &group, &["memory", "pids"], &|n| {
            notes.borrow_mut().push(n.to_owned());
        })
        .unwrap();
        assert!(u.join("p/x").is_dir());
        assert_eq!(
            fs::read_to_string(u.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
        assert_eq!(
            fs::read_to_string(u.join("p/cgroup.subtree_control")).unwrap(),
            "+memory"
        );
        assert_eq!(notes.borrow().len(), 2);
        drop(created);
        assert!(!u.join("p/x").exists(), "an unkept create is undone");
        // An intermediate component that exists already must hand the controllers
        // down too (`create q && create q/y --memory 1G`).
        fs::create_dir(u.join("p/q")).unwrap();
        fs::write(u.join("p/q/cgroup.controllers"), "memory pids").unwrap();
        fs::write(u.join("p/q/cgroup.subtree_control"), "").unwrap();
        let group = Group::resolve(&layout, &Parent::Path("/p".into()), "q/y").unwrap();
        crate::group::create(&layout, &group, &["memory"], &|_| {})
            .unwrap()
            .keep();
        assert!(u.join("p/q/y").is_dir());
        assert_eq!(
            fs::read_to_string(u.join("p/q/cgroup.subtree_control")).unwrap(),
            "+memory"
        );
    }
}
