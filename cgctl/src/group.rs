//! A cgroup by name: its directory in every hierarchy, the checks on NAME and --parent,
//! whether it is complete, its processes and children. Making and removing one are
//! `create` and `delete`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::layout::{Layout, Version};
use crate::{staging, sys};

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

/// The longest NAME component: a cgroup directory name is at most 255 bytes, and cgctl's
/// staging name (`.NAME.cgctl-PID`) needs 18 of them.
pub const MAX_COMPONENT: usize = 237;

/// The longest NAME (the whole path must stay well within PATH_MAX below a mount).
pub const MAX_NAME: usize = 2048;

/// Check a NAME and split it into components: relative, no `.`/`..`, no component that
/// looks like a control file (`memory.max`, `tasks`), none starting with `.` (cgctl's
/// staging names), no control characters, lengths within [`MAX_COMPONENT`] and
/// [`MAX_NAME`].
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
    if name.len() > MAX_NAME {
        return Err(bad("longer than 2048 bytes"));
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
        if c.starts_with('.') {
            return Err(bad(
                "a component starting with '.' is cgctl's (a group being made or removed)",
            ));
        }
        if c.len() > MAX_COMPONENT {
            return Err(bad("a component is longer than 237 bytes"));
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

    /// Fail unless the group exists in every hierarchy it is resolved in, and is not
    /// being made or removed (or left so by a stopped cgctl): no v2 marker beside it,
    /// and where it is missing, no v1 staging name either.
    pub fn require(&self, layout: &Layout) -> Result<(), Error> {
        let plain = self.exists_everywhere(layout);
        let last = self.name.rsplit('/').next().unwrap_or(&self.name);
        let markers = staging::uses_markers(layout, self);
        for (i, h) in layout.hierarchies.iter().enumerate() {
            let Some(parent) = self.dir(i).and_then(Path::parent) else {
                continue;
            };
            // A complete group is unfinished only beside a v2 marker, where markers
            // are used.
            if plain.is_ok() && (h.version == Version::V1 || !markers) {
                continue;
            }
            if let Some(m) = staging::marks(parent, last).first() {
                return Err(if m.alive {
                    Error::Busy {
                        name: self.name.clone(),
                        pid: m.pid,
                    }
                } else {
                    Error::Unfinished {
                        name: self.name.clone(),
                        pid: m.pid,
                    }
                });
            }
        }
        plain
    }

    fn exists_everywhere(&self, layout: &Layout) -> Result<(), Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fake_layout;

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
}
