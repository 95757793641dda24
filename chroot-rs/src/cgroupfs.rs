//! `--cgroup-fs`: the cgroup filesystem on the new root's /sys/fs/cgroup, laid out as the
//! host lays out its own, so that an init (systemd) finds what it expects on every host:
//!
//! - pure cgroup v2 (the host's /sys/fs/cgroup is cgroup2): one cgroup2 mount;
//! - v1 and hybrid (a tmpfs holding one mount per hierarchy): a tmpfs, then each
//!   hierarchy the host has — the controllers (`cpu`, `memory`, …), the named ones
//!   (`name=systemd`) and the unified cgroup2 — at the same place, the host's symlinks
//!   (`cpuacct -> cpu,cpuacct`) copied, and the tmpfs made read-only (LXC's
//!   `cgroup:mixed`).
//!
//! The mounts are made by a process in a cgroup namespace (unshare-rs --cgroup, after
//! cgctl exec placed it in the container's group), so each shows the container's own
//! group as its root and nothing above it. Only existing hierarchies are mounted: nothing
//! here creates a new one.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// One mount to make below /sys/fs/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A cgroup v1 hierarchy: its directory name and mount data (`cpu`, `none,name=systemd`).
    V1 { name: String, data: String },
    /// The cgroup2 hierarchy at `name` (`unified` on a hybrid host).
    V2 { name: String },
    /// A symlink the host has (`cpuacct -> cpu,cpuacct`).
    Link { name: String, target: String },
}

/// How the host lays out /sys/fs/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup2 on /sys/fs/cgroup itself.
    Unified,
    /// A tmpfs with these entries.
    Tmpfs(Vec<Entry>),
}

const ROOT: &str = "/sys/fs/cgroup";

/// Read the host's layout from `mountinfo` (our /proc/self/mountinfo, before the pivot)
/// and the symlinks in /sys/fs/cgroup.
pub fn host_layout() -> Result<Layout, Error> {
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| Error::Access {
            path: "/proc/self/mountinfo".into(),
            source,
        })?;
    let mut layout = parse(&mountinfo)?;
    if let Layout::Tmpfs(entries) = &mut layout {
        if let Ok(dir) = std::fs::read_dir(ROOT) {
            for e in dir.flatten() {
                if let Ok(target) = std::fs::read_link(e.path()) {
                    entries.push(Entry::Link {
                        name: e.file_name().to_string_lossy().into_owned(),
                        target: target.to_string_lossy().into_owned(),
                    });
                }
            }
        }
        entries.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    }
    Ok(layout)
}

fn name_of(e: &Entry) -> &str {
    match e {
        Entry::V1 { name, .. } | Entry::V2 { name } | Entry::Link { name, .. } => name,
    }
}

/// The layout described by a mountinfo text.
pub fn parse(mountinfo: &str) -> Result<Layout, Error> {
    let mut entries = Vec::new();
    let mut root_type = None;
    for line in mountinfo.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let Some(mountpoint) = fields.get(4) else {
            continue;
        };
        let mut rest = right.split(' ');
        let (Some(fstype), _, Some(superopts)) = (rest.next(), rest.next(), rest.next()) else {
            continue;
        };
        if *mountpoint == ROOT {
            // The last mount on a path is the one that shows.
            root_type = Some(fstype.to_owned());
            entries.clear();
            continue;
        }
        let Some(name) = mountpoint.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        if name.contains('/') {
            continue;
        }
        let name = unescape(name);
        match fstype {
            "cgroup2" => {
                entries.retain(|e| name_of(e) != name);
                entries.push(Entry::V2 { name });
            }
            "cgroup" => {
                let data = v1_data(superopts);
                entries.retain(|e| name_of(e) != name);
                entries.push(Entry::V1 { name, data });
            }
            _ => {}
        }
    }
    match root_type.as_deref() {
        Some("cgroup2") => Ok(Layout::Unified),
        Some(_) => Ok(Layout::Tmpfs(entries)),
        None => Err(Error::CgroupFs(
            "the host has no cgroup filesystem on /sys/fs/cgroup".to_owned(),
        )),
    }
}

/// The mount data that names an existing v1 hierarchy: its controllers and `name=`, from
/// the super options (`rw,cpu,cpuacct` → `cpu,cpuacct`; `rw,name=systemd` →
/// `none,name=systemd`, as a named hierarchy without controllers is asked for).
fn v1_data(superopts: &str) -> String {
    let mut controllers = Vec::new();
    let mut name = None;
    for opt in superopts.split(',') {
        match opt {
            "rw" | "ro" | "relatime" | "noatime" | "nosuid" | "nodev" | "noexec" | "xattr"
            | "clone_children" | "cpuset_v2_mode" | "noprefix" | "none" => {}
            o if o.starts_with("release_agent=") => {}
            o if o.starts_with("name=") => name = Some(o.to_owned()),
            o => controllers.push(o.to_owned()),
        }
    }
    match (controllers.is_empty(), name) {
        (true, Some(n)) => format!("none,{n}"),
        (false, Some(n)) => format!("{},{n}", controllers.join(",")),
        (_, None) => controllers.join(","),
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(v) = b
                .get(i + 1..i + 4)
                .and_then(|o| std::str::from_utf8(o).ok())
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path of `name` below the new root's /sys/fs/cgroup.
pub fn inner(name: &str) -> PathBuf {
    Path::new("sys/fs/cgroup").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:35 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 23 0:39 / /sys/kernel/debug rw - debugfs debugfs rw
";

    #[test]
    fn hybrid_hosts_get_each_hierarchy() {
        let Layout::Tmpfs(e) = parse(HYBRID).unwrap() else {
            panic!("not a tmpfs layout")
        };
        assert_eq!(
            e,
            vec![
                Entry::V1 {
                    name: "cpu".into(),
                    data: "cpu".into()
                },
                Entry::V1 {
                    name: "memory".into(),
                    data: "memory".into()
                },
                Entry::V1 {
                    name: "cpu,cpuacct".into(),
                    data: "cpu,cpuacct".into()
                },
                Entry::V1 {
                    name: "systemd".into(),
                    data: "none,name=systemd".into()
                },
                Entry::V2 {
                    name: "unified".into()
                },
            ]
        );
    }

    #[test]
    fn pure_v2_and_none() {
        let v2 = "25 23 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(parse(v2).unwrap(), Layout::Unified);
        assert!(parse("1 0 0:1 / / rw - ext4 /dev/vda rw\n").is_err());
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape("a\\040b"), "a b");
        assert_eq!(unescape("plain"), "plain");
    }
}
