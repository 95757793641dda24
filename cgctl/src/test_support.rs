//! Fixtures the unit tests share: a fake cgroup host in a temp dir (v1 hierarchies and
//! a unified one, or pure v2) with a group `g` and its default files, and helpers to
//! plan (key, value) pairs against it.

use std::fs;
use std::path::Path;

use crate::error::Error;
use crate::group::{Group, Parent};
use crate::keys::{self, Request};
use crate::layout::{Hierarchy, Layout, Version};
use crate::plan::{Action, plan};
use crate::target::Target;

/// A fake hybrid host in a temp dir: v1 cpu, cpuset, memory, pids, freezer, blkio, devices
/// and a unified hierarchy, each with root files.
pub fn fake_layout(root: &Path, v2_controllers: &[&str]) -> Layout {
    let mut hs = Vec::new();
    for c in [
        "cpu", "cpuset", "memory", "pids", "freezer", "blkio", "devices",
    ] {
        let m = root.join(c);
        fs::create_dir_all(&m).unwrap();
        fs::write(m.join("cgroup.procs"), "").unwrap();
        if c == "cpuset" {
            fs::write(m.join("cpuset.cpus"), "0-1\n").unwrap();
            fs::write(m.join("cpuset.mems"), "0\n").unwrap();
            fs::write(m.join("cpuset.effective_cpus"), "0-1\n").unwrap();
        }
        hs.push(Hierarchy {
            version: Version::V1,
            controllers: vec![c.to_owned()],
            name: None,
            mount: m,
            mount_root: "/".into(),
            self_path: Some("/".into()),
        });
    }
    let u = root.join("unified");
    fs::create_dir_all(&u).unwrap();
    fs::write(u.join("cgroup.controllers"), v2_controllers.join(" ")).unwrap();
    fs::write(u.join("cgroup.subtree_control"), "").unwrap();
    fs::write(u.join("cgroup.procs"), "").unwrap();
    hs.push(Hierarchy {
        version: Version::V2,
        controllers: v2_controllers.iter().map(|s| (*s).to_owned()).collect(),
        name: None,
        mount: u,
        mount_root: "/".into(),
        self_path: Some("/".into()),
    });
    Layout { hierarchies: hs }
}

/// A fake host in a temp dir with one group, `g`.
pub struct Fake {
    _t: tempfile::TempDir,
    /// The fake hierarchies.
    pub layout: Layout,
    /// The group `g`.
    pub group: Group,
}

impl Fake {
    /// The target of a plan or a read on `g` (io.max devices not checked).
    pub fn target(&self) -> Target<'_> {
        Target {
            layout: &self.layout,
            group: &self.group,
            check_devices: false,
        }
    }
}

/// A fake hybrid host with group `g` and v1 default files, plus a unified group.
pub fn fake() -> Fake {
    let t = tempfile::tempdir().unwrap();
    let layout = fake_layout(t.path(), &[]);
    let group = Group::resolve(&layout, &Parent::Root, "g").unwrap();
    for d in group.dirs.iter().flatten() {
        fs::create_dir_all(d).unwrap();
    }
    let files: &[(&str, &str, &str)] = &[
        ("memory", "memory.limit_in_bytes", "9223372036854771712"),
        (
            "memory",
            "memory.memsw.limit_in_bytes",
            "9223372036854771712",
        ),
        (
            "memory",
            "memory.soft_limit_in_bytes",
            "9223372036854771712",
        ),
        ("memory", "memory.usage_in_bytes", "1048576"),
        ("cpu", "cpu.cfs_quota_us", "-1"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpu", "cpu.shares", "1024"),
        ("cpuset", "cpuset.cpus", "0-1"),
        ("cpuset", "cpuset.mems", "0"),
        ("cpuset", "cpuset.effective_cpus", "0-1"),
        ("pids", "pids.max", "max"),
        ("freezer", "freezer.state", "THAWED"),
        ("blkio", "blkio.throttle.read_bps_device", ""),
        ("blkio", "blkio.throttle.write_iops_device", "8:0 50\n"),
        ("unified", "cgroup.freeze", "0"),
        ("devices", "devices.list", "a *:* rwm"),
    ];
    for (h, f, v) in files {
        fs::write(t.path().join(h).join("g").join(f), format!("{v}\n")).unwrap();
    }
    Fake {
        _t: t,
        layout,
        group,
    }
}

/// A fake pure-v2 host with group `g`.
pub fn fake_v2() -> Fake {
    let t = tempfile::tempdir().unwrap();
    let mut layout = fake_layout(t.path(), &["cpuset", "cpu", "io", "memory", "pids"]);
    layout.hierarchies.retain(|h| h.version == Version::V2);
    let group = Group::resolve(&layout, &Parent::Root, "g").unwrap();
    let g = group.dir(0).unwrap().to_path_buf();
    fs::create_dir_all(&g).unwrap();
    for (f, v) in [
        ("memory.max", "max"),
        ("memory.low", "0"),
        ("memory.swap.max", "max"),
        ("memory.current", "20971520"),
        ("memory.reclaim", ""),
        ("cpu.max", "max 100000"),
        ("cpu.weight", "100"),
        ("cpuset.cpus", ""),
        ("cpuset.cpus.effective", "0-1"),
        ("pids.max", "max"),
        ("io.weight", "default 100"),
        ("io.max", "8:0 rbps=max wbps=5 riops=max wiops=max"),
        ("cgroup.freeze", "0"),
    ] {
        fs::write(g.join(f), format!("{v}\n")).unwrap();
    }
    fs::write(t.path().join("unified/cpuset.cpus.effective"), "0-1\n").unwrap();
    Fake {
        _t: t,
        layout,
        group,
    }
}

/// Requests parsed from (key, value) pairs (unknown keys refused).
pub fn reqs(args: &[(&str, &str)]) -> Vec<Request> {
    args.iter()
        .map(|(k, v)| keys::parse(k, k, v, &|_| false).unwrap())
        .collect()
}

/// The plan of (key, value) pairs for `g`, as (file name, value) pairs.
pub fn planned(f: &Fake, args: &[(&str, &str)]) -> Result<Vec<(String, String)>, Error> {
    Ok(plan(&reqs(args), &f.target())?
        .into_iter()
        .map(|a| match a {
            Action::Write { path, value, .. } => (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                value,
            ),
            Action::Reclaim { amount, .. } => ("memory.reclaim".into(), amount.to_string()),
            Action::Devices { policy, .. } => ("devices".into(), format!("{policy:?}")),
            Action::Chown { path, uid, gid, .. } => (
                format!("chown {}", path.file_name().unwrap().to_string_lossy()),
                format!("{uid}:{gid}"),
            ),
        })
        .collect())
}

/// (file, value) pairs, owned.
pub fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
}
