//! The control files of each cgroup version, in one table per version, and the readers
//! that turn a file's text into a value: `get` reads through them, and `plan` reads the
//! current values its order and undo depend on.

use std::path::Path;

use common::units::Limit;

use crate::convert::{self, IoScale};
use crate::error::{Error, quote};
use crate::layout::Version;
use crate::sys;
use crate::value;

/// The files of one cgroup version that hold a knob cgctl translates (the other knobs
/// have the same name on both versions: `cpuset.cpus`, `pids.max`, `cpu.idle`; CPU
/// bandwidth is two v1 files against one v2 file, see [`read_bandwidth`]).
#[derive(Debug)]
pub struct Files {
    /// Hard memory limit.
    pub memory_limit: &'static str,
    /// Soft limit (v1) / protection (v2): the OCI runtimes' pairing.
    pub memory_soft: &'static str,
    /// v1: memory + swap; v2: swap only.
    pub swap_limit: &'static str,
    /// Memory in use.
    pub memory_current: &'static str,
    /// Peak memory.
    pub memory_peak: &'static str,
    /// The CPUs in force.
    pub cpus_effective: &'static str,
    /// The memory nodes in force.
    pub mems_effective: &'static str,
    /// CPU weight (v1 shares).
    pub cpu_weight: &'static str,
    /// CFS burst.
    pub cpu_burst: &'static str,
    /// Frozen or not (v1 FROZEN/THAWED, v2 1/0).
    pub freeze: &'static str,
    /// The I/O weight files and their scales, in order of preference.
    pub io_weights: &'static [(&'static str, IoScale)],
}

/// cgroup v1's files.
pub const V1: Files = Files {
    memory_limit: "memory.limit_in_bytes",
    memory_soft: "memory.soft_limit_in_bytes",
    swap_limit: "memory.memsw.limit_in_bytes",
    memory_current: "memory.usage_in_bytes",
    memory_peak: "memory.max_usage_in_bytes",
    cpus_effective: "cpuset.effective_cpus",
    mems_effective: "cpuset.effective_mems",
    cpu_weight: "cpu.shares",
    cpu_burst: "cpu.cfs_burst_us",
    freeze: "freezer.state",
    io_weights: &[
        ("blkio.bfq.weight", IoScale::Bfq),
        ("blkio.weight", IoScale::Blkio),
    ],
};

/// cgroup v2's files.
pub const V2: Files = Files {
    memory_limit: "memory.max",
    memory_soft: "memory.low",
    swap_limit: "memory.swap.max",
    memory_current: "memory.current",
    memory_peak: "memory.peak",
    cpus_effective: "cpuset.cpus.effective",
    mems_effective: "cpuset.mems.effective",
    cpu_weight: "cpu.weight",
    cpu_burst: "cpu.max.burst",
    freeze: "cgroup.freeze",
    io_weights: &[("io.weight", IoScale::Io), ("io.bfq.weight", IoScale::Bfq)],
};

/// The files of `version`.
pub fn of(version: Version) -> &'static Files {
    match version {
        Version::V1 => &V1,
        Version::V2 => &V2,
    }
}

pub fn read_trim(path: &Path) -> Result<String, Error> {
    sys::read(path)
        .map(|s| s.trim_end().to_owned())
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })
}

pub fn parse_err(path: &Path, text: &str) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        why: format!("unexpected value {}", quote(text)),
    }
}

pub fn read_u64(path: &Path) -> Result<u64, Error> {
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
    of(ver)
        .io_weights
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{self, Origin};

    #[test]
    fn every_file_in_the_tables_is_a_key_of_its_version() {
        for (files, origin) in [(&V1, Origin::V1), (&V2, Origin::V2)] {
            let names = [
                files.memory_limit,
                files.memory_soft,
                files.swap_limit,
                files.memory_current,
                files.memory_peak,
                files.cpus_effective,
                files.mems_effective,
                files.cpu_weight,
                files.cpu_burst,
                files.freeze,
            ];
            for name in names
                .into_iter()
                .chain(files.io_weights.iter().map(|(f, _)| *f))
            {
                let def = keys::lookup(name).unwrap_or_else(|| panic!("{name} is no key"));
                assert_eq!(def.origin, origin, "{name}");
            }
        }
        assert_eq!(of(Version::V1).memory_limit, "memory.limit_in_bytes");
        assert_eq!(of(Version::V2).memory_limit, "memory.max");
    }
}
