//! Which cgroup hierarchies this host has and where they are mounted: the layout (v1, v2
//! or hybrid) comes from the mounted filesystems (`/proc/self/mountinfo`: `cgroup` or
//! `cgroup2`, the same test as youki's statfs magic, but with the mount points), the
//! controllers of each v1 hierarchy from its mount options (intersected with
//! `/proc/cgroups`), those of the v2 hierarchy from its root's `cgroup.controllers`, and
//! this process's own group in each hierarchy from `/proc/self/cgroup`.
//!
//! Everything else takes paths from here, so unit tests build a [`Layout`] over a temp
//! directory of fake cgroup files.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::sys;

/// cgroup v1 or v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// One hierarchy per controller (or per set of co-mounted controllers).
    V1,
    /// The unified hierarchy.
    V2,
}

/// The host's layout as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only v1 hierarchies.
    V1,
    /// Only the unified hierarchy.
    V2,
    /// v1 controllers and a unified hierarchy beside them.
    Hybrid,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::V1 => "v1",
            Kind::V2 => "v2",
            Kind::Hybrid => "hybrid",
        })
    }
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 or v2.
    pub version: Version,
    /// v1: the controllers mounted on it; v2: the root's `cgroup.controllers`.
    pub controllers: Vec<String>,
    /// A v1 named hierarchy (`name=systemd`).
    pub name: Option<String>,
    /// Where it is mounted.
    pub mount: PathBuf,
    /// The path inside the hierarchy that is mounted there (`/` normally).
    pub mount_root: String,
    /// This process's group in the hierarchy, as `/proc/self/cgroup` shows it.
    pub self_path: Option<String>,
}

impl Hierarchy {
    /// A short label: `memory`, `cpu,cpuacct`, `name=systemd`, `unified`.
    pub fn label(&self) -> String {
        match (&self.version, &self.name) {
            (Version::V2, _) => "unified".to_owned(),
            (Version::V1, Some(n)) => format!("name={n}"),
            (Version::V1, None) => self.controllers.join(","),
        }
    }

    /// The directory of the cgroup `path` (absolute within the hierarchy), or None
    /// when it lies outside what is mounted.
    pub fn dir_of(&self, path: &str) -> Option<PathBuf> {
        let root = self.mount_root.trim_end_matches('/');
        let rest = if root.is_empty() {
            path
        } else {
            let rest = path.strip_prefix(root)?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            rest
        };
        let rest = rest.trim_start_matches('/');
        Some(if rest.is_empty() {
            self.mount.clone()
        } else {
            self.mount.join(rest)
        })
    }

    /// True when the hierarchy holds `controller`.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// All hierarchies of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// v1 hierarchies first (in mount order), the unified one last.
    pub hierarchies: Vec<Hierarchy>,
}

/// Where a controller lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Home {
    /// Index into [`Layout::hierarchies`].
    pub index: usize,
    /// Its version.
    pub version: Version,
}

impl Layout {
    /// The running host's layout.
    pub fn detect() -> Result<Layout, Error> {
        let read = |p: &str| {
            sys::read(Path::new(p)).map_err(|source| Error::Read {
                path: p.into(),
                source,
            })
        };
        let mountinfo = read("/proc/self/mountinfo")?;
        let cgroups = read("/proc/cgroups").unwrap_or_default();
        let own = read("/proc/self/cgroup")?;
        let mut layout = Layout::parse(&mountinfo, &cgroups, &own);
        layout.read_v2_controllers();
        if layout.hierarchies.is_empty() {
            return Err(Error::NoCgroupFs);
        }
        Ok(layout)
    }

    /// Fill in the v2 hierarchy's controllers from its root's `cgroup.controllers`.
    pub fn read_v2_controllers(&mut self) {
        for h in &mut self.hierarchies {
            if h.version == Version::V2 {
                let file = h.mount.join("cgroup.controllers");
                h.controllers = sys::read(&file)
                    .map(|s| s.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default();
            }
        }
    }

    /// The layout described by the text of `/proc/self/mountinfo`, `/proc/cgroups` and
    /// `/proc/self/cgroup` (v2 controllers are left empty: see `read_v2_controllers`).
    pub fn parse(mountinfo: &str, proc_cgroups: &str, self_cgroup: &str) -> Layout {
        let known: BTreeSet<&str> = proc_cgroups
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        // (device, version, index in that version's list) of each hierarchy kept.
        let mut seen_dev: Vec<(String, Version, usize)> = Vec::new();
        let mut v1: Vec<Hierarchy> = Vec::new();
        let mut v2: Vec<Hierarchy> = Vec::new();
        for line in mountinfo.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 5 || post.len() < 3 {
                continue;
            }
            let (dev, root, mount) = (pre[2], unescape(pre[3]), unescape(pre[4]));
            let h = match post[0] {
                "cgroup2" => Hierarchy {
                    version: Version::V2,
                    controllers: Vec::new(),
                    name: None,
                    mount: PathBuf::from(mount),
                    mount_root: root,
                    self_path: None,
                },
                "cgroup" => {
                    let mut controllers = Vec::new();
                    let mut name = None;
                    for opt in post[2].split(',') {
                        if let Some(n) = opt.strip_prefix("name=") {
                            name = Some(n.to_owned());
                        } else if known.contains(opt) || (known.is_empty() && is_controller(opt)) {
                            controllers.push(opt.to_owned());
                        }
                    }
                    Hierarchy {
                        version: Version::V1,
                        controllers,
                        name,
                        mount: PathBuf::from(mount),
                        mount_root: root,
                        self_path: None,
                    }
                }
                _ => continue,
            };
            // The same hierarchy mounted twice (bind mounts): keep the mount of its
            // root, else the first.
            let list = if h.version == Version::V2 {
                &mut v2
            } else {
                &mut v1
            };
            if let Some(&(_, _, i)) = seen_dev
                .iter()
                .find(|(d, v, _)| d == dev && *v == h.version)
            {
                if list[i].mount_root != "/" && h.mount_root == "/" {
                    list[i] = h;
                }
                continue;
            }
            seen_dev.push((dev.to_owned(), h.version, list.len()));
            list.push(h);
        }
        // Only one unified hierarchy is used (the first mounted).
        v2.truncate(1);
        for line in self_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if id == "0" && ctrls.is_empty() {
                if let Some(h) = v2.first_mut() {
                    h.self_path = Some(path.to_owned());
                }
                continue;
            }
            let set: BTreeSet<&str> = ctrls.split(',').collect();
            for h in &mut v1 {
                let matches = match &h.name {
                    Some(n) => set.iter().any(|c| c.strip_prefix("name=") == Some(n)),
                    None => {
                        !h.controllers.is_empty()
                            && h.controllers.iter().all(|c| set.contains(c.as_str()))
                    }
                };
                if matches {
                    h.self_path = Some(path.to_owned());
                }
            }
        }
        v1.retain(|h| !h.controllers.is_empty() || h.name.is_some());
        v1.extend(v2);
        Layout { hierarchies: v1 }
    }

    /// Keep only the hierarchies that hold one of `wanted`: a controller, `name=NAME`
    /// or `unified` (`--hierarchies`). Empty keeps all.
    pub fn restrict(&mut self, wanted: &[String]) {
        if wanted.is_empty() {
            return;
        }
        self.hierarchies.retain(|h| {
            wanted.iter().any(|w| {
                h.has(w)
                    || (h.version == Version::V2 && w == "unified")
                    || h.name
                        .as_deref()
                        .is_some_and(|n| w.strip_prefix("name=") == Some(n))
            })
        });
        // Controllers of the unified hierarchy stay usable only when it is kept.
    }

    /// v1, v2 or hybrid.
    pub fn kind(&self) -> Kind {
        let v1 = self
            .hierarchies
            .iter()
            .any(|h| h.version == Version::V1 && !h.controllers.is_empty());
        match (v1, self.unified().is_some()) {
            (true, true) => Kind::Hybrid,
            (false, true) => Kind::V2,
            _ => Kind::V1,
        }
    }

    /// The unified hierarchy, if mounted.
    pub fn unified(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.version == Version::V2)
    }

    /// Index of the unified hierarchy.
    pub fn unified_index(&self) -> Option<usize> {
        self.hierarchies
            .iter()
            .position(|h| h.version == Version::V2)
    }

    /// Where `controller` lives: a v1 hierarchy that mounts it, else the unified one when
    /// its root offers it. `io` and `blkio` name the same controller.
    pub fn home(&self, controller: &str) -> Option<Home> {
        let (v1name, v2name) = match controller {
            "io" | "blkio" => ("blkio", "io"),
            c => (c, c),
        };
        if let Some(index) = self
            .hierarchies
            .iter()
            .position(|h| h.version == Version::V1 && h.has(v1name))
        {
            return Some(Home {
                index,
                version: Version::V1,
            });
        }
        self.unified_index()
            .filter(|&i| self.hierarchies[i].has(v2name))
            .map(|index| Home {
                index,
                version: Version::V2,
            })
    }
}

/// Controller names the kernel has had, for when /proc/cgroups cannot be read.
fn is_controller(opt: &str) -> bool {
    matches!(
        opt,
        "cpu"
            | "cpuacct"
            | "cpuset"
            | "memory"
            | "devices"
            | "freezer"
            | "net_cls"
            | "net_prio"
            | "blkio"
            | "perf_event"
            | "hugetlb"
            | "pids"
            | "rdma"
            | "misc"
    )
}

/// Undo mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok());
            if let Some(v) = oct {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 31 0:32 /process_api /mnt/mem\\040x rw,relatime - cgroup cgroup rw,memory
";

    pub const PROC_CGROUPS: &str = "\
#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t3\t1\t1
cpu\t1\t1\t1
cpuacct\t2\t1\t1
blkio\t7\t1\t1
memory\t4\t7\t1
devices\t5\t1\t1
freezer\t6\t1\t1
pids\t8\t1\t1
hugetlb\t0\t1\t1
";

    pub const HYBRID_SELF: &str = "\
9:name=systemd:/
8:pids:/
6:freezer:/
4:memory:/process_api/abc
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

    #[test]
    fn hybrid_host() {
        let l = Layout::parse(HYBRID_MOUNTINFO, PROC_CGROUPS, HYBRID_SELF);
        let labels: Vec<String> = l.hierarchies.iter().map(Hierarchy::label).collect();
        assert_eq!(
            labels,
            [
                "cpu",
                "cpuacct",
                "cpuset",
                "memory",
                "freezer",
                "pids",
                "name=systemd",
                "unified"
            ]
        );
        assert_eq!(l.kind(), Kind::Hybrid);
        let mem = &l.hierarchies[3];
        assert_eq!(mem.mount, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(mem.self_path.as_deref(), Some("/process_api/abc"));
        assert_eq!(
            l.home("memory"),
            Some(Home {
                index: 3,
                version: Version::V1
            })
        );
        assert_eq!(l.home("io"), None);
        assert_eq!(l.unified().unwrap().self_path.as_deref(), Some("/"));
        assert_eq!(
            mem.dir_of("/process_api/abc/x"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/abc/x"))
        );
        assert_eq!(
            mem.dir_of("/"),
            Some(PathBuf::from("/sys/fs/cgroup/memory"))
        );
    }

    #[test]
    fn pure_v2_and_comounted_v1() {
        let l = Layout::parse(
            "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
            "",
            "0::/init.scope\n",
        );
        assert_eq!(l.kind(), Kind::V2);
        assert_eq!(l.hierarchies.len(), 1);
        assert_eq!(l.hierarchies[0].self_path.as_deref(), Some("/init.scope"));
        let mut l2 = l.clone();
        l2.hierarchies[0].controllers = vec!["memory".into(), "io".into()];
        assert_eq!(
            l2.home("blkio"),
            Some(Home {
                index: 0,
                version: Version::V2
            })
        );

        let l = Layout::parse(
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
            "",
            "2:cpu,cpuacct:/user\n",
        );
        assert_eq!(l.kind(), Kind::V1);
        assert_eq!(l.hierarchies[0].label(), "cpu,cpuacct");
        assert_eq!(l.hierarchies[0].self_path.as_deref(), Some("/user"));
        assert_eq!(l.home("cpuacct").unwrap().index, 0);
    }

    #[test]
    fn restricting_hierarchies() {
        let mut l = Layout::parse(HYBRID_MOUNTINFO, PROC_CGROUPS, HYBRID_SELF);
        l.restrict(&["unified".into()]);
        assert_eq!(l.kind(), Kind::V2);
        assert_eq!(l.hierarchies.len(), 1);
        let mut l = Layout::parse(HYBRID_MOUNTINFO, PROC_CGROUPS, HYBRID_SELF);
        l.restrict(&["memory".into(), "freezer".into(), "name=systemd".into()]);
        assert_eq!(l.kind(), Kind::V1);
        let labels: Vec<String> = l.hierarchies.iter().map(Hierarchy::label).collect();
        assert_eq!(labels, ["memory", "freezer", "name=systemd"]);
    }

    #[test]
    fn one_device_as_v1_and_v2_is_two_hierarchies() {
        // Found by fuzzing (fuzz/fuzz_targets/cgctl_values.rs): a device number seen as a
        // v1 hierarchy and then as cgroup2 (or the other way round) indexed the other
        // version's list, out of bounds.
        for mi in [
            "1 0 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             2 0 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
            "2 0 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
             1 0 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        ] {
            let l = Layout::parse(mi, "", "");
            assert_eq!(l.hierarchies.len(), 2, "{mi}");
            assert_eq!(l.kind(), Kind::Hybrid);
        }
    }

    #[test]
    fn mount_root_is_stripped() {
        let h = Hierarchy {
            version: Version::V1,
            controllers: vec!["memory".into()],
            name: None,
            mount: "/mnt/m".into(),
            mount_root: "/lxc/c1".into(),
            self_path: None,
        };
        assert_eq!(h.dir_of("/lxc/c1/a"), Some(PathBuf::from("/mnt/m/a")));
        assert_eq!(h.dir_of("/lxc/c1"), Some(PathBuf::from("/mnt/m")));
        assert_eq!(h.dir_of("/lxc/c10"), None);
        assert_eq!(h.dir_of("/other"), None);
        assert_eq!(unescape("/mnt/mem\\040x"), "/mnt/mem x");
    }
}
