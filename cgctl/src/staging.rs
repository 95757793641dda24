//! The names under which cgctl prepares and retires groups, so that nothing an
//! interrupted run leaves behind can pass for a finished group.
//!
//! `create NAME` makes, in each v1 hierarchy, the directory `.NAME.cgctl-PID` beside
//! where NAME will be, writes every limit there, and renames it to NAME last (rename(2)
//! of a cgroup directory within its parent keeps its files and limits). cgroup v2 cannot
//! rename a group (EPERM), so there the same name is an empty *marker* group made before
//! NAME and removed after its limits are written: NAME next to a marker is unfinished.
//! `delete NAME` renames NAME to `.NAME.cgctl-PID` (v1) or makes the marker (v2) before
//! it removes anything. On a hybrid host the v1 renames come last and the unified
//! group has no marker: without its v1 parts it is incomplete already ([`uses_markers`]). PID is the cgctl process at work; when it no longer runs, what
//! its name marks is a leftover, which `delete NAME` (or a new `create NAME`) removes.
//!
//! NAMEs may not start with `.`: such names are cgctl's.

use std::path::{Path, PathBuf};

use crate::sys;

/// True when v2 markers are used for `group`: it lives in no v1 hierarchy. Where it
/// does (a hybrid host), NAME in the unified hierarchy alone is an incomplete group
/// already (missing from the v1 ones until their renames, which come last), and the
/// renames decide between concurrent runs: no marker is needed.
pub fn uses_markers(layout: &crate::layout::Layout, group: &crate::group::Group) -> bool {
    !layout
        .hierarchies
        .iter()
        .enumerate()
        .any(|(i, h)| h.version == crate::layout::Version::V1 && group.dir(i).is_some())
}

/// The staging (v1) or marker (v2) name of component `name` for process `pid`.
pub fn name(component: &str, pid: i32) -> String {
    format!(".{component}.cgctl-{pid}")
}

/// The component and pid of a staging or marker name, or None for any other name.
pub fn parse(entry: &str) -> Option<(&str, i32)> {
    let rest = entry.strip_prefix('.')?;
    let (component, pid) = rest.rsplit_once(".cgctl-")?;
    if component.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((component, pid.parse().ok()?))
}

/// A staging or marker directory for one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Its path.
    pub path: PathBuf,
    /// The cgctl process that made it.
    pub pid: i32,
    /// True when that process still runs (the mark is in use, not left behind).
    pub alive: bool,
}

/// The marks of `component` in directory `parent`, ours (this process's) excluded.
pub fn marks(parent: &Path, component: &str) -> Vec<Mark> {
    let me = sys::getpid();
    let Ok(entries) = sys::subdirs(parent) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            let (c, pid) = parse(e)?;
            (c == component && pid != me).then(|| Mark {
                path: parent.join(e),
                pid,
                alive: sys::is_cgctl(pid),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(name("web", 42), ".web.cgctl-42");
        assert_eq!(parse(".web.cgctl-42"), Some(("web", 42)));
        assert_eq!(parse(".a.cgctl-x.cgctl-7"), Some(("a.cgctl-x", 7)));
        for other in [
            "web",
            ".web",
            ".web.cgctl-",
            ".web.cgctl-4x",
            "..cgctl-3",
            "web.cgctl-3",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }

    #[test]
    fn marks_of_a_component_with_their_owners() {
        let t = tempfile::tempdir().unwrap();
        let me = sys::getpid();
        for n in [
            name("web", me),
            name("web", 999_999_999),
            name("db", 999_999_998),
            "web".to_owned(),
        ] {
            std::fs::create_dir(t.path().join(n)).unwrap();
        }
        assert_eq!(
            marks(t.path(), "web"),
            [Mark {
                path: t.path().join(".web.cgctl-999999999"),
                pid: 999_999_999,
                alive: false
            }]
        );
        assert_eq!(marks(t.path(), "x"), []);
    }
}
