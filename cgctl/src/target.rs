//! Where a plan or a read goes: the [`Target`] (the layout and the group), the hierarchy
//! and directory that hold a controller, the directory of a raw file, and the CPUs and
//! memory nodes in force at a group (its own cpuset, else its nearest ancestor's).

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::group::Group;
use crate::layout::{Layout, Version};
use crate::sys;
use crate::value::CpuList;

/// The group a plan is for, and how to look at the host.
#[derive(Debug)]
pub struct Target<'a> {
    /// The host's hierarchies.
    pub layout: &'a Layout,
    /// The group.
    pub group: &'a Group,
    /// Check that io.max devices exist under /sys/dev/block (off in unit tests).
    pub check_devices: bool,
}

impl Target<'_> {
    /// The version, hierarchy mount and group directory (made or not) of the hierarchy
    /// that holds `controller`.
    pub fn place(&self, controller: &str) -> Option<(Version, &Path, PathBuf)> {
        let home = self.layout.home(controller)?;
        let dir = self.group.dir(home.index)?;
        Some((
            home.version,
            &self.layout.hierarchies[home.index].mount,
            dir.to_path_buf(),
        ))
    }

    /// The version and group directory that hold `controller` (`freezer` falls back to
    /// the unified core's `cgroup.freeze`, `devices` to the unified group's device
    /// filter programs).
    pub fn home(&self, controller: &str) -> Result<(Version, PathBuf), Error> {
        let home = self.layout.home(controller).or_else(|| {
            matches!(controller, "freezer" | "devices")
                .then(|| self.layout.unified_index())
                .flatten()
                .map(|index| crate::layout::Home {
                    index,
                    version: Version::V2,
                })
        });
        let Some(home) = home else {
            return Err(Error::Unavailable {
                what: format!("the {controller} controller"),
                name: self.group.name.clone(),
                why: "no mounted hierarchy has it (see 'cgctl check')".to_owned(),
            });
        };
        let h = &self.layout.hierarchies[home.index];
        match self.group.dir(home.index) {
            Some(d) if sys::exists(d) => Ok((home.version, d.to_path_buf())),
            _ => Err(Error::Incomplete {
                name: self.group.name.clone(),
                missing: vec![h.label()],
            }),
        }
    }
}

/// The effective CPUs (`what` = "cpus") or memory nodes ("mems") in force at `dir`: its
/// own `cpuset.effective_cpus` (v1) / `cpuset.cpus.effective` (v2), else the nearest
/// ancestor's up to `top` — a v2 group without the cpuset controller, or a group not
/// made yet, runs on what its nearest cpuset ancestor allows.
pub fn effective(ver: Version, top: &Path, dir: &Path, what: &str) -> Option<CpuList> {
    let files = crate::files::of(ver);
    let file = if what == "cpus" {
        files.cpus_effective
    } else {
        files.mems_effective
    };
    let mut d = dir;
    loop {
        if let Ok(t) = sys::read(&d.join(file)) {
            return CpuList::parse(&t).ok().filter(|l| !l.is_empty());
        }
        if d == top {
            return None;
        }
        d = d.parent()?;
    }
}

/// The CPUs a group may use: its cpuset's effective list, else the online CPUs.
pub fn group_cpus(target: &Target<'_>) -> Option<CpuList> {
    target
        .place("cpuset")
        .and_then(|(ver, top, dir)| effective(ver, top, &dir, "cpus"))
        .or_else(|| {
            sys::read(Path::new("/sys/devices/system/cpu/online"))
                .ok()
                .and_then(|t| CpuList::parse(&t).ok())
        })
}

/// The directory holding a raw file: by its controller prefix; core files (`cgroup.*`)
/// in the unified hierarchy, else the first hierarchy.
pub fn native_dir(file: &str, target: &Target<'_>) -> Result<PathBuf, Error> {
    let prefix = file.split('.').next().unwrap_or(file);
    if matches!(prefix, "cgroup" | "tasks" | "notify_on_release") {
        let i = target
            .layout
            .unified_index()
            .filter(|_| prefix == "cgroup" && file != "cgroup.clone_children")
            .unwrap_or(0);
        return target
            .group
            .dir(i)
            .map(Path::to_path_buf)
            .ok_or_else(|| Error::NoSuchGroup(target.group.name.clone()));
    }
    let controller = if prefix == "cpuacct" && target.layout.home("cpuacct").is_none() {
        "cpu"
    } else {
        prefix
    };
    target.home(controller).map(|(_, d)| d)
}

/// True when `file` exists for the group: an unknown key is passed through then.
pub fn native_exists(file: &str, target: &Target<'_>) -> bool {
    native_dir(file, target).is_ok_and(|d| sys::exists(&d.join(file)))
}
