//! Accounting: what a bill needs, read from whichever version holds each controller —
//! CPU time (usage, user, system, throttling), memory now and peak, swap, I/O bytes and
//! operations, pids now and peak, OOM kills, frozen or not, process count. `stat` prints
//! one group, `list` a tree of them in one pass, `top` the rates between two passes.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::group::Group;
use crate::layout::{Layout, Version};
use crate::sys;
use crate::value;

/// One group's figures; None where this host does not account it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stat {
    /// The NAME.
    pub name: String,
    /// Processes in the group and its descendants.
    pub processes: u64,
    /// Frozen (v1 FROZEN or FREEZING; v2 `frozen 1`).
    pub frozen: Option<bool>,
    /// CPU time, µs.
    pub cpu_usage_usec: Option<u64>,
    /// User CPU time, µs.
    pub cpu_user_usec: Option<u64>,
    /// System CPU time, µs.
    pub cpu_system_usec: Option<u64>,
    /// Bandwidth periods elapsed.
    pub cpu_nr_periods: Option<u64>,
    /// Periods in which the group was throttled.
    pub cpu_nr_throttled: Option<u64>,
    /// Time throttled, µs.
    pub cpu_throttled_usec: Option<u64>,
    /// Memory in use, bytes.
    pub memory_current: Option<u64>,
    /// Peak memory, bytes.
    pub memory_peak: Option<u64>,
    /// Swap in use, bytes.
    pub swap_current: Option<u64>,
    /// Bytes read from block devices.
    pub io_read_bytes: Option<u64>,
    /// Bytes written.
    pub io_write_bytes: Option<u64>,
    /// Read operations.
    pub io_read_ops: Option<u64>,
    /// Write operations.
    pub io_write_ops: Option<u64>,
    /// Tasks now.
    pub pids_current: Option<u64>,
    /// Tasks at most.
    pub pids_peak: Option<u64>,
    /// Processes killed by the OOM killer.
    pub oom_kills: Option<u64>,
}

/// The directories a group's figures come from, per controller (None: not on this host).
#[derive(Debug, Clone, Default)]
pub struct Homes {
    memory: Option<(Version, PathBuf)>,
    cpu: Option<(Version, PathBuf)>,
    cpuacct: Option<PathBuf>,
    io: Option<(Version, PathBuf)>,
    pids: Option<PathBuf>,
    freezer: Option<(Version, PathBuf)>,
    unified: Option<PathBuf>,
    /// The hierarchy walked for the tree and the process count.
    walk: Option<PathBuf>,
}

impl Homes {
    /// The group's directories (existing or not: a missing file is a missing figure).
    pub fn of(layout: &Layout, group: &Group) -> Homes {
        let dir = |c: &str| {
            layout
                .home(c)
                .and_then(|h| group.dir(h.index).map(|d| (h.version, d.to_path_buf())))
        };
        let unified = layout
            .unified_index()
            .and_then(|i| group.dir(i))
            .map(Path::to_path_buf);
        let freezer = dir("freezer").or_else(|| unified.clone().map(|u| (Version::V2, u)));
        let cpuacct = layout
            .home("cpuacct")
            .and_then(|h| group.dir(h.index))
            .map(Path::to_path_buf);
        // Walk the memory hierarchy (v1) or the unified one (v2): both hold every
        // group cgctl made; else the first hierarchy that has the group.
        let walk = dir("memory")
            .map(|(_, d)| d)
            .or_else(|| {
                (layout.kind() == crate::layout::Kind::V2)
                    .then(|| unified.clone())
                    .flatten()
            })
            .or_else(|| group.dirs.iter().flatten().next().cloned());
        Homes {
            memory: dir("memory"),
            cpu: dir("cpu"),
            cpuacct,
            io: dir("io"),
            pids: dir("pids").map(|(_, d)| d),
            freezer,
            unified,
            walk,
        }
    }

    /// The same for the subgroup `rel` below.
    pub fn child(&self, rel: &str) -> Homes {
        let j = |p: &Option<PathBuf>| p.as_ref().map(|p| p.join(rel));
        let jv = |p: &Option<(Version, PathBuf)>| p.as_ref().map(|(v, p)| (*v, p.join(rel)));
        Homes {
            memory: jv(&self.memory),
            cpu: jv(&self.cpu),
            cpuacct: j(&self.cpuacct),
            io: jv(&self.io),
            pids: j(&self.pids),
            freezer: jv(&self.freezer),
            unified: j(&self.unified),
            walk: j(&self.walk),
        }
    }

    /// The directory walked for the tree.
    pub fn walk_dir(&self) -> Option<&Path> {
        self.walk.as_deref()
    }
}

/// Reads with one reusable buffer (a `list` of 1,000 groups reads ~13,000 files).
#[derive(Debug, Default)]
pub struct Reader {
    buf: String,
}

impl Reader {
    fn text(&mut self, path: &Path) -> Option<&str> {
        sys::read_into(path, &mut self.buf).ok()?;
        Some(self.buf.as_str())
    }

    fn num(&mut self, path: &Path) -> Option<u64> {
        self.text(path)?.trim().parse().ok()
    }

    fn keyed(&mut self, path: &Path, keys: &[&str]) -> Vec<Option<u64>> {
        match self.text(path) {
            Some(t) => {
                let t = t.to_owned();
                keys.iter().map(|k| value::keyed(&t, k)).collect()
            }
            None => vec![None; keys.len()],
        }
    }

    /// The figures of one group, its process count given.
    pub fn stat(&mut self, name: &str, homes: &Homes, processes: u64) -> Stat {
        let mut s = Stat {
            name: name.to_owned(),
            processes,
            ..Stat::default()
        };
        // CPU time: v1 cpuacct (per-CPU user/system in ns), else the unified cpu.stat,
        // which exists on v2 without any controller (also in a hybrid's unified group).
        if let Some(d) = &homes.cpuacct {
            if let Some(t) = self.text(&d.join("cpuacct.usage_all")) {
                let [user, sys] = value::usage_all(t);
                s.cpu_user_usec = Some(user / 1000);
                s.cpu_system_usec = Some(sys / 1000);
            }
            // The total from cpuacct.usage: exact (the scheduler's runtime), while
            // usage_all's user/system split is sampled at the tick and drifts from it
            // (by 6 % in a throttled group here).
            s.cpu_usage_usec = self.num(&d.join("cpuacct.usage")).map(|n| n / 1000);
        }
        let v2cpu = match (&homes.cpu, &homes.unified) {
            (Some((Version::V2, d)), _) => Some(d.clone()),
            (_, Some(u)) if s.cpu_usage_usec.is_none() => Some(u.clone()),
            _ => None,
        };
        if let Some(d) = v2cpu {
            let v = self.keyed(
                &d.join("cpu.stat"),
                &[
                    "usage_usec",
                    "user_usec",
                    "system_usec",
                    "nr_periods",
                    "nr_throttled",
                    "throttled_usec",
                ],
            );
            if s.cpu_usage_usec.is_none() {
                s.cpu_usage_usec = v[0];
                s.cpu_user_usec = v[1];
                s.cpu_system_usec = v[2];
            }
            s.cpu_nr_periods = v[3];
            s.cpu_nr_throttled = v[4];
            s.cpu_throttled_usec = v[5];
        }
        if let Some((Version::V1, d)) = &homes.cpu {
            let v = self.keyed(
                &d.join("cpu.stat"),
                &["nr_periods", "nr_throttled", "throttled_time"],
            );
            s.cpu_nr_periods = v[0];
            s.cpu_nr_throttled = v[1];
            s.cpu_throttled_usec = v[2].map(|ns| ns / 1000);
        }
        match &homes.memory {
            Some((Version::V1, d)) => {
                s.memory_current = self.num(&d.join("memory.usage_in_bytes"));
                s.memory_peak = self.num(&d.join("memory.max_usage_in_bytes"));
                s.swap_current = self
                    .num(&d.join("memory.memsw.usage_in_bytes"))
                    .zip(s.memory_current)
                    .map(|(ms, m)| ms.saturating_sub(m));
                s.oom_kills = self.keyed(&d.join("memory.oom_control"), &["oom_kill"])[0];
            }
            Some((Version::V2, d)) => {
                s.memory_current = self.num(&d.join("memory.current"));
                s.memory_peak = self.num(&d.join("memory.peak"));
                s.swap_current = self.num(&d.join("memory.swap.current"));
                s.oom_kills = self.keyed(&d.join("memory.events"), &["oom_kill"])[0];
            }
            None => {}
        }
        match &homes.io {
            Some((Version::V1, d)) => {
                let mut pair = |base: &str| -> Option<[u64; 2]> {
                    let rec = d.join(format!("{base}_recursive"));
                    let t = self.text(&rec).map(str::to_owned);
                    let t = t.or_else(|| self.text(&d.join(base)).map(str::to_owned))?;
                    Some(value::blkio_stat(&t))
                };
                if let Some([r, w]) = pair("blkio.throttle.io_service_bytes") {
                    s.io_read_bytes = Some(r);
                    s.io_write_bytes = Some(w);
                }
                if let Some([r, w]) = pair("blkio.throttle.io_serviced") {
                    s.io_read_ops = Some(r);
                    s.io_write_ops = Some(w);
                }
            }
            Some((Version::V2, d)) => {
                if let Some(t) = self.text(&d.join("io.stat")) {
                    let [rb, wb, ro, wo] = value::io_stat(t);
                    s.io_read_bytes = Some(rb);
                    s.io_write_bytes = Some(wb);
                    s.io_read_ops = Some(ro);
                    s.io_write_ops = Some(wo);
                }
            }
            None => {}
        }
        if let Some(d) = &homes.pids {
            s.pids_current = self.num(&d.join("pids.current"));
            s.pids_peak = self.num(&d.join("pids.peak"));
        }
        s.frozen = match &homes.freezer {
            Some((Version::V1, d)) => self
                .text(&d.join("freezer.state"))
                .map(|t| t.trim() != "THAWED"),
            Some((Version::V2, d)) => {
                self.keyed(&d.join("cgroup.events"), &["frozen"])[0].map(|f| f == 1)
            }
            None => None,
        };
        s
    }

    fn count_procs(&mut self, dir: &Path) -> u64 {
        self.text(&dir.join("cgroup.procs"))
            .map_or(0, |t| t.lines().count() as u64)
    }
}

/// One row of a tree walk: relative path below the walk's root and own process count.
#[derive(Debug, Clone)]
struct Node {
    rel: String,
    depth: usize,
    own: u64,
}

fn walk(reader: &mut Reader, dir: &Path, rel: &str, depth: usize, out: &mut Vec<Node>) {
    let own = reader.count_procs(dir);
    out.push(Node {
        rel: rel.to_owned(),
        depth,
        own,
    });
    if let Ok(sub) = sys::subdirs(dir) {
        for s in sub {
            let r = if rel.is_empty() {
                s.clone()
            } else {
                format!("{rel}/{s}")
            };
            walk(reader, &dir.join(&s), &r, depth + 1, out);
        }
    }
}

/// The figures of the group and (when `tree`) of every descendant, depth first. `name`
/// is the NAME of the top ("" for the parent itself, which is then left out of the rows).
pub fn collect(homes: &Homes, name: &str, tree: bool) -> Vec<Stat> {
    let mut reader = Reader::default();
    let mut nodes = Vec::new();
    if let Some(w) = homes.walk_dir() {
        walk(&mut reader, w, "", 0, &mut nodes);
    }
    if nodes.is_empty() {
        nodes.push(Node {
            rel: String::new(),
            depth: 0,
            own: 0,
        });
    }
    // Hierarchical process counts: add each node's count to its ancestors (nodes are in
    // depth-first order, so a node's ancestors are the open nodes before it).
    let mut total: Vec<u64> = nodes.iter().map(|n| n.own).collect();
    let mut stack: Vec<usize> = Vec::new();
    for i in 0..nodes.len() {
        while stack
            .last()
            .is_some_and(|&j| nodes[j].depth >= nodes[i].depth)
        {
            stack.pop();
        }
        for &j in &stack {
            total[j] += nodes[i].own;
        }
        stack.push(i);
    }
    let mut jobs = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if !tree && i > 0 {
            break;
        }
        if name.is_empty() && n.rel.is_empty() && tree {
            continue;
        }
        let full = match (name.is_empty(), n.rel.is_empty()) {
            (true, _) => n.rel.clone(),
            (false, true) => name.to_owned(),
            (false, false) => format!("{name}/{}", n.rel),
        };
        let h = if n.rel.is_empty() {
            homes.clone()
        } else {
            homes.child(&n.rel)
        };
        jobs.push((full, h, total[i]));
    }
    // A big tree is read by two threads (each with its own buffer), in order.
    let run = |part: &[(String, Homes, u64)]| -> Vec<Stat> {
        let mut reader = Reader::default();
        part.iter()
            .map(|(full, h, procs)| reader.stat(full, h, *procs))
            .collect()
    };
    if jobs.len() < 200 {
        return run(&jobs);
    }
    let (a, b) = jobs.split_at(jobs.len() / 2);
    std::thread::scope(|scope| {
        let second = scope.spawn(|| run(b));
        let mut out = run(a);
        match second.join() {
            Ok(rest) => out.extend(rest),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        out
    })
}

/// A byte count for a column: `12.3M`.
pub fn human(n: Option<u64>) -> String {
    let Some(n) = n else {
        return "-".to_owned();
    };
    const U: [&str; 6] = ["", "K", "M", "G", "T", "P"];
    #[allow(clippy::cast_precision_loss)]
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}")
    } else {
        format!("{v:.1}{}", U[i])
    }
}

fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

/// The header of `list`.
pub const LIST_HEADER: &str = "NAME                             PROCS      CPU   MEMORY     PEAK     SWAP  IO-READ IO-WRITE  PIDS  OOM STATE";

/// One row of `list`.
pub fn list_row(s: &Stat) -> String {
    #[allow(clippy::cast_precision_loss)]
    let cpu = s
        .cpu_usage_usec
        .map_or_else(|| "-".to_owned(), |u| format!("{:.2}s", u as f64 / 1e6));
    let state = match (s.frozen, s.processes) {
        (Some(true), _) => "frozen",
        (_, 0) => "empty",
        _ => "running",
    };
    format!(
        "{:<32} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>5} {:>4} {state}",
        s.name,
        s.processes,
        cpu,
        human(s.memory_current),
        human(s.memory_peak),
        human(s.swap_current),
        human(s.io_read_bytes),
        human(s.io_write_bytes),
        opt(s.pids_current),
        opt(s.oom_kills),
    )
}

/// `stat` as `key=value` lines (None as `-`).
pub fn stat_lines(s: &Stat) -> Vec<String> {
    let v = serde_json::to_value(s).unwrap_or_default();
    let mut out = Vec::new();
    if let serde_json::Value::Object(map) = v {
        // serde_json's map is sorted; print in the struct's order instead.
        for key in STAT_KEYS {
            let val = match map.get(*key) {
                Some(serde_json::Value::Null) | None => "-".to_owned(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            out.push(format!("{key}={val}"));
        }
    }
    out
}

const STAT_KEYS: &[&str] = &[
    "name",
    "processes",
    "frozen",
    "cpu_usage_usec",
    "cpu_user_usec",
    "cpu_system_usec",
    "cpu_nr_periods",
    "cpu_nr_throttled",
    "cpu_throttled_usec",
    "memory_current",
    "memory_peak",
    "swap_current",
    "io_read_bytes",
    "io_write_bytes",
    "io_read_ops",
    "io_write_ops",
    "pids_current",
    "pids_peak",
    "oom_kills",
];

/// One `top` sample line's figures: rates between two samples.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    /// Seconds since the epoch.
    pub time: f64,
    /// The NAME.
    pub name: String,
    /// CPU use, percent of one CPU.
    pub cpu_percent: Option<f64>,
    /// Memory in use.
    pub memory_current: Option<u64>,
    /// Tasks.
    pub pids_current: Option<u64>,
    /// Bytes read per second.
    pub io_read_bps: Option<f64>,
    /// Bytes written per second.
    pub io_write_bps: Option<f64>,
    /// Processes.
    pub processes: u64,
    /// Frozen.
    pub frozen: Option<bool>,
}

/// Rates from two samples `dt` seconds apart.
pub fn rate(time: f64, dt: f64, a: &Stat, b: &Stat) -> Rate {
    #[allow(clippy::cast_precision_loss)]
    let per_s =
        |x: Option<u64>, y: Option<u64>| x.zip(y).map(|(x, y)| y.saturating_sub(x) as f64 / dt);
    Rate {
        time,
        name: b.name.clone(),
        cpu_percent: per_s(a.cpu_usage_usec, b.cpu_usage_usec).map(|us| us / 1e4),
        memory_current: b.memory_current,
        pids_current: b.pids_current,
        io_read_bps: per_s(a.io_read_bytes, b.io_read_bytes),
        io_write_bps: per_s(a.io_write_bytes, b.io_write_bytes),
        processes: b.processes,
        frozen: b.frozen,
    }
}

/// The header of `top`.
pub const TOP_HEADER: &str =
    "TIME     NAME                               CPU%   MEMORY  PIDS PROCS   READ/s  WRITE/s";

/// One `top` line.
pub fn top_row(r: &Rate, clock: &str) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let h = |x: Option<f64>| human(x.map(|v| v.round() as u64));
    format!(
        "{clock} {:<32} {:>6} {:>8} {:>5} {:>5} {:>8} {:>8}",
        r.name,
        r.cpu_percent
            .map_or_else(|| "-".to_owned(), |p| format!("{p:.1}")),
        human(r.memory_current),
        opt(r.pids_current),
        r.processes,
        h(r.io_read_bps),
        h(r.io_write_bps),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{Group, Parent};
    use crate::test_support::fake_layout;
    use std::fs;

    #[test]
    fn reads_v1_and_unified_files() {
        let t = tempfile::tempdir().unwrap();
        let mut layout = fake_layout(t.path(), &[]);
        // A cpuacct hierarchy as well.
        let acct = t.path().join("cpuacct");
        fs::create_dir_all(acct.join("g")).unwrap();
        layout.hierarchies.insert(
            1,
            crate::layout::Hierarchy {
                version: Version::V1,
                controllers: vec!["cpuacct".into()],
                name: None,
                mount: acct.clone(),
                mount_root: "/".into(),
                self_path: Some("/".into()),
            },
        );
        let g = Group::resolve(&layout, &Parent::Root, "g").unwrap();
        for d in g.dirs.iter().flatten() {
            fs::create_dir_all(d).unwrap();
        }
        let w =
            |h: &str, f: &str, v: &str| fs::write(t.path().join(h).join("g").join(f), v).unwrap();
        w(
            "cpuacct",
            "cpuacct.usage_all",
            "cpu user system\n0 2000000 1000000\n1 3000 0\n",
        );
        w("cpuacct", "cpuacct.usage", "2990000\n");
        w(
            "cpu",
            "cpu.stat",
            "nr_periods 50\nnr_throttled 48\nthrottled_time 2000000\n",
        );
        w("memory", "memory.usage_in_bytes", "4096\n");
        w("memory", "memory.max_usage_in_bytes", "134217728\n");
        w("memory", "memory.memsw.usage_in_bytes", "8192\n");
        w(
            "memory",
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        );
        w(
            "blkio",
            "blkio.throttle.io_service_bytes_recursive",
            "254:0 Read 10\n254:0 Write 20\nTotal 30\n",
        );
        w(
            "blkio",
            "blkio.throttle.io_serviced_recursive",
            "254:0 Read 1\n254:0 Write 2\nTotal 3\n",
        );
        w("pids", "pids.current", "3\n");
        w("pids", "pids.peak", "10\n");
        w("freezer", "freezer.state", "FROZEN\n");
        w("memory", "cgroup.procs", "10\n11\n");
        fs::create_dir_all(t.path().join("memory/g/sub")).unwrap();
        fs::write(t.path().join("memory/g/sub/cgroup.procs"), "12\n").unwrap();
        let homes = Homes::of(&layout, &g);
        let rows = collect(&homes, "g", true);
        assert_eq!(rows.len(), 2);
        let s = &rows[0];
        assert_eq!(s.name, "g");
        assert_eq!(s.processes, 3);
        assert_eq!(s.cpu_usage_usec, Some(2990));
        assert_eq!(s.cpu_user_usec, Some(2003));
        assert_eq!(s.cpu_system_usec, Some(1000));
        assert_eq!(s.cpu_nr_throttled, Some(48));
        assert_eq!(s.cpu_throttled_usec, Some(2000));
        assert_eq!(s.memory_current, Some(4096));
        assert_eq!(s.memory_peak, Some(134_217_728));
        assert_eq!(s.swap_current, Some(4096));
        assert_eq!(s.oom_kills, Some(1));
        assert_eq!((s.io_read_bytes, s.io_write_bytes), (Some(10), Some(20)));
        assert_eq!((s.io_read_ops, s.io_write_ops), (Some(1), Some(2)));
        assert_eq!((s.pids_current, s.pids_peak), (Some(3), Some(10)));
        assert_eq!(s.frozen, Some(true));
        assert_eq!(rows[1].name, "g/sub");
        assert_eq!(rows[1].processes, 1);
        assert_eq!(rows[1].memory_current, None);
        let lines = stat_lines(s);
        assert_eq!(lines[0], "name=g");
        assert!(lines.contains(&"oom_kills=1".to_owned()));
        assert!(list_row(s).starts_with("g "));
        assert!(list_row(s).ends_with("frozen"));
    }

    #[test]
    fn a_big_tree_keeps_its_order() {
        let t = tempfile::tempdir().unwrap();
        let mut layout = fake_layout(t.path(), &["memory"]);
        layout.hierarchies.retain(|h| h.version == Version::V2);
        let g = Group::resolve(&layout, &Parent::Root, "big").unwrap();
        let d = g.dir(0).unwrap().to_path_buf();
        for i in 0..300 {
            let c = d.join(format!("g{i:03}"));
            fs::create_dir_all(&c).unwrap();
            fs::write(c.join("cgroup.procs"), if i % 2 == 0 { "1\n" } else { "" }).unwrap();
            fs::write(c.join("memory.current"), format!("{i}\n")).unwrap();
        }
        let rows = collect(&Homes::of(&layout, &g), "big", true);
        assert_eq!(rows.len(), 301);
        assert_eq!(rows[0].processes, 150);
        for (i, r) in rows[1..].iter().enumerate() {
            assert_eq!(r.name, format!("big/g{i:03}"));
            assert_eq!(r.memory_current, Some(i as u64));
        }
    }

    #[test]
    fn reads_v2_files() {
        let t = tempfile::tempdir().unwrap();
        let mut layout = fake_layout(t.path(), &["cpu", "memory", "io", "pids"]);
        layout.hierarchies.retain(|h| h.version == Version::V2);
        let g = Group::resolve(&layout, &Parent::Root, "g").unwrap();
        let d = g.dir(0).unwrap().to_path_buf();
        fs::create_dir_all(&d).unwrap();
        for (f, v) in [
            (
                "cpu.stat",
                "usage_usec 500\nuser_usec 300\nsystem_usec 200\nnr_periods 4\nnr_throttled 2\nthrottled_usec 77\n",
            ),
            ("memory.current", "100\n"),
            ("memory.peak", "200\n"),
            ("memory.swap.current", "0\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 0\n",
            ),
            (
                "io.stat",
                "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n",
            ),
            ("pids.current", "1\n"),
            ("cgroup.events", "populated 1\nfrozen 0\n"),
            ("cgroup.procs", "42\n"),
        ] {
            fs::write(d.join(f), v).unwrap();
        }
        let rows = collect(&Homes::of(&layout, &g), "g", false);
        let s = &rows[0];
        assert_eq!(s.processes, 1);
        assert_eq!(s.cpu_usage_usec, Some(500));
        assert_eq!(s.cpu_throttled_usec, Some(77));
        assert_eq!(s.oom_kills, Some(2));
        assert_eq!(s.io_write_ops, Some(4));
        assert_eq!(s.pids_peak, None);
        assert_eq!(s.frozen, Some(false));
        let r = rate(
            0.0,
            2.0,
            &Stat {
                cpu_usage_usec: Some(0),
                ..s.clone()
            },
            &Stat {
                cpu_usage_usec: Some(1_000_000),
                ..s.clone()
            },
        );
        assert_eq!(r.cpu_percent, Some(50.0));
        assert_eq!(human(Some(1536)), "1.5K");
        assert_eq!(human(Some(100)), "100");
    }
}
