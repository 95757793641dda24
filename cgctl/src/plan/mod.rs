//! From requests to writes: the knobs of a `set` or `create` become the files of the
//! group's own cgroup version, in an order the kernel accepts at every step (v1 memsw ≥
//! memory at every instant; a CFS period change ordered against the quota), each write
//! with the value to restore. [`apply`] writes them and, when one fails, restores the
//! ones already written in reverse order, so a `set` applies all or none.
//!
//! [`check`] refuses what the parent cannot give before anything is made; one module
//! per controller plans its writes ([`cpuset`], [`cpu`], [`io`], [`memory`]); [`apply`]
//! performs them.

mod apply;
mod check;
mod cpu;
mod cpuset;
pub mod devices;
mod io;
mod memory;
pub mod owner;

use std::path::PathBuf;

pub use apply::{apply, write_error};
pub use check::check;

use crate::error::Error;
use crate::files;
use crate::keys::{Knob, Request};
use crate::layout::Version;
use crate::sys;
use crate::target::{Target, native_dir};
use crate::value;

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
    /// Replace the group's device list: v1 `devices.deny`/`devices.allow` writes, v2 an
    /// eBPF device filter (attached before the old one of cgctl's is detached).
    Devices {
        /// The group's directory in the hierarchy that holds it.
        dir: PathBuf,
        /// v1 files or a v2 program.
        version: Version,
        /// The new list.
        policy: crate::devices::Policy,
        /// v1: `devices.list` as it was.
        restore: Option<Vec<String>>,
    },
    /// chown(2) for delegation.
    Chown {
        /// The directory or file.
        path: PathBuf,
        /// New owner.
        uid: u32,
        /// New group.
        gid: u32,
        /// The owner before.
        restore: (u32, u32),
    },
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
    let devices = of(|k| matches!(k, Knob::Devices(_) | Knob::AllowDevice(_)));
    let owner = of(|k| matches!(k, Knob::Owner(..)));
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
        cpuset::plan(&cpuset, target, &mut out)?;
    }
    if !cpu.is_empty() {
        cpu::plan(&cpu, target, &mut out)?;
    }
    if let Some(r) = pids.last() {
        let (_, dir) = target.home("pids")?;
        if let Knob::Pids(l) = r.knob {
            out.push(write(dir.join("pids.max"), value::limit_text(l)));
        }
    }
    if !io.is_empty() {
        io::plan(&io, target, &mut out)?;
    }
    if let Some(r) = freezer.last() {
        let Knob::Frozen(on) = r.knob else {
            unreachable!()
        };
        let (ver, dir) = target.home("freezer")?;
        out.push(match ver {
            Version::V1 => {
                let p = dir.join(files::V1.freeze);
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
            Version::V2 => write(dir.join(files::V2.freeze), if on { "1" } else { "0" }),
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
        memory::plan(&memory, target, &mut out)?;
    }
    if !devices.is_empty() {
        devices::plan(&devices, target, &mut out)?;
    }
    if let Some(Knob::Owner(uid, gid)) = owner.last().map(|r| &r.knob) {
        owner::plan(*uid, *gid, target, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::test_support::{fake, fake_v2, pairs, planned};
    use std::fs;

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
}
