//! Making a group: all hierarchies or none, and never a group under its final name
//! without its limits.
//!
//! [`create`] checks what can be checked (the parents exist, the v2 controllers can be
//! enabled, nobody else is making the name, leftovers of an interrupted run are
//! removed), makes the missing intermediate components, then per hierarchy the place
//! where the limits go: on v1 the staging directory `.NAME.cgctl-PID` beside NAME, on
//! v2 NAME itself after its marker `.NAME.cgctl-PID` (see `staging`). The caller fills
//! [`Creation::staged`] (limits, devices, owner) and then [`Creation::publish`]es:
//! each v1 staging directory is renamed to NAME, then the v2 markers go. Until then,
//! dropping the [`Creation`] (an error, SIGINT, SIGTERM, SIGHUP) removes everything the
//! run made, newest first; controllers enabled in v2 ancestors stay (another group may
//! already rely on them).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::delete::{remove_leftovers, rmdir_retry, scan};
use crate::error::{Cause, Error};
use crate::group::{Group, procs_of};
use crate::layout::{Layout, Version};
use crate::{filter, staging, sys};

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

/// One hierarchy's share of a create.
#[derive(Debug)]
struct Part {
    version: Version,
    /// NAME's directory.
    dir: PathBuf,
    /// Where the limits go: v1 the staging directory, v2 NAME.
    work: PathBuf,
    /// v2: the marker, once made.
    marker: Option<PathBuf>,
    /// `work` was made by this run.
    made: bool,
    /// v1: renamed to NAME.
    published: bool,
}

/// A group being made; dropped before [`Creation::publish`], it takes everything back.
#[derive(Debug)]
pub struct Creation {
    name: String,
    parts: Vec<Part>,
    /// Intermediate components this run made, in the order made.
    intermediates: Vec<PathBuf>,
    staged: Group,
    done: bool,
}

impl Creation {
    /// The group as it is being filled: its directories are the staging directories
    /// (v1) and NAME (v2).
    pub fn staged(&self) -> &Group {
        &self.staged
    }

    /// Give the group its name in every hierarchy: rename each v1 staging directory to
    /// NAME (in layout order, so that of two concurrent creates the one that renames
    /// first in the first hierarchy is the one that proceeds), then remove the v2
    /// markers. SIGINT, SIGTERM or SIGHUP before the last rename undoes the create.
    pub fn publish(mut self) -> Result<(), Error> {
        for k in 0..self.parts.len() {
            let part = &self.parts[k];
            if part.version != Version::V1 {
                continue;
            }
            if let Some(sig) = sys::interrupted() {
                return Err(Error::Interrupted(sig));
            }
            match sys::rename(&part.work, &part.dir) {
                Ok(()) => self.parts[k].published = true,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::AlreadyExists | ErrorKind::DirectoryNotEmpty
                    ) =>
                {
                    return Err(Error::Exists(self.name.clone()));
                }
                Err(source) => {
                    return Err(Error::Rename {
                        from: part.work.clone(),
                        to: part.dir.clone(),
                        source,
                    });
                }
            }
        }
        // The group is complete: the markers go (a failure leaves it "unfinished", which
        // 'delete' clears; it is not worth undoing a made group for).
        for part in &self.parts {
            if let Some(m) = &part.marker {
                let _ = rmdir_retry(m, Duration::from_millis(500));
            }
        }
        self.done = true;
        Ok(())
    }

    /// Remove what was made, newest first (best effort: this runs on an error path).
    fn undo(&mut self) {
        for part in self.parts.iter().rev() {
            let dir = if part.published {
                &part.dir
            } else {
                &part.work
            };
            if part.made || part.published {
                if part.version == Version::V2 {
                    filter::remove(dir);
                }
                let _ = rmdir_retry(dir, Duration::from_millis(500));
            }
            if let Some(m) = &part.marker {
                let _ = rmdir_retry(m, Duration::from_millis(500));
            }
        }
        for d in self.intermediates.iter().rev() {
            // Another create may be using it by now: then it is not empty, and stays.
            if sys::subdirs(d).is_ok_and(|s| s.is_empty()) && procs_of(d).is_empty() {
                let _ = rmdir_retry(d, Duration::from_millis(500));
            }
        }
    }
}

impl Drop for Creation {
    fn drop(&mut self) {
        if !self.done {
            self.undo();
        }
    }
}

fn mkdir_error(path: &Path, source: std::io::Error) -> Error {
    Error::Mkdir {
        path: path.to_path_buf(),
        source,
    }
}

/// Start making `group` (see the module's description): every check first, then the
/// intermediate components, the staging directories and markers, and the v2
/// controllers `v2_controllers` enabled above it. Fill [`Creation::staged`], then
/// [`Creation::publish`].
pub fn create(
    layout: &Layout,
    group: &Group,
    v2_controllers: &[&str],
    note: &dyn Fn(&str),
) -> Result<Creation, Error> {
    let mut existing = group.existing();
    let found = scan(layout, group, &existing);
    if let Some((_, m)) = found.live.first() {
        return Err(Error::Busy {
            name: group.name.clone(),
            pid: m.pid,
        });
    }
    if !found.dead.is_empty() {
        remove_leftovers(layout, group, &found.dead, note)?;
        existing = group.existing();
    }
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
        todo.push((i, h, parent, dir, enables));
    }
    let me = sys::getpid();
    let last = group
        .name
        .rsplit('/')
        .next()
        .unwrap_or(&group.name)
        .to_owned();
    let markers = staging::uses_markers(layout, group);
    let mut c = Creation {
        name: group.name.clone(),
        parts: Vec::new(),
        intermediates: Vec::new(),
        staged: Group {
            name: group.name.clone(),
            parents: group.parents.clone(),
            dirs: vec![None; group.dirs.len()],
        },
        done: false,
    };
    for (i, h, parent, dir, enables) in todo {
        if let Some(sig) = sys::interrupted() {
            return Err(Error::Interrupted(sig));
        }
        let is_cpuset = h.version == Version::V1 && h.has("cpuset");
        // The missing intermediate components: plain groups (a concurrent create may
        // make the same one: then it is not ours).
        let mut cur = parent.clone();
        let rel = dir.strip_prefix(parent).unwrap_or(dir);
        let comps: Vec<_> = rel.components().collect();
        for comp in comps.iter().take(comps.len().saturating_sub(1)) {
            cur.push(comp);
            if sys::exists(&cur) {
                continue;
            }
            match sys::mkdir(&cur) {
                Ok(()) => c.intermediates.push(cur.clone()),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(mkdir_error(&cur, source)),
            }
            if is_cpuset {
                fill_cpuset(&cur)?;
            }
        }
        let mark = cur.join(staging::name(&last, me));
        let mut part = Part {
            version: h.version,
            dir: dir.clone(),
            work: dir.clone(),
            marker: None,
            made: false,
            published: false,
        };
        match h.version {
            Version::V1 => {
                sys::mkdir(&mark).map_err(|e| mkdir_error(&mark, e))?;
                part.work = mark;
                part.made = true;
                c.parts.push(part);
                if is_cpuset {
                    fill_cpuset(&c.parts[c.parts.len() - 1].work)?;
                }
            }
            Version::V2 if !markers => {
                match sys::mkdir(dir) {
                    Ok(()) => part.made = true,
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                        return Err(Error::Exists(group.name.clone()));
                    }
                    Err(source) => return Err(mkdir_error(dir, source)),
                }
                c.parts.push(part);
                enable(&enables, note)?;
            }
            Version::V2 => {
                sys::mkdir(&mark).map_err(|e| mkdir_error(&mark, e))?;
                part.marker = Some(mark);
                c.parts.push(part);
                for other in staging::marks(&cur, &last) {
                    // Of two creates that got this far at once, the lower pid goes on;
                    // a marker of a cgctl no longer running marks nothing (NAME is not
                    // there) and goes.
                    if other.alive && other.pid < me {
                        return Err(Error::Busy {
                            name: group.name.clone(),
                            pid: other.pid,
                        });
                    }
                    if !other.alive {
                        let _ = rmdir_retry(&other.path, Duration::from_millis(500));
                    }
                }
                match sys::mkdir(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                        return Err(Error::Exists(group.name.clone()));
                    }
                    Err(source) => return Err(mkdir_error(dir, source)),
                }
                let n = c.parts.len() - 1;
                c.parts[n].made = true;
                enable(&enables, note)?;
            }
        }
        c.staged.dirs[i] = Some(c.parts[c.parts.len() - 1].work.clone());
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::Parent;
    use crate::test_support::fake_layout;
    use std::fs;

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
        let created = create(&layout, &group, &["memory", "pids"], &|n| {
            notes.borrow_mut().push(n.to_owned());
        })
        .unwrap();
        assert!(u.join("p/x").is_dir());
        let marker = u.join(format!("p/.x.cgctl-{}", sys::getpid()));
        assert!(marker.is_dir(), "v2: NAME is made after its marker");
        assert_eq!(created.staged().dir(0), Some(u.join("p/x").as_path()));
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
        assert!(!u.join("p/x").exists(), "an unpublished create is undone");
        assert!(!marker.exists());
        // An intermediate component that exists already must hand the controllers
        // down too (`create q && create q/y --memory 1G`).
        fs::create_dir(u.join("p/q")).unwrap();
        fs::write(u.join("p/q/cgroup.controllers"), "memory pids").unwrap();
        fs::write(u.join("p/q/cgroup.subtree_control"), "").unwrap();
        let group = Group::resolve(&layout, &Parent::Path("/p".into()), "q/y").unwrap();
        create(&layout, &group, &["memory"], &|_| {})
            .unwrap()
            .publish()
            .unwrap();
        assert!(u.join("p/q/y").is_dir());
        assert!(!u.join(format!("p/q/.y.cgctl-{}", sys::getpid())).exists());
        assert_eq!(
            fs::read_to_string(u.join("p/q/cgroup.subtree_control")).unwrap(),
            "+memory"
        );
    }

    #[test]
    fn v1_limits_are_written_under_the_staging_name_then_renamed() {
        let t = tempfile::tempdir().unwrap();
        let mut layout = fake_layout(t.path(), &[]);
        layout
            .hierarchies
            .retain(|h| h.version == Version::V1 && !h.has("cpuset"));
        let group = Group::resolve(&layout, &Parent::Root, "web").unwrap();
        let staging = |h: &str| {
            t.path()
                .join(h)
                .join(format!(".web.cgctl-{}", sys::getpid()))
        };
        let c = create(&layout, &group, &[], &|_| {}).unwrap();
        assert!(staging("memory").is_dir());
        assert!(
            group.existing().is_empty(),
            "NAME appears only when complete"
        );
        let staged = c.staged().dir(1).unwrap().to_path_buf();
        assert_eq!(staged, staging("memory"));
        fs::write(staged.join("memory.limit_in_bytes"), "1048576").unwrap();
        c.publish().unwrap();
        assert_eq!(group.existing().len(), layout.hierarchies.len());
        assert!(!staging("memory").exists());
        let limit = t.path().join("memory/web/memory.limit_in_bytes");
        assert_eq!(fs::read_to_string(limit).unwrap(), "1048576");
        // A second create of the name: refused, nothing made.
        assert!(matches!(
            create(&layout, &group, &[], &|_| {}),
            Err(Error::Exists(_))
        ));
        assert!(!staging("memory").exists());
        // Dropped before it is published: nothing is left, intermediates included.
        let nested = Group::resolve(&layout, &Parent::Root, "a/b/c").unwrap();
        drop(create(&layout, &nested, &[], &|_| {}).unwrap());
        assert!(!t.path().join("memory/a").exists());
    }

    #[test]
    fn leftovers_of_a_stopped_create_are_removed_by_the_next() {
        let t = tempfile::tempdir().unwrap();
        let mut layout = fake_layout(t.path(), &[]);
        layout
            .hierarchies
            .retain(|h| h.version == Version::V1 && !h.has("cpuset"));
        let group = Group::resolve(&layout, &Parent::Root, "web").unwrap();
        // A cgctl that no longer runs renamed NAME in the cpu hierarchy and left its
        // staging directory in the memory one.
        let dead = ".web.cgctl-999999999";
        fs::create_dir(t.path().join("cpu/web")).unwrap();
        fs::create_dir(t.path().join("memory").join(dead)).unwrap();
        assert!(matches!(
            group.require(&layout),
            Err(Error::Unfinished {
                pid: 999_999_999,
                ..
            })
        ));
        let notes = std::cell::RefCell::new(Vec::new());
        create(&layout, &group, &[], &|n| {
            notes.borrow_mut().push(n.to_owned());
        })
        .unwrap()
        .publish()
        .unwrap();
        assert!(!t.path().join("memory").join(dead).exists());
        assert_eq!(group.existing().len(), layout.hierarchies.len());
        group.require(&layout).unwrap();
        assert_eq!(
            *notes.borrow(),
            ["removed what a stopped cgctl (pid 999999999) left of 'web'"]
        );
    }

    #[test]
    fn a_stopped_cgctl_s_marks_alone_are_cleared_too() {
        let t = tempfile::tempdir().unwrap();
        let mut layout = fake_layout(t.path(), &[]);
        layout
            .hierarchies
            .retain(|h| !h.has("cpuset") && (h.version == Version::V2 || h.has("cpu")));
        let group = Group::resolve(&layout, &Parent::Root, "web").unwrap();
        // A killed create staged in the first hierarchy, and left a v2 marker; NAME is
        // nowhere.
        let dead = ".web.cgctl-999999998";
        fs::create_dir(t.path().join("cpu").join(dead)).unwrap();
        fs::create_dir(t.path().join("unified").join(dead)).unwrap();
        create(&layout, &group, &[], &|_| {})
            .unwrap()
            .publish()
            .unwrap();
        assert!(!t.path().join("cpu").join(dead).exists());
        assert!(!t.path().join("unified").join(dead).exists());
        group.require(&layout).unwrap();
    }
}
