//! `check`: lxc-checkconfig for this kernel — namespaces, the cgroup layout and where
//! each controller lives, and the link types and nftables the other tools use, each
//! with a one-line hint when it is missing. Reads /proc, /sys and the kernel config
//! (`/proc/config.gz` or `/boot/config-RELEASE`); changes nothing.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::layout::{Layout, Version};
use crate::sys;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// `namespaces`, `cgroups` or `network`.
    pub section: &'static str,
    /// What is checked.
    pub name: String,
    /// Present and usable.
    pub ok: bool,
    /// Where or how it was found.
    pub detail: String,
    /// What to do when it is missing.
    pub hint: Option<String>,
}

fn item(section: &'static str, name: &str, ok: bool, detail: String, hint: Option<String>) -> Item {
    Item {
        section,
        name: name.to_owned(),
        ok,
        detail,
        hint: if ok { None } else { hint },
    }
}

/// The kernel configuration as NAME → y/m, when the kernel exposes it.
pub fn kernel_config() -> Option<BTreeMap<String, String>> {
    let text = sys::read_gz(Path::new("/proc/config.gz"))
        .ok()
        .or_else(|| {
            let release = sys::read(Path::new("/proc/sys/kernel/osrelease")).ok()?;
            sys::read(Path::new(&format!("/boot/config-{}", release.trim()))).ok()
        })?;
    Some(parse_config(&text))
}

/// `CONFIG_X=y` lines as X → y.
pub fn parse_config(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.strip_prefix("CONFIG_")?.split_once('=')?;
            Some((k.to_owned(), v.trim_matches('"').to_owned()))
        })
        .collect()
}

/// A kernel feature: config option, module name.
fn feature(
    config: Option<&BTreeMap<String, String>>,
    option: &str,
    module: &str,
) -> (bool, String, Option<String>) {
    let loaded = sys::exists(&Path::new("/sys/module").join(module));
    match config.map(|c| c.get(option).map(String::as_str)) {
        Some(Some("y")) => (true, format!("built in (CONFIG_{option}=y)"), None),
        Some(Some("m")) if loaded => (true, format!("module {module} loaded"), None),
        Some(Some("m")) => (
            true,
            format!("module {module} (loaded on first use)"),
            Some(format!("modprobe {module}")),
        ),
        Some(_) => (
            false,
            format!("CONFIG_{option} is not set"),
            Some(format!("use a kernel built with CONFIG_{option}=y or =m")),
        ),
        None if loaded => (true, format!("module {module} loaded"), None),
        None => (
            false,
            "unknown: no kernel config (/proc/config.gz, /boot/config-*) and not loaded".to_owned(),
            Some(format!("modprobe {module}, or check CONFIG_{option}")),
        ),
    }
}

/// Everything `check` reports.
pub fn run(layout: Option<&Layout>) -> Vec<Item> {
    let config = kernel_config();
    let mut out = Vec::new();
    for ns in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        let p = Path::new("/proc/self/ns").join(ns);
        let opt = match ns {
            "mnt" => "namespaces (always on)".to_owned(),
            "cgroup" => "CONFIG_CGROUPS".to_owned(),
            n => format!("CONFIG_{}_NS", n.to_ascii_uppercase()),
        };
        out.push(item(
            "namespaces",
            ns,
            sys::exists(&p),
            p.display().to_string(),
            Some(format!("use a kernel built with {opt}")),
        ));
    }
    let max_user = sys::read(Path::new("/proc/sys/user/max_user_namespaces"))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    out.push(item(
        "namespaces",
        "user (unprivileged)",
        max_user.is_some_and(|n| n > 0),
        format!(
            "user.max_user_namespaces = {}",
            max_user.map_or("?".to_owned(), |n| n.to_string())
        ),
        Some("sysctl -w user.max_user_namespaces=15000".to_owned()),
    ));
    match layout {
        None => out.push(item(
            "cgroups",
            "layout",
            false,
            "no cgroup filesystem mounted".to_owned(),
            Some("mount -t cgroup2 none /sys/fs/cgroup".to_owned()),
        )),
        Some(l) => {
            out.push(item("cgroups", "layout", true, l.kind().to_string(), None));
            for h in &l.hierarchies {
                out.push(item(
                    "cgroups",
                    &format!("hierarchy {}", h.label()),
                    true,
                    format!(
                        "{} at {}{}",
                        if h.version == Version::V1 { "v1" } else { "v2" },
                        h.mount.display(),
                        if h.version == Version::V2 {
                            format!(" (controllers: {})", h.controllers.join(" "))
                        } else {
                            String::new()
                        }
                    ),
                    None,
                ));
            }
            for c in [
                "cpu", "cpuacct", "cpuset", "memory", "io", "pids", "freezer",
            ] {
                let home = l.home(c);
                let v2only_fine = c == "cpuacct" || c == "freezer";
                let unified = l.unified().is_some();
                let ok = home.is_some() || (v2only_fine && unified);
                let detail = match home {
                    Some(h) => format!(
                        "{} at {}",
                        if h.version == Version::V1 { "v1" } else { "v2" },
                        l.hierarchies[h.index].mount.display()
                    ),
                    None if ok => "cgroup v2 core files (cpu.stat, cgroup.freeze)".to_owned(),
                    None => "not available".to_owned(),
                };
                let name = if c == "io" { "io/blkio" } else { c };
                let hint = if unified {
                    format!(
                        "v2: the controller must be in the root's cgroup.controllers (it is bound to no v1 hierarchy and enabled in the kernel: CONFIG_{})",
                        config_of(c)
                    )
                } else {
                    format!(
                        "mount -t cgroup -o {} cgroup /sys/fs/cgroup/{}",
                        v1name(c),
                        v1name(c)
                    )
                };
                out.push(item("cgroups", name, ok, detail, Some(hint)));
            }
            // Swap accounting and cgroup.kill.
            if let Some(h) = l.home("memory") {
                let m = &l.hierarchies[h.index].mount;
                let ok = match h.version {
                    Version::V1 => sys::exists(&m.join("memory.memsw.usage_in_bytes")),
                    Version::V2 => config.as_ref().is_none_or(|c| {
                        c.get("MEMCG_SWAP").is_some_and(|v| v == "y")
                            || c.get("SWAP").is_some_and(|v| v == "y")
                    }),
                };
                out.push(item(
                    "cgroups",
                    "swap accounting",
                    ok,
                    if ok {
                        "memsw/swap files present".to_owned()
                    } else {
                        "no memory.memsw.* files".to_owned()
                    },
                    Some("boot with swapaccount=1".to_owned()),
                ));
            }
            let release = sys::read(Path::new("/proc/sys/kernel/osrelease")).unwrap_or_default();
            let kill_ok = l.unified().is_some() && kernel_at_least(&release, 5, 14);
            out.push(item(
                "cgroups",
                "cgroup.kill",
                kill_ok,
                if kill_ok {
                    "unified hierarchy, kernel ≥ 5.14".to_owned()
                } else {
                    "kill falls back to freeze, signal each, thaw".to_owned()
                },
                Some(
                    "mount cgroup2 (hybrid hosts: /sys/fs/cgroup/unified) on kernel ≥ 5.14"
                        .to_owned(),
                ),
            ));
        }
    }
    for (name, option, module) in [
        ("veth", "VETH", "veth"),
        ("bridge", "BRIDGE", "bridge"),
        ("macvlan", "MACVLAN", "macvlan"),
        ("vlan", "VLAN_8021Q", "8021q"),
        ("nftables", "NF_TABLES", "nf_tables"),
        ("nft nat", "NFT_NAT", "nft_nat"),
        ("nft masquerade", "NFT_MASQ", "nft_masq"),
    ] {
        let (ok, detail, hint) = feature(config.as_ref(), option, module);
        out.push(item("network", name, ok, detail, hint));
    }
    out
}

fn v1name(c: &str) -> &str {
    if c == "io" { "blkio" } else { c }
}

fn config_of(c: &str) -> &'static str {
    match c {
        "cpu" => "CGROUP_SCHED",
        "cpuacct" => "CGROUP_CPUACCT",
        "cpuset" => "CPUSETS",
        "memory" => "MEMCG",
        "io" => "BLK_CGROUP",
        "pids" => "CGROUP_PIDS",
        _ => "CGROUP_FREEZER",
    }
}

/// True when the kernel release (`6.18.44-…`) is at least major.minor.
pub fn kernel_at_least(release: &str, major: u32, minor: u32) -> bool {
    let mut it = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

/// The text form of one item.
pub fn line(i: &Item) -> String {
    let mut s = format!(
        "{:<10} {:<22} {:<3} {}",
        i.section,
        i.name,
        if i.ok { "yes" } else { "no" },
        i.detail
    );
    if let Some(h) = &i.hint {
        s.push_str(&format!(" (hint: {h})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_and_versions() {
        let c = parse_config(
            "# comment\nCONFIG_VETH=y\nCONFIG_MACVLAN=m\n# CONFIG_VLAN_8021Q is not set\nCONFIG_X=\"s\"\n",
        );
        assert_eq!(c.get("VETH").map(String::as_str), Some("y"));
        assert_eq!(c.get("X").map(String::as_str), Some("s"));
        assert!(!c.contains_key("VLAN_8021Q"));
        let (ok, d, h) = feature(Some(&c), "VLAN_8021Q", "no-such-module-x");
        assert!(!ok);
        assert_eq!(d, "CONFIG_VLAN_8021Q is not set");
        assert!(h.unwrap().contains("CONFIG_VLAN_8021Q"));
        let (ok, d, _) = feature(Some(&c), "VETH", "no-such-module-x");
        assert!(ok);
        assert_eq!(d, "built in (CONFIG_VETH=y)");
        assert!(kernel_at_least("6.18.44-fc-v657", 5, 14));
        assert!(kernel_at_least("5.14.0", 5, 14));
        assert!(!kernel_at_least("5.10.0-20-amd64", 5, 14));
        let i = item("network", "vlan", false, "x".into(), Some("h".into()));
        assert_eq!(
            line(&i),
            format!("{:<10} {:<22} no  x (hint: h)", "network", "vlan")
        );
    }
}
