//! The eight namespace types: their `CLONE_NEW*` flags, their names in /proc/PID/ns, the
//! names people type, and sets of them.

use std::fmt;

use serde::Serialize;

/// One kind of namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NsType {
    /// User IDs and capabilities (`CLONE_NEWUSER`).
    User,
    /// The cgroup root (`CLONE_NEWCGROUP`).
    Cgroup,
    /// System V IPC and POSIX message queues (`CLONE_NEWIPC`).
    Ipc,
    /// Host and domain name (`CLONE_NEWUTS`).
    Uts,
    /// Network devices, addresses, routes, sockets (`CLONE_NEWNET`).
    Net,
    /// Process IDs (`CLONE_NEWPID`).
    Pid,
    /// Mount points (`CLONE_NEWNS`).
    Mnt,
    /// The boot-time and monotonic clocks (`CLONE_NEWTIME`).
    Time,
}

impl NsType {
    /// Every type, in the order util-linux enters them: user first (so that entering it
    /// can grant the rights the others need), mount late (it changes root and cwd).
    pub const ALL: [NsType; 8] = [
        NsType::User,
        NsType::Cgroup,
        NsType::Ipc,
        NsType::Uts,
        NsType::Net,
        NsType::Pid,
        NsType::Mnt,
        NsType::Time,
    ];

    /// The `CLONE_NEW*` flag.
    pub fn flag(self) -> i32 {
        match self {
            NsType::User => libc::CLONE_NEWUSER,
            NsType::Cgroup => libc::CLONE_NEWCGROUP,
            NsType::Ipc => libc::CLONE_NEWIPC,
            NsType::Uts => libc::CLONE_NEWUTS,
            NsType::Net => libc::CLONE_NEWNET,
            NsType::Pid => libc::CLONE_NEWPID,
            NsType::Mnt => libc::CLONE_NEWNS,
            NsType::Time => libc::CLONE_NEWTIME,
        }
    }

    /// The type whose flag is `flag` (what `ioctl(NS_GET_NSTYPE)` returns).
    pub fn from_flag(flag: i32) -> Option<NsType> {
        NsType::ALL.into_iter().find(|t| t.flag() == flag)
    }

    /// The name of its file in /proc/PID/ns (and lsns's TYPE column): `mnt`, `net`, ….
    pub fn name(self) -> &'static str {
        match self {
            NsType::User => "user",
            NsType::Cgroup => "cgroup",
            NsType::Ipc => "ipc",
            NsType::Uts => "uts",
            NsType::Net => "net",
            NsType::Pid => "pid",
            NsType::Mnt => "mnt",
            NsType::Time => "time",
        }
    }

    /// The long option that names it (`--mount`, `--net`, …), without dashes.
    pub fn option(self) -> &'static str {
        match self {
            NsType::Mnt => "mount",
            other => other.name(),
        }
    }

    /// A type from a name as people write it: the /proc name, the option name, or the
    /// flag (`mnt`, `mount`, `CLONE_NEWNS`, `network`), case-insensitively.
    pub fn from_name(name: &str) -> Option<NsType> {
        let lower = name.to_ascii_lowercase();
        let bare = lower.strip_prefix("clone_new").unwrap_or(&lower);
        let t = match bare {
            "user" => NsType::User,
            "cgroup" => NsType::Cgroup,
            "ipc" => NsType::Ipc,
            "uts" => NsType::Uts,
            "net" | "network" => NsType::Net,
            "pid" => NsType::Pid,
            "mnt" | "mount" | "ns" => NsType::Mnt,
            "time" => NsType::Time,
            _ => return None,
        };
        Some(t)
    }

    /// The file that holds the namespace a new child of the process would get, for the
    /// two types whose `unshare(2)` affects children only (`pid_for_children`,
    /// `time_for_children`); the plain name for the others.
    pub fn for_children_name(self) -> &'static str {
        match self {
            NsType::Pid => "pid_for_children",
            NsType::Time => "time_for_children",
            other => other.name(),
        }
    }
}

impl fmt::Display for NsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of namespace types (a `CLONE_NEW*` mask).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NsSet(i32);

impl NsSet {
    /// No type.
    pub const EMPTY: NsSet = NsSet(0);

    /// Add `t`.
    pub fn insert(&mut self, t: NsType) {
        self.0 |= t.flag();
    }

    /// Remove `t`.
    pub fn remove(&mut self, t: NsType) {
        self.0 &= !t.flag();
    }

    /// True when `t` is in the set.
    pub fn contains(self, t: NsType) -> bool {
        self.0 & t.flag() != 0
    }

    /// True when the set has no type.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The `CLONE_NEW*` mask.
    pub fn bits(self) -> i32 {
        self.0
    }

    /// The types in the set, in [`NsType::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = NsType> {
        NsType::ALL.into_iter().filter(move |t| self.contains(*t))
    }

    /// The mask as strace prints it: `CLONE_NEWNS|CLONE_NEWPID`.
    pub fn flag_words(self) -> String {
        common::trace::flags(u64::from(self.0 as u32), FLAG_NAMES)
    }
}

impl FromIterator<NsType> for NsSet {
    fn from_iter<I: IntoIterator<Item = NsType>>(iter: I) -> Self {
        let mut s = NsSet::EMPTY;
        for t in iter {
            s.insert(t);
        }
        s
    }
}

impl fmt::Display for NsSet {
    /// The names, comma-separated: `mnt, net`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(NsType::name).collect();
        f.write_str(&names.join(", "))
    }
}

/// Flag names for the trace, in kernel bit order.
pub use common::sys::CLONE_NAMES as FLAG_NAMES;

/// One namespace of a process, as `nsenter-rs --list` shows it (one JSON object per line
/// with `--json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NsEntry {
    /// The type: `mnt`, `net`, ….
    #[serde(rename = "type")]
    pub ns_type: &'static str,
    /// The namespace's inode number in nsfs (what `readlink /proc/PID/ns/X` shows in
    /// brackets, and what `lsns` calls NS).
    pub inode: u64,
    /// The file that refers to it: `/proc/PID/ns/X`.
    pub path: String,
}

/// The table `nsenter-rs --list` prints without `--json`: a header, then one line each.
pub fn format_table(entries: &[NsEntry]) -> String {
    let mut out = format!("{:<6} {:<10} {}\n", "TYPE", "INODE", "PATH");
    for e in entries {
        out.push_str(&format!("{:<6} {:<10} {}\n", e.ns_type, e.inode, e.path));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in NsType::ALL {
            assert_eq!(NsType::from_name(t.name()), Some(t));
            assert_eq!(NsType::from_name(t.option()), Some(t));
            assert_eq!(NsType::from_flag(t.flag()), Some(t));
        }
    }

    #[test]
    fn names_people_type() {
        assert_eq!(NsType::from_name("mount"), Some(NsType::Mnt));
        assert_eq!(NsType::from_name("MNT"), Some(NsType::Mnt));
        assert_eq!(NsType::from_name("network"), Some(NsType::Net));
        assert_eq!(NsType::from_name("CLONE_NEWNS"), Some(NsType::Mnt));
        assert_eq!(NsType::from_name("clone_newpid"), Some(NsType::Pid));
        assert_eq!(NsType::from_name("CLONE_NEWTIME"), Some(NsType::Time));
        assert_eq!(NsType::from_name("pid_for_children"), None);
        assert_eq!(NsType::from_name(""), None);
        assert_eq!(NsType::from_name("sysvipc"), None);
        assert_eq!(NsType::from_flag(0), None);
        assert_eq!(
            NsType::from_flag(libc::CLONE_NEWNS | libc::CLONE_NEWPID),
            None
        );
    }

    #[test]
    fn proc_file_names() {
        assert_eq!(NsType::Mnt.name(), "mnt");
        assert_eq!(NsType::Mnt.option(), "mount");
        assert_eq!(NsType::Pid.for_children_name(), "pid_for_children");
        assert_eq!(NsType::Time.for_children_name(), "time_for_children");
        assert_eq!(NsType::Net.for_children_name(), "net");
    }

    #[test]
    fn sets() {
        let mut s: NsSet = [NsType::Mnt, NsType::Pid].into_iter().collect();
        assert!(s.contains(NsType::Mnt) && !s.contains(NsType::Net));
        assert_eq!(s.bits(), libc::CLONE_NEWNS | libc::CLONE_NEWPID);
        assert_eq!(s.to_string(), "pid, mnt");
        assert_eq!(s.flag_words(), "CLONE_NEWNS|CLONE_NEWPID");
        s.remove(NsType::Pid);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![NsType::Mnt]);
        assert!(NsSet::EMPTY.is_empty());
        assert_eq!(NsSet::EMPTY.flag_words(), "0");
        let all: NsSet = NsType::ALL.into_iter().collect();
        assert_eq!(all.iter().count(), 8);
    }

    #[test]
    fn table() {
        let t = format_table(&[NsEntry {
            ns_type: "net",
            inode: 4026531840,
            path: "/proc/1/ns/net".into(),
        }]);
        assert_eq!(
            t,
            "TYPE   INODE      PATH\nnet    4026531840 /proc/1/ns/net\n"
        );
    }

    #[test]
    fn entry_json() {
        let line = common::json::to_line(&NsEntry {
            ns_type: "uts",
            inode: 7,
            path: "/proc/9/ns/uts".into(),
        })
        .unwrap();
        assert_eq!(line, r#"{"type":"uts","inode":7,"path":"/proc/9/ns/uts"}"#);
    }
}
