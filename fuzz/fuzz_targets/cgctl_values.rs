//! cgctl: the cgroup files it reads (`/proc/self/mountinfo`, `/proc/cgroups`,
//! `/proc/self/cgroup` → `layout::Layout`; `cpu.stat`, `memory.stat`, `memory.events`,
//! `io.stat`, `blkio.*`, `cpuacct.usage_all`, `io.max`, throttle files, `cpuset.cpus`,
//! `cpu.max` → `value::*`), the values users give it (sizes and units, counts, CPU lists, CPU
//! limits, io.max lines, devices rules, owners, `KEY=VALUE` through `keys::parse`, with
//! the v1↔v2 conversions of `convert` on what parses), group names and `--parent`,
//! staging names, and a whole `--batch` (`parse_batch`: word splitting, each line's
//! command line and checks).
//!
//! The first byte picks the parser, the rest is its input (NUL separates the parts of
//! one call): `m` mountinfo NUL cgroups NUL self-cgroup, `f` a cgroup file, `v` key NUL
//! value, `d` device rules (one per line), `g` name NUL parent, `b` a batch.
#![no_main]

use cgctl::convert::{self, IoScale};
use cgctl::devices::{self, Base, Rule};
use cgctl::keys::{self, Knob};
use cgctl::layout::{Layout, Version};
use cgctl::value::{self, CpuLimit, CpuList};
use cgctl::{group, staging};
use common::units::Limit;
use libfuzzer_sys::fuzz_target;
use toolkit_fuzz::{mode, parts, text};

fuzz_target!(|data: &[u8]| {
    let Some((m, rest)) = mode(data) else { return };
    match m {
        b'm' => layout(rest),
        b'f' => files(rest),
        b'v' => values(rest),
        b'd' => device_rules(rest),
        b'g' => names(rest),
        b'b' => batch(rest),
        _ => {}
    }
});

const CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "io",
    "pids",
    "hugetlb",
    "misc",
    "rdma",
    "net_cls",
    "perf_event",
];

fn layout(rest: &[u8]) {
    let [mountinfo, cgroups, own] = parts::<3>(rest);
    let mut l = Layout::parse(&text(mountinfo), &text(cgroups), &text(own));
    let _ = l.kind();
    // At most one unified hierarchy, and it comes last.
    let v2 = l
        .hierarchies
        .iter()
        .filter(|h| h.version == Version::V2)
        .count();
    assert!(v2 <= 1);
    if let Some(i) = l.unified_index() {
        assert_eq!(i, l.hierarchies.len() - 1);
    }
    for h in &l.hierarchies {
        let _ = h.label();
        if let Some(p) = &h.self_path
            && let Some(dir) = h.dir_of(p)
        {
            assert!(dir.starts_with(&h.mount), "{dir:?} outside {:?}", h.mount);
        }
    }
    for c in CONTROLLERS {
        if let Some(home) = l.home(c) {
            assert_eq!(l.hierarchies[home.index].version, home.version);
        }
    }
    l.restrict(&["memory".to_owned(), "unified".to_owned()]);
}

fn files(rest: &[u8]) {
    let t = text(rest);
    for key in [
        "usage_usec",
        "nr_throttled",
        "anon",
        "file",
        "oom_kill",
        "max",
        "populated",
    ] {
        let _ = value::keyed(&t, key);
    }
    let _ = value::io_stat(&t);
    let _ = value::usage_all(&t);
    let _ = value::blkio_stat(&t);
    for m in value::io_max_file(&t) {
        // An io.max line as cgctl writes it reads back the same.
        assert_eq!(value::io_max(&m.to_string()), Ok(m.clone()));
    }
    let _ = value::throttle_file(&t);
    for line in t.lines() {
        if let Some(l) = value::file_limit(line) {
            assert_eq!(value::file_limit(&value::limit_text(l)), Some(l));
        }
    }
    if let Ok(list) = CpuList::parse(&t) {
        assert_eq!(CpuList::parse(&list.to_string()), Ok(list.clone()), "{t:?}");
        assert!(list.is_subset(&list));
    }
    let _ = value::cpu_max(&t);
}

fn values(rest: &[u8]) {
    let [key, raw] = parts::<2>(rest);
    let (key, raw) = (text(key), text(raw));
    let _ = keys::check_key(&key);
    let _ = keys::split_assignment(&key);
    let _ = keys::nearest(&key);
    let _ = keys::lookup(&key);
    let _ = value::count_limit(&raw);
    let _ = value::number_in(&raw, 1, 10_000);
    let _ = value::device(&raw);
    let _ = value::cpu_limit(&raw);
    if let Ok(l) = value::limit(&raw) {
        assert_eq!(value::limit(&value::limit_text(l)), Ok(l));
    }
    if let Ok(m) = value::io_max(&raw) {
        assert_eq!(value::io_max(&m.to_string()), Ok(m));
    }
    if let Ok((u, g)) = keys::owner(&raw) {
        assert!(u != u32::MAX && g != u32::MAX);
    }
    for native in [false, true] {
        let Ok(req) = keys::parse(&key, &key, &raw, &|_| native) else {
            continue;
        };
        let _ = keys::check_livable(std::slice::from_ref(&req), false);
        convert_knob(&req.knob);
    }
}

/// The conversions a knob goes through on the other cgroup version.
fn convert_knob(knob: &Knob) {
    let scales = [IoScale::Io, IoScale::Bfq, IoScale::Blkio];
    match *knob {
        Knob::CpuShares(s) => {
            let w = convert::shares_to_weight(s);
            assert!((convert::WEIGHT_MIN..=convert::WEIGHT_MAX).contains(&w));
        }
        Knob::CpuWeight(w) => {
            // Documented: shares_to_weight(weight_to_shares(w)) == w for every weight.
            let s = convert::weight_to_shares(w);
            assert_eq!(convert::shares_to_weight(s), w);
        }
        Knob::IoWeight(w) | Knob::BlkioWeight(w) | Knob::BfqWeight(w) => {
            for from in scales {
                for to in scales {
                    let _ = convert::io_weight_between(w, from, to);
                }
            }
            let _ = convert::blkio_to_io_weight(w);
            let _ = convert::io_to_blkio_weight(w);
        }
        Knob::Memory(m, _) | Knob::Swap(m) | Knob::MemSw(m) => {
            for other in [Limit::Max, Limit::Bytes(1 << 30), m] {
                if let Ok(sw) = convert::memsw_to_swap(m, other) {
                    let _ = convert::swap_to_memsw(sw, other);
                }
                let _ = convert::swap_to_memsw(m, other);
            }
            if let Limit::Bytes(n) = m {
                let _ = convert::v1_bytes(n);
            }
            let _ = convert::v1_limit_text(m);
        }
        Knob::CpuLimit(CpuLimit::Percent(p)) => {
            for period in [value::PERIOD_MIN, 100_000, value::PERIOD_MAX] {
                let _ = convert::percent_to_quota(p, period);
            }
        }
        Knob::CpuBandwidth(Some(q), _) => {
            let _ = (convert::quota_v1_text(q), convert::quota_v2_text(q));
        }
        Knob::AllowDevice(r) => {
            let _ = devices::program(&[r]);
        }
        _ => {}
    }
}

fn device_rules(rest: &[u8]) {
    let t = text(rest);
    let mut rules = Vec::new();
    for line in t.lines() {
        let _ = Base::parse(line);
        if let Ok(r) = Rule::parse(line) {
            // devices.allow syntax as cgctl prints it reads back.
            assert_eq!(Rule::parse(&r.to_string()), Ok(r), "{line:?}");
            rules.push(r);
        }
    }
    let prog = devices::program(&rules);
    // Every jump lands inside the program.
    for (i, insn) in prog.iter().enumerate() {
        if insn.code & 0x07 == 0x05 && insn.code != 0x95 {
            let to = i as i64 + 1 + i64::from(insn.off);
            assert!((0..prog.len() as i64).contains(&to), "jump {i} → {to}");
        }
        let _ = insn.encode();
    }
    assert_eq!(prog.last().map(|i| i.code), Some(0x95));
}

fn names(rest: &[u8]) {
    let [name, parent] = parts::<2>(rest);
    let (name, parent) = (text(name), text(parent));
    if let Ok(parts) = group::components(&name) {
        for c in &parts {
            assert!(!c.is_empty() && !c.contains('/') && *c != "." && *c != "..");
            // A component's staging name reads back as that component.
            let s = staging::name(c, 42);
            assert_eq!(staging::parse(&s), Some((*c, 42)), "{s:?}");
        }
    }
    let _ = group::Parent::parse(&parent);
    if let Some((c, pid)) = staging::parse(&name) {
        assert_eq!(staging::parse(&staging::name(c, pid)), Some((c, pid)));
    }
}

fn batch(rest: &[u8]) {
    let t = text(rest);
    if let Ok(lines) = cgctl::parse_batch(&t, &[]) {
        let mut last = 0;
        for (n, _) in &lines {
            assert!(*n > last);
            last = *n;
        }
    }
}
