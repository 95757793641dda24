//! From requests to writes: the knobs of a `set` or `create` become the files of the
//! group's own cgroup version, in an order the kernel accepts at every step (v1 memsw ≥
//! memory at every instant; a CFS period change ordered against the quota), each write
//! with the value to restore. [`apply`] writes them and, when one fails, restores the
//! ones already written in reverse order, so a `set` applies all or none.

use std::path::{Path, PathBuf};

use common::units::Limit;

use crate::convert::{self, IoScale};
use crate::error::{Cause, Error, quote};
use crate::group::Group;
use crate::keys::{Knob, Origin, Request};
use crate::layout::{Layout, Version};
use crate::sys;
use crate::value::{self, CpuLimit, CpuList, IO_FIELDS, IoMax};

/// One thing to do to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `value` to `path`; `restore` puts the old value back.
    Write {
        /// The control file.
        path: PathBuf,
        /// What to write.
        value: String,
        /// What to write to undo it (None: cannot be undone, e.g. a write-only file).
        restore: Option<String>,
    },
    /// v2: ask the kernel to reclaim memory before lowering `memory.max` below the usage
    /// (v1 does this itself and answers EBUSY when it cannot; so does this step).
    Reclaim {
        /// The `memory.reclaim` file.
        path: PathBuf,
        /// Bytes to reclaim.
        amount: u64,
        /// The new limit.
        limit: u64,
        /// The usage now.
        usage: u64,
    },
}

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
    /// the unified core's `cgroup.freeze`).
    pub fn home(&self, controller: &str) -> Result<(Version, PathBuf), Error> {
        let home = self.layout.home(controller).or_else(|| {
            (controller == "freezer")
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

fn read_trim(path: &Path) -> Result<String, Error> {
    sys::read(path)
        .map(|s| s.trim_end().to_owned())
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn parse_err(path: &Path, text: &str) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        why: format!("unexpected value {}", quote(text)),
    }
}

fn read_u64(path: &Path) -> Result<u64, Error> {
    let t = read_trim(path)?;
    t.parse().map_err(|_| parse_err(path, &t))
}

/// A v1 memory file (or v2 `max`/number) as a limit.
pub fn read_limit(path: &Path, version: Version) -> Result<Limit, Error> {
    let t = read_trim(path)?;
    match version {
        Version::V1 => t
            .parse::<u64>()
            .map(convert::v1_bytes)
            .or_else(|_| if t == "-1" { Ok(Limit::Max) } else { Err(()) })
            .map_err(|()| parse_err(path, &t)),
        Version::V2 => value::file_limit(&t).ok_or_else(|| parse_err(path, &t)),
    }
}

/// (quota, period) of a group: None quota is unlimited.
pub fn read_bandwidth(version: Version, dir: &Path) -> Result<(Option<u64>, u64), Error> {
    match version {
        Version::V1 => {
            let qp = dir.join("cpu.cfs_quota_us");
            let q = read_trim(&qp)?;
            let quota = match q.as_str() {
                "-1" => None,
                _ => Some(q.parse().map_err(|_| parse_err(&qp, &q))?),
            };
            Ok((quota, read_u64(&dir.join("cpu.cfs_period_us"))?))
        }
        Version::V2 => {
            let p = dir.join("cpu.max");
            let t = read_trim(&p)?;
            match value::cpu_max(&t) {
                Ok((q, Some(period))) => Ok((q, period)),
                _ => Err(parse_err(&p, &t)),
            }
        }
    }
}

/// ≤ with `max` as infinity.
fn le(a: Limit, b: Limit) -> bool {
    match (a, b) {
        (_, Limit::Max) => true,
        (Limit::Max, Limit::Bytes(_)) => false,
        (Limit::Bytes(x), Limit::Bytes(y)) => x <= y,
    }
}

fn write(path: PathBuf, value: impl Into<String>) -> Action {
    let restore = sys::read(&path)
        .ok()
        .map(|s| s.trim_end().to_owned())
        .filter(|s| !s.contains('\n'));
    Action::Write {
        path,
        value: value.into(),
        restore,
    }
}

fn write_restore(path: PathBuf, value: impl Into<String>, restore: Option<String>) -> Action {
    Action::Write {
        path,
        value: value.into(),
        restore,
    }
}

fn invalid(r: &Request, why: impl Into<String>) -> Error {
    Error::Invalid {
        what: r.label.clone(),
        value: r.value.clone(),
        why: why.into(),
    }
}

/// The effective CPUs (`what` = "cpus") or memory nodes ("mems") in force at `dir`: its
/// own `cpuset.effective_cpus` (v1) / `cpuset.cpus.effective` (v2), else the nearest
/// ancestor's up to `top` — a v2 group without the cpuset controller, or a group not
/// made yet, runs on what its nearest cpuset ancestor allows.
fn effective(ver: Version, top: &Path, dir: &Path, what: &str) -> Option<CpuList> {
    let file = match ver {
        Version::V1 => format!("cpuset.effective_{what}"),
        Version::V2 => format!("cpuset.{what}.effective"),
    };
    let mut d = dir;
    loop {
        if let Ok(t) = sys::read(&d.join(&file)) {
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

/// Refuse what no group below this parent could take, reading only the parent's side:
/// CPUs or nodes the parent lacks, `--cpu-limit` beyond the CPUs, one weight on two
/// scales, an `io.max` device that does not exist, a v2-only key on v1. `create` runs it
/// before it makes anything and `set` before it enables controllers; `plan` runs it too.
pub fn check(requests: &[Request], target: &Target<'_>) -> Result<(), Error> {
    let mut new_cpus = None;
    let mut weight: Option<&Request> = None;
    for r in requests {
        match &r.knob {
            Knob::Cpus(list) | Knob::Mems(list) => {
                let what = if matches!(r.knob, Knob::Cpus(_)) {
                    new_cpus = Some(list.clone());
                    "cpus"
                } else {
                    "mems"
                };
                if let Some((ver, top, dir)) = target.place("cpuset")
                    && let Some(allowed) = effective(ver, top, dir.parent().unwrap_or(&dir), what)
                    && !list.is_subset(&allowed)
                {
                    return Err(invalid(
                        r,
                        format!("not available to the group: its parent allows {allowed}"),
                    ));
                }
            }
            Knob::CpuWeight(_) | Knob::CpuShares(_) => {
                if let Some(other) = weight
                    && std::mem::discriminant(&other.knob) != std::mem::discriminant(&r.knob)
                {
                    return Err(invalid(
                        r,
                        format!(
                            "conflicts with {} (the same knob on another scale)",
                            other.label
                        ),
                    ));
                }
                weight = Some(r);
            }
            Knob::IoMax(m)
                if target.check_devices
                    && !sys::exists(&Path::new("/sys/dev/block").join(m.dev_text())) =>
            {
                return Err(invalid(r, format!("no block device {}", m.dev_text())));
            }
            Knob::MemoryHigh(_) | Knob::MemoryMin(_)
                if target
                    .place("memory")
                    .is_some_and(|(v, ..)| v == Version::V1) =>
            {
                let high = matches!(r.knob, Knob::MemoryHigh(_));
                return Err(Error::NoEquivalent {
                    key: if high { "memory.high" } else { "memory.min" }.to_owned(),
                    version: "v1",
                    hint: Some(if high {
                        "v1 has no throttling limit; use memory or memory-soft".to_owned()
                    } else {
                        "v1 has no memory protection; memory-soft is the nearest".to_owned()
                    }),
                });
            }
            _ => {}
        }
    }
    // --cpu-limit beyond the CPUs the group may use (quota/period against the CPU count
    // does not depend on the period).
    for r in requests {
        let Knob::CpuLimit(l) = r.knob else { continue };
        let share = match l {
            CpuLimit::Max => None,
            CpuLimit::Percent(p) => Some(p / 100.0),
            #[allow(clippy::cast_precision_loss)]
            CpuLimit::QuotaPeriod(q, p) => Some(q as f64 / p as f64),
        };
        if let (Some(share), Some(cpus)) = (share, new_cpus.clone().or_else(|| group_cpus(target)))
        {
            let n = cpus.len();
            #[allow(clippy::cast_precision_loss)]
            if share > n as f64 + 1e-9 {
                return Err(invalid(
                    r,
                    format!(
                        "more than the {n} CPU{} available to the group",
                        if n == 1 { "" } else { "s" }
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Turn requests into actions, reading the group's current values where the order or
/// a conversion depends on them. Nothing is written.
pub fn plan(requests: &[Request], target: &Target<'_>) -> Result<Vec<Action>, Error> {
    check(requests, target)?;
    let mut out = Vec::new();
    let of = |pred: fn(&Knob) -> bool| -> Vec<&Request> {
        requests.iter().filter(|r| pred(&r.knob)).collect()
    };
    let cpuset = of(|k| matches!(k, Knob::Cpus(_) | Knob::Mems(_)));
    let cpu = of(|k| {
        matches!(
            k,
            Knob::CpuLimit(_)
                | Knob::CpuBandwidth(..)
                | Knob::CpuWeight(_)
                | Knob::CpuShares(_)
                | Knob::CpuBurst(_)
                | Knob::CpuIdle(_)
        )
    });
    let pids = of(|k| matches!(k, Knob::Pids(_)));
    let io = of(|k| {
        matches!(
            k,
            Knob::IoWeight(_) | Knob::BlkioWeight(_) | Knob::BfqWeight(_) | Knob::IoMax(_)
        )
    });
    let freezer = of(|k| matches!(k, Knob::Frozen(_)));
    let native = of(|k| matches!(k, Knob::Native(..)));
    let memory = of(|k| {
        matches!(
            k,
            Knob::Memory(..)
                | Knob::MemorySoft(_)
                | Knob::Swap(_)
                | Knob::MemSw(_)
                | Knob::MemoryHigh(_)
                | Knob::MemoryMin(_)
        )
    });
    if !cpuset.is_empty() {
        plan_cpuset(&cpuset, target, &mut out)?;
    }
    if !cpu.is_empty() {
        plan_cpu(&cpu, target, &mut out)?;
    }
    if let Some(r) = pids.last() {
        let (_, dir) = target.home("pids")?;
        if let Knob::Pids(l) = r.knob {
            out.push(write(dir.join("pids.max"), value::limit_text(l)));
        }
    }
    if !io.is_empty() {
        plan_io(&io, target, &mut out)?;
    }
    if let Some(r) = freezer.last() {
        let Knob::Frozen(on) = r.knob else {
            unreachable!()
        };
        let (ver, dir) = target.home("freezer")?;
        out.push(match ver {
            Version::V1 => {
                let p = dir.join("freezer.state");
                let old = sys::read(&p).ok().map(|s| {
                    if s.trim() == "THAWED" {
                        "THAWED"
                    } else {
                        "FROZEN"
                    }
                    .to_owned()
                });
                write_restore(p, if on { "FROZEN" } else { "THAWED" }, old)
            }
            Version::V2 => write(dir.join("cgroup.freeze"), if on { "1" } else { "0" }),
        });
    }
    for r in native {
        let Knob::Native(file, v) = &r.knob else {
            unreachable!()
        };
        let dir = native_dir(file, target)?;
        out.push(write(dir.join(file), v.clone()));
    }
    if !memory.is_empty() {
        plan_memory(&memory, target, &mut out)?;
    }
    Ok(out)
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

fn plan_cpuset(reqs: &[&Request], target: &Target<'_>, out: &mut Vec<Action>) -> Result<(), Error> {
    let (_, dir) = target.home("cpuset")?;
    for r in reqs {
        let (file, list) = match &r.knob {
            Knob::Cpus(l) => ("cpus", l),
            Knob::Mems(l) => ("mems", l),
            _ => continue,
        };
        out.push(write(dir.join(format!("cpuset.{file}")), list.to_string()));
    }
    Ok(())
}

fn plan_cpu(reqs: &[&Request], target: &Target<'_>, out: &mut Vec<Action>) -> Result<(), Error> {
    let (ver, dir) = target.home("cpu")?;
    let mut quota: Option<Option<u64>> = None;
    let mut period: Option<u64> = None;
    let mut percent: Option<(&Request, f64)> = None;
    let mut weight: Option<Knob> = None;
    for r in reqs {
        match &r.knob {
            Knob::CpuLimit(l) => match *l {
                CpuLimit::Max => {
                    quota = Some(None);
                    percent = None;
                }
                CpuLimit::Percent(p) => {
                    percent = Some((r, p));
                    quota = None;
                }
                CpuLimit::QuotaPeriod(q, p) => {
                    quota = Some(Some(q));
                    period = Some(p);
                    percent = None;
                }
            },
            Knob::CpuBandwidth(q, p) => {
                if let Some(q) = q {
                    quota = Some(*q);
                    percent = None;
                }
                if let Some(p) = p {
                    period = Some(*p);
                }
            }
            // (check has refused a weight given on both scales)
            Knob::CpuWeight(_) | Knob::CpuShares(_) => weight = Some(r.knob.clone()),
            Knob::CpuBurst(b) => out.push(write(
                dir.join(match ver {
                    Version::V1 => "cpu.cfs_burst_us",
                    Version::V2 => "cpu.max.burst",
                }),
                b.to_string(),
            )),
            Knob::CpuIdle(i) => out.push(write(dir.join("cpu.idle"), i.to_string())),
            _ => {}
        }
    }
    if quota.is_some() || period.is_some() || percent.is_some() {
        let (q0, p0) = read_bandwidth(ver, &dir)?;
        let p1 = period.unwrap_or(p0);
        let q1 = match percent {
            Some((r, pct)) => {
                let q = convert::percent_to_quota(pct, p1);
                if q < value::QUOTA_MIN {
                    return Err(invalid(
                        r,
                        format!(
                            "gives a quota below {} µs per {p1} µs period",
                            value::QUOTA_MIN
                        ),
                    ));
                }
                Some(q)
            }
            None => quota.unwrap_or(q0),
        };
        match ver {
            Version::V2 => out.push(write_restore(
                dir.join("cpu.max"),
                format!("{} {p1}", convert::quota_v2_text(q1)),
                Some(format!("{} {p0}", convert::quota_v2_text(q0))),
            )),
            Version::V1 => {
                let qw = write_restore(
                    dir.join("cpu.cfs_quota_us"),
                    convert::quota_v1_text(q1),
                    Some(convert::quota_v1_text(q0)),
                );
                let pw = write_restore(
                    dir.join("cpu.cfs_period_us"),
                    p1.to_string(),
                    Some(p0.to_string()),
                );
                let q_changes = q1 != q0 || quota.is_some() || percent.is_some();
                let p_changes = p1 != p0 || period.is_some();
                // The ratio quota/period must not exceed the parent's at any step:
                // a longer period first lowers it, a shorter one goes after the quota.
                let period_first = q1.is_some() && p1 >= p0;
                match (q_changes, p_changes, period_first) {
                    (true, true, true) => out.extend([pw, qw]),
                    (true, true, false) => out.extend([qw, pw]),
                    (true, false, _) => out.push(qw),
                    (false, true, _) => out.push(pw),
                    (false, false, _) => {}
                }
            }
        }
    }
    if let Some(k) = weight {
        out.push(match (ver, k) {
            (Version::V2, Knob::CpuWeight(w)) => write(dir.join("cpu.weight"), w.to_string()),
            (Version::V2, Knob::CpuShares(s)) => write(
                dir.join("cpu.weight"),
                convert::shares_to_weight(s).to_string(),
            ),
            (Version::V1, Knob::CpuShares(s)) => write(dir.join("cpu.shares"), s.to_string()),
            (Version::V1, Knob::CpuWeight(w)) => write(
                dir.join("cpu.shares"),
                convert::weight_to_shares(w).to_string(),
            ),
            _ => unreachable!(),
        });
    }
    Ok(())
}

fn io_unavailable(target: &Target<'_>, what: &str, files: &str) -> Error {
    Error::Unavailable {
        what: what.to_owned(),
        name: target.group.name.clone(),
        why: format!("none of {files} exists (the BFQ I/O scheduler or blk-iocost provides one)"),
    }
}

/// The I/O weight files of a version and their scales, in order of preference.
pub fn io_weight_files(ver: Version) -> &'static [(&'static str, IoScale)] {
    match ver {
        Version::V1 => &[
            ("blkio.bfq.weight", IoScale::Bfq),
            ("blkio.weight", IoScale::Blkio),
        ],
        Version::V2 => &[("io.weight", IoScale::Io), ("io.bfq.weight", IoScale::Bfq)],
    }
}

/// The weight file a weight on `scale` is written to and read from on `ver` (of those
/// `has` finds), with its scale: the file of the same scale; else, between the two
/// 1–1000 scales, the other one, value unchanged (runc and crun write `blkio.weight` to
/// `io.bfq.weight` as it is, and fall back to the converted `io.weight` only without it);
/// else the first that exists, converted.
pub fn io_weight_file(
    ver: Version,
    scale: IoScale,
    has: impl Fn(&str) -> bool,
) -> Option<(&'static str, IoScale)> {
    let narrow = |s: IoScale| matches!(s, IoScale::Bfq | IoScale::Blkio);
    io_weight_files(ver)
        .iter()
        .filter(|(f, _)| has(f))
        .min_by_key(|(_, s)| {
            if *s == scale {
                0
            } else if narrow(*s) && narrow(scale) {
                1
            } else {
                2
            }
        })
        .copied()
}

fn plan_io(reqs: &[&Request], target: &Target<'_>, out: &mut Vec<Action>) -> Result<(), Error> {
    let (ver, dir) = target.home("io")?;
    let has = |f: &str| sys::exists(&dir.join(f));
    let mut limits: Vec<IoMax> = Vec::new();
    for r in reqs {
        match (&r.knob, ver) {
            (Knob::IoMax(m), _) => match limits.iter_mut().find(|l| l.dev == m.dev) {
                Some(l) => l.merge(m),
                None => limits.push(m.clone()),
            },
            (Knob::IoWeight(n) | Knob::BlkioWeight(n) | Knob::BfqWeight(n), _) => {
                let scale = match r.knob {
                    Knob::IoWeight(_) => IoScale::Io,
                    Knob::BfqWeight(_) => IoScale::Bfq,
                    _ => IoScale::Blkio,
                };
                let Some((file, to)) = io_weight_file(ver, scale, has) else {
                    let names: Vec<&str> = io_weight_files(ver).iter().map(|(f, _)| *f).collect();
                    return Err(io_unavailable(target, "io weight", &names.join(", ")));
                };
                let w = convert::io_weight_between(*n, scale, to);
                let p = dir.join(file);
                let old = sys::read(&p).ok().and_then(|t| {
                    t.lines()
                        .find(|l| !l.contains(':'))
                        .map(|l| l.trim().to_owned())
                });
                let value = if ver == Version::V2 {
                    format!("default {w}")
                } else {
                    w.to_string()
                };
                out.push(write_restore(p, value, old));
            }
            _ => {}
        }
    }
    for m in limits {
        match ver {
            Version::V2 => {
                let p = dir.join("io.max");
                let old = sys::read(&p)
                    .ok()
                    .and_then(|t| value::io_max_file(&t).into_iter().find(|l| l.dev == m.dev));
                let mut all_max = IoMax {
                    dev: m.dev,
                    ..IoMax::default()
                };
                for (f, _) in IO_FIELDS {
                    all_max.set_field(f, Limit::Max);
                }
                let restore = old.unwrap_or(all_max).to_string();
                out.push(write_restore(p, m.to_string(), Some(restore)));
            }
            Version::V1 => {
                for (field, file) in IO_FIELDS {
                    let Some(v) = m.field(field) else { continue };
                    let p = dir.join(file);
                    let old = sys::read(&p)
                        .ok()
                        .and_then(|t| {
                            value::throttle_file(&t)
                                .into_iter()
                                .find(|(d, _)| *d == m.dev)
                                .map(|(_, n)| n)
                        })
                        .unwrap_or(0);
                    let n = match v {
                        Limit::Max => 0,
                        Limit::Bytes(n) => n,
                    };
                    out.push(write_restore(
                        p,
                        format!("{} {n}", m.dev_text()),
                        Some(format!("{} {old}", m.dev_text())),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn plan_memory(reqs: &[&Request], target: &Target<'_>, out: &mut Vec<Action>) -> Result<(), Error> {
    let (ver, dir) = target.home("memory")?;
    let mut memory: Option<(&Request, Limit, Origin)> = None;
    let mut swap: Option<(&Request, Limit)> = None;
    let mut memsw: Option<(&Request, Limit)> = None;
    for r in reqs {
        match &r.knob {
            Knob::Memory(l, o) => memory = Some((r, *l, *o)),
            Knob::Swap(l) => {
                swap = Some((r, *l));
                memsw = None;
            }
            Knob::MemSw(l) => {
                memsw = Some((r, *l));
                swap = None;
            }
            Knob::MemorySoft(l) => out.push(write(
                dir.join(match ver {
                    Version::V1 => "memory.soft_limit_in_bytes",
                    Version::V2 => "memory.low",
                }),
                match ver {
                    Version::V1 => convert::v1_limit_text(*l),
                    Version::V2 => l.to_string(),
                },
            )),
            Knob::MemoryHigh(l) | Knob::MemoryMin(l) => {
                let file = if matches!(r.knob, Knob::MemoryHigh(_)) {
                    "memory.high"
                } else {
                    "memory.min"
                };
                // (check has refused them on v1)
                out.push(write(dir.join(file), l.to_string()));
            }
            _ => {}
        }
    }
    let swap_unavailable = |file: &str| Error::Unavailable {
        what: "a swap limit".to_owned(),
        name: target.group.name.clone(),
        why: format!("{file} does not exist (swap accounting is off: boot with swapaccount=1)"),
    };
    match ver {
        Version::V2 => {
            let new_mem = memory.map(|(_, l, _)| l);
            let swap_target = match (swap, memsw) {
                (Some((_, s)), _) => Some(s),
                (None, Some((r, ms))) => {
                    let mem = match new_mem {
                        Some(m) => m,
                        None => read_limit(&dir.join("memory.max"), ver)?,
                    };
                    Some(convert::memsw_to_swap(ms, mem).map_err(|e| invalid(r, e.to_string()))?)
                }
                _ => None,
            };
            if let Some(s) = swap_target {
                let p = dir.join("memory.swap.max");
                if !sys::exists(&p) {
                    return Err(swap_unavailable("memory.swap.max"));
                }
                out.push(write(p, s.to_string()));
            }
            if let Some((_, l, origin)) = memory {
                if let (Limit::Bytes(limit), true) = (l, origin != Origin::V2) {
                    let reclaim = dir.join("memory.reclaim");
                    if let (Ok(usage), true) =
                        (read_u64(&dir.join("memory.current")), sys::exists(&reclaim))
                        && usage > limit
                    {
                        out.push(Action::Reclaim {
                            path: reclaim,
                            amount: usage - limit,
                            limit,
                            usage,
                        });
                    }
                }
                out.push(write(dir.join("memory.max"), l.to_string()));
            }
        }
        Version::V1 => {
            let lim_p = dir.join("memory.limit_in_bytes");
            let sw_p = dir.join("memory.memsw.limit_in_bytes");
            let has_memsw = sys::exists(&sw_p);
            let l0 = read_limit(&lim_p, ver)?;
            let m0 = if has_memsw {
                Some(read_limit(&sw_p, ver)?)
            } else {
                None
            };
            let l1 = memory.map_or(l0, |(_, l, _)| l);
            let m1 = match (swap, memsw) {
                (_, Some((_, ms))) => Some(ms),
                (Some((r, s)), None) => {
                    Some(convert::swap_to_memsw(s, l1).map_err(|e| invalid(r, e.to_string()))?)
                }
                (None, None) => match (memory, m0) {
                    // Keep the swap allowance as it was (v2's memory.max leaves
                    // memory.swap.max alone), unless a raw v1 key asked for the file only.
                    // (memsw ≥ memory in the kernel, so a finite memsw has a finite limit.)
                    (Some((_, l, o)), Some(Limit::Bytes(ms))) if o != Origin::V1 => {
                        let old = match l0 {
                            Limit::Bytes(old) => old.min(ms),
                            Limit::Max => ms,
                        };
                        Some(match l {
                            Limit::Max => Limit::Max,
                            Limit::Bytes(n) => Limit::Bytes(n.saturating_add(ms - old)),
                        })
                    }
                    _ => None,
                },
            };
            if m1.is_some() && !has_memsw {
                return Err(swap_unavailable("memory.memsw.limit_in_bytes"));
            }
            if let Some(m) = m1
                && !le(l1, m)
            {
                let r = memsw
                    .map(|(r, _)| r)
                    .or(swap.map(|(r, _)| r))
                    .or(memory.map(|(r, ..)| r));
                if let Some(r) = r {
                    return Err(invalid(r, convert::SwapError::BelowMemory.to_string()));
                }
            }
            let lim_w = memory.map(|(_, l, _)| {
                write_restore(
                    lim_p.clone(),
                    convert::v1_limit_text(l),
                    Some(convert::v1_limit_text(l0)),
                )
            });
            let sw_w = m1.map(|m| {
                write_restore(
                    sw_p.clone(),
                    convert::v1_limit_text(m),
                    m0.map(convert::v1_limit_text),
                )
            });
            match (lim_w, sw_w) {
                (Some(a), Some(b)) => {
                    // memsw ≥ memory at every instant: lower the limit first unless it
                    // rises above the current memsw.
                    if le(l1, m0.unwrap_or(Limit::Max)) {
                        out.extend([a, b]);
                    } else {
                        out.extend([b, a]);
                    }
                }
                (Some(a), None) | (None, Some(a)) => out.push(a),
                (None, None) => {}
            }
        }
    }
    Ok(())
}

/// A hint for a failed write, from the file and the errno.
fn hint(path: &Path, errno: Option<i32>) -> Option<String> {
    let file = path.file_name()?.to_string_lossy();
    let e = errno?;
    Some(
        match (file.as_ref(), e) {
            ("memory.limit_in_bytes" | "memory.memsw.limit_in_bytes", libc::EINVAL) => {
                "memory+swap (memory.memsw.limit_in_bytes) must stay at or above memory.limit_in_bytes; set both"
            }
            (f, libc::EINVAL) if f.starts_with("cpuset.") => {
                "not within the parent's cpuset, or a child group uses others"
            }
            (f, libc::EINVAL) if f.starts_with("cpu.cfs_") || f == "cpu.max" => {
                "the quota/period ratio would exceed the parent's"
            }
            ("cgroup.procs", libc::ENOSPC) => {
                "the group's v1 cpuset has no CPUs or memory nodes"
            }
            ("cgroup.procs", libc::EBUSY) => {
                "cgroup v2 does not allow processes in a group whose children have controllers enabled"
            }
            (_, libc::ENOENT) => "no such control file: the controller is not enabled or the kernel lacks it",
            _ => return None,
        }
        .to_owned(),
    )
}

/// A write error with its hint.
pub fn write_error(path: &Path, value: &str, e: std::io::Error) -> Error {
    let h = hint(path, e.raw_os_error());
    Error::Write {
        path: path.to_path_buf(),
        value: value.to_owned(),
        source: Cause { error: e, hint: h },
        note: String::new(),
    }
}

/// Perform the actions; on a failure restore what was written, newest first, and
/// return the error (with a note when a restore failed too).
pub fn apply(actions: &[Action], name: &str) -> Result<(), Error> {
    let mut done: Vec<&Action> = Vec::new();
    for a in actions {
        let result = match a {
            Action::Write { path, value, .. } => sys::write(path, value).map_err(|e| {
                let file = path.file_name().unwrap_or_default();
                if file == "memory.limit_in_bytes" && e.raw_os_error() == Some(libc::EBUSY) {
                    let usage =
                        read_u64(&path.with_file_name("memory.usage_in_bytes")).unwrap_or(0);
                    Error::BelowUsage {
                        name: name.to_owned(),
                        limit: value.parse().unwrap_or(0),
                        usage,
                    }
                } else {
                    write_error(path, value, e)
                }
            }),
            Action::Reclaim {
                path,
                amount,
                limit,
                usage,
            } => sys::write(path, &amount.to_string()).map_err(|e| {
                if e.raw_os_error() == Some(libc::EAGAIN) {
                    Error::BelowUsage {
                        name: name.to_owned(),
                        limit: *limit,
                        usage: *usage,
                    }
                } else {
                    write_error(path, &amount.to_string(), e)
                }
            }),
        };
        if let Err(mut err) = result {
            let mut failed = Vec::new();
            for d in done.iter().rev() {
                if let Action::Write {
                    path,
                    restore: Some(old),
                    ..
                } = d
                    && sys::write(path, old).is_err()
                {
                    failed.push(quote(path));
                }
            }
            if !failed.is_empty()
                && let Error::Write { note, .. } = &mut err
            {
                *note = format!(" (and restoring {} failed)", failed.join(", "));
            }
            return Err(err);
        }
        done.push(a);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::tests::fake_layout;
    use crate::group::{Group, Parent};
    use crate::keys;
    use std::fs;

    struct Fake {
        _t: tempfile::TempDir,
        layout: Layout,
        group: Group,
    }

    /// A fake hybrid host with group `g` and v1 default files, plus a unified group.
    fn fake() -> Fake {
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
    fn fake_v2() -> Fake {
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

    fn reqs(args: &[(&str, &str)]) -> Vec<Request> {
        args.iter()
            .map(|(k, v)| keys::parse(k, k, v, &|_| false).unwrap())
            .collect()
    }

    fn planned(f: &Fake, args: &[(&str, &str)]) -> Result<Vec<(String, String)>, Error> {
        let t = Target {
            layout: &f.layout,
            group: &f.group,
            check_devices: false,
        };
        Ok(plan(&reqs(args), &t)?
            .into_iter()
            .map(|a| match a {
                Action::Write { path, value, .. } => (
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    value,
                ),
                Action::Reclaim { amount, .. } => ("memory.reclaim".into(), amount.to_string()),
            })
            .collect())
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn v2_keys_on_v1() {
        let f = fake();
        assert_eq!(
            planned(
                &f,
                &[
                    ("memory.max", "64M"),
                    ("cpu.max", "50000 100000"),
                    ("cpu.weight", "100"),
                    ("pids.max", "20"),
                    ("io.max", "8:0 rbps=1M wiops=max"),
                    ("cgroup.freeze", "1"),
                    ("memory.low", "32M"),
                ]
            )
            .unwrap(),
            pairs(&[
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000"),
                ("cpu.shares", "1024"),
                ("pids.max", "20"),
                ("blkio.throttle.read_bps_device", "8:0 1048576"),
                ("blkio.throttle.write_iops_device", "8:0 0"),
                ("freezer.state", "FROZEN"),
                ("memory.soft_limit_in_bytes", "33554432"),
                ("memory.limit_in_bytes", "67108864"),
            ])
        );
    }

    #[test]
    fn v1_keys_on_v2() {
        let f = fake_v2();
        assert_eq!(
            planned(
                &f,
                &[
                    ("memory.limit_in_bytes", "16M"),
                    ("memory.memsw.limit_in_bytes", "48M"),
                    ("memory.soft_limit_in_bytes", "8M"),
                    ("cpu.cfs_quota_us", "25000"),
                    ("cpu.shares", "512"),
                    ("blkio.weight", "500"),
                    ("blkio.throttle.write_bps_device", "8:0 1048576"),
                    ("freezer.state", "THAWED"),
                ]
            )
            .unwrap(),
            pairs(&[
                ("cpu.max", "25000 100000"),
                ("cpu.weight", "59"),
                ("io.weight", "default 4950"),
                ("io.max", "8:0 wbps=1048576"),
                ("cgroup.freeze", "0"),
                ("memory.low", "8388608"),
                ("memory.swap.max", "33554432"),
                // v1 semantics: a limit below the usage (20M) first asks for reclaim.
                ("memory.reclaim", "4194304"),
                ("memory.max", "16777216"),
            ])
        );
        // v2's own key is written as given: no reclaim step.
        assert_eq!(
            planned(&f, &[("memory.max", "16M")]).unwrap(),
            pairs(&[("memory.max", "16777216")])
        );
        // cpu.cfs_period_us alone keeps the quota.
        fs::write(f.group.dir(0).unwrap().join("cpu.max"), "30000 100000\n").unwrap();
        assert_eq!(
            planned(&f, &[("cpu.cfs_period_us", "50000")]).unwrap(),
            pairs(&[("cpu.max", "30000 50000")])
        );
        let e = planned(&f, &[("memory.memsw.limit_in_bytes", "1M")]).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    }

    #[test]
    fn named_limits_on_both() {
        let f = fake();
        assert_eq!(
            planned(
                &f,
                &[
                    ("cpus", "0"),
                    ("cpu-limit", "50%"),
                    ("cpu-weight", "100"),
                    ("pids", "10"),
                    ("memory", "256M"),
                ]
            )
            .unwrap(),
            pairs(&[
                ("cpuset.cpus", "0"),
                ("cpu.cfs_quota_us", "50000"),
                ("cpu.shares", "1024"),
                ("pids.max", "10"),
                ("memory.limit_in_bytes", "268435456"),
            ])
        );
        let f2 = fake_v2();
        assert_eq!(
            planned(
                &f2,
                &[
                    ("cpu-limit", "150%"),
                    ("cpu-shares", "2048"),
                    ("memory", "64M")
                ]
            )
            .unwrap(),
            pairs(&[
                ("cpu.max", "150000 100000"),
                ("cpu.weight", "174"),
                ("memory.max", "67108864"),
            ])
        );
    }

    #[test]
    fn cpu_limit_is_checked_against_the_cpus() {
        let f = fake();
        let e = planned(&f, &[("cpus", "0"), ("cpu-limit", "150%")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid cpu-limit '150%': more than the 1 CPU available to the group"
        );
        let e = planned(&f, &[("cpu-limit", "250%")]).unwrap_err();
        assert!(e.to_string().contains("more than the 2 CPUs"), "{e}");
        let e = planned(&f, &[("cpus", "0-999")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid cpus '0-999': not available to the group: its parent allows 0-1"
        );
        let e = planned(&f, &[("cpu-weight", "100"), ("cpu-shares", "10")]).unwrap_err();
        assert!(e.to_string().contains("conflicts with cpu-weight"), "{e}");
    }

    #[test]
    fn v1_memsw_write_order_follows_the_direction() {
        let f = fake();
        let g = f.group.dir(2).unwrap().to_path_buf();
        fs::write(g.join("memory.limit_in_bytes"), "268435456\n").unwrap();
        fs::write(g.join("memory.memsw.limit_in_bytes"), "402653184\n").unwrap();
        // Raising above the current memsw (384M): memsw first.
        assert_eq!(
            planned(&f, &[("memory", "512M"), ("swap", "128M")]).unwrap(),
            pairs(&[
                ("memory.memsw.limit_in_bytes", "671088640"),
                ("memory.limit_in_bytes", "536870912"),
            ])
        );
        // Lowering: the limit first.
        assert_eq!(
            planned(&f, &[("memory", "128M"), ("swap", "0")]).unwrap(),
            pairs(&[
                ("memory.limit_in_bytes", "134217728"),
                ("memory.memsw.limit_in_bytes", "134217728"),
            ])
        );
        // --memory alone keeps the swap allowance (128M), as v2 would.
        assert_eq!(
            planned(&f, &[("memory", "1G")]).unwrap(),
            pairs(&[
                ("memory.memsw.limit_in_bytes", "1207959552"),
                ("memory.limit_in_bytes", "1073741824"),
            ])
        );
        // The raw v1 key writes that file only.
        assert_eq!(
            planned(&f, &[("memory.limit_in_bytes", "300M")]).unwrap(),
            pairs(&[("memory.limit_in_bytes", "314572800")])
        );
        // v2's memory.swap.max on v1 is memsw = memory + swap.
        assert_eq!(
            planned(&f, &[("memory.swap.max", "64M")]).unwrap(),
            pairs(&[("memory.memsw.limit_in_bytes", "335544320")])
        );
        let e = planned(&f, &[("memory", "max"), ("swap", "1G")]).unwrap_err();
        assert!(e.to_string().contains("needs a memory limit"), "{e}");
        let e = planned(&f, &[("memory.high", "1G")]).unwrap_err();
        assert!(matches!(e, Error::NoEquivalent { .. }), "{e:?}");
    }

    #[test]
    fn v1_cfs_order_follows_the_period() {
        let f = fake();
        assert_eq!(
            planned(&f, &[("cpu-limit", "20000/50000")]).unwrap(),
            pairs(&[
                ("cpu.cfs_quota_us", "20000"),
                ("cpu.cfs_period_us", "50000"),
            ])
        );
        assert_eq!(
            planned(&f, &[("cpu.max", "max")]).unwrap(),
            pairs(&[("cpu.cfs_quota_us", "-1")])
        );
    }

    #[test]
    fn v2_apply_writes_the_files_and_get_reads_them_back_in_either_format() {
        let f = fake_v2();
        let t = Target {
            layout: &f.layout,
            group: &f.group,
            check_devices: false,
        };
        let actions = plan(
            &reqs(&[
                ("memory.max", "64M"),
                ("cpu.shares", "2048"),
                ("cpu-limit", "50%"),
                ("pids", "30"),
                ("freezer.state", "FROZEN"),
            ]),
            &t,
        )
        .unwrap();
        apply(&actions, "g").unwrap();
        let d = f.group.dir(0).unwrap();
        let file = |n: &str| fs::read_to_string(d.join(n)).unwrap();
        assert_eq!(file("memory.max"), "67108864");
        assert_eq!(file("cpu.weight"), "174");
        assert_eq!(file("cpu.max"), "50000 100000");
        assert_eq!(file("pids.max"), "30");
        assert_eq!(file("cgroup.freeze"), "1");
        let get = |k: &str| crate::get::get_key(k, &t).unwrap().0.join("\n");
        // Native keys are the file; the other version's keys are translated.
        assert_eq!(get("memory.max"), "67108864");
        assert_eq!(get("memory.limit_in_bytes"), "67108864");
        assert_eq!(get("memory"), "67108864");
        assert_eq!(get("cpu.cfs_quota_us"), "50000");
        assert_eq!(get("cpu.cfs_period_us"), "100000");
        assert_eq!(get("cpu-limit"), "50000/100000");
        assert_eq!(get("cpu.weight"), "174");
        // The weight scale is coarser: 2048 → 174 → the largest shares giving 174.
        assert_eq!(get("cpu.shares"), "2059");
        assert_eq!(get("freezer.state"), "FROZEN");
        assert_eq!(get("io.max"), "8:0 rbps=max wbps=5 riops=max wiops=max");
        assert_eq!(get("blkio.throttle.write_bps_device"), "8:0 5");
        assert_eq!(get("memory.soft_limit_in_bytes"), "0");
        assert_eq!(get("memory.swap.max"), "max");
        assert_eq!(get("memory.memsw.limit_in_bytes"), "-1");
        assert_eq!(get("io-weight"), "100");
        assert_eq!(get("blkio.weight"), "19");
        let e = crate::get::get_key("memory.limt", &t).unwrap_err();
        assert!(matches!(e, Error::UnknownKey { .. }), "{e:?}");
    }

    #[test]
    fn v2_freeze_waits_for_the_events_file() {
        let f = fake_v2();
        let t = Target {
            layout: &f.layout,
            group: &f.group,
            check_devices: false,
        };
        let d = f.group.dir(0).unwrap();
        fs::write(d.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        crate::control::freeze(&t, true, std::time::Duration::from_secs(1)).unwrap();
        assert_eq!(fs::read_to_string(d.join("cgroup.freeze")).unwrap(), "1");
        // The kernel never reports "frozen 0": thaw times out with a message.
        let e =
            crate::control::freeze(&t, false, std::time::Duration::from_millis(20)).unwrap_err();
        assert_eq!(e.to_string(), "thawing 'g': still not done after 0.02 s");
    }

    #[test]
    fn v2_create_enables_controllers_in_every_ancestor() {
        let t = tempfile::tempdir().unwrap();
        let mut layout = fake_layout(t.path(), &["cpu", "memory", "pids"]);
        layout.hierarchies.retain(|h| h.version == Version::V2);
        let u = t.path().join("unified");
        fs::create_dir(u.join("p")).unwrap();
        fs::write(u.join("p/cgroup.controllers"), "cpu memory pids").unwrap();
        fs::write(u.join("p/cgroup.subtree_control"), "pids").unwrap();
        let group = Group::resolve(&layout, &Parent::Path("/p".into()), "x").unwrap();
        let notes = std::cell::RefCell::new(Vec::new());
        let created = crate::group::create(&layout, &group, &["memory", "pids"], &|n| {
            notes.borrow_mut().push(n.to_owned());
        })
        .unwrap();
        assert!(u.join("p/x").is_dir());
        assert_eq!(
            fs::read_to_string(u.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
        assert_eq!(
            fs::read_to_string(u.join("p/cgroup.subtree_control")).unwrap(),
            "+memory"
        );
        assert_eq!(notes.borrow().len(), 2);
        drop(created);
        assert!(!u.join("p/x").exists(), "an unkept create is undone");
        // An intermediate component that exists already must hand the controllers
        // down too (`create q && create q/y --memory 1G`).
        fs::create_dir(u.join("p/q")).unwrap();
        fs::write(u.join("p/q/cgroup.controllers"), "memory pids").unwrap();
        fs::write(u.join("p/q/cgroup.subtree_control"), "").unwrap();
        let group = Group::resolve(&layout, &Parent::Path("/p".into()), "q/y").unwrap();
        crate::group::create(&layout, &group, &["memory"], &|_| {})
            .unwrap()
            .keep();
        assert!(u.join("p/q/y").is_dir());
        assert_eq!(
            fs::read_to_string(u.join("p/q/cgroup.subtree_control")).unwrap(),
            "+memory"
        );
    }

    #[test]
    fn blkio_weight_goes_to_bfq_unchanged_where_bfq_is() {
        // runc and crun: blkio.weight → io.bfq.weight as it is; io.weight (converted)
        // only without BFQ. --io-weight keeps the io.weight scale.
        let f = fake_v2();
        let g = f.group.dir(0).unwrap();
        fs::write(g.join("io.bfq.weight"), "default 100\n").unwrap();
        assert_eq!(
            planned(&f, &[("blkio.weight", "500")]).unwrap(),
            pairs(&[("io.bfq.weight", "default 500")])
        );
        assert_eq!(
            planned(&f, &[("io-weight", "500")]).unwrap(),
            pairs(&[("io.weight", "default 500")])
        );
        let t = Target {
            layout: &f.layout,
            group: &f.group,
            check_devices: false,
        };
        fs::write(g.join("io.bfq.weight"), "default 300\n").unwrap();
        assert_eq!(crate::get::get_key("blkio.weight", &t).unwrap().0, ["300"]);
        assert_eq!(
            crate::get::get_key("io.weight", &t).unwrap().0,
            ["default 100"]
        );
        fs::remove_file(g.join("io.bfq.weight")).unwrap();
        assert_eq!(
            planned(&f, &[("blkio.weight", "500")]).unwrap(),
            pairs(&[("io.weight", "default 4950")])
        );
    }

    #[test]
    fn invalid_values_are_refused_before_the_group_exists() {
        // `create` checks against the parent's side before it makes anything: the
        // group's directory is not there yet.
        let t = tempfile::tempdir().unwrap();
        let mut layout = fake_layout(t.path(), &["cpuset", "cpu", "memory"]);
        layout.hierarchies.retain(|h| h.version == Version::V2);
        let u = t.path().join("unified");
        fs::write(u.join("cpuset.cpus.effective"), "0-1\n").unwrap();
        fs::write(u.join("cpuset.mems.effective"), "0\n").unwrap();
        // p has no cpuset controller yet: its group runs on the root's CPUs.
        fs::create_dir(u.join("p")).unwrap();
        let group = Group::resolve(&layout, &Parent::Path("/p".into()), "x").unwrap();
        let t = Target {
            layout: &layout,
            group: &group,
            check_devices: false,
        };
        let e = check(&reqs(&[("cpus", "0-999")]), &t).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid cpus '0-999': not available to the group: its parent allows 0-1"
        );
        let e = check(&reqs(&[("mems", "1")]), &t).unwrap_err();
        assert!(e.to_string().contains("its parent allows 0"), "{e}");
        let e = check(&reqs(&[("cpus", "1"), ("cpu-limit", "150%")]), &t).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid cpu-limit '150%': more than the 1 CPU available to the group"
        );
        let e = check(&reqs(&[("cpu-limit", "250%")]), &t).unwrap_err();
        assert!(e.to_string().contains("more than the 2 CPUs"), "{e}");
        check(
            &reqs(&[("cpus", "1"), ("cpu-limit", "100%"), ("memory", "1G")]),
            &t,
        )
        .unwrap();
    }

    #[test]
    fn apply_rolls_back_in_reverse() {
        let f = fake();
        let t = Target {
            layout: &f.layout,
            group: &f.group,
            check_devices: false,
        };
        let mut actions = plan(&reqs(&[("pids", "10"), ("cpu-weight", "200")]), &t).unwrap();
        // A write that fails: its file does not exist.
        actions.push(Action::Write {
            path: f.group.dir(2).unwrap().join("memory.nonexistent"),
            value: "1".into(),
            restore: None,
        });
        let e = apply(&actions, "g").unwrap_err();
        assert!(
            common::exit::message(&e).ends_with(
                "memory.nonexistent': No such file or directory (no such control file: the controller is not enabled or the kernel lacks it)"
            ),
            "{}",
            common::exit::message(&e)
        );
        let pids = fs::read_to_string(f.group.dir(3).unwrap().join("pids.max")).unwrap();
        assert_eq!(pids, "max");
        let shares = fs::read_to_string(f.group.dir(0).unwrap().join("cpu.shares")).unwrap();
        assert_eq!(shares, "1024");
    }
}
