//! owner: delegation of the group to a container's root (a subordinate host uid). The
//! group's directory in every hierarchy, and the files a delegatee writes to manage
//! its own sub-groups, change owner; every limit file stays root's.
//!
//! v2: the files the kernel lists in /sys/kernel/cgroup/delegate (cgroup.procs,
//! cgroup.threads, cgroup.subtree_control, and on newer kernels memory.reclaim and
//! others), else those Documentation/admin-guide/cgroup-v2.rst names under "Delegation
//! Containment". v1: `tasks` and `cgroup.procs`, as LXC's cgfsng.c chowns them, and in
//! the cpuset hierarchy `cgroup.clone_children` set to 1 (LXC's too), so that a
//! sub-group starts with the group's CPUs and memory nodes instead of none. With the
//! directory, the delegatee may make sub-groups (their files become its own) and move
//! its processes between them; it cannot raise the group's limits.

use std::path::Path;

use super::Action;
use crate::error::Error;
use crate::sys;
use crate::target::Target;

/// v2's delegation files when the kernel does not list them.
const V2_DELEGATE: &[&str] = &["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"];
/// v1's.
const V1_DELEGATE: &[&str] = &["tasks", "cgroup.procs"];

/// The files to chown in a group of `version`: the kernel's list for v2 where it has one.
pub fn files(version: crate::layout::Version) -> Vec<String> {
    match version {
        crate::layout::Version::V1 => V1_DELEGATE.iter().map(|s| (*s).to_owned()).collect(),
        crate::layout::Version::V2 => sys::read(Path::new("/sys/kernel/cgroup/delegate"))
            .ok()
            .map(|t| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| V2_DELEGATE.iter().map(|s| (*s).to_owned()).collect()),
    }
}

pub(super) fn plan(
    uid: u32,
    gid: u32,
    target: &Target<'_>,
    out: &mut Vec<Action>,
) -> Result<(), Error> {
    for (i, h) in target.layout.hierarchies.iter().enumerate() {
        let Some(dir) = target.group.dir(i) else {
            continue;
        };
        if !sys::exists(dir) {
            return Err(Error::Incomplete {
                name: target.group.name.clone(),
                missing: vec![h.label()],
            });
        }
        if h.version == crate::layout::Version::V1 && h.has("cpuset") {
            // A new v1 cpuset group starts without CPUs and memory nodes and refuses
            // tasks; with clone_children the delegatee's sub-groups start with this
            // group's (as LXC sets it), so its init can use them as they come.
            out.push(super::write(dir.join("cgroup.clone_children"), "1"));
        }
        let mut paths = vec![dir.to_path_buf()];
        paths.extend(
            files(h.version)
                .iter()
                .map(|f| dir.join(f))
                .filter(|p| sys::exists(p)),
        );
        for path in paths {
            let restore = sys::owner(&path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            out.push(Action::Chown {
                path,
                uid,
                gid,
                restore,
            });
        }
    }
    Ok(())
}
