//! `get`: a key's value read from the group's own version and shown in the key's own
//! format (a v1 key on v2 reads as v1 would show it, and the reverse). A raw key of the
//! group's own version is the file's text, unchanged; named limits print as cgctl takes
//! them (`memory=268435456`, `cpu-limit=50000/100000`), so `get` output can be fed to `set`.

use common::units::Limit;
use serde_json::Value as Json;

use crate::convert::{self, IoScale};
use crate::error::Error;
use crate::files::{self, read_bandwidth, read_limit};
use crate::keys::{self, KeyDef, Kind, Origin};
use crate::layout::Version;
use crate::sys;
use crate::target::{Target, native_dir, native_exists};
use crate::value::{self, CpuList, IO_FIELDS, IoMax};

/// A value read from the group, in neutral terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// A size or count, maybe unlimited.
    Limit(Limit),
    /// A plain number.
    Num(u64),
    /// A CPU or node list.
    List(CpuList),
    /// CPU bandwidth: quota (None unlimited) and period.
    Bandwidth(Option<u64>, u64),
    /// io.max lines.
    Io(Vec<IoMax>),
    /// Frozen or not.
    Frozen(bool),
    /// Lines as they are (`owner`, v1 `devices`).
    Text(Vec<String>),
}

fn read_text(path: &std::path::Path) -> Result<String, Error> {
    sys::read(path)
        .map(|s| s.trim_end().to_owned())
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn num(path: &std::path::Path) -> Result<u64, Error> {
    let t = read_text(path)?;
    t.parse().map_err(|_| Error::Parse {
        path: path.to_path_buf(),
        why: format!("unexpected value '{t}'"),
    })
}

/// Read what `kind` is about from the group, converting from the other version.
pub fn read(kind: Kind, target: &Target<'_>) -> Result<Reading, Error> {
    if kind == Kind::Owner {
        // The owner of the group's directory (the same in every hierarchy after --owner).
        let Some((_, dir)) = target.group.existing().into_iter().next() else {
            return Err(Error::NoSuchGroup(target.group.name.clone()));
        };
        let (uid, gid) = sys::owner(&dir).map_err(|source| Error::Read { path: dir, source })?;
        return Ok(Reading::Text(vec![format!("{uid}:{gid}")]));
    }
    let (ver, dir) = target.home(kind.controller())?;
    let f = |name: &str| dir.join(name);
    let v1 = ver == Version::V1;
    let files = files::of(ver);
    Ok(match kind {
        Kind::Memory => Reading::Limit(read_limit(&f(files.memory_limit), ver)?),
        Kind::MemorySoft => Reading::Limit(read_limit(&f(files.memory_soft), ver)?),
        Kind::Swap | Kind::MemSw => {
            let (mem, other) = (
                read_limit(&f(files.memory_limit), ver)?,
                read_limit(&f(files.swap_limit), ver)?,
            );
            Reading::Limit(match (kind, v1) {
                (Kind::Swap, true) => convert::memsw_to_swap(other, mem).unwrap_or(Limit::Max),
                (Kind::MemSw, false) => convert::swap_to_memsw(other, mem).unwrap_or(Limit::Max),
                _ => other,
            })
        }
        Kind::MemoryHigh | Kind::MemoryMin => {
            let name = if kind == Kind::MemoryHigh {
                "memory.high"
            } else {
                "memory.min"
            };
            if v1 {
                return Err(Error::NoEquivalent {
                    key: name.to_owned(),
                    version: "v1",
                    hint: None,
                });
            }
            Reading::Limit(read_limit(&f(name), ver)?)
        }
        Kind::Cpus | Kind::Mems | Kind::CpusEffective | Kind::MemsEffective => {
            let name = match kind {
                Kind::Cpus => "cpuset.cpus",
                Kind::Mems => "cpuset.mems",
                Kind::CpusEffective => files.cpus_effective,
                _ => files.mems_effective,
            };
            let t = read_text(&f(name))?;
            Reading::List(CpuList::parse(&t).unwrap_or_default())
        }
        Kind::CpuLimit | Kind::CpuQuota | Kind::CpuPeriod | Kind::CpuMax => {
            let (q, p) = read_bandwidth(ver, &dir)?;
            Reading::Bandwidth(q, p)
        }
        Kind::CpuWeight | Kind::CpuShares => {
            let n = num(&f(files.cpu_weight))?;
            Reading::Num(match (kind, v1) {
                (Kind::CpuWeight, true) => convert::shares_to_weight(n),
                (Kind::CpuShares, false) => convert::weight_to_shares(n),
                _ => n,
            })
        }
        Kind::CpuBurst => Reading::Num(num(&f(files.cpu_burst))?),
        Kind::CpuIdle => Reading::Num(num(&f("cpu.idle"))?),
        Kind::Pids => {
            Reading::Limit(value::file_limit(&read_text(&f("pids.max"))?).unwrap_or(Limit::Max))
        }
        Kind::PidsCurrent => Reading::Num(num(&f("pids.current"))?),
        Kind::IoWeight | Kind::BlkioWeight | Kind::BfqWeight => {
            let scale = match kind {
                Kind::IoWeight => IoScale::Io,
                Kind::BfqWeight => IoScale::Bfq,
                _ => IoScale::Blkio,
            };
            let Some((file, from)) =
                files::io_weight_file(ver, scale, |f| sys::exists(&dir.join(f)))
            else {
                return Err(Error::Unavailable {
                    what: "io weight".to_owned(),
                    name: target.group.name.clone(),
                    why: "no weight file exists (the BFQ I/O scheduler or blk-iocost provides one)"
                        .to_owned(),
                });
            };
            let t = read_text(&f(file))?;
            let n: u64 = t
                .lines()
                .find_map(|l| {
                    let l = l.strip_prefix("default").unwrap_or(l).trim();
                    l.parse().ok()
                })
                .unwrap_or(0);
            Reading::Num(convert::io_weight_between(n, from, scale))
        }
        Kind::IoMax | Kind::Throttle(_) => {
            if v1 {
                let mut lines: Vec<IoMax> = Vec::new();
                for (field, file) in IO_FIELDS {
                    let t = sys::read(&f(file)).unwrap_or_default();
                    for (dev, n) in value::throttle_file(&t) {
                        let i = match lines.iter().position(|l| l.dev == dev) {
                            Some(i) => i,
                            None => {
                                let mut m = IoMax {
                                    dev,
                                    ..IoMax::default()
                                };
                                for (f2, _) in IO_FIELDS {
                                    m.set_field(f2, Limit::Max);
                                }
                                lines.push(m);
                                lines.len() - 1
                            }
                        };
                        lines[i]
                            .set_field(field, if n == 0 { Limit::Max } else { Limit::Bytes(n) });
                    }
                }
                Reading::Io(lines)
            } else {
                Reading::Io(value::io_max_file(&read_text(&f("io.max"))?))
            }
        }
        Kind::Frozen => {
            let t = read_text(&f(files.freeze))?;
            Reading::Frozen(if v1 { t != "THAWED" } else { t == "1" })
        }
        Kind::Devices | Kind::AllowDevice => {
            if !v1 {
                return Err(Error::Unavailable {
                    what: "the device list".to_owned(),
                    name: target.group.name.clone(),
                    why: "on cgroup v2 it is an eBPF program, which cgctl does not read back"
                        .to_owned(),
                });
            }
            let t = read_text(&f("devices.list"))?;
            Reading::Text(t.lines().map(str::to_owned).collect())
        }
        Kind::Owner => unreachable!("read above"),
        Kind::MemoryCurrent => Reading::Num(num(&f(files.memory_current))?),
        Kind::MemoryPeak => Reading::Num(num(&f(files.memory_peak))?),
        Kind::SwapCurrent => Reading::Num(if v1 {
            num(&f("memory.memsw.usage_in_bytes"))?
                .saturating_sub(num(&f("memory.usage_in_bytes"))?)
        } else {
            num(&f("memory.swap.current"))?
        }),
    })
}

/// The lines of a reading in the key's format (several for io.max with several devices).
pub fn render(def: KeyDef, r: &Reading) -> Vec<String> {
    let v1 = def.origin == Origin::V1;
    match r {
        Reading::Limit(l) => vec![if v1 {
            convert::v1_limit_text(*l)
        } else {
            l.to_string()
        }],
        Reading::Num(n) => vec![if def.key == "io.weight" {
            format!("default {n}")
        } else {
            n.to_string()
        }],
        Reading::List(l) => vec![l.to_string()],
        Reading::Bandwidth(q, p) => vec![match def.kind {
            Kind::CpuQuota => convert::quota_v1_text(*q),
            Kind::CpuPeriod => p.to_string(),
            Kind::CpuMax => format!("{} {p}", convert::quota_v2_text(*q)),
            _ => q.map_or_else(|| "max".to_owned(), |q| format!("{q}/{p}")),
        }],
        Reading::Io(lines) => match def.kind {
            Kind::Throttle(i) => lines
                .iter()
                .filter_map(|l| match l.field(IO_FIELDS[i].0) {
                    Some(Limit::Bytes(n)) => Some(format!("{} {n}", l.dev_text())),
                    _ => None,
                })
                .collect(),
            _ => lines.iter().map(ToString::to_string).collect(),
        },
        Reading::Text(lines) => lines.clone(),
        Reading::Frozen(on) => vec![match (v1, on) {
            (true, true) => "FROZEN".to_owned(),
            (true, false) => "THAWED".to_owned(),
            (false, true) => "1".to_owned(),
            (false, false) => "0".to_owned(),
        }],
    }
}

/// The JSON form of a reading: numbers as numbers, `max` as the string, lists as text,
/// io lines as an array.
pub fn json(def: KeyDef, r: &Reading) -> Json {
    match r {
        Reading::Limit(Limit::Bytes(n)) | Reading::Num(n) if def.key != "io.weight" => {
            Json::from(*n)
        }
        Reading::Io(_) => Json::from(render(def, r)),
        _ => Json::from(render(def, r).join("\n")),
    }
}

/// One key's answer: the lines to print (and JSON), or None when unavailable and
/// `lenient` (the no-key listing skips what the host lacks).
pub fn get_key(key: &str, target: &Target<'_>) -> Result<(Vec<String>, Json), Error> {
    keys::check_key(key)?;
    let def = keys::lookup(key);
    let raw_native = |file: &str| -> Result<(Vec<String>, Json), Error> {
        let dir = native_dir(file, target)?;
        let t = read_text(&dir.join(file))?;
        let lines: Vec<String> = t.lines().map(str::to_owned).collect();
        Ok((lines, Json::from(t)))
    };
    let Some(def) = def else {
        if native_exists(key, target) {
            return raw_native(key);
        }
        return Err(Error::UnknownKey {
            key: key.to_owned(),
            nearest: keys::nearest(key),
        });
    };
    // A raw key of the group's own version is the file itself.
    let home_ver = target.home(def.kind.controller()).map(|(v, _)| v).ok();
    let native = matches!(
        (def.origin, home_ver),
        (Origin::V1, Some(Version::V1)) | (Origin::V2, Some(Version::V2)) | (Origin::Both, Some(_))
    );
    if native && native_exists(def.key, target) {
        return raw_native(def.key);
    }
    let r = read(def.kind, target)?;
    Ok((render(def, &r), json(def, &r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{apply, plan};
    use crate::test_support::{fake_v2, reqs};
    use std::fs;

    fn def(k: &str) -> KeyDef {
        keys::lookup(k).unwrap()
    }

    #[test]
    fn rendering_follows_the_key() {
        let max = Reading::Limit(Limit::Max);
        assert_eq!(render(def("memory.limit_in_bytes"), &max), ["-1"]);
        assert_eq!(render(def("memory.max"), &max), ["max"]);
        assert_eq!(render(def("memory"), &max), ["max"]);
        let bw = Reading::Bandwidth(Some(50_000), 100_000);
        assert_eq!(render(def("cpu-limit"), &bw), ["50000/100000"]);
        assert_eq!(render(def("cpu.max"), &bw), ["50000 100000"]);
        assert_eq!(render(def("cpu.cfs_quota_us"), &bw), ["50000"]);
        assert_eq!(render(def("cpu.cfs_period_us"), &bw), ["100000"]);
        let unl = Reading::Bandwidth(None, 100_000);
        assert_eq!(render(def("cpu-limit"), &unl), ["max"]);
        assert_eq!(render(def("cpu.max"), &unl), ["max 100000"]);
        assert_eq!(render(def("cpu.cfs_quota_us"), &unl), ["-1"]);
        assert_eq!(
            render(def("freezer.state"), &Reading::Frozen(true)),
            ["FROZEN"]
        );
        assert_eq!(render(def("cgroup.freeze"), &Reading::Frozen(false)), ["0"]);
        assert_eq!(
            render(def("io.weight"), &Reading::Num(100)),
            ["default 100"]
        );
        let io = Reading::Io(vec![
            value::io_max("8:0 rbps=5 wbps=max riops=max wiops=7").unwrap(),
        ]);
        assert_eq!(
            render(def("io.max"), &io),
            ["8:0 rbps=5 wbps=max riops=max wiops=7"]
        );
        assert_eq!(
            render(def("blkio.throttle.read_bps_device"), &io),
            ["8:0 5"]
        );
        assert_eq!(
            render(def("blkio.throttle.write_bps_device"), &io),
            Vec::<String>::new()
        );
        assert_eq!(
            json(def("memory"), &Reading::Limit(Limit::Bytes(5))),
            Json::from(5)
        );
        assert_eq!(json(def("memory"), &max), Json::from("max"));
    }

    #[test]
    fn v2_apply_writes_the_files_and_get_reads_them_back_in_either_format() {
        let f = fake_v2();
        let t = f.target();
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
}
