//! cpuset: the CPUs and memory nodes (`check` has compared them with the parent's).
//!
//! v2 narrows the sub-groups' effective sets by itself. v1 refuses to narrow a group
//! whose sub-groups use a CPU it would lose (EBUSY), and never widens them: on v1 the
//! sub-groups follow (an init such as systemd makes its own below a container's group).
//! First every group of the subtree, top down, takes the union of what it has and the
//! new set (always a subset of its parent's at that moment); then, deepest first, the new
//! set. Each write keeps its old value, so a failure undoes the whole change.

use std::path::{Path, PathBuf};

use super::{Action, write_restore};
use crate::error::Error;
use crate::keys::{Knob, Request};
use crate::layout::Version;
use crate::sys;
use crate::target::Target;
use crate::value::CpuList;

pub(super) fn plan(
    reqs: &[&Request],
    target: &Target<'_>,
    out: &mut Vec<Action>,
) -> Result<(), Error> {
    let (version, dir) = target.home("cpuset")?;
    for r in reqs {
        let (file, list) = match &r.knob {
            Knob::Cpus(l) => ("cpus", l),
            Knob::Mems(l) => ("mems", l),
            _ => continue,
        };
        let name = format!("cpuset.{file}");
        let groups = if version == Version::V1 {
            subtree(&dir)
        } else {
            vec![dir.clone()]
        };
        let current: Vec<String> = groups
            .iter()
            .map(|g| {
                sys::read(&g.join(&name))
                    .map(|s| s.trim_end().to_owned())
                    .unwrap_or_default()
            })
            .collect();
        // Top down: the union, where it differs.
        for (g, old) in groups.iter().zip(&current) {
            let union = match CpuList::parse(old) {
                Ok(mut had) if !old.is_empty() => {
                    had.0.extend(list.0.iter().copied());
                    had.to_string()
                }
                _ => list.to_string(),
            };
            if &union != old {
                out.push(write_restore(g.join(&name), union, Some(old.clone())));
            }
        }
        // Deepest first: the new set (the group itself last).
        for (g, old) in groups.iter().zip(&current).rev() {
            let restore = CpuList::parse(old)
                .ok()
                .filter(|_| !old.is_empty())
                .map(|mut had| {
                    had.0.extend(list.0.iter().copied());
                    had.to_string()
                })
                .filter(|u| u != old)
                .or_else(|| Some(old.clone()));
            out.push(write_restore(g.join(&name), list.to_string(), restore));
        }
    }
    Ok(())
}

/// The group and its sub-groups, parents before children.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < all.len() {
        if let Ok(names) = sys::subdirs(&all[i]) {
            let base = all[i].clone();
            all.extend(names.into_iter().map(|n| base.join(n)));
        }
        i += 1;
    }
    all
}
