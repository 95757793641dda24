//! The keys `set` and `get` take: cgctl's named limits (`memory`, `cpu-limit`, the long
//! option names), and the raw files of either cgroup version. A key is parsed into a
//! [`Knob`] — what to change, in version-neutral terms — which `plan` turns into the
//! files of the group's own version. Unknown keys fail with the nearest known one.

use common::units::Limit;
use strsim::levenshtein;

use crate::devices::{Base, Rule};
use crate::error::Error;
use crate::value::{self, CpuLimit, CpuList, IoMax};

/// Where a key comes from: its semantics follow its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A cgctl name (`--memory`, `memory=`): means the same on every version.
    Named,
    /// A cgroup v1 file name.
    V1,
    /// A cgroup v2 file name.
    V2,
    /// A file with the same name and format on both versions (`pids.max`).
    Both,
}

/// What a key is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Hard memory limit.
    Memory,
    /// Soft limit / protection (v1 soft_limit_in_bytes ↔ v2 memory.low).
    MemorySoft,
    /// Swap only.
    Swap,
    /// Memory + swap (v1).
    MemSw,
    /// v2 memory.high.
    MemoryHigh,
    /// v2 memory.min.
    MemoryMin,
    /// cpuset CPUs.
    Cpus,
    /// cpuset memory nodes.
    Mems,
    /// `--cpu-limit`.
    CpuLimit,
    /// v1 cfs_quota_us.
    CpuQuota,
    /// v1 cfs_period_us.
    CpuPeriod,
    /// v2 cpu.max.
    CpuMax,
    /// v2-scale weight.
    CpuWeight,
    /// v1-scale shares.
    CpuShares,
    /// Burst (µs).
    CpuBurst,
    /// SCHED_IDLE group.
    CpuIdle,
    /// pids.max.
    Pids,
    /// v2 io.weight scale.
    IoWeight,
    /// v1 blkio.weight.
    BlkioWeight,
    /// BFQ weight (v1 blkio.bfq.weight ↔ v2 io.bfq.weight).
    BfqWeight,
    /// v2 io.max / `--io-max`.
    IoMax,
    /// One v1 throttle file: index into `value::IO_FIELDS`.
    Throttle(usize),
    /// Frozen or not (freezer.state ↔ cgroup.freeze).
    Frozen,
    /// Read-only: memory in use.
    MemoryCurrent,
    /// Read-only: peak memory.
    MemoryPeak,
    /// Read-only: swap in use.
    SwapCurrent,
    /// Read-only: effective CPUs.
    CpusEffective,
    /// Read-only: effective memory nodes.
    MemsEffective,
    /// Read-only: tasks.
    PidsCurrent,
    /// `--devices`: the base device list.
    Devices,
    /// `--allow-device`: one more rule.
    AllowDevice,
    /// `--owner`: who the group is delegated to.
    Owner,
}

impl Kind {
    /// The controller the kind belongs to (`freezer` falls back to the unified core).
    pub fn controller(self) -> &'static str {
        match self {
            Kind::Memory
            | Kind::MemorySoft
            | Kind::Swap
            | Kind::MemSw
            | Kind::MemoryHigh
            | Kind::MemoryMin
            | Kind::MemoryCurrent
            | Kind::MemoryPeak
            | Kind::SwapCurrent => "memory",
            Kind::Cpus | Kind::Mems | Kind::CpusEffective | Kind::MemsEffective => "cpuset",
            Kind::CpuLimit
            | Kind::CpuQuota
            | Kind::CpuPeriod
            | Kind::CpuMax
            | Kind::CpuWeight
            | Kind::CpuShares
            | Kind::CpuBurst
            | Kind::CpuIdle => "cpu",
            Kind::Pids | Kind::PidsCurrent => "pids",
            Kind::IoWeight
            | Kind::BlkioWeight
            | Kind::BfqWeight
            | Kind::IoMax
            | Kind::Throttle(_) => "io",
            Kind::Frozen => "freezer",
            Kind::Devices | Kind::AllowDevice => "devices",
            // (every hierarchy: the planner chowns them all)
            Kind::Owner => "",
        }
    }

    /// True for the kinds that can only be read.
    pub fn read_only(self) -> bool {
        matches!(
            self,
            Kind::MemoryCurrent
                | Kind::MemoryPeak
                | Kind::SwapCurrent
                | Kind::CpusEffective
                | Kind::MemsEffective
                | Kind::PidsCurrent
        )
    }
}

/// One known key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDef {
    /// The key as typed.
    pub key: &'static str,
    /// Named, v1 or v2.
    pub origin: Origin,
    /// What it is about.
    pub kind: Kind,
}

const fn k(key: &'static str, origin: Origin, kind: Kind) -> KeyDef {
    KeyDef { key, origin, kind }
}

/// The named limits, in the order `get` prints them.
pub const NAMED: &[KeyDef] = &[
    k("memory", Origin::Named, Kind::Memory),
    k("memory-soft", Origin::Named, Kind::MemorySoft),
    k("swap", Origin::Named, Kind::Swap),
    k("cpus", Origin::Named, Kind::Cpus),
    k("mems", Origin::Named, Kind::Mems),
    k("cpu-limit", Origin::Named, Kind::CpuLimit),
    k("cpu-weight", Origin::Named, Kind::CpuWeight),
    k("cpu-shares", Origin::Named, Kind::CpuShares),
    k("pids", Origin::Named, Kind::Pids),
    k("io-weight", Origin::Named, Kind::IoWeight),
    k("io-max", Origin::Named, Kind::IoMax),
];

/// The options of `create` and `set` that are not limits (not listed by `get`).
pub const OPTIONS: &[KeyDef] = &[
    k("devices", Origin::Named, Kind::Devices),
    k("allow-device", Origin::Named, Kind::AllowDevice),
    k("owner", Origin::Named, Kind::Owner),
];

/// Files that hold processes: `set` does not write them (it would move a process in
/// one hierarchy only), `move` does, in every hierarchy. And the files of commands.
const NOT_SET: &[(&str, &str)] = &[
    (
        "cgroup.procs",
        "use 'cgctl move NAME PID...', which moves it in every hierarchy",
    ),
    (
        "tasks",
        "use 'cgctl move NAME PID...', which moves it in every hierarchy",
    ),
    (
        "cgroup.threads",
        "use 'cgctl move NAME PID...', which moves it in every hierarchy",
    ),
    ("cgroup.kill", "use 'cgctl kill NAME'"),
];

/// The raw files cgctl translates (or passes through with checks).
pub const RAW: &[KeyDef] = &[
    k("memory.limit_in_bytes", Origin::V1, Kind::Memory),
    k("memory.max", Origin::V2, Kind::Memory),
    k("memory.soft_limit_in_bytes", Origin::V1, Kind::MemorySoft),
    k("memory.low", Origin::V2, Kind::MemorySoft),
    k("memory.memsw.limit_in_bytes", Origin::V1, Kind::MemSw),
    k("memory.swap.max", Origin::V2, Kind::Swap),
    k("memory.high", Origin::V2, Kind::MemoryHigh),
    k("memory.min", Origin::V2, Kind::MemoryMin),
    k("cpuset.cpus", Origin::Both, Kind::Cpus),
    k("cpuset.mems", Origin::Both, Kind::Mems),
    k("cpu.cfs_quota_us", Origin::V1, Kind::CpuQuota),
    k("cpu.cfs_period_us", Origin::V1, Kind::CpuPeriod),
    k("cpu.max", Origin::V2, Kind::CpuMax),
    k("cpu.shares", Origin::V1, Kind::CpuShares),
    k("cpu.weight", Origin::V2, Kind::CpuWeight),
    k("cpu.cfs_burst_us", Origin::V1, Kind::CpuBurst),
    k("cpu.max.burst", Origin::V2, Kind::CpuBurst),
    k("cpu.idle", Origin::Both, Kind::CpuIdle),
    k("pids.max", Origin::Both, Kind::Pids),
    k("blkio.weight", Origin::V1, Kind::BlkioWeight),
    k("io.weight", Origin::V2, Kind::IoWeight),
    k("blkio.bfq.weight", Origin::V1, Kind::BfqWeight),
    k("io.bfq.weight", Origin::V2, Kind::BfqWeight),
    k("io.max", Origin::V2, Kind::IoMax),
    k(
        "blkio.throttle.read_bps_device",
        Origin::V1,
        Kind::Throttle(0),
    ),
    k(
        "blkio.throttle.write_bps_device",
        Origin::V1,
        Kind::Throttle(1),
    ),
    k(
        "blkio.throttle.read_iops_device",
        Origin::V1,
        Kind::Throttle(2),
    ),
    k(
        "blkio.throttle.write_iops_device",
        Origin::V1,
        Kind::Throttle(3),
    ),
    k("freezer.state", Origin::V1, Kind::Frozen),
    k("cgroup.freeze", Origin::V2, Kind::Frozen),
    k("memory.usage_in_bytes", Origin::V1, Kind::MemoryCurrent),
    k("memory.current", Origin::V2, Kind::MemoryCurrent),
    k("memory.max_usage_in_bytes", Origin::V1, Kind::MemoryPeak),
    k("memory.peak", Origin::V2, Kind::MemoryPeak),
    k("memory.swap.current", Origin::V2, Kind::SwapCurrent),
    k("cpuset.effective_cpus", Origin::V1, Kind::CpusEffective),
    k("cpuset.cpus.effective", Origin::V2, Kind::CpusEffective),
    k("cpuset.effective_mems", Origin::V1, Kind::MemsEffective),
    k("cpuset.mems.effective", Origin::V2, Kind::MemsEffective),
    k("pids.current", Origin::Both, Kind::PidsCurrent),
];

/// The definition of `key`, named or raw.
pub fn lookup(key: &str) -> Option<KeyDef> {
    NAMED
        .iter()
        .chain(RAW)
        .chain(OPTIONS)
        .find(|d| d.key == key)
        .copied()
}

/// The known key nearest to `key`, for the unknown-key message: edit distance
/// (Levenshtein, from strsim), where a typo in the start of a long key (`memory.limt` for `memory.limit_in_bytes`) counts as
/// the typo plus one.
pub fn nearest(key: &str) -> Option<String> {
    NAMED
        .iter()
        .chain(RAW)
        .chain(OPTIONS)
        .map(|d| {
            let prefix: String = d.key.chars().take(key.chars().count()).collect();
            let score = levenshtein(key, d.key).min(levenshtein(key, &prefix) + 1);
            (score, d.kind.read_only(), d.key)
        })
        .min()
        .filter(|(d, ..)| *d <= key.len() / 2)
        .map(|(.., k)| k.to_owned())
}

/// A change to make, version-neutral.
#[derive(Debug, Clone, PartialEq)]
pub enum Knob {
    /// Hard memory limit; `origin` decides the v1 swap keeping and the v2 reclaim check.
    Memory(Limit, Origin),
    /// Soft limit (memory.low on v2).
    MemorySoft(Limit),
    /// Swap only.
    Swap(Limit),
    /// Memory + swap.
    MemSw(Limit),
    /// memory.high (v2 only).
    MemoryHigh(Limit),
    /// memory.min (v2 only).
    MemoryMin(Limit),
    /// cpuset.cpus.
    Cpus(CpuList),
    /// cpuset.mems.
    Mems(CpuList),
    /// `--cpu-limit`.
    CpuLimit(CpuLimit),
    /// Raw bandwidth keys: quota (Some(None) = unlimited) and period.
    CpuBandwidth(Option<Option<u64>>, Option<u64>),
    /// cpu.weight scale.
    CpuWeight(u64),
    /// cpu.shares scale.
    CpuShares(u64),
    /// Burst µs.
    CpuBurst(u64),
    /// cpu.idle 0/1.
    CpuIdle(u64),
    /// pids.max.
    Pids(Limit),
    /// io.weight scale.
    IoWeight(u64),
    /// blkio.weight scale.
    BlkioWeight(u64),
    /// bfq weight scale.
    BfqWeight(u64),
    /// One device's throttle.
    IoMax(IoMax),
    /// Frozen.
    Frozen(bool),
    /// A file of the group's own version with no translation, written as given.
    Native(String, String),
    /// The base device list.
    Devices(Base),
    /// One more allowed device.
    AllowDevice(Rule),
    /// Delegate the group to (uid, gid).
    Owner(u32, u32),
}

/// A knob and the label the user gave it (`--memory`, `memory.max`), for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `--memory` or the key.
    pub label: String,
    /// The value as typed.
    pub value: String,
    /// The parsed change.
    pub knob: Knob,
}

fn invalid(label: &str, value: &str, why: impl Into<String>) -> Error {
    Error::Invalid {
        what: label.to_owned(),
        value: value.to_owned(),
        why: why.into(),
    }
}

/// Parse one `key=value` (or `--option value`: `label` is then `--option` and `key` the
/// option's name). `native` says whether an unknown key names a file that exists for
/// the group (then it is passed through).
pub fn parse(
    label: &str,
    key: &str,
    raw: &str,
    native: &dyn Fn(&str) -> bool,
) -> Result<Request, Error> {
    check_key(key)?;
    if let Some((_, hint)) = NOT_SET.iter().find(|(f, _)| *f == key) {
        return Err(invalid(
            label,
            raw,
            format!("set does not write {key}: {hint}"),
        ));
    }
    let Some(def) = lookup(key) else {
        if native(key) {
            return Ok(Request {
                label: label.to_owned(),
                value: raw.to_owned(),
                knob: Knob::Native(key.to_owned(), raw.to_owned()),
            });
        }
        return Err(Error::UnknownKey {
            key: key.to_owned(),
            nearest: nearest(key),
        });
    };
    if def.kind.read_only() {
        return Err(Error::ReadOnly(key.to_owned()));
    }
    let bad = |why: String| invalid(label, raw, why);
    let weight = |lo, hi| value::number_in(raw, lo, hi).map_err(bad);
    let v = raw.trim();
    let knob = match def.kind {
        Kind::Memory => Knob::Memory(value::limit(v).map_err(bad)?, def.origin),
        Kind::MemorySoft => Knob::MemorySoft(value::limit(v).map_err(bad)?),
        Kind::Swap => Knob::Swap(value::limit(v).map_err(bad)?),
        Kind::MemSw => Knob::MemSw(value::limit(v).map_err(bad)?),
        Kind::MemoryHigh => Knob::MemoryHigh(value::limit(v).map_err(bad)?),
        Kind::MemoryMin => Knob::MemoryMin(value::limit(v).map_err(bad)?),
        Kind::Cpus | Kind::Mems => {
            let list = CpuList::parse(v).map_err(bad)?;
            if list.is_empty() {
                return Err(bad("empty".to_owned()));
            }
            if def.kind == Kind::Cpus {
                Knob::Cpus(list)
            } else {
                Knob::Mems(list)
            }
        }
        Kind::CpuLimit => Knob::CpuLimit(value::cpu_limit(v).map_err(bad)?),
        Kind::CpuQuota => {
            let q = match v {
                "-1" | "max" => None,
                _ => Some(value::number_in(v, value::QUOTA_MIN, u64::MAX / 2).map_err(bad)?),
            };
            Knob::CpuBandwidth(Some(q), None)
        }
        Kind::CpuPeriod => Knob::CpuBandwidth(
            None,
            Some(value::number_in(v, value::PERIOD_MIN, value::PERIOD_MAX).map_err(bad)?),
        ),
        Kind::CpuMax => {
            let (q, p) = value::cpu_max(v).map_err(bad)?;
            Knob::CpuBandwidth(Some(q), p)
        }
        Kind::CpuWeight => Knob::CpuWeight(weight(1, 10_000)?),
        Kind::CpuShares => Knob::CpuShares(weight(2, 262_144)?),
        Kind::CpuBurst => Knob::CpuBurst(weight(0, u64::MAX / 2)?),
        Kind::CpuIdle => Knob::CpuIdle(weight(0, 1)?),
        Kind::Pids => Knob::Pids(value::count_limit(v).map_err(bad)?),
        Kind::IoWeight => {
            // io.weight also reads "default N" back; accept it.
            let n = v.strip_prefix("default").map_or(v, str::trim);
            Knob::IoWeight(value::number_in(n, 1, 10_000).map_err(bad)?)
        }
        Kind::BlkioWeight => Knob::BlkioWeight(weight(10, 1000)?),
        Kind::BfqWeight => Knob::BfqWeight(weight(1, 1000)?),
        Kind::IoMax => Knob::IoMax(value::io_max(v).map_err(bad)?),
        Kind::Throttle(i) => {
            let (dev, n) = v
                .split_once(' ')
                .ok_or_else(|| bad("expected 'MAJ:MIN VALUE'".to_owned()))?;
            let dev = value::device(dev).map_err(bad)?;
            let n: u64 = n
                .trim()
                .parse()
                .map_err(|_| bad("not a number".to_owned()))?;
            let mut m = IoMax {
                dev,
                ..IoMax::default()
            };
            m.set_field(
                value::IO_FIELDS[i].0,
                if n == 0 { Limit::Max } else { Limit::Bytes(n) },
            );
            Knob::IoMax(m)
        }
        Kind::Frozen => Knob::Frozen(match (def.origin, v) {
            (Origin::V1, "FROZEN") | (Origin::V2, "1") => true,
            (Origin::V1, "THAWED") | (Origin::V2, "0") => false,
            (Origin::V1, _) => return Err(bad("expected FROZEN or THAWED".to_owned())),
            _ => return Err(bad("expected 0 or 1".to_owned())),
        }),
        Kind::MemoryCurrent
        | Kind::MemoryPeak
        | Kind::SwapCurrent
        | Kind::CpusEffective
        | Kind::MemsEffective
        | Kind::PidsCurrent => return Err(Error::ReadOnly(key.to_owned())),
        Kind::Devices => Knob::Devices(Base::parse(v).map_err(bad)?),
        Kind::AllowDevice => Knob::AllowDevice(Rule::parse(v).map_err(bad)?),
        Kind::Owner => {
            let (u, g) = owner(v).map_err(bad)?;
            Knob::Owner(u, g)
        }
    };
    Ok(Request {
        label: label.to_owned(),
        value: raw.to_owned(),
        knob,
    })
}

/// Parse `UID:GID` or `UID` (the group id then is the same number): numeric ids, as
/// /etc/subuid hands them out (names are not looked up).
pub fn owner(s: &str) -> Result<(u32, u32), String> {
    let id = |t: &str| -> Result<u32, String> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("'{t}' is not a numeric id (UID:GID)"));
        }
        // (u32::MAX is (uid_t)-1, "unchanged" to chown(2))
        t.parse::<u32>()
            .ok()
            .filter(|n| *n != u32::MAX)
            .ok_or_else(|| format!("id '{t}' is too large"))
    };
    match s.split_once(':') {
        Some((u, g)) => Ok((id(u)?, id(g)?)),
        None => {
            let u = id(s)?;
            Ok((u, u))
        }
    }
}

/// The least memory limit a process can live in: below it, the group's first process
/// is OOM-killed at once (exit 137, no message), so a smaller limit is refused unless
/// forced.
pub const MEMORY_FLOOR: u64 = 1 << 20;

/// Refuse, unless `force`, a hard memory limit (or memory+swap, or v2 `memory.high`)
/// below [`MEMORY_FLOOR`].
pub fn check_livable(requests: &[Request], force: bool) -> Result<(), Error> {
    if force {
        return Ok(());
    }
    for r in requests {
        if let Knob::Memory(Limit::Bytes(n), _)
        | Knob::MemSw(Limit::Bytes(n))
        | Knob::MemoryHigh(Limit::Bytes(n)) = r.knob
            && n < MEMORY_FLOOR
        {
            return Err(invalid(
                &r.label,
                &r.value,
                "below 1 MiB, too little for any process (it would be OOM-killed at once); --force sets it anyway",
            ));
        }
    }
    Ok(())
}

/// Refuse a key that is not a plain file name: an unknown key is passed through to the
/// file of that name in the group's directory, so `/` (or `.`, `..`) would reach files
/// outside it (`memory.x/../../memory.max`).
pub fn check_key(key: &str) -> Result<(), Error> {
    if key.contains('/') || key == "." || key == ".." || key.chars().any(char::is_control) {
        return Err(invalid(
            "key",
            key,
            "a key is a named limit or the name of a control file, without '/'",
        ));
    }
    Ok(())
}

/// Split `KEY=VALUE`.
pub fn split_assignment(s: &str) -> Result<(&str, &str), Error> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| Error::Usage(format!("expected KEY=VALUE, got '{s}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(key: &str, v: &str) -> Result<Knob, Error> {
        parse(key, key, v, &|_| false).map(|r| r.knob)
    }

    #[test]
    fn every_raw_key_is_unique_and_found() {
        for d in NAMED.iter().chain(RAW).chain(OPTIONS) {
            assert_eq!(lookup(d.key), Some(*d));
        }
        let mut keys: Vec<&str> = NAMED
            .iter()
            .chain(RAW)
            .chain(OPTIONS)
            .map(|d| d.key)
            .collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn parses_each_kind() {
        assert_eq!(
            p("memory.limit_in_bytes", "256M").unwrap(),
            Knob::Memory(Limit::Bytes(256 << 20), Origin::V1)
        );
        assert_eq!(
            p("memory.max", "max").unwrap(),
            Knob::Memory(Limit::Max, Origin::V2)
        );
        assert_eq!(
            p("memory", "-1").unwrap(),
            Knob::Memory(Limit::Max, Origin::Named)
        );
        assert_eq!(
            p("cpu.cfs_quota_us", "-1").unwrap(),
            Knob::CpuBandwidth(Some(None), None)
        );
        assert_eq!(
            p("cpu.cfs_period_us", "50000").unwrap(),
            Knob::CpuBandwidth(None, Some(50_000))
        );
        assert_eq!(
            p("cpu.max", "50000 100000").unwrap(),
            Knob::CpuBandwidth(Some(Some(50_000)), Some(100_000))
        );
        assert_eq!(p("cpu.shares", "1024").unwrap(), Knob::CpuShares(1024));
        assert_eq!(p("cpu.weight", "100").unwrap(), Knob::CpuWeight(100));
        assert_eq!(p("io.weight", "default 200").unwrap(), Knob::IoWeight(200));
        assert_eq!(p("freezer.state", "FROZEN").unwrap(), Knob::Frozen(true));
        assert_eq!(p("cgroup.freeze", "0").unwrap(), Knob::Frozen(false));
        assert_eq!(p("pids", "max").unwrap(), Knob::Pids(Limit::Max));
        let Knob::IoMax(m) = p("blkio.throttle.write_iops_device", "8:0 100").unwrap() else {
            panic!()
        };
        assert_eq!(m.to_string(), "8:0 wiops=100");
        let Knob::IoMax(m) = p("blkio.throttle.read_bps_device", "8:0 0").unwrap() else {
            panic!()
        };
        assert_eq!(m.to_string(), "8:0 rbps=max");
    }

    #[test]
    fn refuses_bad_values_and_keys() {
        let e = p("memory", "lots").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid memory 'lots': unknown unit (use K, M, G, T, P or E)"
        );
        assert!(p("cpu.weight", "0").is_err());
        assert!(p("cpu.shares", "1").is_err());
        assert!(p("cpus", "").is_err());
        assert!(p("cpus", "0-x").is_err());
        assert!(p("freezer.state", "1").is_err());
        assert!(matches!(p("memory.current", "1"), Err(Error::ReadOnly(_))));
        let e = p("memory.limt_in_bytes", "1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown key 'memory.limt_in_bytes' (did you mean 'memory.limit_in_bytes'?)"
        );
        assert_eq!(nearest("cpu.share").as_deref(), Some("cpu.shares"));
        assert_eq!(nearest("memory.swap").as_deref(), Some("memory.swap.max"));
        assert_eq!(nearest("cpu-limt").as_deref(), Some("cpu-limit"));
        assert!(matches!(
            p("zzzzzzzzzzzzzzzzzzzz", "1"),
            Err(Error::UnknownKey { nearest: None, .. })
        ));
        let native = parse("memory.swappiness", "memory.swappiness", "10", &|k| {
            k == "memory.swappiness"
        })
        .unwrap();
        assert_eq!(
            native.knob,
            Knob::Native("memory.swappiness".into(), "10".into())
        );
        // A key is a file name: nothing reaches outside the group's directory.
        let outside = parse("k", "memory.x/../../memory.max", "1", &|_| true).unwrap_err();
        assert_eq!(
            outside.to_string(),
            "invalid key 'memory.x/../../memory.max': a key is a named limit or the name of a control file, without '/'"
        );
        assert_eq!(outside.exit_code(), 2);
        assert!(parse("..", "..", "1", &|_| true).is_err());
        assert!(split_assignment("a=b=c").unwrap() == ("a", "b=c"));
        assert!(split_assignment("=x").is_err());
        assert!(split_assignment("x").is_err());
    }
}
